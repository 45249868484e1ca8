"""KEDA (chart) with its metrics API server; ScaledObjects depend on `Keda.ready`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra import artifacts
from infra.base import deep_merge

WEBHOOK_PORT = 9443
METRICS_API_PORT = 6443


@dataclass(frozen=True)
class KedaArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource
    replicas: int = 1
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set


class Keda(pulumi.ComponentResource):
    """The KEDA operator, metrics API server and admission webhooks.

    CRDs are chart templates here, so they upgrade with the chart. Anything declaring a
    ScaledObject or TriggerAuthentication passes ``depends_on=[keda.chart]`` so the kinds exist
    before they are used (and are deleted before KEDA on destroy).
    """

    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:keda:Keda", name, None, opts)
        self.chart = k8s.helm.v4.Chart(
            name,
            k8s.helm.v4.ChartArgs(
                **args.source.chart_args(artifacts.KEDA),
                name="keda",
                namespace=args.namespace,
                values=deep_merge({
                    "crds": {"install": True},
                    "operator": {"replicaCount": args.replicas},
                    "metricsServer": {"replicaCount": args.replicas},
                    "webhooks": {"replicaCount": args.replicas},
                }, args.extra_values),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
