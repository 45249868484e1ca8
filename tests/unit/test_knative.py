"""Knative Serving/Eventing per preset, the Kafka-backed Broker, sources and the typed helpers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from event_platform.infra import artifacts, knative
from event_platform.infra.config import ConfigError, build_config
from event_platform.infra.platform import EventPlatform
from tests.unit.crds import mirror_root
from tests.unit.harness import REPO, Recorder, Registered, run, run_stack
from tests.unit.schema_check import validation_errors

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def one(recorder: Recorder, kind: str) -> Registered:
    found = recorder.custom(kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def main_broker(recorder: Recorder) -> Registered:
    """The platform's Broker (the other one, `dead-letters`, takes what push Triggers give up on)."""
    (found,) = [b for b in recorder.custom("Broker") if b.object_name == "default"]
    return found


def chart(recorder: Recorder, name: str) -> Registered:
    return recorder.chart(name)


def platform_outputs(environment: str, overrides: dict[str, Any] | None = None) -> tuple[Recorder, dict[str, Any]]:
    """Builds the platform for a preset and returns the resolved stack outputs."""

    def build() -> dict[str, Any]:
        platform = EventPlatform("event-platform", build_config(environment, overrides or {}))
        return platform.outputs

    recorder = run(build, stack=environment)
    return recorder, {key: value for key, (value, _secret) in recorder.results.items()}


def test_serving_uses_kourier_and_exports_prometheus_metrics(dev: Recorder) -> None:
    serving = one(dev, "KnativeServing")
    spec = serving.spec
    assert spec["version"] == artifacts.KNATIVE_VERSION == "1.23.0"
    assert spec["ingress"] == {"kourier": {"enabled": True}}
    assert spec["config"]["network"]["ingress-class"] == "kourier.ingress.networking.knative.dev"
    assert spec["config"]["observability"]["metrics-protocol"] == "prometheus"
    assert spec["config"]["observability"]["request-metrics-protocol"] == "prometheus"
    assert serving.inputs["metadata"]["namespace"] == "knative-serving"
    assert serving.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"


def test_scale_to_zero_and_high_availability_follow_the_preset(dev: Recorder, prod: Recorder) -> None:
    dev_spec, prod_spec = one(dev, "KnativeServing").spec, one(prod, "KnativeServing").spec
    assert dev_spec["config"]["autoscaler"]["enable-scale-to-zero"] == "true"
    assert prod_spec["config"]["autoscaler"]["enable-scale-to-zero"] == "false"
    assert dev_spec["high-availability"]["replicas"] == 1
    assert prod_spec["high-availability"]["replicas"] == 2
    assert one(prod, "KnativeEventing").spec["high-availability"]["replicas"] == 2


