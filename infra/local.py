"""The ``local`` target: `make cluster-up`'s cluster, where kwok simulates nodes and pods.

The API server, admission, schema validation and the controllers are real there; containers
never run. So everything that needs a container to answer is switched off for this target only,
in this one module (README "Try it locally" lists it):

- admission webhooks: registered as declared, but made to match no object, because the API
  server would call a pod that does not exist and reject every object the webhook covers
  (cert-manager's Issuer/Certificate, prometheus-operator's rules, KEDA's ScaledObjects …);
- ``pulumi.com/waitFor`` readiness conditions on custom resources: only a running operator sets
  them (Strimzi's Kafka Ready, the Knative operator's KnativeServing/KnativeEventing Ready), so
  Pulumi would wait until its timeout.

Waits the API server answers by itself stay on: CRDs Established, Deployments and StatefulSets
available (kwok reports their pods Ready), Services with endpoints, namespaces finalized.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi

WEBHOOK_TYPES = (
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
)
WAIT_FOR = "pulumi.com/waitFor"
# No object carries this label, so a webhook selecting it is never called.
NEVER_MATCHES = {"matchExpressions": [{"key": "eventplatform.io/local-target-no-webhooks", "operator": "Exists"}]}


def local_cluster_transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Applied to every resource of the platform when ``target`` is ``local``."""
    props = args.props
    changed = False
    webhooks = props.get("webhooks")
    if args.type_ in WEBHOOK_TYPES and isinstance(webhooks, list):
        props = {**props, "webhooks": [_never_called(w) for w in webhooks]}
        changed = True
    metadata = props.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict) \
            and WAIT_FOR in metadata["annotations"]:
        annotations = {k: v for k, v in metadata["annotations"].items() if k != WAIT_FOR}
        # No empty map left behind: the API server would not store it, and refresh would differ.
        trimmed = {k: v for k, v in metadata.items() if k != "annotations"}
        props = {**props, "metadata": {**trimmed, **({"annotations": annotations} if annotations else {})}}
        changed = True
    return pulumi.ResourceTransformResult(props, args.opts) if changed else None


def _never_called(webhook: Any) -> Any:
    if not isinstance(webhook, dict):
        return webhook
    webhook = copy.copy(webhook)
    webhook["objectSelector"] = NEVER_MATCHES
    return webhook
