"""The whole stack program under the mock monitor, for dev and prod."""

from __future__ import annotations

from tests.unit.harness import HELM_TEMPLATE, Recorder, run_stack
from tests.unit.schema_check import validation_errors


def test_dev_declares_one_dual_role_kafka_node(dev: Recorder) -> None:
    pools = dev.custom("KafkaNodePool")
    assert [p.object_name for p in pools] == ["dual-role"]
    assert pools[0].spec["replicas"] == 1
    assert sorted(pools[0].spec["roles"]) == ["broker", "controller"]
    assert pools[0].spec["storage"]["volumes"][0]["type"] == "ephemeral"


def test_prod_declares_three_controllers_and_three_brokers(prod: Recorder) -> None:
    pools = {p.object_name: p.spec for p in prod.custom("KafkaNodePool")}
    assert pools["controllers"]["replicas"] == 3 and pools["controllers"]["roles"] == ["controller"]
    assert pools["brokers"]["replicas"] == 3 and pools["brokers"]["roles"] == ["broker"]
    volume = pools["brokers"]["storage"]["volumes"][0]
    assert volume == {"id": 0, "kraftMetadata": "shared", "type": "persistent-claim", "size": "200Gi",
                      "deleteClaim": False}
    assert "topologySpreadConstraints" in pools["brokers"]["template"]["pod"]


def test_prod_kafka_requires_tls_scram_and_acls(prod: Recorder) -> None:
    kafka = prod.custom("Kafka")[0].spec["kafka"]
    assert kafka["listeners"] == [{"name": "tls", "port": 9093, "type": "internal", "tls": True,
                                   "authentication": {"type": "scram-sha-512"}}]
    assert kafka["authorization"] == {"type": "simple"}
    assert kafka["config"]["min.insync.replicas"] == 2
    assert kafka["config"]["default.replication.factor"] == 3


def test_dev_kafka_is_plain_internal_without_auth(dev: Recorder) -> None:
    kafka = dev.custom("Kafka")[0].spec["kafka"]
    assert kafka["listeners"] == [{"name": "plain", "port": 9092, "type": "internal", "tls": False}]
    assert "authorization" not in kafka


def test_topics_get_dead_letter_twins_with_cluster_label(dev: Recorder) -> None:
    topics = {t.object_name: t for t in dev.custom("KafkaTopic")}
    pipeline = {"orders", "inventory", "payments", "shipments"}
    consumers = {"order-service", "inventory-service", "payment-service", "shipping-service", "notification-service"}
    journaled = {"payment-service", "shipping-service", "notification-service"}
    assert set(topics) == (pipeline | {f"{t}-dlq" for t in pipeline} | {f"{c}-dlq" for c in consumers}
                           | {f"{j}-effects" for j in journaled})
    assert topics["orders-dlq"].spec["topicName"] == "orders.dlq"
    assert topics["payment-service-effects"].spec["config"]["cleanup.policy"] == "compact"
    assert topics["orders"].spec["config"]["retention.ms"] == -1
    assert topics["orders"].spec["partitions"] == 3
    assert topics["orders"].inputs["metadata"]["labels"]["strimzi.io/cluster"] == "events"


def test_metrics_are_wired_for_kafka(dev: Recorder) -> None:
    spec = dev.custom("Kafka")[0].spec
    ref = spec["kafka"]["metricsConfig"]["valueFrom"]["configMapKeyRef"]
    config_maps = {r.object_name: r for r in dev.of_type("kubernetes:core/v1:ConfigMap")}
    assert ref["key"] in config_maps[ref["name"]].inputs["data"]
    assert spec["kafkaExporter"]["groupRegex"] == ".*"


def test_prod_rabbitmq_is_a_three_node_quorum_cluster(prod: Recorder) -> None:
    cluster = prod.custom("RabbitmqCluster")[0].spec
    assert cluster["replicas"] == 3
    assert "cluster_partition_handling = pause_minority" in cluster["rabbitmq"]["additionalConfig"]
    assert "rabbitmq_prometheus" in cluster["rabbitmq"]["additionalPlugins"]
    pdbs = [r for r in prod.of_type("kubernetes:policy/v1:PodDisruptionBudget")]
    assert pdbs and pdbs[0].inputs["spec"]["maxUnavailable"] == 1


def test_the_platform_declares_no_rabbitmq_topology_the_runtime_owns_it(dev: Recorder) -> None:
    # Exchanges, streams and group queues are declared by the runtime with its own arguments;
    # operator copies would differ (PRECONDITION_FAILED) or sit unread by any consumer.
    assert [r.kind for r in dev.custom("Exchange") + dev.custom("Queue") + dev.custom("Binding")] == []