def test_dev_eventing_is_the_in_memory_channel_broker(dev: Recorder) -> None:
    eventing = one(dev, "KnativeEventing").spec
    assert eventing["defaultBrokerClass"] == "MTChannelBasedBroker"
    assert eventing["config"]["observability"]["metrics-protocol"] == "prometheus"
    # The Kafka control plane is there for the KafkaSource only (orders topic → Broker).
    assert eventing["source"]["kafka"] == {"enabled": True}
    broker = main_broker(dev)
    assert broker.inputs["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "MTChannelBasedBroker"
    assert "config" not in broker.spec
    assert broker.spec["delivery"] == {"retry": 3, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"}
    assert not [r for r in dev.resources if "kafka-broker-data-plane" in r.name], "dev needs no Kafka data plane"


def test_dev_broker_is_reported_and_documented_as_not_durable() -> None:
    _, outputs = platform_outputs("dev")
    assert outputs["knative"]["broker_durable"] is False
    assert outputs["knative"]["broker_url"] == "http://broker-ingress.knative-eventing.svc.cluster.local/events/default"
    docs = (REPO / "docs" / "knative.md").read_text()
    assert "not durable" in docs


def test_operator_refuses_clusters_older_than_kubernetes_1_34(dev: Recorder) -> None:
    assert chart(dev, "knative-operator").inputs["values"]["knative_operator"]["kubernetes_min_version"] == "v1.34.0"


def test_prod_broker_is_kafka_backed_on_a_declared_topic(prod: Recorder) -> None:
    eventing = one(prod, "KnativeEventing").spec
    assert eventing["defaultBrokerClass"] == "Kafka"
    assert eventing["source"]["kafka"] == {"enabled": True}
    broker = main_broker(prod)
    annotations = broker.inputs["metadata"]["annotations"]
    assert annotations["eventing.knative.dev/broker.class"] == "Kafka"
    topic_name = annotations["kafka.eventing.knative.dev/external.topic"]
    topics = {t.spec["topicName"]: t.spec for t in prod.custom("KafkaTopic")}
    assert topics[topic_name]["partitions"] == 12 and topics[topic_name]["replicas"] == 3
    assert broker.spec["delivery"]["retry"] == 10


def test_prod_kafka_broker_config_points_at_strimzi_with_its_own_credentials(prod: Recorder) -> None:
    ref = main_broker(prod).spec["config"]
    assert ref["kind"] == "ConfigMap" and ref["namespace"] == "knative-eventing"
    assert ref["name"] != "kafka-broker-config", "that ConfigMap belongs to the operator's Kafka controller"
    config = next(c for c in prod.of_type("kubernetes:core/v1:ConfigMap") if c.object_name == ref["name"])
    data = config.inputs["data"]
    assert data["bootstrap.servers"] == "events-kafka-bootstrap.kafka.svc:9093"
    assert data["default.topic.replication.factor"] == "3"
    secret = next(s for s in prod.of_type("kubernetes:core/v1:Secret")
                  if s.object_name == data["auth.secret.ref.name"])
    assert secret.inputs["metadata"]["namespace"] == "knative-eventing"
    string_data = secret.inputs["stringData"]
    # The whole stringData is a secret (it holds the generated password): the mock sees it wrapped.
    assert SECRET_SIG in string_data
    auth = string_data["value"]
    assert (auth["protocol"], auth["sasl.mechanism"], auth["user"]) == ("SASL_SSL", "SCRAM-SHA-512", "knative-broker")
    assert {"password", "ca.crt"} <= set(auth)
    user = next(u for u in prod.custom("KafkaUser") if u.object_name == "knative-broker")
    acls = {(a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"]) for a in user.spec[
        "authorization"]["acls"]}
    assert ("group", "knative-trigger-", "prefix") in acls
    assert ("topic", "knative-broker-events-default", "literal") in acls


def test_kafka_credentials_wait_for_the_cluster_ca(dev: Recorder, prod: Recorder) -> None:
    # The CA Secret Strimzi generates exists once Kafka is Ready; only prod's Kafka Broker reads it.
    assert one(prod, "Kafka").inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert "annotations" not in one(dev, "Kafka").inputs["metadata"]
    assert main_broker(prod).inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"


def test_prod_applies_the_pinned_kafka_broker_data_plane(prod: Recorder) -> None:
    data_plane = prod.named("knative-eventing-kafka-broker-data-plane")
    assert data_plane.inputs["file"] == artifacts.KNATIVE_KAFKA_BROKER_DATA_PLANE.url
    assert "knative-v1.23.0/eventing-kafka-broker.yaml" in data_plane.inputs["file"]


def test_offline_mirror_names_the_missing_data_plane(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(artifacts.MIRROR_ENV, str(mirror_root()))
    with caplog.at_level(logging.WARNING):
        recorder, outputs = platform_outputs("prod")
    assert not [r for r in recorder.resources if r.name == "knative-eventing-kafka-broker-data-plane"]
    assert main_broker(recorder).inputs["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    (missing,) = outputs["unavailable_artifacts"]
    assert "eventing-kafka-broker.yaml" in missing
    assert outputs["knative"]["unavailable_artifacts"] == [missing]
    assert any("eventing-kafka-broker.yaml" in record.getMessage() for record in caplog.records)
    # Waiting for a Broker that cannot become Ready would only turn the warning into a timeout.
    assert "pulumi.com/waitFor" not in main_broker(recorder).inputs["metadata"]["annotations"]
    # Everything the mirror does hold is still read from it.
    assert chart(recorder, "knative-operator").inputs["path"].startswith(str(Path(mirror_root())))


def test_dev_heartbeat_ping_source_targets_the_broker(dev: Recorder) -> None:
    ping = one(dev, "PingSource")
    assert ping.spec["schedule"] == "*/1 * * * *"
    assert ping.spec["sink"] == {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}


def test_kafka_source_reads_existing_topics_with_least_privilege_credentials() -> None:
    recorder = run_stack("prod", {"platform": {"knative": {"kafka_sources": [
        {"name": "legacy-orders", "topics": ["orders"], "consumer_group": "knative-legacy-orders"}]}}})
    source = one(recorder, "KafkaSource")
    spec = source.spec
    assert spec["topics"] == ["orders"] and spec["consumerGroup"] == "knative-legacy-orders"
    assert spec["bootstrapServers"] == ["events-kafka-bootstrap.kafka.svc:9093"]
    secret = spec["net"]["sasl"]["password"]["secretKeyRef"]["name"]
    assert spec["net"]["tls"]["caCert"]["secretKeyRef"] == {"name": secret, "key": "ca.crt"}
    assert spec["net"]["sasl"]["type"]["secretKeyRef"] == {"name": secret, "key": "sasl.mechanism"}
    user = next(u for u in recorder.custom("KafkaUser") if u.object_name == "knative-source-legacy-orders")
    acls = [(a["resource"]["name"], a["operations"]) for a in user.spec["authorization"]["acls"]]
    assert acls == [("orders", ["Read", "Describe"]), ("knative-legacy-orders", ["Read"])]
    body = {k: v for k, v in source.inputs.items() if k != "metadata"}
    assert validation_errors("sources.knative.dev/v1", "KafkaSource", body) == []


def test_trigger_helper_builds_filters_delivery_and_dead_letter_sink() -> None:
    dead_letters = knative.Sink(name="dead-letters")
    delivery = knative.Delivery(retry=5, backoff_policy="linear", backoff_delay="PT1S",
                                dead_letter_sink=dead_letters, timeout="PT30S")

    def build() -> None:
        knative.Trigger("exact", knative.TriggerArgs(
            namespace="events", trigger_name="orders-created", broker="default",
            subscriber=knative.Sink(name="order-service"), attributes={"type": "orders.created"}, delivery=delivery))
        knative.Trigger("prefix", knative.TriggerArgs(
            namespace="events", trigger_name="all-orders", broker="default",
            subscriber=knative.Sink(uri="http://audit.events.svc"), attributes={"source": "shop"},
            prefixes={"type": "orders."}))

    recorder = run(build)
    triggers = {t.object_name: t for t in recorder.custom("Trigger")}
    exact = triggers["orders-created"].spec
    assert exact["filter"] == {"attributes": {"type": "orders.created"}}
    assert exact["delivery"] == {"retry": 5, "backoffPolicy": "linear", "backoffDelay": "PT1S", "timeout": "PT30S",
                                 "deadLetterSink": {"ref": {"apiVersion": "serving.knative.dev/v1",
                                                            "kind": "Service", "name": "dead-letters"}}}
    prefix = triggers["all-orders"].spec
    assert prefix["filters"] == [{"all": [{"exact": {"source": "shop"}}, {"prefix": {"type": "orders."}}]}]
    assert prefix["subscriber"] == {"uri": "http://audit.events.svc"}
    for trigger in triggers.values():
        body = {k: v for k, v in trigger.inputs.items() if k != "metadata"}
        assert validation_errors("eventing.knative.dev/v1", "Trigger", body) == []


def test_a_sink_is_either_a_reference_or_a_uri() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        knative.Sink(name="a", uri="http://b").to_spec()


def test_external_topic_is_only_for_kafka_brokers() -> None:
    def build() -> None:
        knative.Broker("b", knative.BrokerArgs(namespace="events", broker_name="b", external_topic="t"))

    with pytest.raises(ValueError, match="only applies to Kafka"):
        run(build)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"kafka": {"enabled": False}}, "broker_class Kafka needs the platform's Kafka"),
    ({"kafka": {"authentication": "tls"}}, "not tls"),
    ({"knative": {"broker_topic_replicas": 5}}, "broker_topic_replicas 5 exceeds Kafka brokers 3"),
    ({"knative": {"delivery": {"backoff_delay": "2 seconds"}}}, "knative.delivery.backoff_delay"),
])
def test_knative_config_mistakes_are_rejected_before_any_resource(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match="fix:") as raised:
        build_config("prod", overrides)
    assert expected in str(raised.value)


