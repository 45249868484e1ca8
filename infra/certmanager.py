"""cert-manager: issues the webhook certificates the RabbitMQ operators' manifests request."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import artifacts

WEBHOOK_PORT = 10250


@dataclass(frozen=True)
class CertManagerArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource


class CertManager(pulumi.ComponentResource):
    """cert-manager with its CRDs, issuing the certificates operator webhooks request."""

    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:certmanager:CertManager", name, None, opts)
        self.chart = k8s.helm.v4.Chart(
            name,
            k8s.helm.v4.ChartArgs(
                **args.source.chart_args(artifacts.CERT_MANAGER),
                name="cert-manager",
                namespace=args.namespace,
                # CRDs as chart templates so they upgrade with it; the startupapicheck Job is a
                # Helm hook that v4 Charts skip anyway.
                values={"crds": {"enabled": True, "keep": False}, "startupapicheck": {"enabled": False}},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
