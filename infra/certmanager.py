"""cert-manager: issues the webhook certificates the RabbitMQ operators' manifests request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import artifacts
from infra.charts import ChartTemplating, helm_chart, ready_of

WEBHOOK_PORT = 10250


@dataclass(frozen=True)
class CertManagerArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource
    templating: ChartTemplating = field(default_factory=ChartTemplating)


class CertManager(pulumi.ComponentResource):
    """cert-manager with its CRDs, issuing the certificates operator webhooks request."""

    chart: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:certmanager:CertManager", name, None, opts)
        self.chart = helm_chart(
            "cert-manager", artifacts.CERT_MANAGER, args.source, args.templating,
            namespace=args.namespace,
            # CRDs as chart templates so they upgrade with it; the startupapicheck Job is a Helm
            # hook (a v3 Chart would apply it as a plain Job that only waits for the webhook).
            values={"crds": {"enabled": True, "keep": False}, "startupapicheck": {"enabled": False}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.charts_ready = ready_of(self.chart)
        self.register_outputs({})
