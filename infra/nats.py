"""NATS with JetStream (official chart) and streams declared through NACK's CRDs."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from event_platform.infra import artifacts
from event_platform.infra.base import (
    MANAGED_BY,
    child,
    custom_resource,
    deep_merge,
    restricted_container_security,
    restricted_pod_security,
)
from event_platform.infra.charts import ChartTemplating, helm_chart, keep_crds, ready_of, with_extra_values

API = "jetstream.nats.io/v1beta2"
CLIENT_PORT = 4222
MONITOR_PORT = 8222
NACK_USER = "nack"
USERS_SECRET = "nats-users"
CERT_API = "cert-manager.io/v1"
CA_SECRET = "nats-ca"
SERVER_TLS_SECRET = "nats-server-tls"


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
    # Clients that get a generated password (workload service names); nobody connects without one.
    users: list[str] = field(default_factory=list)
    # TLS on the client port, with a CA and server certificate issued by cert-manager here.
    tls: bool = False
    cert_manager: pulumi.Resource | None = None  # needed with tls: its CRDs and controller
    # Read the issued CA certificate back (ca_cert); False where cert-manager never runs (render, local).
    read_ca: bool = True
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set
    controller_extra_values: dict[str, Any] = field(default_factory=dict)  # the same, for the NACK chart


@dataclass(frozen=True)
class NatsAccess:
    """How a client reaches a NatsJetStream; ``NatsJetStream.access()`` fills it in. Each client's
    password is its own (``NatsJetStream.password_of``)."""

    url: pulumi.Input[str]
    monitoring_endpoint: pulumi.Input[str]  # host:port of the servers' monitoring endpoint (KEDA reads it)
    namespace: pulumi.Input[str]
    # The CA of the servers' TLS certificates (PEM) when the client port speaks TLS.
    ca_cert: pulumi.Input[str] | None = None
    stream_replicas: int = 1  # of the streams a client creates itself (dead letters, effects bucket)
    account: str = "$G"
    client_port: int = CLIENT_PORT


class NatsJetStream(pulumi.ComponentResource):
    """A NATS cluster with file-backed JetStream, its NACK controller and declared streams."""

    chart: k8s.helm.v3.Chart
    controller: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]
    url: pulumi.Output[str]
    monitoring_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: NatsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:nats:NatsJetStream", name, None, opts)
        # Every client authenticates: the NACK controller and each workload get a generated
        # password, kept in one Secret the server reads through environment variables, so no
        # password is ever part of the rendered config.
        self.users = [NACK_USER, *dict.fromkeys(args.users)]
        self._passwords = {
            user: pulumi.Output.secret(random.RandomPassword(
                f"{name}-{user}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)).result)
            for user in self.users
        }
        users_secret = k8s.core.v1.Secret(
            f"{name}-users",
            metadata={"name": USERS_SECRET, "namespace": args.namespace, "labels": MANAGED_BY},
            string_data={user: password for user, password in self._passwords.items()},
            opts=child(self),
        )
        self.ca_cert: pulumi.Output[str] | None = None
        certificates = self._certificates(name, args) if args.tls else []
        # Protecting the chart protects what it renders; the StatefulSet's PVCs are additionally
        # retained by Kubernetes itself when the StatefulSet goes (see nats_values).
        self.chart = helm_chart(
            args.release_name, artifacts.NATS, args.source, args.templating,
            namespace=args.namespace,
            values=with_extra_values(deep_merge(nats_values(args), authorization_values(self.users)),
                                     args.extra_values),
            opts=child(self, depends_on=[users_secret, *certificates], stateful=True, protect=args.protect),
        )
        host = pulumi.Output.from_input(args.namespace).apply(lambda ns: f"{args.release_name}.{ns}.svc")
        self.url = host.apply(lambda h: f"nats://{h}:{CLIENT_PORT}")
        self.monitoring_endpoint = host.apply(lambda h: f"{h}:{MONITOR_PORT}")
        self.controller = helm_chart(
            f"{args.release_name}-nack", artifacts.NACK, args.source, args.templating,
            namespace=args.namespace,
            values=with_extra_values({
                "namespaced": True,
                # No URL: the controller connects per stream through the Account below, which
                # carries its credentials from the Secret (the chart's URL flag cannot).
                "jetstream": {"nats": {"url": None}},
                "securityContext": restricted_pod_security(),
                "containerSecurityContext": restricted_container_security(),
                "readOnly": True,
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}},
            }, args.controller_extra_values),
            # The Stream CRD: a protected platform's streams outlive the controller.
            transformations=[keep_crds] if args.protect else [],
            opts=child(self, depends_on=[self.chart]),
        )
        self.charts_ready = ready_of(self.chart, self.controller)
        nack_secret = k8s.core.v1.Secret(
            f"{name}-nack-credentials",
            metadata={"name": "nack-credentials", "namespace": args.namespace, "labels": MANAGED_BY},
            string_data={"user": NACK_USER, "password": self._passwords[NACK_USER]},
            opts=child(self),
        )
        account: dict[str, Any] = {
            "name": NACK_USER, "servers": [self.url],
            "user": {"secret": {"name": "nack-credentials"}, "user": "user", "password": "password"},
        }
        if args.tls:
            account["tls"] = {"secret": {"name": CA_SECRET}, "ca": "ca.crt"}
        custom_resource(
            NACK_USER, API, "Account", args.namespace, account,
            child(self, depends_on=[self.controller, nack_secret]), resource_name=f"{name}-nack-account",
        )
        for stream in args.streams:
            self._stream(name, args, stream)
        self._args = args
        self.register_outputs({"url": self.url, "monitoring_endpoint": self.monitoring_endpoint})

    def access(self, ca_cert: pulumi.Input[str] | None = None) -> NatsAccess:
        """What a client needs to reach the servers; ``ca_cert`` defaults to the CA read from the
        cluster (``ca_cert``), which render mode cannot read."""
        args = self._args
        return NatsAccess(url=self.url, monitoring_endpoint=self.monitoring_endpoint, namespace=args.namespace,
                          ca_cert=ca_cert if ca_cert is not None else self.ca_cert,
                          stream_replicas=min(args.replicas, 3))

    def _certificates(self, name: str, args: NatsArgs) -> list[pulumi.Resource]:
        """A CA of the server's own (self-signed, in this namespace) and the server certificate it
        signs; clients get the CA certificate (`ca_cert`) copied into their own namespace."""
        deps = [args.cert_manager] if args.cert_manager else []

        def declare(object_name: str, kind: str, spec: dict[str, Any], after: list[pulumi.Resource],
                    annotations: dict[str, str] | None = None) -> k8s.apiextensions.CustomResource:
            return custom_resource(object_name, CERT_API, kind, args.namespace, spec,
                                   child(self, depends_on=[*deps, *after]), resource_name=f"{name}-{object_name}",
                                   annotations=annotations)

        root = declare("nats-selfsigned", "Issuer", {"selfSigned": {}}, [])
        ca = declare("nats-ca", "Certificate", {
            "isCA": True, "commonName": "event-platform NATS CA", "secretName": CA_SECRET,
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"name": "nats-selfsigned", "kind": "Issuer"}}, [root],
            # The CA Secret is read below once cert-manager has issued it.
            annotations={"pulumi.com/waitFor": "condition=Ready"})
        issuer = declare("nats-ca-issuer", "Issuer", {"ca": {"secretName": CA_SECRET}}, [ca])
        server = declare("nats-server", "Certificate", {
            "secretName": SERVER_TLS_SECRET, "privateKey": {"algorithm": "ECDSA", "size": 256},
            "dnsNames": server_names(args.release_name, args.namespace),
            "issuerRef": {"name": "nats-ca-issuer", "kind": "Issuer"}}, [issuer])
        if args.read_ca:
            secret_id = pulumi.Output.all(ca.id, args.namespace).apply(lambda v: f"{v[1]}/{CA_SECRET}")
            read = k8s.core.v1.Secret.get(f"{name}-ca-read", secret_id, opts=pulumi.ResourceOptions(parent=self))
            self.ca_cert = pulumi.Output.secret(
                read.data.apply(lambda d: base64.b64decode((d or {}).get("ca.crt", "")).decode()))
        return [server]

    def password_of(self, user: str) -> pulumi.Output[str]:
        """The generated password of `user` (a secret Output); users are fixed by NatsArgs.users."""
        if user not in self._passwords:
            raise KeyError(f"NATS user {user!r} was not declared: add it to NatsArgs.users")
        return self._passwords[user]

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
            "account": NACK_USER,
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
            "account": NACK_USER,
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
            "nats": {"tls": {"enabled": args.tls, "secretName": SERVER_TLS_SECRET if args.tls else None}},
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


def password_variable(user: str) -> str:
    return "NATS_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", user).upper()


def authorization_values(users: list[str]) -> dict[str, Any]:
    """Chart values: one password user per client, each password an environment variable of the
    server container read from the users Secret (`<< $VAR >>` leaves it unquoted in nats.conf,
    where the server resolves it). With users declared, anonymous clients are refused."""
    return {
        "config": {"merge": {"authorization": {"users": [
            {"user": user, "password": f"<< ${password_variable(user)} >>"} for user in users
        ]}}},
        "container": {"env": {
            password_variable(user): {"valueFrom": {"secretKeyRef": {"name": USERS_SECRET, "key": user}}}
            for user in users
        }},
    }


def server_names(release: str, namespace: pulumi.Input[str]) -> pulumi.Output[list[str]]:
    """What clients and routes dial: the client Service and each pod behind the headless one."""
    return pulumi.Output.from_input(namespace).apply(lambda ns: [
        f"{release}.{ns}.svc", f"{release}.{ns}.svc.cluster.local",
        f"*.{release}-headless.{ns}.svc", f"*.{release}-headless.{ns}.svc.cluster.local",
    ])
