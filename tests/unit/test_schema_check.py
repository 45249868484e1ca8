"""The CRD schema check itself: it must reject what the API server would reject."""

from tests.unit.schema_check import validation_errors


def test_a_field_the_v1_api_removed_is_rejected() -> None:
    # Strimzi's v1 Kafka has no spec.kafka.replicas (node pools carry replicas now).
    body = {"spec": {"kafka": {"replicas": 3, "listeners": [{"name": "plain", "port": 9092, "type": "internal",
                                                             "tls": False}]}}}
    errors = validation_errors("kafka.strimzi.io/v1", "Kafka", body)
    assert any("replicas" in e for e in errors)


def test_a_wrong_enum_value_is_rejected() -> None:
    body = {"spec": {"replicas": 1, "roles": ["zookeeper"], "storage": {"type": "ephemeral"}}}
    errors = validation_errors("kafka.strimzi.io/v1", "KafkaNodePool", body)
    assert any("zookeeper" in e for e in errors)


def test_an_unserved_api_version_is_reported() -> None:
    assert validation_errors("kafka.strimzi.io/v1beta2", "Kafka", {"spec": {}}) == [
        "no pinned CRD serves kafka.strimzi.io/v1beta2 Kafka"
    ]
