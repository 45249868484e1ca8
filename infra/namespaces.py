"""Namespaces under the `restricted` Pod Security Standard, with default-deny ingress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra.base import MANAGED_BY

PLATFORM_NAMESPACE_LABEL = "eventplatform.io/platform"


@dataclass(frozen=True)
class NamespaceArgs:
    name: str
    # Ports that the Kubernetes API server (or anything) must reach, e.g. admission webhooks:
    # the API server's source address is not a pod, so a namespace selector cannot admit it.
    open_ports: list[int] = field(default_factory=list)
    pod_security: str = "restricted"
    # Broker and operator namespaces accept clients from any platform namespace; the apps
    # namespace does not: each workload's own NetworkPolicy states exactly what reaches it.
    allow_platform_ingress: bool = True
    # Namespaces holding broker data: deleting one deletes every object and volume claim in it,
    # so a protected platform protects it and leaves it in the cluster if it is ever removed.
    keep: bool = False


class PlatformNamespace(pulumi.ComponentResource):
    """A namespace that only other platform namespaces may talk to until workloads add allows."""

    namespace: k8s.core.v1.Namespace
    name: pulumi.Output[str]

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:core:PlatformNamespace", name, None, opts)
        labels = {
            **MANAGED_BY,
            PLATFORM_NAMESPACE_LABEL: "true",
            "pod-security.kubernetes.io/enforce": args.pod_security,
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        }
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata={"name": args.name, "labels": labels},
            opts=pulumi.ResourceOptions(parent=self, protect=args.keep, retain_on_delete=args.keep),
        )
        self.name = self.namespace.metadata.apply(lambda m: m["name"])
        ingress_policies(name, self.name, args.open_ports, args.allow_platform_ingress,
                         pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]))
        self.register_outputs({"name": self.name})


def ingress_policies(name: str, namespace: pulumi.Input[str], open_ports: list[int], allow_platform: bool,
                     opts: pulumi.ResourceOptions) -> None:
    """Default-deny ingress, then what may come in: other platform namespaces (when
    ``allow_platform``) and anyone on ``open_ports`` (the API server calling webhooks)."""

    def policy(suffix: str, object_name: str, ingress: list[dict[str, Any]] | None) -> None:
        spec: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
        if ingress is not None:
            spec["ingress"] = ingress
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{suffix}",
            metadata={"name": object_name, "namespace": namespace, "labels": MANAGED_BY},
            spec=spec,
            opts=opts,
        )

    policy("default-deny-ingress", "default-deny-ingress", None)
    if allow_platform:
        policy("allow-platform", "allow-from-platform-namespaces",
               [{"from": [{"namespaceSelector": {"matchLabels": {PLATFORM_NAMESPACE_LABEL: "true"}}}]}])
    if open_ports:
        policy("allow-webhooks", "allow-api-server-webhooks",
               [{"ports": [{"port": port, "protocol": "TCP"} for port in open_ports]}])
