"""PushService: a runtime service that a Knative Broker delivers events to over HTTP.

Broker → Trigger (attribute filter, delivery: retry, backoff, per-attempt timeout, dead-letter
sink) → Kubernetes Service → the runtime's push receiver (`event_platform.apps.runtime.push`). A plain
Deployment rather than a Knative Service: the Broker's dispatcher then talks to the pods
directly, so the NetworkPolicy can admit exactly that dispatcher (no activator or ingress
gateway in the path), and the probes, metrics port and drain behave as for every other workload.

Optionally a second Trigger routes one PingSource's heartbeats to the receiver's `/heartbeat`
path, which proves the whole delivery path every minute (`knative_heartbeats_total`).

The same component declares the dead-letter Broker's subscriber (`role="dead-letter-log"`,
`event_platform.apps.runtime.dead_letter_log`): a Trigger without a filter (every dead letter) and without a
dead-letter sink of its own (in prod the dead-letter Broker's Kafka topic keeps them anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra import knative
from event_platform.infra.alerts import service_failure_rules
from event_platform.infra.base import MANAGED_BY, child, custom_resource, runtime_pod_spec, zone_spread

PUSH_PORT = 8000
HEALTH_PORT = 8080
METRICS_PORT = 9090
SHUTDOWN_TIMEOUT_S = 20
PING_TYPE = "dev.knative.sources.ping"
HEARTBEAT_PATH = "/heartbeat"
# The pods that POST to a Trigger's subscriber, per Broker class (Knative 1.23 manifests:
# mt-broker-filter in 5-mt-channel-broker.yaml; kafka-broker-dispatcher in eventing-kafka-broker.yaml).
DATA_PLANE_PODS = {
    knative.MT_CHANNEL_BROKER: {"eventing.knative.dev/brokerRole": "filter"},
    knative.KAFKA_BROKER: {"app": "kafka-broker-dispatcher"},
}
DNS_EGRESS: dict[str, Any] = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}


@dataclass(frozen=True)
class Heartbeat:
    """A PingSource (in the same namespace) whose events the service receives on /heartbeat."""

    ping_source: str


@dataclass(frozen=True)
class PushServiceArgs:
    namespace: pulumi.Input[str]
    namespace_name: str  # the same namespace as text (PingSource source URIs, policies)
    service_name: str
    image: str
    command: list[str]
    environment: Literal["dev", "prod"]
    broker: str
    broker_class: str
    # Exact CloudEvent attribute matches: only these events reach the service.
    filter: dict[str, str]
    delivery: knative.Delivery
    replicas: int = 1
    cpu: str = "100m"
    memory: str = "256Mi"
    heartbeat: Heartbeat | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    eventing_namespace: str = "knative-eventing"
    monitoring_namespace: str = "monitoring"
    # Labels Prometheus selects PodMonitors and rules by; None without a monitoring stack.
    monitor_labels: dict[str, str] | None = None
    role: Literal["service", "dead-letter-log"] = "service"
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def push_problems(args: PushServiceArgs) -> list[str]:
    """What would make the service misbehave, in the terms of its arguments."""
    who = f"push service {args.service_name!r}"
    problems = []
    if args.broker_class not in DATA_PLANE_PODS:
        problems.append(f"{who}: broker class {args.broker_class!r} is not one of {sorted(DATA_PLANE_PODS)}")
    if args.role == "dead-letter-log":
        if args.filter or args.heartbeat or args.delivery.dead_letter_sink is not None:
            problems.append(f"{who}: a dead-letter log takes every dead letter (no filter, no heartbeat) and has "
                            "no dead-letter sink of its own")
        return problems
    if not args.filter:
        problems.append(f"{who}: a Trigger without a filter delivers every event of the Broker; set filter")
    if args.delivery.dead_letter_sink is None:
        problems.append(f"{who}: delivery needs a dead_letter_sink, or events that exhaust their retries are lost")
    if args.environment == "prod" and args.replicas < 2:
        problems.append(f"{who}: prod runs at least 2 replicas (got {args.replicas})")
    return problems


class PushService(pulumi.ComponentResource):
    """A push-served workload: Deployment, Service, Trigger(s), NetworkPolicy, PDB in prod."""

    deployment: k8s.apps.v1.Deployment
    trigger: knative.Trigger

    def __init__(self, name: str, args: PushServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problems = push_problems(args)
        if problems:
            raise ValueError("; ".join(problems))
        super().__init__("eventplatform:knative:PushService", name, None, opts)
        self.args = args
        self.selector = {"app.kubernetes.io/name": args.service_name}
        self.labels = {**self.selector, **MANAGED_BY}
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=self._meta(), automount_service_account_token=False,
                                             opts=child(self))
        self.deployment = self._deployment(name, account)
        service = k8s.core.v1.Service(
            f"{name}-svc", metadata=self._meta(),
            spec={"selector": self.selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
            opts=child(self),
        )
        if args.environment == "prod":
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb", metadata=self._meta(),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self.selector}}, opts=child(self),
            )
        self._network_policy(name)
        if args.monitor_labels is not None:
            custom_resource(
                args.service_name, "monitoring.coreos.com/v1", "PodMonitor", args.namespace,
                {"selector": {"matchLabels": self.selector},
                 "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}]},
                child(self), resource_name=f"{name}-podmonitor", labels=args.monitor_labels,
            )
            if args.role == "service":
                self._alerts(name, args.monitor_labels)
        subscriber = knative.Sink(name=args.service_name, kind="Service", api_version="v1")
        ready = [self.deployment, service, *args.depends_on]
        self.trigger = knative.Trigger(
            f"{name}-trigger",
            knative.TriggerArgs(namespace=args.namespace, trigger_name=args.service_name, broker=args.broker,
                                subscriber=subscriber, attributes=dict(args.filter), delivery=args.delivery,
                                depends_on=ready),
            pulumi.ResourceOptions(parent=self),
        )
        if args.heartbeat is not None:
            source = f"/apis/v1/namespaces/{args.namespace_name}/pingsources/{args.heartbeat.ping_source}"
            knative.Trigger(
                f"{name}-heartbeat-trigger",
                knative.TriggerArgs(
                    namespace=args.namespace, trigger_name=f"{args.service_name}-heartbeat", broker=args.broker,
                    subscriber=knative.Sink(name=args.service_name, kind="Service", api_version="v1",
                                            path=HEARTBEAT_PATH),
                    attributes={"type": PING_TYPE, "source": source}, delivery=args.delivery, depends_on=ready,
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})

    def _alerts(self, name: str, rule_labels: dict[str, str]) -> None:
        """The workload alerts (dead letters arrive through the dead-letter log, labelled with this
        service), plus a heartbeat that stopped: the delivery path itself is broken."""
        service = self.args.service_name
        rules = service_failure_rules(service, "the Broker dead-lettered events in the last 10 minutes",
                                      "more than 5% of deliveries fail")
        if self.args.heartbeat is not None:
            rules.append({
                "alert": "PushServiceHeartbeatMissing", "for": "5m",
                "expr": f'sum(increase(knative_heartbeats_total{{service="{service}"}}[5m])) < 1',
                "labels": {"severity": "warning", "service": service},
                "annotations": {"summary": f"{service}: no PingSource heartbeat arrived through the Broker in 5 "
                                           "minutes", "runbook": "docs/alerts.md#pushserviceheartbeatmissing"}})
        custom_resource(
            f"{service}-alerts", "monitoring.coreos.com/v1", "PrometheusRule", self.args.namespace,
            {"groups": [{"name": f"push-{service}", "rules": rules}]},
            child(self), resource_name=f"{name}-alerts", labels=rule_labels,
        )

    def _meta(self) -> dict[str, Any]:
        return {"name": self.args.service_name, "namespace": self.args.namespace, "labels": self.labels}

    def _deployment(self, name: str, account: k8s.core.v1.ServiceAccount) -> k8s.apps.v1.Deployment:
        args = self.args
        env = {
            "SERVICE_NAME": args.service_name,
            "PUSH_PORT": str(PUSH_PORT),
            "HEALTH_PORT": str(HEALTH_PORT),
            "METRICS_PORT": str(METRICS_PORT),
            "SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
            **args.extra_env,
        }
        # Not ready while draining: the Service stops routing deliveries here.
        pod_spec = runtime_pod_spec(
            args.service_name, args.image, args.command, [{"name": key, "value": value} for key, value in env.items()],
            [{"name": "http", "containerPort": PUSH_PORT}, {"name": "health", "containerPort": HEALTH_PORT},
             {"name": "metrics", "containerPort": METRICS_PORT}],
            args.cpu, args.memory, [{"name": "tmp", "mountPath": "/tmp"}],
            [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}], SHUTDOWN_TIMEOUT_S)
        if args.environment == "prod":
            pod_spec["topologySpreadConstraints"] = zone_spread(self.selector)
        return k8s.apps.v1.Deployment(
            name, metadata=self._meta(),
            spec={"replicas": args.replicas, "selector": {"matchLabels": self.selector},
                  "template": {"metadata": {"labels": self.labels}, "spec": pod_spec}},
            opts=child(self, depends_on=[account]),
        )

    def _network_policy(self, name: str) -> None:
        """Deliveries only from the Broker's data plane, scrapes only from monitoring; out: DNS."""
        args = self.args
        data_plane = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.eventing_namespace}},
            "podSelector": {"matchLabels": DATA_PLANE_PODS[args.broker_class]},
        }
        monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.monitoring_namespace}}}
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=self._meta(),
            spec={
                "podSelector": {"matchLabels": self.selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": [data_plane], "ports": [{"port": PUSH_PORT, "protocol": "TCP"}]},
                    {"from": [monitoring], "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]},
                ],
                "egress": [DNS_EGRESS],
            },
            opts=child(self),
        )
