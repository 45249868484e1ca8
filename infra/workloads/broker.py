"""One class per broker: everything broker-specific about wiring a workload.

A wiring (KafkaWiring, RabbitmqWiring, NatsWiring) knows, for one workload, the variables its
runtime reads, the credentials, users and topics it needs on the broker's side, the volumes the
pod mounts, the KEDA trigger that scales it, the egress its NetworkPolicy allows and the alerts
beyond the ones every workload gets. EventWorkload asks the wiring and never looks at which broker
it is. A new broker is a subclass with its ``kind`` (it registers itself in ``WIRINGS``) and an
access value from its broker component; docs/components.md, "Adding a broker", lists the files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pulumi

if TYPE_CHECKING:
    from event_platform.infra.workloads.args import Autoscaling, EventWorkloadArgs

# A wiring's ca_cert in render mode, where no operator has issued the CA yet: the workload's CA
# Secret is rendered without ca.crt (the caller reports the gap).
CA_NOT_YET_ISSUED = ""


@dataclass
class EnvironmentShape:
    """The broker's part of a workload's environment, before anything is declared."""

    literal: dict[str, str] = field(default_factory=dict)  # values known now
    deferred: set[str] = field(default_factory=set)  # Outputs: known at deploy time
    from_secrets: set[str] = field(default_factory=set)  # secretKeyRef
    mounts: list[str] = field(default_factory=list)  # mountPaths of the container


@dataclass
class Binding:
    """What binding a workload to its broker declared, for the pod and the scaler to use."""

    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: list[dict[str, Any]] = field(default_factory=list)  # env entries with valueFrom
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    # TriggerAuthentication secretTargetRefs: the scaler's credentials
    trigger_auth: list[dict[str, Any]] = field(default_factory=list)

    def secret_variable(self, variable: str, secret: pulumi.Input[str], key: str) -> None:
        self.secret_env.append({"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})

    def mount(self, volume: str, secret: pulumi.Input[str], path: str) -> None:
        self.volumes.append({"name": volume, "secret": {"secretName": secret}})
        self.mounts.append({"name": volume, "mountPath": path, "readOnly": True})


class WorkloadScope(Protocol):
    """The workload a wiring declares its broker-side resources in (EventWorkload)."""

    @property
    def resource_name(self) -> str: ...

    @property
    def args(self) -> EventWorkloadArgs: ...

    def child_options(self) -> pulumi.ResourceOptions: ...

    def credentials(self, broker: str, data: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]: ...

    def ca_copy(self, broker: str, ca_cert: pulumi.Input[str]) -> pulumi.Output[str]: ...


WIRINGS: dict[str, type[BrokerWiring]] = {}


@dataclass(frozen=True, kw_only=True)
class BrokerWiring(ABC):
    """The topics a workload uses on one broker; subclasses add how to reach the broker."""

    kind: ClassVar[str]  # BROKER in the runtime's environment: kafka, rabbitmq, nats
    consumes: list[str]  # topics consumed as a group
    produces: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # replayed without a group (event-sourced state)
    effects_journal: bool = False  # keeps <group>.effects, a journal of side effects

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            assert kind not in WIRINGS, f"two wirings for broker {kind!r}: {WIRINGS[kind].__name__}, {cls.__name__}"
            WIRINGS[kind] = cls

    # --- before anything is declared -----------------------------------------------------
    @abstractmethod
    def environment(self, args: EventWorkloadArgs) -> EnvironmentShape:
        """The broker variables (besides BROKER, CONSUMER_GROUP, DEAD_LETTER_TOPIC, EFFECTS_JOURNAL_TOPIC)."""

    def problems(self, args: EventWorkloadArgs) -> list[str]:
        """What the environment cannot express but the broker needs (a CA with TLS, ...)."""
        return []

    def scaling_plan(self, args: EventWorkloadArgs, scaling: Autoscaling) -> dict[str, Any]:
        """The ScalingPlan fields only this broker knows (consumer groups, partitions, offsets)."""
        return {}

    # --- declaring -------------------------------------------------------------------------
    @abstractmethod
    def bind(self, workload: WorkloadScope) -> Binding:
        """Declare the broker-side resources and credentials; return what the pod gets."""

    @abstractmethod
    def triggers(self, args: EventWorkloadArgs, scaling: Autoscaling, binding: Binding) -> list[dict[str, Any]]:
        """KEDA triggers on what the workload consumes."""

    @abstractmethod
    def egress(self) -> tuple[pulumi.Input[str], list[int]]:
        """The broker's namespace and the ports the workload connects to there."""

    def alert_rules(self, args: EventWorkloadArgs) -> list[dict[str, Any]]:
        """Alerts beyond the dead-letter and error-rate ones every workload gets."""
        return []
