"""Prometheus, Alertmanager and Grafana (kube-prometheus-stack), what they scrape, and dashboards.

The selection contract: Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules in
every namespace that carry ``SELECTOR_LABELS``. That is the label the chart's own monitors carry
(``release: <release>``), set here explicitly rather than through the chart's
``*SelectorNilUsesHelmValues`` default, and added to every monitor and rule the platform creates
or asks another chart (KEDA, NATS) to create.

Workloads opt in to scraping with ``WORKLOAD_SCRAPE_LABEL`` on their pods and a container port
named ``metrics`` (docs/alerts.md, "Scraping conventions").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from event_platform.infra import artifacts
from event_platform.infra.alerts import AlertThresholdArgs, alert_groups
from event_platform.infra.base import MANAGED_BY, child, restricted_container_security
from event_platform.infra.charts import ChartTemplating, helm_chart, ready_of, with_extra_values

MONITORING_API = "monitoring.coreos.com/v1"
RELEASE = "kps"
SELECTOR_LABELS = {"release": RELEASE}
DATASOURCE_UID = "prometheus"
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
DASHBOARD_FOLDER = "Event Platform"
DASHBOARDS_DIR = Path(__file__).with_name("dashboards")
WORKLOAD_SCRAPE_LABEL = "eventplatform.io/metrics"
WORKLOAD_METRICS_PORT = "metrics"
WEBHOOK_PORT = 10250  # prometheus-operator's admission webhook (the chart default, GKE-friendly)
GRAFANA_SERVICE = "grafana"
PROMETHEUS_SERVICE = f"{RELEASE}-prometheus"
ALERTMANAGER_SERVICE = f"{RELEASE}-alertmanager"


@dataclass(frozen=True)
class MonitoringStorage:
    type: Literal["ephemeral", "persistent"]
    size: str
    storage_class: str | None = None

    def volume(self) -> dict[str, Any]:
        if self.type == "ephemeral":
            return {"emptyDir": {"sizeLimit": self.size}}
        spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": self.size}}}
        if self.storage_class:
            spec["storageClassName"] = self.storage_class
        return {"volumeClaimTemplate": {"spec": spec}}


@dataclass(frozen=True)
class MonitoringStackArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource
    retention: str
    storage: MonitoringStorage
    prometheus_replicas: int
    alertmanager_replicas: int
    prometheus_memory: str = "1Gi"
    scrape_interval: str = "30s"
    retention_size: str | None = None
    protect: bool = False
    # cert-manager issues the admission webhook's certificate: the chart's alternative is a pair
    # of Helm-hook Jobs, which a v4 Chart never runs.
    cert_manager: pulumi.Resource | None = None
    templating: ChartTemplating = field(default_factory=ChartTemplating)
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set


class MonitoringStack(pulumi.ComponentResource):
    """kube-prometheus-stack with a generated Grafana admin password and explicit selectors."""

    chart: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]
    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    grafana_admin_secret: pulumi.Output[str]
    grafana_admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:observability:MonitoringStack", name, None, opts)
        password = random.RandomPassword(f"{name}-grafana-admin-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": "grafana-admin", "namespace": args.namespace, "labels": MANAGED_BY},
            string_data={"admin-user": "admin", "admin-password": self.grafana_admin_password},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.grafana_admin_secret = secret.metadata.apply(lambda m: m["name"])
        deps: list[pulumi.Resource] = [secret, *([args.cert_manager] if args.cert_manager else [])]
        self.chart = helm_chart(
            RELEASE, artifacts.KUBE_PROMETHEUS_STACK, args.source, args.templating,
            namespace=args.namespace,
            values=with_extra_values(stack_values(args, self.grafana_admin_secret), args.extra_values),
            # Prometheus' and Alertmanager's volumes hold the history; guard them in prod.
            opts=child(self, depends_on=deps, stateful=True, protect=args.protect),
        )
        self.charts_ready = ready_of(self.chart)
        host = pulumi.Output.from_input(args.namespace).apply(lambda ns: f"{ns}.svc.cluster.local")
        self.grafana_url = host.apply(lambda h: f"http://{GRAFANA_SERVICE}.{h}")
        self.prometheus_url = host.apply(lambda h: f"http://{PROMETHEUS_SERVICE}.{h}:9090")
        self.alertmanager_url = host.apply(lambda h: f"http://{ALERTMANAGER_SERVICE}.{h}:9093")
        self.register_outputs({"grafana_url": self.grafana_url, "prometheus_url": self.prometheus_url})


def selector_values() -> dict[str, Any]:
    """Prometheus selects exactly what carries SELECTOR_LABELS, in every namespace."""
    values: dict[str, Any] = {}
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        values[f"{kind}SelectorNilUsesHelmValues"] = False
        values[f"{kind}Selector"] = {"matchLabels": dict(SELECTOR_LABELS)}
        values[f"{kind}NamespaceSelector"] = {}
    return values


def resources(cpu: str, memory: str) -> dict[str, Any]:
    """Requests for scheduling and a memory limit (the platform policy's `resources-set`)."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def stack_values(args: MonitoringStackArgs, admin_secret: pulumi.Input[str]) -> dict[str, Any]:
    # A disruption budget only means something with a second replica to fall back on.
    budget = {"podDisruptionBudget": {"enabled": True, "minAvailable": 1}}
    prometheus_spec: dict[str, Any] = {
        **selector_values(),
        "replicas": args.prometheus_replicas,
        "resources": resources("250m", args.prometheus_memory),
        "retention": args.retention,
        "scrapeInterval": args.scrape_interval,
        "evaluationInterval": args.scrape_interval,
        "storageSpec": args.storage.volume(),
    }
    if args.retention_size:
        prometheus_spec["retentionSize"] = args.retention_size
    alertmanager_spec: dict[str, Any] = {"replicas": args.alertmanager_replicas,
                                         "resources": resources("50m", "128Mi")}
    if args.storage.type == "persistent":
        alertmanager_spec["storage"] = MonitoringStorage("persistent", "2Gi", args.storage.storage_class).volume()
    return {
        "fullnameOverride": RELEASE,
        "crds": {"enabled": True, "upgradeJob": {"enabled": False}},
        "prometheusOperator": {
            "admissionWebhooks": {
                "enabled": args.cert_manager is not None,
                "patch": {"enabled": False},
                "certManager": {"enabled": args.cert_manager is not None},
                "failurePolicy": "Fail",
            },
            "containerSecurityContext": restricted_container_security(),
            "resources": resources("100m", "256Mi"),
            "prometheusConfigReloader": {"resources": resources("10m", "64Mi")},
        },
        "prometheus": {"prometheusSpec": prometheus_spec,
                       **(budget if args.prometheus_replicas > 1 else {})},
        "alertmanager": {"alertmanagerSpec": alertmanager_spec,
                         **(budget if args.alertmanager_replicas > 1 else {})},
        "kube-state-metrics": {"resources": resources("50m", "256Mi")},
        "prometheus-node-exporter": {"resources": resources("20m", "64Mi")},
        "grafana": {
            "resources": resources("100m", "256Mi"),
            "fullnameOverride": GRAFANA_SERVICE,
            "image": {"tag": artifacts.GRAFANA_VERSION},
            "admin": {"existingSecret": admin_secret, "userKey": "admin-user", "passwordKey": "admin-password"},
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                    "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                    "provider": {"foldersFromFilesStructure": True},
                },
                "datasources": {"enabled": True, "uid": DATASOURCE_UID, "isDefaultDatasource": True},
                "resources": resources("20m", "128Mi"),
            },
        },
    }


