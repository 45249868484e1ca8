"""The Deployments the platform declares speak the runtime's environment contract exactly."""

from __future__ import annotations

from typing import Any

import pytest

from event_platform.apps.runtime.settings import variables
from event_platform.infra.workload_contract import DeclaredEnvironment, contract_problems, models_for
from tests.unit.harness import Recorder, run_stack

SERVICE = {"name": "payment-service", "module": "event_platform.apps.orders.payment_service", "consumes": ["inventory"],
           "produces": ["payments"], "effects_journal": True}


def containers(recorder: Recorder) -> list[dict[str, Any]]:
    return [d.inputs["spec"]["template"]["spec"]["containers"][0]
            for d in recorder.of_type("kubernetes:apps/v1:Deployment")
            if d.inputs["metadata"]["namespace"] == "apps"]


def stacks() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = [("dev", {}), ("prod", {})]  # the order pipeline on Kafka
    for broker in ("rabbitmq", "nats"):
        for preset in ("dev", "prod"):
            cases.append((preset, {"platform": {"workloads": {"services": [{**SERVICE, "broker": broker}]}}}))
    return cases


@pytest.mark.parametrize("preset, config", stacks())
def test_every_declared_variable_is_read_and_every_required_one_is_set(preset: str, config: dict[str, Any]) -> None:
    found = containers(run_stack(preset, config))
    assert found
    for container in found:
        env = {e["name"]: e for e in container["env"]}
        declared = DeclaredEnvironment(broker=env["BROKER"]["value"], serves_http=any(
            p["name"] == "http" for p in container["ports"]))
        read = {name: required for model in models_for(declared) for name, required in variables(model).items()}
        unread = set(env) - set(read)
        # Service-specific variables come from the stack file's `env`, not from the platform.
        assert unread == set(), f"{container['command']}: set but read by no settings model: {unread}"
        missing = {name for name, required in read.items() if required} - set(env)
        assert missing == set(), f"{container['command']}: required but unset: {missing}"


def test_the_check_names_a_variable_nobody_reads_and_a_required_one_left_unset() -> None:
    declared = DeclaredEnvironment(broker="rabbitmq", literal={"RABBITMQ_QUEUE": "orders"},
                                   from_secrets={"RABBITMQ_USERNAME"})
    problems = contract_problems(declared)
    assert "RABBITMQ_QUEUE is set but no runtime settings model reads it (RuntimeSettings, RabbitMQSettings)" \
        in problems
    assert "RABBITMQ_USERNAME is set but no runtime settings model reads it (RuntimeSettings, RabbitMQSettings)" \
        in problems
    assert "SERVICE_NAME is required by the runtime but not set" in problems
    assert "RABBITMQ_URL is required by the runtime but not set" in problems


def test_the_check_validates_known_values_with_the_runtime_models() -> None:
    declared = DeclaredEnvironment(broker="kafka", literal={"SERVICE_NAME": "Bad_Name",
                                                            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
                                   deferred={"KAFKA_BOOTSTRAP_SERVERS"})
    problems = contract_problems(declared)
    assert any(p.startswith("SERVICE_NAME: String should match pattern") for p in problems)
    assert any("KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM" in p for p in problems)
