"""README's "Declaring a consumer" works as written: its stack file and its Python program."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from event_platform.infra.kafka import KafkaAccess
from event_platform.infra.nats import NatsAccess
from event_platform.infra.rabbitmq import RabbitmqAccess
from event_platform.infra.workload_contract import contract_problems
from event_platform.infra.workloads import EventWorkload
from tests.unit.harness import Recorder, run, run_stack

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README[README.index("## Declaring a consumer"):README.index("## Policies and render checks")]


def block(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)
    assert found, f"no {language} block in Declaring a consumer"
    return str(found[0])


def stack_file(broker: str) -> dict[str, Any]:
    config = yaml.safe_load(block("yaml"))["config"]
    platform = config["event-platform:platform"]
    platform["workloads"]["services"][0]["broker"] = broker
    return {"platform": platform}


def deployment_env(recorder: Recorder, service: str) -> dict[str, Any]:
    deployment = next(r for r in recorder.of_type("kubernetes:apps/v1:Deployment") if r.object_name == service)
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def environment() -> str:
    return str(yaml.safe_load(block("yaml"))["config"]["event-platform:environment"])


@pytest.mark.parametrize("broker", ["kafka", "rabbitmq", "nats"])
def test_the_stack_file_example_declares_a_consumer_on_each_broker(broker: str) -> None:
    recorder = run_stack(environment(), stack_file(broker))
    env = deployment_env(recorder, "payment-service")
    assert env["BROKER"] == broker and env["CONSUMER_GROUP"] == "payment-service"
    kinds = {"kafka": "KafkaUser", "rabbitmq": "Permission", "nats": "ScaledObject"}
    assert recorder.custom(kinds[broker])


def test_the_missing_topic_example_is_the_message_users_get() -> None:
    shown = re.findall(r"```\n(event-platform:platform\.workloads: .*?)\n```", SECTION, re.S)[0]
    config = stack_file("nats")
    config["platform"]["workloads"]["services"][0]["consumes"] = ["invoices"]
    with pytest.raises(pulumi.RunError) as raised:
        run_stack(environment(), config)
    assert shown in str(raised.value)


class Kafka:
    """What the example uses of a prod KafkaCluster (SCRAM over TLS): its access value."""

    def access(self, ca_cert: str | None = None) -> KafkaAccess:
        return KafkaAccess(bootstrap_servers="events-kafka-bootstrap.kafka.svc:9093", cluster_name="events",
                           namespace="kafka", port=9093, scram=True, tls=True, ca_cert=ca_cert,
                           replication_factor=3, min_insync_replicas=2, protect=True)


class Rabbitmq:
    """What the example uses of a RabbitmqCluster: its access value."""

    access = RabbitmqAccess(host="events.rabbitmq.svc", namespace="rabbitmq", cluster_name="events")


class Nats:
    """What the example uses of a NatsJetStream: its access value and a user's generated password."""

    def access(self) -> NatsAccess:
        return NatsAccess(url="nats://nats.nats.svc:4222", monitoring_endpoint="nats.nats.svc:8222", namespace="nats")

    def password_of(self, user: str) -> pulumi.Output[str]:
        return pulumi.Output.secret(f"generated-{user}")


def test_the_python_example_runs_as_written_and_meets_the_runtime_contract() -> None:
    from event_platform.infra.workloads import declared_environment

    declared: list[EventWorkload] = []

    def program() -> None:
        namespace: dict[str, Any] = {"cluster_ca": "-----BEGIN CERTIFICATE-----", "kafka": Kafka(),
                                     "rabbitmq": Rabbitmq(), "nats": Nats()}
        original = EventWorkload.__init__

        def recording(self: EventWorkload, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            declared.append(self)

        EventWorkload.__init__ = recording  # type: ignore[method-assign]
        try:
            exec(compile(block("python"), "README.md", "exec"), namespace)
        finally:
            EventWorkload.__init__ = original  # type: ignore[method-assign]

    recorder = run(program)
    assert [w.args.service_name for w in declared] == ["payment-on-kafka", "payment-on-rabbitmq", "payment-on-nats"]
    for workload in declared:
        assert contract_problems(declared_environment(workload.args)) == []
        assert deployment_env(recorder, workload.args.service_name)["SERVICE_NAME"] == workload.args.service_name
