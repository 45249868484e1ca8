"""cert-manager: issues the webhook certificates the RabbitMQ operators' manifests request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra import artifacts
from event_platform.infra.charts import ChartTemplating, helm_chart, ready_of, with_extra_values

WEBHOOK_PORT = 10250


@dataclass(frozen=True)
class CertManagerArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource
    templating: ChartTemplating = field(default_factory=ChartTemplating)
    # Two replicas of each Deployment behind budgets: its webhook admits every cert-manager object.
    high_availability: bool = False
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set


class CertManager(pulumi.ComponentResource):
    """cert-manager with its CRDs, issuing the certificates operator webhooks request."""

    chart: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:certmanager:CertManager", name, None, opts)
        self.chart = helm_chart(
            "cert-manager", artifacts.CERT_MANAGER, args.source, args.templating,
            namespace=args.namespace,
            values=with_extra_values(cert_manager_values(args.high_availability), args.extra_values),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.charts_ready = ready_of(self.chart)
        self.register_outputs({})


def cert_manager_values(high_availability: bool) -> dict[str, Any]:
    replicas = 2 if high_availability else 1

    def deployment(cpu: str, memory: str) -> dict[str, Any]:
        return {
            "replicaCount": replicas,
            "podDisruptionBudget": {"enabled": high_availability, "minAvailable": 1},
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        }

    return {
        # CRDs as chart templates so they upgrade with it.
        "crds": {"enabled": True, "keep": False},
        # A Helm hook (a v3 Chart would apply it as a plain Job that only waits for the webhook).
        "startupapicheck": {"enabled": False},
        **deployment("50m", "128Mi"),
        "webhook": deployment("20m", "64Mi"),
        "cainjector": deployment("20m", "128Mi"),
    }
