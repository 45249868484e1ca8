"""`make render` through the real engine: both stacks expand into validated manifest trees, a
second render is byte-identical, and no generated secret is readable in the state, the
outputs, the logs or the tree."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from event_platform.policy import render
from tests.engine.conftest import REPO

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1800)]


def run_render(engine_env: dict[str, str], stack: str, root: Path, work: Path) -> subprocess.CompletedProcess[str]:
    env = {**engine_env, "EVENTPLATFORM_RENDER_ROOT": str(root), "EVENTPLATFORM_RENDER_WORK": str(work)}
    for key in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "EVENTPLATFORM_TARGET"):
        env.pop(key)  # render.sh chooses its own, as `make render` does
    result = subprocess.run(["bash", "scripts/render.sh", stack], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=1500)
    assert result.returncode == 0, f"make render STACK={stack} failed:\n{result.stdout}\n{result.stderr}"
    return result


def digest(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tree.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def renders(engine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """dev once, prod twice (for determinism); the work folders keep state and logs."""
    base = tmp_path_factory.mktemp("renders")
    out = {}
    for label, stack in (("dev", "dev"), ("prod", "prod"), ("prod-again", "prod")):
        result = run_render(engine_env, stack, base / label, base / f"{label}-work")
        (base / f"{label}-work" / "render.out").write_text(result.stdout + result.stderr)
        out[label] = base / label
    return out


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_render_expands_every_chart_and_passes_the_checks(renders: dict[str, Path], stack: str) -> None:
    output = (renders[stack].parent / f"{stack}-work" / "render.out").read_text()
    # render.sh ran event_platform.policy.check_render and it found nothing.
    assert "schema: ok" in output and "references: ok" in output and "policy: ok" in output, output
    kinds = Counter(item.obj["kind"] for item in render.load(renders[stack] / stack))
    print(f"{stack}: {sum(kinds.values())} objects: {dict(sorted(kinds.items()))}")
    assert kinds["CustomResourceDefinition"] >= 50  # Strimzi, KEDA, cert-manager, prometheus, NACK, ...
    assert kinds["Deployment"] >= 15 and kinds["NetworkPolicy"] >= 13
    assert {"Kafka", "KafkaNodePool", "RabbitmqCluster", "Stream", "ScaledObject", "Broker"} <= set(kinds)


def test_a_second_render_is_byte_identical(renders: dict[str, Path]) -> None:
    first, second = digest(renders["prod"] / "prod"), digest(renders["prod-again"] / "prod")
    assert first == second, sorted(set(first.items()) ^ set(second.items()))[:10]


def generated_secrets(engine_env: dict[str, str], work: Path, stack: str) -> list[str]:
    """Every secret output in plain text, read the way an operator would (--show-secrets)."""
    env = {**engine_env, "PULUMI_BACKEND_URL": f"file://{work / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "render-only"}
    shown = subprocess.run(["pulumi", "stack", "output", "--stack", stack, "--json", "--show-secrets"],
                           cwd=work / "project", env=env, capture_output=True, text=True, check=True)
    hidden = subprocess.run(["pulumi", "stack", "output", "--stack", stack, "--json"],
                            cwd=work / "project", env=env, capture_output=True, text=True, check=True)
    secrets: list[str] = []

    def walk(shown_value: object, hidden_value: object) -> None:
        if hidden_value == "[secret]" and isinstance(shown_value, str | int):
            secrets.append(str(shown_value))
        elif isinstance(shown_value, dict) and isinstance(hidden_value, dict):
            for key, value in shown_value.items():
                walk(value, hidden_value.get(key))

    walk(json.loads(shown.stdout), json.loads(hidden.stdout))
    return [s for s in secrets if len(s) >= 16]  # generated passwords are 32 characters


def test_no_generated_secret_is_readable_in_state_outputs_logs_or_manifests(
        engine_env: dict[str, str], renders: dict[str, Path]) -> None:
    work = renders["prod"].parent / "prod-work"
    secrets = generated_secrets(engine_env, work, "prod")
    assert len(secrets) >= 2, f"expected the Grafana and Kafka passwords among the outputs, found {len(secrets)}"
    places = {"state": "\n".join(p.read_text() for p in (work / "state").rglob("*.json")),
              "log": (work / "up.log").read_text() + (work / "render.out").read_text(),
              "manifests": "\n".join(p.read_text() for p in (renders["prod"] / "prod").rglob("*.yaml"))}
    for secret in secrets:
        encoded = base64.b64encode(secret.encode()).decode()
        for place, text in places.items():
            assert secret not in text and encoded not in text, f"a generated secret is readable in the {place}"
