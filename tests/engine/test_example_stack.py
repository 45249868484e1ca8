"""examples/orders-analytics through the real engine, against a platform dev stack's real state:
the platform is rendered (`pulumi up` in render mode, scripts/render.sh) into a fresh file
backend, and the example previews in the same backend through its StackReference."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from event_platform.infra.outputs import OUTPUTS_VERSION
from tests.engine.conftest import REPO

pytestmark = [pytest.mark.engine, pytest.mark.timeout(2400)]

RENDER_PASSPHRASE = "render-only"  # the one scripts/render.sh gives its backend


@pytest.fixture(scope="module")
def platform_state(engine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("platform-dev")
    env = {**engine_env, "EVENTPLATFORM_RENDER_ROOT": str(work / "rendered"), "EVENTPLATFORM_RENDER_WORK": str(work)}
    for key in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "EVENTPLATFORM_TARGET"):
        env.pop(key)
    result = subprocess.run(["bash", "scripts/render.sh", "dev"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=2000)
    assert result.returncode == 0, f"render of dev failed:\n{result.stdout}\n{result.stderr}"
    return work


def test_the_example_previews_on_the_platform_stacks_real_outputs(
        engine_env: dict[str, str], platform_state: Path, tmp_path: Path) -> None:
    project = tmp_path / "examples" / "orders-analytics"
    shutil.copytree(REPO / "examples" / "orders-analytics", project)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")  # the example's Pulumi.yaml: virtualenv ../../.venv
    env = {**engine_env, "PULUMI_BACKEND_URL": f"file://{platform_state / 'state'}",
           "PULUMI_CONFIG_PASSPHRASE": RENDER_PASSPHRASE, "PULUMI_SKIP_CHECKPOINTS": "true"}

    def pulumi(*args: str) -> str:
        done = subprocess.run(["pulumi", *args], cwd=project, env=env, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, f"pulumi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    platform = json.loads(subprocess.run(
        ["pulumi", "stack", "output", "--stack", "dev", "--json"], cwd=platform_state / "project", env=env,
        capture_output=True, text=True, check=True).stdout)
    assert platform["outputs_version"] == OUTPUTS_VERSION
    assert platform["grafana_admin_password"] == "[secret]" and platform["rabbitmq_password"] == "[secret]"
    # Exactly the credentials are secret; the kafka output is plain (readable without --show-secrets).
    assert sorted(k for k, v in platform.items() if v == "[secret]") == ["grafana_admin_password", "rabbitmq_password"]
    bootstrap = platform["kafka"]["bootstrap_servers"]

    pulumi("stack", "init", "dev", "--secrets-provider", "passphrase")
    pulumi("config", "set", "render_directory", str(tmp_path / "rendered"))
    preview = json.loads(pulumi("preview", "--stack", "dev", "--json", "--non-interactive"))
    steps = preview["steps"]
    reference_urn = "pulumi:pulumi:StackReference::organization/event-platform/dev"
    (reference,) = [s for s in steps if s["urn"].endswith(reference_urn)]
    assert reference["op"] == "read"  # the platform stack's state, read by the engine
    assert {s["op"] for s in steps if s is not reference} == {"create"}
    (deployment,) = [s["newState"]["inputs"] for s in steps
                     if s["newState"]["type"] == "kubernetes:apps/v1:Deployment"]
    env_vars = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env_vars["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
    assert deployment["metadata"]["namespace"] == platform["namespaces"]["apps"]
    topics = [s["newState"]["inputs"] for s in steps if s["newState"]["type"].endswith(":KafkaTopic")
              and "spec" in s["newState"].get("inputs", {})]
    assert {t["metadata"]["namespace"] for t in topics} == {platform["namespaces"]["kafka"]}
    assert preview["changeSummary"].get("create", 0) >= 10
