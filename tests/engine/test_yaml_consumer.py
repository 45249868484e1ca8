"""examples/yaml-consumer through the real engine: a Pulumi YAML program declares a topic and a
consumer through provider/, the multi-language component package. The engine runs the package
as a Python plugin (the SDK's component provider host, in the project's virtualenv) and the YAML
language host that `make setup` installs next to the CLI; the program renders (no cluster).

The schema itself is checked in tests/unit/test_multilang_package.py: `pulumi package get-schema`
(like `package add`) first reinstalls the plugin's dependencies, which upgrades pip, setuptools and
wheel in the virtualenv from the package index; a test must not change the checkout's .venv."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import REPO

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def example(engine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy laid out like the checkout: the example's `packages` path (../../provider) and the
    plugin's virtualenv (../.venv) resolve as they do in the repository."""
    root = tmp_path_factory.mktemp("yaml-consumer")
    project = root / "examples" / "yaml-consumer"
    shutil.copytree(REPO / "examples" / "yaml-consumer", project)
    shutil.copytree(REPO / "provider", root / "provider", ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / "state").mkdir()
    if shutil.which("pulumi-language-yaml", path=engine_env["PATH"]) is None:
        pytest.fail("the YAML language host (pulumi-language-yaml) is not next to the pulumi CLI: "
                    "run `make setup` (the CLI archive carries it)", pytrace=False)
    env = {**engine_env, "PULUMI_BACKEND_URL": f"file://{root / 'state'}"}
    return project, env


def run(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["pulumi", *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pulumi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_yaml_program_previews_a_topic_and_a_consumer(example: tuple[Path, dict[str, str]]) -> None:
    project, env = example
    run(project, env, "stack", "init", "dev", "--secrets-provider", "passphrase")
    run(project, env, "config", "set", "renderDirectory", str(project.parent.parent / "rendered"))
    preview = json.loads(run(project, env, "preview", "--stack", "dev", "--json", "--non-interactive"))
    steps = preview["steps"]
    assert {s["op"] for s in steps} == {"create"}

    def states(type_: str) -> list[dict[str, Any]]:
        return [s["newState"] for s in steps if s["newState"]["type"] == type_]

    (facade_topic,) = states("eventplatform:index:KafkaTopic")
    assert facade_topic["urn"].endswith("::audit-topic")
    (topic_component,) = [s for s in states("eventplatform:kafka:KafkaTopic") if s["parent"] == facade_topic["urn"]]
    kafka_topics = {s["inputs"]["spec"]["topicName"]: s for s in states("kubernetes:kafka.strimzi.io/v1:KafkaTopic")}
    # The consumer's own topic and the dead-letter topic the workload declares for its group.
    assert set(kafka_topics) == {"audit-events", "audit-log.dlq"}
    assert kafka_topics["audit-events"]["parent"] == topic_component["urn"]
    assert kafka_topics["audit-events"]["inputs"]["metadata"]["namespace"] == "kafka"
    assert kafka_topics["audit-events"]["inputs"]["spec"]["partitions"] == 3

    (facade_workload,) = states("eventplatform:index:KafkaWorkload")
    assert facade_workload["urn"].endswith("::audit-log")
    (workload,) = states("eventplatform:workloads:EventWorkload")
    assert workload["parent"] == facade_workload["urn"]
    (deployment,) = states("kubernetes:apps/v1:Deployment")
    assert deployment["inputs"]["metadata"]["namespace"] == "apps"
    container = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/audit-log:1.0.0"
    env_vars = {e["name"]: e.get("value") for e in container["env"]}
    assert env_vars["KAFKA_BOOTSTRAP_SERVERS"] == "events-kafka-bootstrap.kafka.svc:9092"
    assert env_vars["CONSUMER_GROUP"] == "audit-log"
    (scaled,) = states("kubernetes:keda.sh/v1alpha1:ScaledObject")
    assert (scaled["inputs"]["spec"]["minReplicaCount"], scaled["inputs"]["spec"]["maxReplicaCount"]) == (0, 3)
    for kind in ("kubernetes:core/v1:ServiceAccount", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                 "kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        assert len(states(kind)) == 1, kind
    # The program's render provider reached the components' children through the `providers` option.
    (provider,) = states("pulumi:providers:kubernetes")
    assert deployment["provider"].startswith(provider["urn"] + "::")
    assert kafka_topics["audit-events"]["provider"].startswith(provider["urn"] + "::")
