"""`pulumi preview` of both stacks through the real engine and provider, with no cluster (render
mode), judged by the policy pack; and a bad stack value stopping it with one clear line."""

from __future__ import annotations

import re

import pytest

from tests.engine.conftest import REPO, pulumi

# Preview of prod expands every chart through the provider: minutes on two busy cores.
pytestmark = [pytest.mark.engine, pytest.mark.timeout(1800)]


def policy_args(stack: str) -> list[str]:
    args = ["--policy-pack", str(REPO / "policy")]
    if stack == "prod":
        args += ["--policy-pack-config", str(REPO / "policy" / "prod.json")]
    return args


# " +  kubernetes:apps/v1:Deployment keda/keda-operator create" in the preview's text output.
PLANNED = re.compile(r"^\s*\+\s+(\S+)\s+(\S+)\s+create\s*$")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_plans_the_platform_and_passes_the_policy_pack(stacks: dict[str, str], stack: str) -> None:
    # Text output: `--json` leaves out what the policy pack reported.
    result = pulumi(stacks, "preview", "--stack", stack, "--non-interactive", "--diff=false", *policy_args(stack))
    output = result.stdout + result.stderr
    planned = {match.groups() for line in output.splitlines() if (match := PLANNED.match(line))}
    types = {kind for kind, _name in planned}
    # Charts are templated by the provider and planned object by object, CRDs included.
    assert "kubernetes:helm.sh/v3:Chart" in types
    assert "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition" in types
    assert {"eventplatform:platform:EventPlatform", "kubernetes:kafka.strimzi.io/v1:Kafka",
            "kubernetes:keda.sh/v1alpha1:ScaledObject", "kubernetes:apps/v1:Deployment"} <= types
    assert len(planned) > 300, f"only {len(planned)} resources planned: charts were not expanded"
    # The pack ran every policy on every resource, and nothing it reported is mandatory.
    assert "event-platform@v0.0.1" in output
    assert "can't run policy" not in output, output[output.find("Policies:"):]
    assert "[mandatory]" not in output, output[output.find("Policies:"):]


def test_bad_config_fails_preview_with_one_clear_line(stacks: dict[str, str]) -> None:
    pulumi(stacks, "config", "set", "--stack", "dev", "--path", "platform.kafka.brokers", "0")
    try:
        result = pulumi(stacks, "preview", "--stack", "dev", "--non-interactive", check=False)
    finally:
        pulumi(stacks, "config", "rm", "--stack", "dev", "--path", "platform.kafka.brokers")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    diagnostics = output.split("Diagnostics:", 1)[1]
    # One line names the key, what is wrong and the fix; nothing else mentions it.
    assert [line.strip() for line in diagnostics.splitlines() if "platform.kafka.brokers" in line] == [
        "event-platform:platform.kafka.brokers: Input should be greater than or equal to 1 (got 0); "
        "fix: use a value of the documented type and range (see config.schema.json)"]
    assert "Traceback" not in output
    assert not [line for line in output.splitlines() if line.strip().startswith('File "')]
