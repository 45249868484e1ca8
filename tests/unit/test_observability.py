"""kube-prometheus-stack, what Prometheus selects, alert rules and the Grafana dashboards as code."""

from __future__ import annotations

import json
import re
from itertools import combinations
from typing import Any

import promql_parser
import pytest

from event_platform.infra import artifacts, observability
from event_platform.infra.alerts import AlertThresholdArgs, alert_groups, alerts
from event_platform.infra.config import build_config
from tests.unit.harness import HELM_TEMPLATE, REPO, Recorder, Registered, run_stack
from tests.unit.schema_check import validation_errors

MONITOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
SELECTOR_KINDS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")


def chart(recorder: Recorder, name: str) -> Registered:
    return recorder.chart(name)


def prometheus_spec(recorder: Recorder) -> dict[str, Any]:
    return dict(chart(recorder, "kps").inputs["values"]["prometheus"]["prometheusSpec"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def rules(recorder: Recorder) -> list[dict[str, Any]]:
    """The platform's own rules (each workload adds a rule of its own: tests/unit/test_workloads.py)."""
    (rule,) = [r for r in recorder.custom("PrometheusRule") if r.inputs["metadata"]["namespace"] == "monitoring"]
    return [r for group in rule.spec["groups"] for r in group["rules"]]


def parse(expr: str) -> Any:
    return promql_parser.parse(expr)


# --- the stack itself ---------------------------------------------------------------------


def test_prometheus_selects_by_an_explicit_label_in_every_namespace(dev: Recorder) -> None:
    spec = prometheus_spec(dev)
    for kind in SELECTOR_KINDS:
        assert spec[f"{kind}Selector"] == {"matchLabels": observability.SELECTOR_LABELS}
        assert spec[f"{kind}NamespaceSelector"] == {}
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
    # The label is the release label the chart's own monitors carry.
    assert chart(dev, "kps").inputs["release_name"] == observability.SELECTOR_LABELS["release"]


def test_every_platform_monitor_and_rule_is_selected(prod: Recorder) -> None:
    spec = prometheus_spec(prod)
    selectors = {"ServiceMonitor": spec["serviceMonitorSelector"], "PodMonitor": spec["podMonitorSelector"],
                 "PrometheusRule": spec["ruleSelector"]}
    declared = [r for kind in MONITOR_KINDS for r in prod.custom(kind)]
    assert len(declared) >= 9
    for resource in declared:
        assert selects(selectors[resource.kind], resource.inputs["metadata"]["labels"]), resource.name


def test_keda_and_nats_charts_create_podmonitors_prometheus_selects(prod: Recorder) -> None:
    selector = prometheus_spec(prod)["podMonitorSelector"]
    keda = chart(prod, "keda").inputs["values"]["prometheus"]
    for part in ("operator", "metricServer", "webhooks"):
        assert keda[part]["enabled"] is True and keda[part]["podMonitor"]["enabled"] is True
        assert selects(selector, keda[part]["podMonitor"]["additionalLabels"])
    nats = chart(prod, "nats").inputs["values"]["promExporter"]
    assert nats["enabled"] is True and nats["podMonitor"]["enabled"] is True
    assert selects(selector, nats["podMonitor"]["merge"]["metadata"]["labels"])
    # The chart's own values survive the merge.
    assert chart(prod, "nats").inputs["values"]["config"]["jetstream"]["enabled"] is True
    assert chart(prod, "keda").inputs["values"]["crds"] == {"install": True}
    # Only the named release is touched.
    assert "promExporter" not in chart(prod, "nats-nack").inputs["values"]


def test_admission_webhooks_use_cert_manager_not_helm_hooks(dev: Recorder) -> None:
    webhooks = chart(dev, "kps").inputs["values"]["prometheusOperator"]["admissionWebhooks"]
    assert webhooks["enabled"] is True
    assert webhooks["certManager"] == {"enabled": True}
    assert webhooks["patch"] == {"enabled": False}
    # cert-manager is installed for monitoring even without RabbitMQ.
    recorder = run_stack("dev", {"platform": {"rabbitmq": {"enabled": False}}})
    assert [c.name for c in recorder.of_type(HELM_TEMPLATE) if c.name == "cert-manager"]


def test_retention_and_storage_follow_the_preset(dev: Recorder, prod: Recorder) -> None:
    dev_spec, prod_spec = prometheus_spec(dev), prometheus_spec(prod)
    assert dev_spec["retention"] == "2d" and "retentionSize" not in dev_spec
    assert dev_spec["storageSpec"] == {"emptyDir": {"sizeLimit": "5Gi"}}
    assert dev_spec["replicas"] == 1
    assert prod_spec["retention"] == "15d" and prod_spec["retentionSize"] == "45GB"
    claim = prod_spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert prod_spec["replicas"] == 2
    alertmanager = chart(prod, "kps").inputs["values"]["alertmanager"]["alertmanagerSpec"]
    assert alertmanager["replicas"] == 3 and "volumeClaimTemplate" in alertmanager["storage"]


def test_monitoring_pods_have_resources_and_prod_has_disruption_budgets(dev: Recorder, prod: Recorder) -> None:
    values = chart(prod, "kps").inputs["values"]
    assert values["prometheus"]["prometheusSpec"]["resources"]["limits"] == {"memory": "4Gi"}
    assert values["prometheus"]["podDisruptionBudget"]["enabled"] is True
    assert values["alertmanager"]["podDisruptionBudget"]["enabled"] is True
    for part in ("grafana", "kube-state-metrics", "prometheus-node-exporter", "prometheusOperator"):
        assert set(values[part]["resources"]) == {"requests", "limits"}, part
    assert "podDisruptionBudget" not in chart(dev, "kps").inputs["values"]["prometheus"]


def test_grafana_admin_password_is_generated_and_kept_in_a_secret(prod: Recorder) -> None:
    grafana = chart(prod, "kps").inputs["values"]["grafana"]
    secret_name = grafana["admin"]["existingSecret"]
    (secret,) = [s for s in prod.of_type("kubernetes:core/v1:Secret") if s.object_name == secret_name]
    assert "data" not in secret.inputs
    assert "adminPassword" not in grafana
    assert "generated-" not in json.dumps(grafana)
    assert grafana["image"]["tag"] == artifacts.GRAFANA_VERSION and artifacts.GRAFANA_VERSION.startswith("13.")


def test_grafana_provisions_the_datasource_and_dashboards_the_sidecar_finds(dev: Recorder) -> None:
    sidecar = chart(dev, "kps").inputs["values"]["grafana"]["sidecar"]
    assert sidecar["datasources"]["uid"] == observability.DATASOURCE_UID
    assert (sidecar["dashboards"]["label"], sidecar["dashboards"]["labelValue"]) == ("grafana_dashboard", "1")
    config_maps = [c for c in dev.of_type("kubernetes:core/v1:ConfigMap")
                   if c.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"]
    files = {name for c in config_maps for name in c.inputs["data"]}
    workload_rows = {f"{s.name}.json" for s in build_config("dev", {}).workloads.services}
    assert files == {p.name for p in observability.dashboard_files()} | workload_rows
    assert {"overview.json", "kafka.json", "rabbitmq.json", "nats.json", "knative.json"} <= files


def test_observability_can_be_switched_off() -> None:
    recorder = run_stack("dev", {"platform": {"observability": {"enabled": False}}})
    assert not [c for c in recorder.of_type(HELM_TEMPLATE) if c.name == "kps"]
    assert not any(recorder.custom(kind) for kind in MONITOR_KINDS)
    assert "prometheus" not in chart(recorder, "keda").inputs["values"]


# --- what is scraped -----------------------------------------------------------------------


def test_everything_the_platform_runs_is_scraped(prod: Recorder) -> None:
    monitors = {m.object_name: m for kind in ("ServiceMonitor", "PodMonitor") for m in prod.custom(kind)}
    assert {"event-platform-workloads", "event-platform-kafka", "event-platform-strimzi-operator",
            "event-platform-rabbitmq", "event-platform-knative-serving", "event-platform-knative-eventing",
            "event-platform-kourier", "event-platform-knative-revisions"} <= set(monitors)
    kafka = monitors["event-platform-kafka"].spec
    assert kafka["selector"]["matchLabels"]["strimzi.io/kind"] == "Kafka"
    assert kafka["podMetricsEndpoints"][0]["port"] == "tcp-prometheus"
    rabbit = monitors["event-platform-rabbitmq"].spec["endpoints"]
    assert {e["port"] for e in rabbit} == {"prometheus"}
    detailed = next(e for e in rabbit if e["path"] == "/metrics/detailed")
    assert detailed["params"] == {"family": ["queue_coarse_metrics", "queue_metrics"]}


def test_workloads_follow_the_documented_scrape_convention(dev: Recorder) -> None:
    workloads = next(m for m in dev.custom("PodMonitor") if m.object_name == "event-platform-workloads").spec
    assert workloads["namespaceSelector"] == {"any": True}
    assert workloads["selector"]["matchLabels"] == {observability.WORKLOAD_SCRAPE_LABEL: "true"}
    assert workloads["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics"}]
    docs = (REPO / "docs" / "alerts.md").read_text()
    assert observability.WORKLOAD_SCRAPE_LABEL in docs and "`metrics`" in docs


def test_monitors_and_rules_validate_against_the_prometheus_operator_crds(prod: Recorder) -> None:
    for kind in MONITOR_KINDS:
        for resource in prod.custom(kind):
            body = {k: v for k, v in resource.inputs.items() if k != "metadata"}
            assert validation_errors("monitoring.coreos.com/v1", kind, body) == [], resource.name


# --- alerts --------------------------------------------------------------------------------

REQUIRED_ALERTS = {
    "KafkaConsumerLagHigh", "ConsumerLagGrowingAtMaxReplicas", "KafkaDeadLetterTopicReceiving",
    "RabbitmqDeadLetterQueueReceiving", "NatsDeadLetterStreamReceiving", "EventsDeadLettered",
    "EventProcessingErrorRateHigh", "KafkaUnderReplicatedPartitions", "KafkaOfflinePartitions",
    "RabbitmqPodDown", "RabbitmqQuorumLost", "NatsPodDown", "NatsQuorumLost", "KedaScalerErrors",
    "KnativeBrokerDeliveryFailures",
}


def test_the_required_alerts_exist(prod: Recorder) -> None:
    assert {r["alert"] for r in rules(prod)} >= REQUIRED_ALERTS


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rule_expression_parses_with_the_promql_parser(stack: str, dev: Recorder, prod: Recorder) -> None:
    for rule in rules(dev if stack == "dev" else prod):
        try:
            parse(rule["expr"])
        except ValueError as exc:  # promql-parser raises ValueError with the position
            pytest.fail(f"{rule['alert']}: {exc}: {rule['expr']}")
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), rule["alert"]


def test_the_parser_rejects_broken_promql() -> None:
    with pytest.raises(ValueError):
        parse("sum(rate(events_in_total[5m])")


def test_thresholds_differ_per_environment(dev: Recorder, prod: Recorder) -> None:
    dev_rules = {r["alert"]: r for r in rules(dev)}
    prod_rules = {r["alert"]: r for r in rules(prod)}
    assert dev_rules["KafkaConsumerLagHigh"]["expr"].endswith("> 100")
    assert prod_rules["KafkaConsumerLagHigh"]["expr"].endswith("> 1000")
    assert (dev_rules["KafkaConsumerLagHigh"]["for"], prod_rules["KafkaConsumerLagHigh"]["for"]) == ("5m", "10m")
    assert prod_rules["EventProcessingErrorRateHigh"]["expr"].endswith("> 0.05")


def test_broker_down_rules_name_the_real_statefulsets(prod: Recorder) -> None:
    by_name = {r["alert"]: r["expr"] for r in rules(prod)}
    assert 'statefulset="events-server"' in by_name["RabbitmqQuorumLost"]
    assert 'namespace="nats", statefulset="nats"' in by_name["NatsQuorumLost"]


def test_every_alert_has_a_runbook_section_in_the_docs(prod: Recorder) -> None:
    docs = (REPO / "docs" / "alerts.md").read_text()
    headings = {line.removeprefix("### ").strip().lower() for line in docs.splitlines() if line.startswith("### ")}
    for rule in rules(prod):
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor in headings, f"docs/alerts.md lacks a '### {rule['alert']}' section"
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_rule_groups_follow_the_enabled_add_ons() -> None:
    base = dict(consumer_lag=1, consumer_lag_for="1m", queue_depth=1, error_ratio=0.1, error_ratio_for="1m",
                broker_down_for="1m", delivery_failure_ratio=0.1)
    only_workloads = AlertThresholdArgs(**base, kafka=False, keda=False, knative=False)
    assert list(alerts(only_workloads)) == ["event-platform.workloads"]
    everything = AlertThresholdArgs(**base, rabbitmq=("rabbitmq", "events-server"), nats=("nats", "nats"))
    assert len(alert_groups(everything)) == 6


def test_workload_metric_names_match_the_apps_runtime() -> None:
    from event_platform.apps.runtime.metrics import Metrics

    metrics = Metrics("probe")
    metrics.received("t")
    metrics.published("t")
    metrics.failed("r")
    metrics.dead_lettered("r")
    metrics.latency.observe(0.1)
    exposed = {sample.name for family in metrics.registry.collect() for sample in family.samples}
    used: set[str] = set()
    groups = alert_groups(AlertThresholdArgs(1, "1m", 1, 0.1, "1m", "1m", 0.1))
    texts = [r["expr"] for g in groups for r in g["rules"]]
    texts += [t["expr"] for d in dashboards().values() for p in d["panels"] for t in p.get("targets", [])]
    for text in texts:
        used |= set(re.findall(r"\b(events?_[a-z_]+)\b", str(text)))
    assert used and used <= exposed, f"not exposed by apps/runtime/metrics.py: {sorted(used - exposed)}"


# --- dashboards ----------------------------------------------------------------------------

GRAFANA_VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: observability.load_dashboard(path) for path in observability.dashboard_files()}