def test_knative_can_be_switched_off() -> None:
    recorder = run_stack("dev", {"platform": {"knative": {"enabled": False}}})
    assert not recorder.custom("KnativeServing") and not recorder.custom("Broker")
    assert not [n for n in recorder.of_type("kubernetes:core/v1:Namespace") if "knative" in n.object_name]


def test_outputs_expose_the_broker_and_gateway() -> None:
    _, outputs = platform_outputs("prod")
    knative_out = outputs["knative"]
    assert knative_out["broker_class"] == "Kafka" and knative_out["broker_durable"] is True
    assert knative_out["broker_url"].startswith("http://kafka-broker-ingress.knative-eventing.svc")
    assert knative_out["ingress_gateway"] == "kourier.kourier-system.svc"
    assert outputs["unavailable_artifacts"] == []


def test_stack_program_exports_secret_outputs_as_secrets() -> None:
    def build() -> dict[str, Any]:
        platform = EventPlatform("event-platform", build_config("prod", {}))
        return {"grafana": platform.outputs["observability"]["grafana_admin_password"],
                "kafka": platform.outputs["kafka"]["password"]}

    recorder = run(build, stack="prod")
    assert all(secret for _value, secret in recorder.results.values())


@pytest.mark.parametrize(("user", "tls", "ca", "protocol"), [
    ("u", True, "CA", "SASL_SSL"), ("u", False, None, "SASL_PLAINTEXT"), (None, True, "CA", "SSL"),
    (None, False, None, "PLAINTEXT"),
    # Render mode: the listener is TLS, only the CA is not known yet.
    ("u", True, None, "SASL_SSL"),
])
def test_kafka_auth_secret_keys_follow_the_listener(user: str | None, tls: bool, ca: str | None,
                                                    protocol: str) -> None:
    data = knative.kafka_auth_data(user, "pw" if user else None, tls, ca)
    assert data["protocol"] == protocol
    assert ("sasl.mechanism" in data) == (user is not None) and ("ca.crt" in data) == (ca is not None)
