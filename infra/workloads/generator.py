"""EventGenerator: the demo pipeline's load generator, a CronJob posting orders to the order API."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra.base import MANAGED_BY, child, restricted_container_security
from event_platform.infra.workloads.args import DNS_EGRESS


@dataclass(frozen=True)
class EventGeneratorArgs:
    namespace: pulumi.Input[str]
    image: str
    target_service: str  # the HTTP service orders are posted to
    target_port: int
    schedule: str
    count: int
    rate_per_s: int


class EventGenerator(pulumi.ComponentResource):
    """The load generator as a CronJob: posts orders to the order API on a schedule."""

    def __init__(self, name: str, args: EventGeneratorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:workloads:EventGenerator", name, None, opts)
        labels = {"app.kubernetes.io/name": "event-generator", **MANAGED_BY}
        url = pulumi.Output.from_input(args.namespace).apply(lambda ns: f"http://{args.target_service}.{ns}.svc")
        env = [{"name": "GENERATOR_URL", "value": url},
               {"name": "GENERATOR_COUNT", "value": str(args.count)},
               {"name": "GENERATOR_RATE_PER_S", "value": str(args.rate_per_s)}]
        pod = {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "generator", "image": args.image,
                    "command": ["python", "-m", "event_platform.apps.generator"],
                    "env": env, "securityContext": restricted_container_security(),
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}},
                }],
            },
        }
        k8s.batch.v1.CronJob(
            name,
            metadata={"name": "event-generator", "namespace": args.namespace, "labels": labels},
            spec={"schedule": args.schedule, "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 1,
                  "failedJobsHistoryLimit": 3,
                  "jobTemplate": {"spec": {"backoffLimit": 1, "activeDeadlineSeconds": 600, "template": pod}}},
            opts=child(self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"name": "event-generator", "namespace": args.namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "event-generator"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": args.target_service}}}],
                     "ports": [{"port": args.target_port, "protocol": "TCP"}]},
                    DNS_EGRESS,
                ],
            },
            opts=child(self),
        )
        self.register_outputs({})
