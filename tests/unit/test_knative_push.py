"""The push path in both stacks: Broker → Trigger (attribute filter, delivery) → order-audit, the
dead-letter Broker, the heartbeat PingSource → Trigger, and the service's Deployment and policy."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_settings import BaseSettings

from event_platform.apps.runtime.push_app import PushSettings
from event_platform.apps.runtime.settings import RuntimeSettings
from event_platform.infra import knative
from event_platform.infra.knative_push import PushService, PushServiceArgs
from tests.unit.harness import Recorder, Registered, run, run_stack
from tests.unit.schema_check import validation_errors

STACKS = ["dev", "prod"]
DELIVERY = {
    "dev": {"retry": 3, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S", "timeout": "PT10S"},
    "prod": {"retry": 10, "backoffPolicy": "exponential", "backoffDelay": "PT0.5S", "timeout": "PT30S"},
}
DATA_PLANE = {"dev": {"eventing.knative.dev/brokerRole": "filter"}, "prod": {"app": "kafka-broker-dispatcher"}}
BROKER_CLASS = {"dev": "MTChannelBasedBroker", "prod": "Kafka"}


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> tuple[str, Recorder]:
    return request.param, request.getfixturevalue(request.param)


def body_of(resource: Registered) -> dict[str, Any]:
    return {k: v for k, v in resource.inputs.items() if k != "metadata"}


def by_name(recorder: Recorder, kind: str) -> dict[str, Registered]:
    return {r.object_name: r for r in recorder.custom(kind)}


def core(recorder: Recorder, kind: str, name: str) -> Registered:
    (found,) = [r for r in recorder.of_type(f"kubernetes:{kind}") if r.object_name == name]
    return found


def test_order_audit_is_subscribed_through_a_filtered_trigger_with_full_delivery(stack: tuple[str, Recorder]) -> None:
    environment, recorder = stack
    trigger = by_name(recorder, "Trigger")["order-audit"]
    spec = trigger.spec
    assert trigger.inputs["metadata"]["namespace"] == "events"
    assert spec["broker"] == "default"
    assert spec["filter"] == {"attributes": {"source": "/services/order"}}
    assert spec["subscriber"] == {"ref": {"apiVersion": "v1", "kind": "Service", "name": "order-audit"}}
    assert spec["delivery"] == {
        **DELIVERY[environment],
        "deadLetterSink": {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "dead-letters"}},
    }
    assert validation_errors("eventing.knative.dev/v1", "Trigger", body_of(trigger)) == []


def test_both_brokers_have_the_stack_s_class_and_the_dead_letter_broker_only_keeps_events(
        stack: tuple[str, Recorder]) -> None:
    environment, recorder = stack
    brokers = by_name(recorder, "Broker")
    assert set(brokers) == {"default", "dead-letters"}
    for broker in brokers.values():
        annotations = broker.inputs["metadata"]["annotations"]
        assert annotations["eventing.knative.dev/broker.class"] == BROKER_CLASS[environment]
        assert validation_errors("eventing.knative.dev/v1", "Broker", body_of(broker)) == []
    assert "delivery" not in brokers["dead-letters"].spec


def test_prod_dead_letters_are_kept_on_their_own_kafka_topic_the_broker_user_may_use(prod: Recorder) -> None:
    dead_letters = by_name(prod, "Broker")["dead-letters"]
    topic_name = dead_letters.inputs["metadata"]["annotations"]["kafka.eventing.knative.dev/external.topic"]
    assert topic_name == "knative-broker-events-dead-letters"
    assert dead_letters.spec["config"] == by_name(prod, "Broker")["default"].spec["config"]
    topic = next(t.spec for t in prod.custom("KafkaTopic") if t.spec["topicName"] == topic_name)
    assert (topic["partitions"], topic["replicas"]) == (1, 3)
    assert topic["config"]["retention.ms"] == 14 * 24 * 3600 * 1000
    user = next(u for u in prod.custom("KafkaUser") if u.object_name == "knative-broker")
    topics = {a["resource"]["name"] for a in user.spec["authorization"]["acls"] if a["resource"]["type"] == "topic"}
    assert topics == {"knative-broker-events-default", "knative-broker-events-dead-letters"}


def test_the_heartbeat_ping_source_reaches_order_audit_through_its_own_trigger(stack: tuple[str, Recorder]) -> None:
    _, recorder = stack
    ping = by_name(recorder, "PingSource")["heartbeat"]
    assert ping.spec["sink"] == {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}
    trigger = by_name(recorder, "Trigger")["order-audit-heartbeat"]
    assert trigger.spec["filter"] == {"attributes": {
        "type": "dev.knative.sources.ping", "source": "/apis/v1/namespaces/events/pingsources/heartbeat"}}
    assert trigger.spec["subscriber"] == {"ref": {"apiVersion": "v1", "kind": "Service", "name": "order-audit"},
                                          "uri": "/heartbeat"}
    assert trigger.spec["delivery"]["deadLetterSink"]["ref"]["name"] == "dead-letters"
    assert validation_errors("sources.knative.dev/v1", "PingSource", body_of(ping)) == []
    assert validation_errors("eventing.knative.dev/v1", "Trigger", body_of(trigger)) == []


def test_the_orders_topic_flows_into_the_broker_through_a_kafka_source(stack: tuple[str, Recorder]) -> None:
    environment, recorder = stack
    source = by_name(recorder, "KafkaSource")["orders-into-broker"]
    assert source.spec["topics"] == ["orders"]
    assert source.spec["initialOffset"] == "earliest"
    assert source.spec["sink"]["ref"]["name"] == "default"
    assert ("net" in source.spec) is (environment == "prod")  # dev's Kafka has neither TLS nor SCRAM
    assert validation_errors("sources.knative.dev/v1", "KafkaSource", body_of(source)) == []


def test_the_deployment_is_restricted_probed_and_bounded(stack: tuple[str, Recorder]) -> None:
    environment, recorder = stack
    deployment = core(recorder, "apps/v1:Deployment", "order-audit")
    assert deployment.inputs["metadata"]["namespace"] == "events"
    spec = deployment.inputs["spec"]
    assert spec["replicas"] == (2 if environment == "prod" else 1)
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "event_platform.apps.orders.audit_service"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "health": 8080,
                                                                        "metrics": 9090}
    assert ("topologySpreadConstraints" in pod) is (environment == "prod")
    pdbs = [p for p in recorder.of_type("kubernetes:policy/v1:PodDisruptionBudget") if p.object_name == "order-audit"]
    assert len(pdbs) == (1 if environment == "prod" else 0)
    service = core(recorder, "core/v1:Service", "order-audit")
    assert service.inputs["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]


def test_the_declared_environment_is_exactly_what_the_runtime_reads(
        stack: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch) -> None:
    _, recorder = stack
    deployment = core(recorder, "apps/v1:Deployment", "order-audit")
    env = {e["name"]: e["value"] for e in deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    models: list[type[BaseSettings]] = [RuntimeSettings, PushSettings]
    read = {(str(model.model_config.get("env_prefix", "")) + field).upper()
            for model in models for field in model.model_fields}
    assert set(env) <= read, f"set but read by nothing: {set(env) - read}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime, push = RuntimeSettings(), PushSettings()
    assert (runtime.service_name, runtime.health_port, runtime.metrics_port) == ("order-audit", 8080, 9090)
    assert push.port == 8000


def test_only_the_broker_data_plane_may_deliver_and_only_monitoring_may_scrape(stack: tuple[str, Recorder]) -> None:
    environment, recorder = stack
    policy = core(recorder, "networking.k8s.io/v1:NetworkPolicy", "order-audit").inputs["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "order-audit"}}
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    deliveries, scrapes = policy["ingress"]
    assert deliveries == {"from": [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "knative-eventing"}},
        "podSelector": {"matchLabels": DATA_PLANE[environment]}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    assert scrapes["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert scrapes["ports"] == [{"port": 9090, "protocol": "TCP"}]
    assert [rule["ports"][0]["port"] for rule in policy["egress"]] == [53]  # DNS only
    # Nothing else in the events namespace opens the pods to the other platform namespaces.
    events_policies = {p.object_name for p in recorder.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                       if p.inputs["metadata"]["namespace"] == "events"}
    assert events_policies == {"default-deny-ingress", "order-audit", "dead-letter-log"}


def test_the_push_service_is_scraped_and_alerts_on_dead_letters_errors_and_a_missing_heartbeat(
        stack: tuple[str, Recorder]) -> None:
    _, recorder = stack
    monitor = by_name(recorder, "PodMonitor")["order-audit"]
    assert monitor.spec["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    (group,) = by_name(recorder, "PrometheusRule")["order-audit-alerts"].spec["groups"]
    rules = {rule["alert"]: rule for rule in group["rules"]}
    assert set(rules) == {"EventWorkloadDeadLetters", "EventWorkloadErrorRate", "PushServiceHeartbeatMissing"}
    assert rules["PushServiceHeartbeatMissing"]["expr"] == (
        'sum(increase(knative_heartbeats_total{service="order-audit"}[5m])) < 1')
    assert 'events_dead_lettered_total{service="order-audit"}' in rules["EventWorkloadDeadLetters"]["expr"]


def test_every_dead_letter_reaches_the_dead_letter_log(stack: tuple[str, Recorder]) -> None:
    environment, recorder = stack
    trigger = by_name(recorder, "Trigger")["dead-letter-log"]
    assert trigger.spec["broker"] == "dead-letters"
    assert "filter" not in trigger.spec and "filters" not in trigger.spec  # every dead letter
    assert "deadLetterSink" not in trigger.spec["delivery"]
    assert trigger.spec["subscriber"] == {"ref": {"apiVersion": "v1", "kind": "Service", "name": "dead-letter-log"}}
    assert validation_errors("eventing.knative.dev/v1", "Trigger", body_of(trigger)) == []
    deployment = core(recorder, "apps/v1:Deployment", "dead-letter-log").inputs["spec"]
    assert deployment["replicas"] == (2 if environment == "prod" else 1)
    (container,) = deployment["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "event_platform.apps.runtime.dead_letter_log"]
    policy = core(recorder, "networking.k8s.io/v1:NetworkPolicy", "dead-letter-log").inputs["spec"]
    assert policy["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": DATA_PLANE[environment]}


@pytest.mark.parametrize(("override", "message"), [
    ({"filter": {}}, "push_services.0.filter"),
    ({"filter": {"Source": "/x"}}, "['Source'] are not CloudEvent attribute names"),
    ({"heartbeat": "nightly"}, "heartbeat 'nightly' is not in ping_sources ['heartbeat']"),
    ({"timeout": "10s"}, "push_services.0.timeout"),
])
def test_a_bad_push_service_is_refused_naming_the_key(override: dict[str, Any], message: str) -> None:
    service = {"name": "order-audit", "module": "event_platform.apps.orders.audit_service",
               "filter": {"source": "/services/order"}, "delivery": {"retry": 3, "backoff_delay": "PT0.2S"},
               "heartbeat": "heartbeat", **override}
    with pytest.raises(Exception, match=r"event-platform:platform\.knative") as raised:
        run_stack("dev", {"platform": {"knative": {"push_services": [service]}}})
    assert message in str(raised.value)


def test_prod_refuses_a_single_replica_push_service() -> None:
    with pytest.raises(Exception, match=r"push_services.0 \(order-audit\): prod runs at least 2 replicas"):
        run_stack("prod", {"platform": {"knative": {"push_services": [
            {"name": "order-audit", "module": "event_platform.apps.orders.audit_service",
             "filter": {"source": "/services/order"}, "delivery": {"retry": 3, "backoff_delay": "PT0.2S"},
             "replicas": 1}]}}})


def test_the_component_refuses_a_trigger_that_could_lose_events_before_declaring_anything() -> None:
    args = PushServiceArgs(namespace="events", namespace_name="events", service_name="audit", image="apps:1.0.0",
                           command=["python", "-m", "x"], environment="dev", broker="default",
                           broker_class=knative.MT_CHANNEL_BROKER, filter={"type": "x.y.v1"},
                           delivery=knative.Delivery(retry=3))

    def build() -> None:
        PushService("audit", args)

    with pytest.raises(Exception, match="delivery needs a dead_letter_sink"):
        run(build)


def test_a_sink_reference_can_carry_a_path_but_a_uri_cannot() -> None:
    sink = knative.Sink(name="svc", kind="Service", api_version="v1", path="/heartbeat")
    assert sink.to_spec() == {"ref": {"apiVersion": "v1", "kind": "Service", "name": "svc"}, "uri": "/heartbeat"}
    with pytest.raises(ValueError, match="only applies to a reference"):
        knative.Sink(uri="http://x", path="/y").to_spec()