def substitute(expr: str) -> str:
    """Grafana expands variables before Prometheus sees the query; do the same for parsing."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    return GRAFANA_VARIABLE.sub(".*", expr)


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    nested = [p for row in dashboard["panels"] if row["type"] == "row" for p in row.get("panels", [])]
    return [*dashboard["panels"], *nested]


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_loads_in_grafana_13(name: str) -> None:
    dashboard = dashboards()[name]
    assert 39 <= dashboard["schemaVersion"] <= 42
    assert dashboard["uid"] and len(dashboard["uid"]) <= 40 and dashboard["title"]
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and grid["w"] >= 1 and grid["h"] >= 1
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_panels_do_not_overlap(name: str) -> None:
    boxes = [(p["title"], p["gridPos"]) for p in panels(dashboards()[name])]
    for (a, g), (b, h) in combinations(boxes, 2):
        overlap_x = g["x"] < h["x"] + h["w"] and h["x"] < g["x"] + g["w"]
        overlap_y = g["y"] < h["y"] + h["h"] and h["y"] < g["y"] + g["h"]
        assert not (overlap_x and overlap_y), f"{a!r} overlaps {b!r}"


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_queries_use_the_provisioned_prometheus_and_parse(name: str) -> None:
    wired = {"type": "prometheus", "uid": observability.DATASOURCE_UID}
    queries = 0
    for panel in panels(dashboards()[name]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == wired, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == wired
            try:
                parse(substitute(target["expr"]))
            except ValueError as exc:
                pytest.fail(f"{name} / {panel['title']}: {exc}: {target['expr']}")
            queries += 1
    for variable in dashboards()[name]["templating"]["list"]:
        assert variable["datasource"] == wired
    assert queries >= 5


def test_dashboard_uids_are_unique_and_the_overview_covers_the_issue() -> None:
    all_dashboards = dashboards()
    uids = [d["uid"] for d in all_dashboards.values()]
    assert len(uids) == len(set(uids))
    text = json.dumps(all_dashboards["overview.json"])
    for needle in ("events_in_total", "events_out_total", "kafka_consumergroup_lag", "events_dead_lettered_total",
                   "kube_horizontalpodautoscaler_status_desired_replicas", "events_failed_total",
                   "kn_eventing_dispatch_duration_seconds_count", "rabbitmq_detailed_queue_messages_ready",
                   "jetstream_consumer_num_pending"):
        assert needle in text, needle


def test_outputs_expose_grafana_and_prometheus() -> None:
    from tests.unit.test_knative import platform_outputs

    _, outputs = platform_outputs("dev")
    observed = outputs["observability"]
    assert observed["grafana_url"] == "http://grafana.monitoring.svc.cluster.local"
    assert observed["prometheus_url"] == "http://kps-prometheus.monitoring.svc.cluster.local:9090"
    assert len(observed["dashboards"]) == len(observability.dashboard_files())
