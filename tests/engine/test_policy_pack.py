"""The policy pack through `pulumi preview`: one seeded violation of each mandatory policy in a
throw-away program, and preview fails naming every one of them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import REPO

pytestmark = [pytest.mark.engine, pytest.mark.timeout(600)]

# Each resource breaks exactly one policy; the stack is called prod, so prod's levels apply.
PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s

provider = k8s.Provider("render", render_yaml_to_directory="out")
opts = pulumi.ResourceOptions(provider=provider)
safe = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
sized = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "16Mi"}}


def deployment(name, container, replicas=2):
    labels = {"app": name}
    k8s.apps.v1.Deployment(name, metadata={"name": name, "namespace": "seeded"}, spec={
        "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [
            {"name": "main", "image": "registry.example/app:1.0.0", "securityContext": safe, "resources": sized,
             **container}]}},
    }, opts=opts)
    k8s.policy.v1.PodDisruptionBudget(name, metadata={"name": name, "namespace": "seeded"},
                                      spec={"minAvailable": 1, "selector": {"matchLabels": labels}}, opts=opts)


k8s.core.v1.Namespace("seeded", metadata={"name": "seeded"}, opts=opts)  # network-policy-per-namespace
deployment("privileged", {"securityContext": {**safe, "allowPrivilegeEscalation": True}})  # restricted-pod-security
deployment("unsized", {"resources": {}})  # resources-set
deployment("floating", {"image": "registry.example/app:latest"})  # pinned-images
deployment("leaky", {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]})  # no-plaintext-secrets
deployment("lonely", {}, replicas=1)  # prod-availability
k8s.apiextensions.CustomResource("topic", api_version="kafka.strimzi.io/v1", kind="KafkaTopic",
                                 metadata={"name": "t", "namespace": "seeded"}, spec={"partitions": 1},
                                 opts=opts)  # prod-stateful-protected
'''
SEEDED_BY = {"restricted-pod-security": "privileged", "resources-set": "unsized", "pinned-images": "floating",
             "no-plaintext-secrets": "leaky"}
MANDATORY = ["network-policy-per-namespace", "restricted-pod-security", "resources-set", "pinned-images",
             "no-plaintext-secrets", "prod-availability", "prod-stateful-protected"]


def test_each_mandatory_policy_stops_a_preview(engine_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: seeded\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / '.venv'}\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    env = {**engine_env, "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}"}
    (tmp_path / "state").mkdir()
    subprocess.run(["pulumi", "stack", "init", "prod"], cwd=tmp_path, env=env, check=True, capture_output=True)
    result = subprocess.run(
        ["pulumi", "preview", "--stack", "prod", "--non-interactive", "--policy-pack", str(REPO / "policy"),
         "--policy-pack-config", str(REPO / "policy" / "prod.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=500)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for policy in MANDATORY:
        assert f"[mandatory]  {policy}" in output, f"{policy} was not reported:\n{output}"
    # Each per-object policy names the resource seeded to break it, and only that one.
    for policy, seeded in SEEDED_BY.items():
        lines = [line for line in output.splitlines() if f"[mandatory]  {policy}  (" in line]
        named = {line.split(": ")[-1].rstrip(")") for line in lines}
        assert named == {seeded}, f"{policy}: reported {named}, seeded {seeded}"
