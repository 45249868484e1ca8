"""NATS with JetStream (official chart) and streams declared through NACK's CRDs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra import artifacts
from infra.base import child, custom_resource, deep_merge, restricted_container_security, restricted_pod_security
from infra.charts import ChartTemplating, helm_chart, ready_of

API = "jetstream.nats.io/v1beta2"
CLIENT_PORT = 4222
MONITOR_PORT = 8222


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: list[str]
    replicas: int
    max_age: str
    max_deliver: int


@dataclass(frozen=True)
class NatsArgs:
    namespace: pulumi.Input[str]
    release_name: str
    replicas: int
    storage_size: str
    protect: bool
    spread: bool
    source: artifacts.ArtifactSource
    templating: ChartTemplating = field(default_factory=ChartTemplating)
    # Each NATS server container's request (and memory limit); JetStream caches in memory.
    cpu: str = "250m"
    memory: str = "1Gi"
    storage_class: str | None = None
    streams: list[StreamSpec] = field(default_factory=list)
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set


class NatsJetStream(pulumi.ComponentResource):
    """A NATS cluster with file-backed JetStream, its NACK controller and declared streams."""

    chart: k8s.helm.v3.Chart
    controller: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]
    url: pulumi.Output[str]
    monitoring_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: NatsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:nats:NatsJetStream", name, None, opts)
        # Protecting the chart protects what it renders; the StatefulSet's PVCs are additionally
        # retained by Kubernetes itself when the StatefulSet goes (see nats_values).
        self.chart = helm_chart(
            args.release_name, artifacts.NATS, args.source, args.templating,
            namespace=args.namespace,
            values=deep_merge(nats_values(args), args.extra_values),
            opts=child(self, stateful=True, protect=args.protect),
        )
        host = pulumi.Output.from_input(args.namespace).apply(lambda ns: f"{args.release_name}.{ns}.svc")
        self.url = host.apply(lambda h: f"nats://{h}:{CLIENT_PORT}")
        self.monitoring_endpoint = host.apply(lambda h: f"{h}:{MONITOR_PORT}")
        self.controller = helm_chart(
            f"{args.release_name}-nack", artifacts.NACK, args.source, args.templating,
            namespace=args.namespace,
            values={
                "namespaced": True,
                "jetstream": {"nats": {"url": self.url}},
                "securityContext": restricted_pod_security(),
                "containerSecurityContext": restricted_container_security(),
                "readOnly": True,
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}},
            },
            opts=child(self, depends_on=[self.chart]),
        )
        self.charts_ready = ready_of(self.chart, self.controller)
        for stream in args.streams:
            self._stream(name, args, stream)
        self.register_outputs({"url": self.url, "monitoring_endpoint": self.monitoring_endpoint})

    def _stream(self, name: str, args: NatsArgs, stream: StreamSpec) -> None:
        opts = child(self, depends_on=[self.controller], stateful=True, protect=args.protect)
        spec: dict[str, Any] = {
            "name": stream.name,
            "subjects": stream.subjects,
            "storage": "file",
            "replicas": stream.replicas,
            "maxAge": stream.max_age,
            # A publisher retry with the same Nats-Msg-Id inside this window is dropped.
            "duplicateWindow": "2m",
            "retention": "limits",
            "discard": "old",
            # In prod the controller leaves the stream in place if its resource is deleted.
            "preventDelete": args.protect,
        }
        custom_resource(stream.name.lower(), API, "Stream", args.namespace, spec, opts,
                        resource_name=f"{name}-stream-{stream.name.lower()}")
        # JetStream publishes a max-deliveries advisory for each message a consumer gave up on;
        # keeping those advisories in a stream turns them into a durable dead-letter record.
        dlq_spec = {
            "name": f"{stream.name}_DLQ",
            "subjects": [f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream.name}.*"],
            "storage": "file",
            "replicas": stream.replicas,
            "maxAge": stream.max_age,
            "retention": "limits",
            "preventDelete": args.protect,
        }
        custom_resource(f"{stream.name.lower()}-dlq", API, "Stream", args.namespace, dlq_spec, opts,
                        resource_name=f"{name}-stream-{stream.name.lower()}-dlq")


def nats_values(args: NatsArgs) -> dict[str, Any]:
    pvc: dict[str, Any] = {"enabled": True, "size": args.storage_size}
    if args.storage_class:
        pvc["storageClassName"] = args.storage_class
    pod_template: dict[str, Any] = {
        "merge": {"spec": {"securityContext": restricted_pod_security(run_as_user=1000)}},
    }
    if args.spread:
        pod_template["topologySpreadConstraints"] = {
            key: {"maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        }
    def container(cpu: str, memory: str) -> dict[str, Any]:
        return {"merge": {"securityContext": restricted_container_security(),
                          "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}}}

    return {
        "config": {
            "cluster": {"enabled": args.replicas > 1, "replicas": max(args.replicas, 2)},
            "jetstream": {"enabled": True, "fileStore": {"enabled": True, "pvc": pvc}},
            "monitor": {"enabled": True, "port": MONITOR_PORT},
        },
        "container": container(args.cpu, args.memory),
        "reloader": container("10m", "32Mi"),
        "natsBox": {"enabled": False},
        # KEDA's nats-jetstream scaler reads /jsz on the monitoring port through the service.
        "service": {"ports": {"monitor": {"enabled": True}}},
        "podTemplate": pod_template,
        "statefulSet": {
            "merge": {
                "spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}}
            }
        },
        "podDisruptionBudget": {"enabled": args.replicas > 1},
    }
