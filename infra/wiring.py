"""Guardrails for wiring a workload to its broker and autoscaler, checked before anything exists.

Each check encodes a failure users otherwise meet at runtime: KEDA scaling past the partition
count (idle consumers), a ScaledObject watching another consumer group than the one the service
joins, mismatched offset-reset policies (wrong lag), scale-to-zero that never wakes up, prod
consumers that scale to nothing, and mutable image tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class WiringError(ValueError):
    """A workload's wiring would misbehave at runtime; the message says what to change."""


@dataclass(frozen=True)
class ScalingPlan:
    """What a consumer's autoscaling is meant to do, in the terms the guardrails need."""

    service: str
    broker: str  # the wiring's kind (BrokerWiring.kind)
    environment: Literal["dev", "prod"]
    image: str
    min_replicas: int
    max_replicas: int
    activation_threshold: int
    # Set by brokers with consumer groups, offsets and partitions (BrokerWiring.scaling_plan: Kafka);
    # None where the broker has no such thing, and then the checks below do not apply.
    consumer_group: str | None = None  # the group the service joins
    scaler_consumer_group: str | None = None  # the group the ScaledObject watches
    client_offset_reset: str | None = None  # AUTO_OFFSET_RESET of the service
    scaler_offset_reset: str | None = None  # offsetResetPolicy of the scaler
    partitions: int | None = None  # of the consumed topic
    allow_idle_consumers: bool = False
    batch: bool = False


def wiring_problems(plan: ScalingPlan) -> list[str]:
    """Every guardrail's complaint about ``plan``; empty when it is sound."""
    problems = []
    who = f"workload {plan.service!r}"
    if plan.partitions is not None and plan.max_replicas > plan.partitions \
            and not plan.allow_idle_consumers:
        problems.append(
            f"{who}: maxReplicaCount {plan.max_replicas} exceeds the {plan.partitions} partitions of its topic; "
            f"replicas beyond {plan.partitions} would sit idle. Lower max_replicas to {plan.partitions}, add "
            "partitions, or set allow_idle_consumers: true"
        )
    if plan.scaler_consumer_group != plan.consumer_group:
        problems.append(
            f"{who}: the ScaledObject watches consumer group {plan.scaler_consumer_group!r} but the service "
            f"consumes as {plan.consumer_group!r}; KEDA would scale on someone else's lag. Use one group"
        )
    if plan.scaler_offset_reset != plan.client_offset_reset:
        problems.append(
            f"{who}: KEDA offsetResetPolicy {plan.scaler_offset_reset!r} differs from the client's "
            f"auto_offset_reset {plan.client_offset_reset!r}; lag would be computed from the wrong offset. "
            "Set both to the same value"
        )
    if plan.min_replicas == 0 and plan.activation_threshold <= 0:
        problems.append(
            f"{who}: scale-to-zero (min_replicas 0) needs an activation threshold above 0, otherwise the "
            "first message never wakes it reliably; set activation_threshold (e.g. 1)"
        )
    if plan.environment == "prod" and plan.min_replicas < 1 and not plan.batch:
        problems.append(
            f"{who}: prod consumers keep at least 1 replica (min_replicas {plan.min_replicas}); "
            "set min_replicas >= 1 or mark the workload batch: true"
        )
    if plan.max_replicas < max(plan.min_replicas, 1):
        problems.append(f"{who}: max_replicas {plan.max_replicas} is below min_replicas {plan.min_replicas}")
    problems += image_problems(plan.service, plan.image)
    return problems


def image_problems(service: str, image: str) -> list[str]:
    if "@sha256:" in image:
        return []
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if not tag or tag == "latest":
        return [f"workload {service!r}: image {image!r} must be pinned to a version tag or digest, not "
                f"{'latest' if tag else 'an implicit latest'}"]
    return []


def check_wiring(plan: ScalingPlan) -> None:
    problems = wiring_problems(plan)
    if problems:
        raise WiringError("; ".join(problems))
