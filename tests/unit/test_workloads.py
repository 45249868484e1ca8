"""EventWorkload: what one consumer declaration yields per broker, and every guardrail."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from event_platform.apps.runtime.brokers import SETTINGS
from event_platform.infra.kafka import KafkaAccess
from event_platform.infra.nats import NatsAccess
from event_platform.infra.rabbitmq import RabbitmqAccess
from event_platform.infra.wiring import ScalingPlan, WiringError, wiring_problems
from event_platform.infra.workloads import (
    WIRINGS,
    Autoscaling,
    EventWorkload,
    EventWorkloadArgs,
    KafkaWiring,
    NatsWiring,
    RabbitmqWiring,
)
from event_platform.policy import rules
from tests.unit.harness import Recorder, reveal, run
from tests.unit.schema_check import validation_errors

IMAGE = "registry.example/event-platform/apps:0.1.0"


def kafka_args(**changes: Any) -> EventWorkloadArgs:
    base = EventWorkloadArgs(
        namespace="apps", namespace_name="apps", service_name="payment-service", image=IMAGE, role="consumer",
        environment="dev", command=["python", "-m", "event_platform.apps.orders.payment_service"],
        broker=KafkaWiring(access=KafkaAccess(bootstrap_servers="events-kafka-bootstrap.kafka.svc:9092",
                                              cluster_name="events", namespace="kafka"),
                           consumes=["inventory"], partitions=6, produces=["payments"]),
        autoscaling=Autoscaling(min_replicas=0, max_replicas=6, lag_threshold=50, activation_threshold=1),
    )
    return dataclasses.replace(base, **changes)


def prod_kafka_args() -> EventWorkloadArgs:
    access = KafkaAccess(bootstrap_servers="events-kafka-bootstrap.kafka.svc:9093", cluster_name="events",
                         namespace="kafka", scram=True, tls=True, port=9093, replication_factor=3,
                         min_insync_replicas=2, protect=True, ca_cert="-----BEGIN CERTIFICATE-----")
    broker = KafkaWiring(access=access, consumes=["inventory"], partitions=6, produces=["payments"])
    return kafka_args(environment="prod", broker=broker,
                      autoscaling=Autoscaling(min_replicas=2, max_replicas=6, activation_threshold=1))


def build(args: EventWorkloadArgs) -> Recorder:
    return run(lambda: EventWorkload("payment", args))


def one(recorder: Recorder, typ: str) -> dict[str, Any]:
    found = recorder.of_type(typ)
    assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
    return found[0].inputs


def container(recorder: Recorder) -> dict[str, Any]:
    return one(recorder, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def env_of(recorder: Recorder) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(recorder)["env"]}


# --- Kafka ---------------------------------------------------------------------------------

def test_kafka_consumer_runs_with_probes_and_the_env_contract() -> None:
    recorder = build(kafka_args())
    c = container(recorder)
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    env = env_of(recorder)
    assert env["CONSUMER_GROUP"] == "payment-service"
    assert env["AUTO_OFFSET_RESET"] == "earliest"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "events-kafka-bootstrap.kafka.svc:9092"
    assert env["DEAD_LETTER_TOPIC"] == "payment-service.dlq"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"health": 8080, "metrics": 9090}


def test_pods_are_restricted_and_pass_the_policy_rules() -> None:
    recorder = build(prod_kafka_args())
    deployment = one(recorder, "kubernetes:apps/v1:Deployment")
    c = container(recorder)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    for check in rules.PER_OBJECT.values():
        assert check(deployment) == [], check.__name__
    pdb = one(recorder, "kubernetes:policy/v1:PodDisruptionBudget")
    assert rules.prod_availability([{**deployment, "spec": {**deployment["spec"], "replicas": 2}}, pdb]) == []


def test_kafka_scaled_object_matches_the_client_and_damps_scale_down() -> None:
    recorder = build(kafka_args())
    scaled = recorder.custom("ScaledObject")[0].spec
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == env_of(recorder)["CONSUMER_GROUP"]
    assert trigger["metadata"]["offsetResetPolicy"] == env_of(recorder)["AUTO_OFFSET_RESET"]
    assert trigger["metadata"]["activationLagThreshold"] == "1"
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 6)
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert "replicas" not in one(recorder, "kubernetes:apps/v1:Deployment")["spec"]


def test_kafka_consumer_owns_its_dead_letter_topic() -> None:
    recorder = build(kafka_args())
    topics = [t.spec["topicName"] for t in recorder.custom("KafkaTopic")]
    assert topics == ["payment-service.dlq"]


def test_prod_kafka_user_gets_least_privilege_acls_and_secret_credentials() -> None:
    recorder = build(prod_kafka_args())
    acls = recorder.custom("KafkaUser")[0].spec["authorization"]["acls"]
    by_resource = {(a["resource"]["type"], a["resource"]["name"]): a["operations"] for a in acls}
    assert by_resource[("topic", "inventory")] == ["Read", "Describe"]
    assert by_resource[("topic", "payments")] == ["Write", "Describe"]
    assert by_resource[("group", "payment-service")] == ["Read"]
    env = env_of(recorder)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_PASSWORD"] == {"secretKeyRef": {"name": "payment-service-kafka", "key": "password"}}
    auth = recorder.custom("TriggerAuthentication")[0].spec["secretTargetRef"]
    # KEDA verifies the TLS listener with the same CA copy the pods mount.
    assert {(r["parameter"], r["name"]) for r in auth} == {("username", "payment-service-kafka"),
                                                           ("password", "payment-service-kafka"),
                                                           ("ca", "payment-service-kafka-ca")}
    trigger = recorder.custom("ScaledObject")[0].spec["triggers"][0]
    assert trigger["metadata"]["sasl"] == "scram_sha512" and trigger["metadata"]["tls"] == "enable"
    assert trigger["authenticationRef"] == {"name": "payment-service-trigger-auth"}


def test_network_policy_allows_exactly_the_wired_paths() -> None:
    recorder = build(prod_kafka_args())
    policy = one(recorder, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": 9090, "protocol": "TCP"}],
    }]
    broker, dns = policy["egress"]
    assert broker == {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}],
                      "ports": [{"port": 9093, "protocol": "TCP"}]}
    assert {p["port"] for p in dns["ports"]} == {53}


def test_per_workload_alerts_cover_lag_dead_letters_and_errors() -> None:
    recorder = build(kafka_args())
    alerts = {r["alert"]: r for r in recorder.custom("PrometheusRule")[0].spec["groups"][0]["rules"]}
    assert set(alerts) == {"EventWorkloadDeadLetters", "EventWorkloadErrorRate", "EventWorkloadConsumerLag"}
    assert 'consumergroup="payment-service"' in alerts["EventWorkloadConsumerLag"]["expr"]


# --- RabbitMQ and NATS ------------------------------------------------------------------

def rabbit_args() -> EventWorkloadArgs:
    return kafka_args(broker=RabbitmqWiring(
        access=RabbitmqAccess(host="events.rabbitmq.svc", namespace="rabbitmq", cluster_name="events"),
        consumes=["inventory"], produces=["payments"], effects_journal=True))


def nats_args(**changes: Any) -> EventWorkloadArgs:
    broker = NatsWiring(access=NatsAccess(url="nats://nats.nats.svc:4222", monitoring_endpoint="nats.nats.svc:8222",
                                          namespace="nats"),
                        consumes=["inventory"], produces=["payments"], password="s3cret")
    return kafka_args(broker=broker, **changes)


def test_rabbitmq_workload_gets_a_user_scoped_to_exactly_the_names_its_runtime_declares() -> None:
    recorder = build(rabbit_args())
    permission = recorder.custom("Permission")[0].spec
    names = ["inventory", "payments", "payment-service.dlq", "payment-service.effects",
             "payment-service.inventory", "payment-service.dlx"]
    pattern = permission["permissions"]["configure"]
    assert permission["permissions"]["read"] == pattern
    assert permission["permissions"]["write"] == pattern[:-2] + "|amq\\.default)$"  # log readers' fences
    assert all(re.fullmatch(pattern, name) for name in names)
    assert not any(re.fullmatch(pattern, other) for other in ("orders", "payment-service.orders", "payments.x", ""))
    assert recorder.custom("User")[0].spec["tags"] == ["management"]  # KEDA reads queue depth as this user
    assert recorder.custom("Queue") == [] and recorder.custom("Exchange") == []  # the runtime declares them


def test_rabbitmq_credentials_reach_the_runtime_only_through_the_secret() -> None:
    recorder = build(rabbit_args())
    env = env_of(recorder)
    assert env["RABBITMQ_URL"] == {"secretKeyRef": {"name": "payment-service-rabbitmq", "key": "url"}}
    assert env["RABBITMQ_DELIVERY_LIMIT"] == "5" and env["BROKER"] == "rabbitmq"
    secret = next(s for s in recorder.of_type("kubernetes:core/v1:Secret")
                  if s.object_name == "payment-service-rabbitmq").inputs["stringData"]
    secret = reveal(secret)
    assert secret["url"] == ("amqp://payment-service:generated-payment-rabbitmq-user-password"
                             "@events.rabbitmq.svc:5672/%2F")
    assert "generated-" not in str(container(recorder))


def test_rabbitmq_consumer_scales_on_the_queue_it_reads() -> None:
    recorder = build(rabbit_args())
    trigger = recorder.custom("ScaledObject")[0].spec["triggers"][0]
    assert trigger["type"] == "rabbitmq" and trigger["metadata"]["queueName"] == "payment-service.inventory"
    assert trigger["metadata"]["mode"] == "QueueLength" and trigger["metadata"]["protocol"] == "http"
    auth = recorder.custom("TriggerAuthentication")[0].spec["secretTargetRef"]
    assert auth == [{"parameter": "host", "key": "management-uri", "name": "payment-service-rabbitmq"}]


def test_nats_consumer_authenticates_and_scales_on_the_durable_its_runtime_creates() -> None:
    recorder = build(nats_args())
    assert recorder.custom("Consumer") == []  # the runtime declares its durable consumer itself
    env = env_of(recorder)
    assert env["NATS_USER"] == "payment-service" and env["NATS_MAX_DELIVER"] == "5"
    assert env["NATS_PASSWORD"] == {"secretKeyRef": {"name": "payment-service-nats", "key": "password"}}
    trigger = recorder.custom("ScaledObject")[0].spec["triggers"][0]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"]["stream"] == "inventory" and trigger["metadata"]["consumer"] == "payment-service"


def test_prod_nats_without_credentials_is_refused_before_anything_is_declared() -> None:
    args = nats_args(environment="prod", autoscaling=Autoscaling(min_replicas=2, max_replicas=6))
    args = dataclasses.replace(args, broker=dataclasses.replace(args.broker, password=None))
    recorder = Recorder()
    with pytest.raises(WiringError, match="prod NATS has no anonymous access; set password"):
        run(lambda: EventWorkload("payment", args), recorder=recorder)
    assert [r for r in recorder if r.type.startswith("kubernetes:")] == []


def test_kafka_tls_without_scram_speaks_ssl_with_the_ca_copied_into_the_workload_namespace() -> None:
    access = KafkaAccess(bootstrap_servers="events-kafka-bootstrap.kafka.svc:9093", cluster_name="events",
                         namespace="kafka", tls=True, port=9093, ca_cert="-----BEGIN CERTIFICATE-----")
    broker = KafkaWiring(access=access, consumes=["inventory"], partitions=6)
    recorder = build(kafka_args(broker=broker))
    env = env_of(recorder)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SSL" and env["KAFKA_SSL_CAFILE"] == "/etc/kafka-ca/ca.crt"
    ca = next(s for s in recorder.of_type("kubernetes:core/v1:Secret") if s.object_name == "payment-service-kafka-ca")
    assert ca.inputs["metadata"]["namespace"] == "apps"
    assert reveal(ca.inputs["stringData"])["ca.crt"].startswith("-----")
    pod = one(recorder, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]
    assert {"name": "kafka-ca", "secret": {"secretName": "payment-service-kafka-ca"}} in pod["volumes"]


def test_kafka_tls_without_a_ca_is_refused() -> None:
    broker = KafkaWiring(access=KafkaAccess(bootstrap_servers="b:9093", cluster_name="events", namespace="kafka",
                                            tls=True), consumes=["inventory"], partitions=6)
    with pytest.raises(WiringError, match="tls needs ca_cert"):
        build(kafka_args(broker=broker))


@pytest.mark.parametrize("env, message", [
    ({"RABBITMQ_URL": "amqp://guest:guest@elsewhere/"}, "env ['RABBITMQ_URL'] is set by the platform"),
    ({"CONSUMER_GROUP": "other"}, "env ['CONSUMER_GROUP'] is set by the platform"),
])
def test_an_environment_the_runtime_cannot_use_is_refused_naming_the_variable(env: dict[str, str],
                                                                              message: str) -> None:
    with pytest.raises(WiringError, match=re.escape(message)):
        build(kafka_args(extra_env=env, broker=rabbit_args().broker))


def test_a_value_outside_the_runtime_range_is_refused_naming_the_variable() -> None:
    args = nats_args()
    args = dataclasses.replace(args, broker=dataclasses.replace(args.broker, max_deliver=1))
    with pytest.raises(WiringError, match="NATS_MAX_DELIVER: Input should be greater than or equal to 2"):
        build(args)


def test_every_workload_custom_resource_validates_against_its_crd() -> None:
    checked = 0
    for args in (kafka_args(), prod_kafka_args(), rabbit_args(), nats_args()):
        for resource in build(args):
            api = resource.inputs.get("apiVersion", "")
            if resource.kind in ("ScaledObject", "TriggerAuthentication", "KafkaUser", "KafkaTopic", "User",
                                 "Permission", "PrometheusRule"):
                assert validation_errors(api, resource.kind, resource.inputs) == [], resource.name
                checked += 1
    assert checked >= 12


# --- guardrails ----------------------------------------------------------------------------

PLAN = ScalingPlan(service="s", broker="kafka", environment="prod", image=IMAGE, min_replicas=1, max_replicas=6,
                   activation_threshold=1, consumer_group="g", scaler_consumer_group="g",
                   client_offset_reset="earliest", scaler_offset_reset="earliest", partitions=6)

GUARDRAILS = [
    ({"max_replicas": 12}, "maxReplicaCount 12 exceeds the 6 partitions"),
    ({"scaler_consumer_group": "other"}, "watches consumer group 'other' but the service consumes as 'g'"),
    ({"scaler_offset_reset": "latest"}, "offsetResetPolicy 'latest' differs from the client's auto_offset_reset"),
    ({"min_replicas": 0, "activation_threshold": 0, "environment": "dev"}, "scale-to-zero (min_replicas 0) needs"),
    ({"min_replicas": 0}, "prod consumers keep at least 1 replica"),
    ({"image": "registry.example/apps:latest"}, "must be pinned to a version tag or digest"),
    ({"image": "registry.example/apps"}, "not an implicit latest"),
]


@pytest.mark.parametrize(("change", "message"), GUARDRAILS)
def test_guardrail_rejects_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    problems = wiring_problems(dataclasses.replace(PLAN, **change))
    assert any(message in p for p in problems), problems


def test_sound_wiring_passes_every_guardrail() -> None:
    assert wiring_problems(PLAN) == []
    assert wiring_problems(dataclasses.replace(PLAN, max_replicas=12, allow_idle_consumers=True)) == []
    assert wiring_problems(dataclasses.replace(PLAN, min_replicas=0, batch=True)) == []


def test_a_failing_guardrail_registers_nothing() -> None:
    bad = kafka_args(autoscaling=Autoscaling(min_replicas=1, max_replicas=12))
    recorder = Recorder()
    with pytest.raises(WiringError, match="maxReplicaCount 12 exceeds the 6 partitions"):
        run(lambda: EventWorkload("payment", bad), recorder=recorder)
    assert recorder.resources == []


def test_each_workload_is_scraped_once_by_its_own_pod_monitor() -> None:
    recorder = build(kafka_args())
    (monitor,) = recorder.custom("PodMonitor")
    assert monitor.spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "payment-service"}}
    assert monitor.spec["podMetricsEndpoints"][0]["port"] == "metrics"
    assert monitor.inputs["metadata"]["labels"]["release"] == "kps"  # what Prometheus selects
    pod_labels = one(recorder, "kubernetes:apps/v1:Deployment")["spec"]["template"]["metadata"]["labels"]
    assert "eventplatform.io/metrics" not in pod_labels  # not scraped a second time by the convention
    assert validation_errors(monitor.inputs["apiVersion"], "PodMonitor", monitor.inputs) == []


def test_each_workload_brings_a_dashboard_row_whose_queries_parse() -> None:
    import json

    import promql_parser

    recorder = build(kafka_args())
    (config_map,) = [c for c in recorder.of_type("kubernetes:core/v1:ConfigMap")
                     if c.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"]
    dashboard = json.loads(config_map.inputs["data"]["payment-service.json"])
    assert dashboard["panels"][0]["type"] == "row" and dashboard["panels"][0]["title"] == "payment-service"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"][1:]:
        assert panel["datasource"]["uid"] == "prometheus"
        promql_parser.parse(panel["targets"][0]["expr"].replace("$__rate_interval", "5m"))


def test_without_a_monitoring_stack_no_monitoring_kinds_are_declared() -> None:
    recorder = build(kafka_args(rule_labels=None))
    assert recorder.custom("PodMonitor") == [] and recorder.custom("PrometheusRule") == []


def test_each_broker_has_one_registered_wiring_class() -> None:
    assert {"kafka": KafkaWiring, "rabbitmq": RabbitmqWiring, "nats": NatsWiring} == WIRINGS
    assert set(WIRINGS) == set(SETTINGS), "every wiring has the runtime settings model its environment is checked with"
