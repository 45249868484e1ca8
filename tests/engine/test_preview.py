"""`pulumi preview` of both stacks through the real engine, with no cluster (render mode)."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import pulumi


@pytest.mark.engine
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_succeeds_and_plans_the_platform(stacks: dict[str, str], stack: str) -> None:
    result = pulumi(stacks, "preview", "--stack", stack, "--non-interactive", "--json")
    plan = json.loads(result.stdout)
    types = {step["newState"]["type"] for step in plan["steps"] if step.get("newState")}
    assert "eventplatform:platform:EventPlatform" in types
    assert "kubernetes:kafka.strimzi.io/v1:Kafka" in types
    assert "kubernetes:helm.sh/v4:Chart" in types
    assert all(step["op"] == "create" for step in plan["steps"])


@pytest.mark.engine
def test_bad_config_fails_preview_with_one_clear_line(stacks: dict[str, str]) -> None:
    pulumi(stacks, "config", "set", "--stack", "dev", "--path", "platform.kafka.brokers", "0")
    try:
        result = pulumi(stacks, "preview", "--stack", "dev", "--non-interactive", check=False)
    finally:
        pulumi(stacks, "config", "rm", "--stack", "dev", "--path", "platform.kafka.brokers")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "event-platform:platform.kafka.brokers: Input should be greater than or equal to 1" in output
    assert "Traceback" not in output
