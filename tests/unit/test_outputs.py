"""The platform stack's outputs contract: plain values plain, secrets secret, versioned and typed."""

from __future__ import annotations

from typing import Any

import pytest

from event_platform.infra.config import build_config
from event_platform.infra.outputs import (
    OUTPUTS_VERSION,
    SECRET_OUTPUTS,
    IncompatiblePlatformOutputs,
    PlatformOutputs,
    PlatformStackReference,
    check_outputs_version,
    platform_stack_outputs,
)
from event_platform.infra.platform import EventPlatform
from tests.unit.harness import REPO, Recorder, run


def contract(environment: str) -> dict[str, tuple[Any, bool]]:
    """Every top-level output of the stack program's contract, resolved to (value, is_secret)."""
    def build() -> dict[str, Any]:
        return platform_stack_outputs(EventPlatform("event-platform", build_config(environment, {})).outputs)

    return run(build, stack=environment).results


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_only_credentials_are_secret_outputs(environment: str) -> None:
    outputs = contract(environment)
    secret = {key for key, (_value, is_secret) in outputs.items() if is_secret}
    assert secret == {"rabbitmq_password", "grafana_admin_password"} | (
        {"kafka_password"} if environment == "prod" else set())


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_kafka_output_is_plain_and_carries_no_password(environment: str) -> None:
    kafka, is_secret = contract(environment)["kafka"]
    assert not is_secret
    assert "password" not in kafka
    assert kafka["bootstrap_servers"].startswith("events-kafka-bootstrap.kafka.svc")
    assert "orders" in kafka["topics"]


def test_prod_names_where_the_kafka_credentials_live() -> None:
    outputs = contract("prod")
    kafka, _ = outputs["kafka"]
    assert (kafka["user"], kafka["authentication"], kafka["tls"]) == ("event-platform-app", "scram-sha-512", True)
    password, is_secret = outputs["kafka_password"]
    assert is_secret and password.startswith("generated-")


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_every_output_is_a_documented_key_of_the_versioned_contract(environment: str) -> None:
    outputs = contract(environment)
    assert outputs["outputs_version"] == (OUTPUTS_VERSION, False)
    assert set(outputs) <= set(PlatformOutputs.__annotations__), set(outputs) - set(PlatformOutputs.__annotations__)
    assert set(SECRET_OUTPUTS) <= set(PlatformOutputs.__annotations__)


def test_readme_documents_every_key_of_the_contract() -> None:
    section = (REPO / "README.md").read_text().split("## Use from your own stack", 1)[1].split("\n## ", 1)[0]
    missing = [key for key in PlatformOutputs.__annotations__ if f"`{key}`" not in section]
    assert missing == [], f"README 'Use from your own stack' does not document {missing}"


PLATFORM = {"outputs_version": OUTPUTS_VERSION, "environment": "prod",
            "namespaces": {"kafka": "kafka", "apps": "apps"},
            "kafka": {"bootstrap_servers": "events-kafka-bootstrap.kafka.svc:9093", "topics": ["orders"]},
            "kafka_password": "s3cret"}


def read(stack_outputs: dict[str, Any], *keys: str) -> dict[str, tuple[Any, bool]]:
    recorder = Recorder(stack_outputs=stack_outputs,
                        secret_stack_outputs=[k for k in stack_outputs if k in SECRET_OUTPUTS])

    def build() -> dict[str, Any]:
        platform = PlatformStackReference("organization/event-platform/prod")
        return {key: getattr(platform, key) for key in keys}

    return run(build, recorder=recorder, project="app").results


def test_a_reader_gets_plain_values_plain_and_the_password_secret() -> None:
    values = read(PLATFORM, "kafka", "namespaces", "environment", "kafka_password")
    assert values["kafka"] == (PLATFORM["kafka"], False)
    assert values["namespaces"] == ({"kafka": "kafka", "apps": "apps"}, False)
    assert values["environment"] == ("prod", False)
    assert values["kafka_password"] == ("s3cret", True)


@pytest.mark.parametrize(("version", "message"), [
    (None, "predates the outputs contract"),
    (OUTPUTS_VERSION + 1, f"exports outputs_version {OUTPUTS_VERSION + 1}"),
])
def test_a_reader_refuses_a_contract_it_does_not_know(version: int | None, message: str) -> None:
    # The check PlatformStackReference applies to the referenced stack's outputs_version. (Run
    # through the mock monitor, a failing apply leaves the SDK's RPC tracking unusable for the
    # rest of the process, so the check is exercised directly.)
    with pytest.raises(IncompatiblePlatformOutputs, match=message):
        check_outputs_version(version, "organization/event-platform/prod")
    check_outputs_version(float(OUTPUTS_VERSION), "organization/event-platform/prod")  # JSON numbers are floats
