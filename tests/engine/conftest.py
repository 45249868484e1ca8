"""Runs the real Pulumi CLI in the environment env.sh defines, against a throw-away backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def project_environment() -> dict[str, str]:
    """The environment after `. ./env.sh`: the same file the Makefile and users source."""
    dumped = subprocess.run(
        ["bash", "-c", ". ./env.sh && python3 -c 'import json, os; print(json.dumps(dict(os.environ)))'"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout
    env: dict[str, str] = json.loads(dumped)
    return env


@pytest.fixture(scope="session")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = project_environment()
    if shutil.which("pulumi", path=env["PATH"]) is None:
        pytest.fail("the pulumi CLI is not installed for this checkout: run `make setup` first", pytrace=False)
    # Never touch the user's stacks: a private backend and passphrase for the test session.
    state = tmp_path_factory.mktemp("pulumi-state")
    env.update(
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE="test-only",
        EVENTPLATFORM_TARGET="render",
    )
    # Render mode must find no kubeconfig at all (the provider would ask that cluster instead).
    env.pop("KUBECONFIG", None)
    env["HOME"] = str(tmp_path_factory.mktemp("home"))
    mirror = os.environ.get("EVENTPLATFORM_MIRROR") or str(REPO.parent / "shared" / "mirror")
    if not Path(mirror, "charts").is_dir():
        pytest.fail(f"no artifact mirror at {mirror}: set EVENTPLATFORM_MIRROR (CI: ../shared/mirror)", pytrace=False)
    env["EVENTPLATFORM_MIRROR"] = mirror
    return env


PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py")


def pulumi(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cwd = env.get("EP_TEST_PROJECT", str(REPO))
    result = subprocess.run(["pulumi", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    if check and result.returncode != 0:
        pytest.fail(f"pulumi {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def stacks(engine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A copy of the project (stack init and config edits write into the stack files) that
    runs the checkout's program and virtualenv."""
    project = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        shutil.copy(REPO / name, project / name)
    (project / ".venv").symlink_to(REPO / ".venv")
    env = {**engine_env, "EP_TEST_PROJECT": str(project)}
    for stack in ("dev", "prod"):
        pulumi(env, "stack", "init", stack, "--secrets-provider", "passphrase")
    yield env
