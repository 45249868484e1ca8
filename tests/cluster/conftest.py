"""A local cluster (`make cluster-up`'s scripts, private state and port) and an isolated copy of
the project with a throw-away backend, for `pulumi up` → preview → refresh → destroy."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import PROJECT_FILES, REPO, project_environment

CLUSTER_SCRIPTS = REPO / "scripts" / "cluster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh cluster for the session; its kubeconfig and kwok workdir live in a temp folder."""
    env = project_environment()
    if shutil.which("pulumi", path=env["PATH"]) is None:
        pytest.fail("the pulumi CLI is not installed for this checkout: run `make setup` first", pytrace=False)
    status = subprocess.run([CLUSTER_SCRIPTS / "status.sh"], env=env, capture_output=True, text=True)
    if status.returncode != 0:
        pytest.fail(f"the local control plane is not installed:\n{status.stdout}", pytrace=False)
    state = tmp_path_factory.mktemp("cluster")
    env.update(CLUSTER_STATE=str(state), CLUSTER_API_PORT=str(free_port()),
               KUBECONFIG=str(state / "kubeconfig"), KUBECACHEDIR=str(state / "kube-cache"),
               KWOK_WORKDIR=str(state / "kwok"))
    up = subprocess.run([CLUSTER_SCRIPTS / "up.sh"], env=env, capture_output=True, text=True, timeout=300)
    try:
        if up.returncode != 0:
            pytest.fail(f"make cluster-up failed:\n{up.stdout}\n{up.stderr}", pytrace=False)
        yield env
    finally:
        down = subprocess.run([CLUSTER_SCRIPTS / "down.sh"], env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, f"make cluster-down failed:\n{down.stdout}\n{down.stderr}"


@pytest.fixture(scope="session")
def local_project(local_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An isolated copy of the project aimed at the local cluster, with a private backend."""
    project = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        shutil.copy(REPO / name, project / name)
    (project / ".venv").symlink_to(REPO / ".venv")
    state = tmp_path_factory.mktemp("pulumi-state")
    mirror = Path(local_cluster.get("EVENTPLATFORM_MIRROR") or REPO.parent / "shared" / "mirror")
    if not (mirror / "charts").is_dir():
        pytest.fail(f"no artifact mirror at {mirror}: set EVENTPLATFORM_MIRROR (CI: ../shared/mirror)", pytrace=False)
    return {**local_cluster, "EP_TEST_PROJECT": str(project), "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "test-only", "EVENTPLATFORM_TARGET": "local",
            # The state is ~15 MB (the charts' CRDs); a checkpoint after each of ~500 steps
            # costs minutes of CPU. A throw-away backend needs only the final state.
            "PULUMI_SKIP_CHECKPOINTS": "true",
            "EVENTPLATFORM_MIRROR": str(mirror)}


def kubectl(env: dict[str, str], *args: str) -> Any:
    """`kubectl get … -o json` (or any kubectl call ending in JSON) against the local cluster."""
    result = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return json.loads(result.stdout)


def items(env: dict[str, str], kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    where = ["-n", namespace] if namespace else ["-A"]
    found: list[dict[str, Any]] = kubectl(env, "get", kind, *where, "-o", "json")["items"]
    return found


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond.get("type") == kind:
            status: str = cond.get("status")
            return status
    return None