# --- what Prometheus scrapes --------------------------------------------------------------


@dataclass(frozen=True)
class ScrapeTargets:
    """Namespaces (or None when an add-on is off) of everything the platform runs."""

    monitoring: pulumi.Input[str]
    kafka: pulumi.Input[str] | None = None
    kafka_cluster: str = "events"
    rabbitmq: pulumi.Input[str] | None = None
    rabbitmq_cluster: str = "events"
    knative_serving: pulumi.Input[str] | None = None
    knative_eventing: pulumi.Input[str] | None = None
    kourier: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class PlatformMonitorsArgs:
    targets: ScrapeTargets
    thresholds: AlertThresholdArgs
    stack: pulumi.Resource | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class PlatformMonitors(pulumi.ComponentResource):
    """PodMonitors, ServiceMonitors, alert rules and dashboards for the whole platform."""

    monitors: list[k8s.apiextensions.CustomResource]
    rules: k8s.apiextensions.CustomResource
    dashboards: list[k8s.core.v1.ConfigMap]

    def __init__(self, name: str, args: PlatformMonitorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:observability:PlatformMonitors", name, None, opts)
        after = child(self, depends_on=[*([args.stack] if args.stack else []), *args.depends_on])
        self.monitors = [
            monitor(f"{name}-{key}", kind, namespace, spec, after, object_name=f"event-platform-{key}")
            for key, (kind, namespace, spec) in monitor_specs(args.targets).items()
        ]
        self.rules = monitor(f"{name}-rules", "PrometheusRule", args.targets.monitoring,
                             {"groups": alert_groups(args.thresholds)}, after, object_name="event-platform-alerts")
        self.dashboards = [
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{path.stem}",
                metadata={
                    "name": f"dashboard-{path.stem}",
                    "namespace": args.targets.monitoring,
                    "labels": {**MANAGED_BY, DASHBOARD_LABEL: "1"},
                    "annotations": {DASHBOARD_FOLDER_ANNOTATION: DASHBOARD_FOLDER},
                },
                data={path.name: path.read_text()},
                opts=child(self),
            )
            for path in dashboard_files()
        ]
        self.register_outputs({})


