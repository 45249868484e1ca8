"""A consumer's KEDA ScaledObject (and TriggerAuthentication): the triggers come from its broker's
wiring; the HPA behaviour every workload shares is here."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra.base import child, custom_resource
from event_platform.infra.workloads.args import Autoscaling, EventWorkloadArgs
from event_platform.infra.workloads.broker import Binding


def scaled_object(parent: pulumi.Resource, name: str, args: EventWorkloadArgs, scaling: Autoscaling,
                  binding: Binding, deployment: pulumi.Resource) -> k8s.apiextensions.CustomResource:
    """KEDA scales on what the consumers read: the group's lag (Kafka), its queues' depth
    (RabbitMQ), its durable consumers' pending messages (NATS)."""
    triggers = args.broker.triggers(args, scaling, binding)
    deps: list[pulumi.Resource] = [deployment, *([args.keda] if args.keda else [])]
    if binding.trigger_auth:
        auth = custom_resource(
            f"{args.service_name}-trigger-auth", "keda.sh/v1alpha1", "TriggerAuthentication", args.namespace,
            {"secretTargetRef": binding.trigger_auth},
            child(parent, depends_on=deps), resource_name=f"{name}-trigger-auth",
        )
        for trigger in triggers:
            trigger["authenticationRef"] = {"name": f"{args.service_name}-trigger-auth"}
        deps.append(auth)
    return custom_resource(
        args.service_name, "keda.sh/v1alpha1", "ScaledObject", args.namespace,
        {
            "scaleTargetRef": {"name": args.service_name},
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": scaling.polling_interval_s,
            "cooldownPeriod": scaling.cooldown_period_s,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _hpa_behavior(scaling)}},
            "triggers": triggers,
        },
        child(parent, depends_on=deps), resource_name=f"{name}-scaledobject",
    )


def _hpa_behavior(scaling: Autoscaling) -> dict[str, Any]:
    return {
        "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_s,
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        "scaleUp": {"stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}]},
    }
