"""The example application stack (examples/orders-analytics) under the mock monitor."""

from __future__ import annotations

import runpy
from typing import Any

import pytest

from event_platform.infra.outputs import OUTPUTS_VERSION
from tests.unit.harness import REPO, Recorder, run
from tests.unit.schema_check import validation_errors

EXAMPLE = REPO / "examples" / "orders-analytics"
PLATFORM_OUTPUTS: dict[str, Any] = {
    "outputs_version": OUTPUTS_VERSION,
    "environment": "dev",
    "kafka": {"bootstrap_servers": "events-kafka-bootstrap.kafka.svc:9092", "cluster_name": "events",
              "tls": False, "authentication": "none", "topics": ["orders"]},
    "namespaces": {"kafka": "kafka", "apps": "apps"},
}


def run_example(config: dict[str, Any]) -> Recorder:
    recorder = Recorder(stack_outputs=PLATFORM_OUTPUTS)
    run(lambda: runpy.run_path(str(EXAMPLE / "__main__.py")), stack="dev",
        config={f"orders-analytics:{k}": v for k, v in config.items()}, recorder=recorder, project="orders-analytics")
    return recorder


def test_the_example_reads_the_platform_through_a_stack_reference() -> None:
    recorder = run_example({"platform_stack": "organization/event-platform/dev"})
    (reference,) = recorder.of_type("pulumi:pulumi:StackReference")
    assert reference.name == "organization/event-platform/dev"
    (deployment_resource,) = recorder.of_type("kubernetes:apps/v1:Deployment")
    deployment = deployment_resource.inputs
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "events-kafka-bootstrap.kafka.svc:9092"
    assert deployment["metadata"]["namespace"] == "apps"


def test_the_example_declares_its_topic_and_autoscaled_consumer() -> None:
    recorder = run_example({"platform_stack": "organization/event-platform/dev"})
    topics = {t.spec["topicName"]: t for t in recorder.custom("KafkaTopic")}
    assert set(topics) == {"orders-analytics", "orders-analytics.dlq"}
    assert topics["orders-analytics"].inputs["metadata"]["namespace"] == "kafka"
    scaled = recorder.custom("ScaledObject")[0].spec
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 6)
    assert scaled["triggers"][0]["metadata"]["topic"] == "orders-analytics"
    for resource in recorder.custom("ScaledObject") + list(topics.values()):
        assert validation_errors(resource.inputs["apiVersion"], resource.kind, resource.inputs) == []


def test_a_platform_that_differs_from_its_preset_fails_naming_the_difference() -> None:
    recorder = Recorder(stack_outputs={**PLATFORM_OUTPUTS, "kafka": {**PLATFORM_OUTPUTS["kafka"], "tls": True}})
    with pytest.raises(Exception, match=r"runs Kafka with .*'tls': True.*the dev preset with .*'tls': False"):
        run(lambda: runpy.run_path(str(EXAMPLE / "__main__.py")), stack="dev",
            config={"orders-analytics:platform_stack": "organization/event-platform/dev"}, recorder=recorder,
            project="orders-analytics")