def monitor(name: str, kind: str, namespace: pulumi.Input[str], spec: dict[str, Any],
            opts: pulumi.ResourceOptions, object_name: str) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=MONITORING_API,
        kind=kind,
        metadata={"name": object_name, "namespace": namespace,
                  "labels": {**MANAGED_BY, **SELECTOR_LABELS}},
        spec=spec,
        opts=opts,
    )


def monitor_specs(t: ScrapeTargets) -> dict[str, tuple[str, pulumi.Input[str], dict[str, Any]]]:
    """key → (kind, namespace, spec) for every scrape the platform declares itself."""
    specs: dict[str, tuple[str, pulumi.Input[str], dict[str, Any]]] = {
        # The convention workloads follow: label the pod, name the port `metrics`.
        "workloads": ("PodMonitor", t.monitoring, {
            "namespaceSelector": {"any": True},
            "selector": {"matchLabels": {WORKLOAD_SCRAPE_LABEL: "true"}},
            "podTargetLabels": ["app.kubernetes.io/name", "app.kubernetes.io/instance"],
            "podMetricsEndpoints": [{"port": WORKLOAD_METRICS_PORT, "path": "/metrics"}],
        }),
    }
    if t.kafka is not None:
        # Brokers, controllers and kafka-exporter all serve on Strimzi's `tcp-prometheus` port.
        specs["kafka"] = ("PodMonitor", t.kafka, {
            "selector": {"matchLabels": {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": t.kafka_cluster}},
            "podTargetLabels": ["strimzi.io/cluster", "strimzi.io/name", "strimzi.io/pool-name"],
            "podMetricsEndpoints": [{"port": "tcp-prometheus", "path": "/metrics"}],
        })
        specs["strimzi-operator"] = ("PodMonitor", t.kafka, {
            "selector": {"matchLabels": {"strimzi.io/kind": "cluster-operator"}},
            "podMetricsEndpoints": [{"port": "http", "path": "/metrics"}],
        })
    if t.rabbitmq is not None:
        specs["rabbitmq"] = ("ServiceMonitor", t.rabbitmq, {
            "selector": {"matchLabels": {"app.kubernetes.io/component": "rabbitmq",
                                         "app.kubernetes.io/name": t.rabbitmq_cluster}},
            "endpoints": [
                {"port": "prometheus", "path": "/metrics"},
                # Per-queue depth and consumers; the aggregated endpoint has no queue label.
                {"port": "prometheus", "path": "/metrics/detailed",
                 "params": {"family": ["queue_coarse_metrics", "queue_metrics"]}},
            ],
        })
    if t.knative_serving is not None:
        specs["knative-serving"] = ("PodMonitor", t.knative_serving, {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "knative-serving"}},
            "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics"}],
        })
        # queue-proxy request metrics of every Knative Service revision, wherever it runs.
        specs["knative-revisions"] = ("PodMonitor", t.monitoring, {
            "namespaceSelector": {"any": True},
            "selector": {"matchExpressions": [{"key": "serving.knative.dev/revision", "operator": "Exists"}]},
            "podMetricsEndpoints": [{"port": "http-usermetric", "path": "/metrics"}],
        })
    if t.kourier is not None:
        specs["kourier"] = ("PodMonitor", t.kourier, {
            "selector": {"matchLabels": {"app": "3scale-kourier-gateway"}},
            "podMetricsEndpoints": [{"port": "metrics", "path": "/stats/prometheus"}],
        })
    if t.knative_eventing is not None:
        specs["knative-eventing"] = ("PodMonitor", t.knative_eventing, {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "knative-eventing"}},
            # Controllers use `metrics`; some data planes (Kafka dispatchers) `http-metrics`.
            "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics"},
                                    {"port": "http-metrics", "path": "/metrics"}],
        })
    return specs


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# --- chart values other components need for scraping -----------------------------------------


def keda_metrics_values() -> dict[str, Any]:
    """KEDA serves Prometheus metrics only when asked; its chart creates the PodMonitors."""
    pod_monitor = {"enabled": True, "additionalLabels": dict(SELECTOR_LABELS)}
    return {
        "prometheus": {
            "operator": {"enabled": True, "podMonitor": pod_monitor},
            "metricServer": {"enabled": True, "podMonitor": pod_monitor},
            "webhooks": {"enabled": True, "podMonitor": pod_monitor},
        }
    }


def nats_metrics_values() -> dict[str, Any]:
    """The NATS chart's exporter sidecar (varz, connz, JetStream) and its PodMonitor."""
    return {
        "promExporter": {
            "enabled": True,
            "merge": {"securityContext": restricted_container_security(), "resources": resources("10m", "32Mi")},
            "podMonitor": {"enabled": True, "merge": {"metadata": {"labels": dict(SELECTOR_LABELS)}}},
        }
    }
