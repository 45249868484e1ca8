"""The whole dev platform through the real engine against a real API server (kwok nodes):
pulumi up → every object present with its spec → no-change preview → no-change refresh →
an in-place update → destroy leaves nothing behind. The tests run in file order and share one
deployment; each later phase needs the earlier ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cluster.conftest import condition, items, kubectl
from tests.engine.conftest import pulumi

pytestmark = [pytest.mark.engine, pytest.mark.cluster]
STACK = "dev"
PLATFORM_NAMESPACES = {"kafka", "rabbitmq", "rabbitmq-system", "nats", "keda", "cert-manager", "monitoring",
                       "knative-operator", "knative-serving", "knative-eventing", "kourier-system", "events", "apps"}
# The operators and controllers each add-on runs (Deployments the API server reports Available).
OPERATOR_DEPLOYMENTS = {
    ("cert-manager", "cert-manager"), ("cert-manager", "cert-manager-cainjector"),
    ("cert-manager", "cert-manager-webhook"), ("kafka", "strimzi-cluster-operator"),
    ("rabbitmq-system", "rabbitmq-cluster-operator"), ("rabbitmq-system", "messaging-topology-operator"),
    ("keda", "keda-operator"), ("keda", "keda-operator-metrics-apiserver"), ("keda", "keda-admission-webhooks"),
    ("knative-operator", "knative-operator"), ("monitoring", "kps-operator"), ("monitoring", "grafana"),
}
SERVICES = ("order-service", "inventory-service", "payment-service", "shipping-service", "notification-service")


def up(env: dict[str, str]) -> dict[str, Any]:
    result = pulumi(env, "up", "--stack", STACK, "--non-interactive", "--yes", "--skip-preview", "--json")
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


@pytest.fixture(scope="module")
def deployed(local_project: dict[str, str]) -> dict[str, str]:
    pulumi(local_project, "stack", "init", STACK, "--secrets-provider", "passphrase")
    pulumi(local_project, "up", "--stack", STACK, "--non-interactive", "--yes", "--skip-preview")
    return local_project


@pytest.mark.timeout(1500)
def test_up_creates_every_namespace_operator_and_crd(deployed: dict[str, str]) -> None:
    namespaces = {ns["metadata"]["name"] for ns in items(deployed, "namespaces")}
    assert namespaces >= PLATFORM_NAMESPACES
    available = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in items(deployed, "deployments")
                 if condition(d, "Available") == "True"}
    assert available >= OPERATOR_DEPLOYMENTS, f"not Available: {OPERATOR_DEPLOYMENTS - available}"
    crds = items(deployed, "customresourcedefinitions")
    groups = {crd["spec"]["group"] for crd in crds}
    assert {"kafka.strimzi.io", "rabbitmq.com", "keda.sh", "cert-manager.io", "monitoring.coreos.com",
            "operator.knative.dev"} <= groups
    assert [c["metadata"]["name"] for c in crds if condition(c, "Established") != "True"] == []


def test_custom_resources_are_accepted_with_the_declared_spec(deployed: dict[str, str]) -> None:
    kafka = kubectl(deployed, "get", "kafkas.kafka.strimzi.io", "events", "-n", "kafka", "-o", "json")
    assert kafka["spec"]["kafka"]["version"] == "4.3.1"
    topics = {t["spec"]["topicName"] if "topicName" in t["spec"] else t["metadata"]["name"]
              for t in items(deployed, "kafkatopics.kafka.strimzi.io", "kafka")}
    assert {"orders", "orders.dlq", "payments", "shipments.dlq"} <= topics
    rabbit = kubectl(deployed, "get", "rabbitmqclusters.rabbitmq.com", "events", "-n", "rabbitmq", "-o", "json")
    assert rabbit["spec"]["replicas"] == 1
    # The runtime declares its own exchanges and queues; the platform declares who may use them.
    users = {u["metadata"]["name"]: u["spec"] for u in items(deployed, "users.rabbitmq.com", "rabbitmq")}
    assert users["event-platform-app"]["rabbitmqClusterReference"]["name"] == "events"
    permissions = [p["spec"] for p in items(deployed, "permissions.rabbitmq.com", "rabbitmq")]
    assert [p["userReference"]["name"] for p in permissions] == ["event-platform-app"]
    assert items(deployed, "queues.rabbitmq.com", "rabbitmq") == []
    serving = kubectl(deployed, "get", "knativeservings.operator.knative.dev", "knative-serving", "-n",
                      "knative-serving", "-o", "json")
    assert serving["spec"]["version"]
    assert items(deployed, "prometheusrules.monitoring.coreos.com", "monitoring")
    assert items(deployed, "podmonitors.monitoring.coreos.com")


def test_workloads_run_with_scaling_policies_and_disruption_budgets(deployed: dict[str, str]) -> None:
    deployments = {d["metadata"]["name"]: d for d in items(deployed, "deployments", "apps")}
    assert set(SERVICES) <= set(deployments)
    for name in SERVICES:
        assert condition(deployments[name], "Available") == "True", name
        pod = deployments[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in pod["containers"])
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in items(deployed, "scaledobjects.keda.sh", "apps")}
    # Autoscaled services get a ScaledObject on Kafka lag; the singleton never does.
    assert {"order-service", "payment-service", "shipping-service", "notification-service"} <= set(scaled)
    assert "inventory-service" not in scaled
    assert scaled["payment-service"]["spec"]["minReplicaCount"] == 0
    assert scaled["payment-service"]["spec"]["triggers"][0]["type"] == "kafka"
    policies = {p["metadata"]["name"]: p["spec"] for p in items(deployed, "networkpolicies", "apps")}
    assert {"default-deny-ingress", "event-generator", *SERVICES} <= set(policies)
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert policies["payment-service"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "payment-service"
    # dev runs one replica per service and declares no disruption budgets (prod does: 2+ replicas).
    assert items(deployed, "poddisruptionbudgets", "apps") == []


@pytest.mark.timeout(900)
def test_second_preview_changes_nothing(deployed: dict[str, str]) -> None:
    pulumi(deployed, "preview", "--stack", STACK, "--non-interactive", "--expect-no-changes", "--diff")


@pytest.mark.timeout(900)
def test_refresh_finds_no_drift(deployed: dict[str, str]) -> None:
    pulumi(deployed, "refresh", "--stack", STACK, "--non-interactive", "--yes", "--expect-no-changes", "--diff")


@pytest.mark.timeout(900)
def test_a_config_change_is_an_in_place_update(deployed: dict[str, str]) -> None:
    pulumi(deployed, "config", "set", "--stack", STACK, "--path", "platform.observability.scrape_interval", "15s")
    result = pulumi(deployed, "preview", "--stack", STACK, "--non-interactive", "--json")
    steps = [s for s in json.loads(result.stdout)["steps"] if s["op"] != "same"]
    assert steps, "the change planned nothing"
    assert {s["op"] for s in steps} == {"update"}, [(s["op"], s["urn"].split("::")[-1]) for s in steps]
    pulumi(deployed, "up", "--stack", STACK, "--non-interactive", "--yes", "--skip-preview")
    pulumi(deployed, "preview", "--stack", STACK, "--non-interactive", "--expect-no-changes")


@pytest.mark.timeout(1500)
def test_destroy_leaves_no_platform_object_behind(deployed: dict[str, str]) -> None:
    pulumi(deployed, "destroy", "--stack", STACK, "--non-interactive", "--yes", "--skip-preview")
    namespaces = {ns["metadata"]["name"] for ns in items(deployed, "namespaces")}
    assert namespaces & PLATFORM_NAMESPACES == set()
    assert items(deployed, "customresourcedefinitions") == []
    local_services = [a["metadata"]["name"] for a in items(deployed, "apiservices") if a["spec"].get("service")]
    assert local_services == []
    assert [w["metadata"]["name"] for w in items(deployed, "validatingwebhookconfigurations")] == []
    assert [w["metadata"]["name"] for w in items(deployed, "mutatingwebhookconfigurations")] == []
