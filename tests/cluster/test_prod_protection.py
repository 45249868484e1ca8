"""The prod configuration on the local cluster, where protection and retain-on-delete show:
`pulumi up` → `pulumi destroy` refused with nothing deleted → `destroy --exclude-protected`
removes everything but the broker data → once unprotected, `destroy` empties the stack and
leaves the retained objects (broker data, their namespaces and CRDs) in the cluster.
Runs after test_platform_lifecycle.py (file order) on the same cluster, as stack `prod`."""

from __future__ import annotations

import json

import pytest

from tests.cluster.conftest import condition, items, kubectl
from tests.engine.conftest import pulumi

pytestmark = [pytest.mark.engine, pytest.mark.cluster]
STACK = "prod"
DATA_NAMESPACES = {"kafka", "rabbitmq", "nats"}
# What a protected platform keeps, by kind and namespace (counted before the destroys).
DATA_KINDS = {
    "kafkas.kafka.strimzi.io": "kafka",
    "kafkanodepools.kafka.strimzi.io": "kafka",
    "kafkatopics.kafka.strimzi.io": "kafka",
    "rabbitmqclusters.rabbitmq.com": "rabbitmq",
    "streams.jetstream.nats.io": "nats",
}
DATA_CRDS = set(DATA_KINDS)


def names(env: dict[str, str], kind: str, namespace: str | None = None) -> set[str]:
    return {o["metadata"]["name"] for o in items(env, kind, namespace)}


def stack_resources(env: dict[str, str]) -> list[dict[str, object]]:
    exported = json.loads(pulumi(env, "stack", "export", "--stack", STACK).stdout)
    resources: list[dict[str, object]] = exported["deployment"].get("resources") or []
    return resources


@pytest.fixture(scope="module")
def prod(local_project: dict[str, str]) -> dict[str, str]:
    pulumi(local_project, "stack", "init", STACK, "--secrets-provider", "passphrase")
    pulumi(local_project, "up", "--stack", STACK, "--non-interactive", "--yes", "--skip-preview")
    return local_project


@pytest.fixture(scope="module")
def data_before(prod: dict[str, str]) -> dict[str, set[str]]:
    return {kind: names(prod, kind, namespace) for kind, namespace in DATA_KINDS.items()}


@pytest.mark.timeout(1800)
def test_prod_up_runs_replicated_brokers_and_workloads_with_budgets(prod: dict[str, str],
                                                                    data_before: dict[str, set[str]]) -> None:
    pools = {p["metadata"]["name"]: p["spec"] for p in items(prod, "kafkanodepools.kafka.strimzi.io", "kafka")}
    assert {name: spec["replicas"] for name, spec in pools.items()} == {"controllers": 3, "brokers": 3}
    assert all(data_before[kind] for kind in DATA_KINDS), data_before
    rabbit = kubectl(prod, "get", "rabbitmqclusters.rabbitmq.com", "events", "-n", "rabbitmq", "-o", "json")
    assert rabbit["spec"]["replicas"] == 3
    deployments = {d["metadata"]["name"]: d for d in items(prod, "deployments", "apps")}
    assert condition(deployments["payment-service"], "Available") == "True"
    budgets = names(prod, "poddisruptionbudgets", "apps")
    assert "payment-service" in budgets


@pytest.mark.timeout(600)
def test_destroy_is_refused_and_deletes_nothing(prod: dict[str, str], data_before: dict[str, set[str]]) -> None:
    before = len(stack_resources(prod))
    result = pulumi(prod, "destroy", "--stack", STACK, "--non-interactive", "--yes", check=False)
    assert result.returncode != 0, "destroy of a protected platform succeeded"
    assert "protected" in result.stdout + result.stderr
    assert len(stack_resources(prod)) == before
    assert "payment-service" in names(prod, "deployments", "apps")
    assert {kind: names(prod, kind, ns) for kind, ns in DATA_KINDS.items()} == data_before


@pytest.mark.timeout(1200)
def test_destroy_excluding_protected_removes_all_but_the_broker_data(prod: dict[str, str],
                                                                     data_before: dict[str, set[str]]) -> None:
    pulumi(prod, "destroy", "--stack", STACK, "--non-interactive", "--yes", "--exclude-protected")
    assert {kind: names(prod, kind, ns) for kind, ns in DATA_KINDS.items()} == data_before
    assert "payment-service" not in names(prod, "deployments", "apps")


@pytest.mark.timeout(1200)
def test_unprotected_destroy_leaves_retained_objects_in_the_cluster(prod: dict[str, str],
                                                                     data_before: dict[str, set[str]]) -> None:
    pulumi(prod, "state", "unprotect", "--stack", STACK, "--all", "--yes")
    pulumi(prod, "destroy", "--stack", STACK, "--non-interactive", "--yes", "--skip-preview")
    assert stack_resources(prod) == []
    # Retained: the data, the namespaces holding it and the CRDs it is made of.
    assert names(prod, "namespaces") & {"apps", "keda", "monitoring", "knative-serving"} == set()
    assert names(prod, "namespaces") >= DATA_NAMESPACES
    assert names(prod, "customresourcedefinitions") >= DATA_CRDS
    assert {kind: names(prod, kind, ns) for kind, ns in DATA_KINDS.items()} == data_before
    # What holds no data went with the stack.
    assert "scaledobjects.keda.sh" not in names(prod, "customresourcedefinitions")
