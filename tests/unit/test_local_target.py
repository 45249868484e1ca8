"""The local target's one transform (infra/local.py): what it changes, and what it leaves alone."""

from __future__ import annotations

from typing import Any

import pulumi
import yaml

from event_platform.infra.local import NEVER_MATCHES, WAIT_FOR, local_cluster_transform

WEBHOOKS = "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration"


def transformed(type_: str, props: dict[str, Any]) -> dict[str, Any] | None:
    args = pulumi.ResourceTransformArgs(True, type_, "x", props, pulumi.ResourceOptions())
    result = local_cluster_transform(args)
    return None if result is None else dict(result.props)


def test_webhooks_stay_registered_but_match_no_object() -> None:
    hook = {"name": "webhook.cert-manager.io", "failurePolicy": "Fail", "namespaceSelector": {"matchLabels": {}}}
    out = transformed(WEBHOOKS, {"metadata": {"name": "cert-manager-webhook"}, "webhooks": [hook]})
    assert out is not None
    assert out["webhooks"] == [{**hook, "objectSelector": NEVER_MATCHES}]
    assert hook.get("objectSelector") is None  # the declared value is not mutated


def test_operator_readiness_wait_is_dropped_other_annotations_kept() -> None:
    metadata = {"name": "knative-serving", "annotations": {WAIT_FOR: "condition=Ready", "keep": "me"}}
    out = transformed("kubernetes:operator.knative.dev/v1beta1:KnativeServing", {"metadata": metadata, "spec": {}})
    assert out is not None
    assert out["metadata"]["annotations"] == {"keep": "me"}


def test_no_empty_annotations_left_behind() -> None:
    metadata = {"name": "knative-eventing", "annotations": {WAIT_FOR: "condition=Ready"}}
    out = transformed("kubernetes:operator.knative.dev/v1beta1:KnativeEventing", {"metadata": metadata})
    assert out == {"metadata": {"name": "knative-eventing"}}


def test_everything_else_is_untouched() -> None:
    props = {"metadata": {"name": "order-service", "annotations": {"a": "b"}}, "spec": {"replicas": 1}}
    assert transformed("kubernetes:apps/v1:Deployment", props) is None


def test_strimzi_crds_lose_only_their_empty_properties_maps() -> None:
    from event_platform.infra.artifacts import without_empty_properties

    crd = "\n".join([
        "status:", "  properties:", "    clusterSecurity:", "      type: object", "      properties: {}",
        "      x-kubernetes-preserve-unknown-fields: true", "    listeners:", "      properties:",
        "        name: {type: string}",
    ])
    assert yaml.safe_load(without_empty_properties(crd)) == {"status": {"properties": {
        "clusterSecurity": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "listeners": {"properties": {"name": {"type": "string"}}}}}}
