"""The policy rules judge Kubernetes objects the way the policy pack and render check do."""

from __future__ import annotations

import copy
from typing import Any

from event_platform.policy import rules

GOOD_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "payments", "namespace": "apps"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "payments"}},
        "template": {
            "metadata": {"labels": {"app": "payments"}},
            "spec": {
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "app",
                    "image": "registry.example/payments:1.4.2",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "env": [{"name": "KAFKA_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "u", "key": "p"}}}],
                }],
            },
        },
    },
}
PDB = {"kind": "PodDisruptionBudget", "metadata": {"name": "payments", "namespace": "apps"},
       "spec": {"selector": {"matchLabels": {"app": "payments"}}}}


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_a_compliant_deployment_passes_every_rule() -> None:
    for check in rules.PER_OBJECT.values():
        assert check(GOOD_DEPLOYMENT) == []
    assert rules.prod_availability([GOOD_DEPLOYMENT, PDB]) == []


def test_privilege_escalation_and_capabilities_are_caught() -> None:
    bad = copy.deepcopy(GOOD_DEPLOYMENT)
    container(bad)["securityContext"] = {}
    found = rules.restricted_pod_security(bad)
    assert any("allowPrivilegeEscalation=false" in v for v in found)
    assert any("drop ALL" in v for v in found)


def test_host_network_is_caught() -> None:
    bad = copy.deepcopy(GOOD_DEPLOYMENT)
    bad["spec"]["template"]["spec"]["hostNetwork"] = True
    assert rules.restricted_pod_security(bad) == ["Deployment apps/payments: hostNetwork is not allowed"]


def test_missing_memory_limit_is_caught() -> None:
    bad = copy.deepcopy(GOOD_DEPLOYMENT)
    del container(bad)["resources"]["limits"]
    assert rules.resources_set(bad) == ["Deployment apps/payments container app: set resources limits.memory"]


def test_latest_and_untagged_images_are_caught_but_digests_pass() -> None:
    for image, ok in (("repo/app:latest", False), ("repo/app", False), ("localhost:5000/app", False),
                      ("envoy:v1.37-latest", False), ("repo/app@sha256:" + "a" * 64, True), ("app:1.0", True)):
        obj = copy.deepcopy(GOOD_DEPLOYMENT)
        container(obj)["image"] = image
        assert (rules.pinned_images(obj) == []) is ok, image


def test_literal_secret_in_env_is_caught() -> None:
    bad = copy.deepcopy(GOOD_DEPLOYMENT)
    container(bad)["env"] = [{"name": "RABBITMQ_PASSWORD", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "x"}]
    found = rules.no_plaintext_secrets(bad)
    assert len(found) == 1 and "RABBITMQ_PASSWORD" in found[0]


def test_prod_needs_two_replicas_and_a_budget() -> None:
    single = copy.deepcopy(GOOD_DEPLOYMENT)
    single["spec"]["replicas"] = 1
    found = rules.prod_availability([single])
    assert "at least 2 replicas (has 1)" in found[0]
    assert "no PodDisruptionBudget" in found[1]


def test_namespace_without_network_policy_is_caught() -> None:
    objs = [{"kind": "Namespace", "metadata": {"name": "apps"}},
            {"kind": "Namespace", "metadata": {"name": "kafka"}},
            {"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "kafka"}}]
    assert rules.network_policy_per_namespace(objs) == [
        "Namespace apps: no NetworkPolicy in it (add at least a default deny)"
    ]


def test_cronjob_pods_are_checked_too() -> None:
    cron = {"kind": "CronJob", "metadata": {"name": "gen", "namespace": "apps"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "g", "image": "g"}]}}}}}}
    assert rules.pinned_images(cron)
