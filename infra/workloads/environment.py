"""A workload's environment and scaling plan, derived before anything is declared, and the checks
that refuse a wiring the runtime could not use (event_platform.infra.workload_contract)."""

from __future__ import annotations

from event_platform.infra.wiring import ScalingPlan
from event_platform.infra.workload_contract import DeclaredEnvironment, contract_problems
from event_platform.infra.workloads.args import (
    HEALTH_PORT,
    METRICS_PORT,
    SHUTDOWN_TIMEOUT_S,
    Autoscaling,
    EventWorkloadArgs,
)


def broker_literals(args: EventWorkloadArgs) -> dict[str, str]:
    """The broker variables whose values are known when the workload is declared."""
    wiring = args.broker
    env = {"BROKER": wiring.kind, "CONSUMER_GROUP": args.group, "DEAD_LETTER_TOPIC": f"{args.group}.dlq"}
    if wiring.effects_journal:
        env["EFFECTS_JOURNAL_TOPIC"] = f"{args.group}.effects"
    return env | wiring.environment(args).literal


def declared_environment(args: EventWorkloadArgs) -> DeclaredEnvironment:
    """What EventWorkload will put in the container's env, before anything is declared."""
    shape = args.broker.environment(args)
    literal = {"SERVICE_NAME": args.service_name, "HEALTH_PORT": str(HEALTH_PORT), "METRICS_PORT": str(METRICS_PORT),
               "SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S), **broker_literals(args)}
    if args.http_port:
        literal["API_PORT"] = str(args.http_port)
    return DeclaredEnvironment(broker=args.broker.kind, literal=literal, deferred=set(shape.deferred),
                               from_secrets=set(shape.from_secrets), mounts=["/tmp", *shape.mounts],
                               serves_http=bool(args.http_port))


def wiring_contract_problems(args: EventWorkloadArgs) -> list[str]:
    """What the runtime could not use: the env contract plus what the env cannot express."""
    wiring = args.broker
    who = f"workload {args.service_name!r} ({wiring.kind})"
    declared = declared_environment(args)
    problems = [f"{who}: {p}" for p in contract_problems(declared)]
    if args.role == "consumer" and not wiring.consumes:
        problems.append(f"{who}: a consumer names the topics it reads; set consumes")
    problems += [f"{who}: {p}" for p in wiring.problems(args)]
    overridden = sorted(set(args.extra_env) & (declared.names | {"BROKER"}))
    if overridden:
        problems.append(f"{who}: env {overridden} is set by the platform from the wiring; remove it from env")
    return problems


def scaling_plan(args: EventWorkloadArgs) -> ScalingPlan:
    scaling = args.autoscaling or Autoscaling(min_replicas=args.replicas, max_replicas=args.replicas)
    return ScalingPlan(
        service=args.service_name,
        broker=args.broker.kind,
        environment=args.environment,
        image=args.image,
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        activation_threshold=scaling.activation_threshold,
        allow_idle_consumers=scaling.allow_idle_consumers,
        batch=args.batch or args.singleton,
        **args.broker.scaling_plan(args, scaling),
    )