def test_nats_streams_are_named_as_the_runtime_names_them_and_replicated_in_prod(prod: Recorder) -> None:
    streams = {s.spec["name"]: s.spec for s in prod.custom("Stream")}
    assert streams["orders"]["subjects"] == ["orders"]
    assert streams["orders"]["replicas"] == 3 and streams["orders"]["storage"] == "file"
    assert streams["orders"]["preventDelete"] is True
    assert streams["orders_DLQ"]["subjects"] == ["$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.orders.*"]


def test_nats_refuses_anonymous_clients_and_keeps_passwords_out_of_the_config(dev: Recorder) -> None:
    values = dev.chart("nats").inputs["values"]
    users = values["config"]["merge"]["authorization"]["users"]
    assert {u["user"] for u in users} == {"nack"}  # the dev preset declares no NATS workload
    assert all(u["password"].startswith("<< $NATS_PASSWORD_") for u in users)
    env = values["container"]["env"]
    assert env["NATS_PASSWORD_NACK"] == {"valueFrom": {"secretKeyRef": {"name": "nats-users", "key": "nack"}}}
    # The NACK controller connects through an Account carrying its credentials from a Secret.
    account = dev.custom("Account")[0].spec
    assert account["user"]["secret"] == {"name": "nack-credentials"}
    assert all(s.spec["account"] == "nack" for s in dev.custom("Stream"))


def test_every_custom_resource_validates_against_its_pinned_crd(dev: Recorder, prod: Recorder) -> None:
    checked = 0
    for recorder in (dev, prod):
        for resource in recorder:
            if "apiVersion" not in resource.inputs or not resource.type.startswith("kubernetes:"):
                continue
            group = resource.inputs["apiVersion"]
            if "/" not in group or "." not in group.split("/")[0] or group.split("/")[0].endswith("k8s.io"):
                continue  # core kinds: validated by the render check (kubernetes-validate)
            body = {k: v for k, v in resource.inputs.items() if k != "metadata"}
            assert validation_errors(group, resource.inputs["kind"], body) == [], resource.name
            checked += 1
    assert checked >= 20


# Exceptions to `restricted`, each with its reason in the component: node-exporter mounts the
# host (monitoring); the Knative Operator chart cannot drop capabilities (knative-operator).
POD_SECURITY_EXCEPTIONS = {"monitoring": "privileged"}


def test_namespaces_enforce_restricted_pod_security_and_default_deny(dev: Recorder) -> None:
    namespaces = dev.of_type("kubernetes:core/v1:Namespace")
    assert {n.object_name for n in namespaces} == {
        "kafka", "rabbitmq", "nats", "keda", "cert-manager", "monitoring",
        "knative-operator", "knative-serving", "knative-eventing", "kourier-system", "events", "apps",
    }
    for namespace in namespaces:
        expected = POD_SECURITY_EXCEPTIONS.get(namespace.object_name, "restricted")
        assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == expected
    deny = [p for p in dev.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if p.object_name == "default-deny-ingress"]
    # Every namespace the platform creates, and rabbitmq-system, which the operators' manifests create.
    assert sorted(p.inputs["metadata"]["namespace"] for p in deny) == sorted(
        [n.object_name for n in namespaces] + ["rabbitmq-system"])


def test_generated_credentials_never_appear_in_plain_text(prod: Recorder) -> None:
    passwords = prod.of_type("random:index/randomPassword:RandomPassword")
    services = ("order", "inventory", "payment", "shipping", "notification")
    assert {p.name for p in passwords} == {"kafka-app-user-password", "rabbitmq-app-password",
                                           "knative-broker-user-password", "monitoring-grafana-admin-password",
                                           "nats-nack-password", "knative-source-orders-into-broker-user-password",
                                           *(f"{s}-service-kafka-user-password" for s in services)}
    for secret in prod.of_type("kubernetes:core/v1:Secret"):
        assert "data" not in secret.inputs or not secret.inputs["data"]
    for resource in prod:
        if resource.type in ("kubernetes:core/v1:ConfigMap", HELM_TEMPLATE) \
                or resource.kind in ("KafkaUser", "Account"):
            assert "generated-" not in str(resource.inputs), resource.name


def test_disabled_add_ons_declare_nothing() -> None:
    recorder = run_stack("dev", {"platform": {"kafka": {"enabled": False}, "rabbitmq": {"enabled": False},
                                              "workloads": {"enabled": False}, "knative": {"kafka_sources": []}}})
    assert recorder.custom("Kafka") == [] and recorder.custom("RabbitmqCluster") == []
    assert recorder.custom("Stream")
