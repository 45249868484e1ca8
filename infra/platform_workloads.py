"""PlatformWorkloads: the stack file's services as EventWorkload components, on the platform's brokers.

Typed inputs (the services' settings, the namespace they run in, one BrokerHandle per broker the
platform runs) and typed outputs (``workloads`` by service, ``generator``, ``outputs``): it knows
nothing of EventPlatform, which hands it what it built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi

from event_platform.infra.charts import settled
from event_platform.infra.config import Environment, WorkloadConfig, WorkloadsConfig
from event_platform.infra.namespaces import PlatformNamespace
from event_platform.infra.workloads import (
    Autoscaling,
    BrokerWiring,
    EventGenerator,
    EventGeneratorArgs,
    EventWorkload,
    EventWorkloadArgs,
)


@dataclass(frozen=True)
class BrokerHandle:
    """A broker the platform runs, as its workloads see it: the component to wait for, and the
    wiring it gives one service (KafkaWiring from KafkaCluster.access(), ...)."""

    component: pulumi.Resource
    wiring: Callable[[WorkloadConfig], BrokerWiring]


@dataclass(frozen=True)
class PlatformWorkloadsArgs:
    config: WorkloadsConfig
    environment: Environment
    namespace: PlatformNamespace
    brokers: Mapping[str, BrokerHandle]  # by WorkloadConfig.broker; a broker switched off is absent
    monitoring_namespace: str = "monitoring"
    # Labels Prometheus selects rules by; None without a monitoring stack (no PrometheusRule kind).
    rule_labels: dict[str, str] | None = None
    keda: pulumi.Resource | None = None
    # What every workload waits for besides its namespace and broker (the monitoring stack's CRDs).
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class PlatformWorkloads(pulumi.ComponentResource):
    """The platform's own services (the stack file's ``workloads``) and the load generator."""

    workloads: dict[str, EventWorkload]
    generator: EventGenerator | None

    def __init__(self, name: str, args: PlatformWorkloadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:platform:PlatformWorkloads", name, None, opts)
        # Before this component existed, the workloads were children of the platform itself: the
        # alias keeps their URNs (and their children's), so nothing is replaced.
        moved = [pulumi.Alias(parent=opts.parent)] if opts is not None and opts.parent is not None else []
        cfg = args.config
        self.workloads = {}
        for service in cfg.services:
            handle = args.brokers.get(service.broker)
            if handle is None:
                raise pulumi.RunError(
                    f"workload {service.name!r} uses {service.broker}, which is switched off: enable "
                    f"event-platform:platform.{service.broker} or change the workload's broker"
                )
            self.workloads[service.name] = EventWorkload(
                service.name,
                self._workload_args(args, service, handle.wiring(service)),
                pulumi.ResourceOptions(parent=self, aliases=moved, depends_on=settled(
                    [args.namespace, handle.component, *args.depends_on])),
            )
        api = next((s for s in cfg.services if s.http_port), None)
        self.generator = None
        if cfg.generator.enabled and api is not None:
            self.generator = EventGenerator(
                "event-generator",
                EventGeneratorArgs(namespace=args.namespace.name, image=cfg.image, target_service=api.name,
                                   target_port=api.http_port or 0, schedule=cfg.generator.schedule,
                                   count=cfg.generator.count, rate_per_s=cfg.generator.rate_per_s),
                pulumi.ResourceOptions(parent=self, aliases=moved,
                                       depends_on=settled([self.workloads[api.name]])),
            )
        self.outputs = {"namespace": args.namespace.name, "services": [s.name for s in cfg.services]}
        self.register_outputs(self.outputs)

    @staticmethod
    def _workload_args(args: PlatformWorkloadsArgs, service: WorkloadConfig,
                       wiring: BrokerWiring) -> EventWorkloadArgs:
        scaling = service.autoscaling
        return EventWorkloadArgs(
            namespace=args.namespace.name,
            namespace_name=args.config.namespace,
            service_name=service.name,
            image=args.config.image,
            role=service.role,
            broker=wiring,
            environment=args.environment,
            command=["python", "-m", service.module],
            replicas=service.replicas,
            cpu=service.cpu,
            memory=service.memory,
            http_port=service.http_port,
            autoscaling=Autoscaling(
                min_replicas=scaling.min_replicas, max_replicas=scaling.max_replicas,
                lag_threshold=scaling.lag_threshold, activation_threshold=scaling.activation_threshold,
                cooldown_period_s=scaling.cooldown_period_s, allow_idle_consumers=scaling.allow_idle_consumers,
            ) if scaling else None,
            batch=service.batch,
            singleton=service.singleton,
            extra_env=service.env,
            monitoring_namespace=args.monitoring_namespace,
            rule_labels=args.rule_labels,
            keda=args.keda,
        )
