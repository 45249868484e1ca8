"""EventWorkload: a producer or consumer deployed, wired to its broker, autoscaled and isolated.

One component declares everything a service needs: its Deployment (probes on the runtime's
health endpoints, restricted security context), ServiceAccount, Service when it serves HTTP,
PodDisruptionBudget and spread in prod, and NetworkPolicies allowing exactly the paths its wiring
implies. What depends on the broker (the broker-side binding, credentials, CA, KEDA trigger,
egress, extra alerts) comes from the wiring (event_platform.infra.workloads.broker); the
ScaledObject from .autoscaling; alert rules, PodMonitor and dashboard from .monitoring.
Guardrails (event_platform.infra.wiring, the environment contract) run before any child exists.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra.base import MANAGED_BY, child, runtime_pod_spec, zone_spread
from event_platform.infra.wiring import WiringError, check_wiring
from event_platform.infra.workloads import autoscaling, monitoring
from event_platform.infra.workloads.args import (
    DNS_EGRESS,
    HEALTH_PORT,
    METRICS_PORT,
    SHUTDOWN_TIMEOUT_S,
    SINGLETON_ANNOTATION,
    EventWorkloadArgs,
)
from event_platform.infra.workloads.broker import CA_NOT_YET_ISSUED, Binding
from event_platform.infra.workloads.environment import broker_literals, scaling_plan, wiring_contract_problems


class EventWorkload(pulumi.ComponentResource):
    """A producer or consumer, deployed and wired to its broker, autoscaler, alerts and policies."""

    deployment: k8s.apps.v1.Deployment
    scaled_object: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, args: EventWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Guardrails first: a bad wiring must fail before a single resource is registered.
        check_wiring(scaling_plan(args))
        problems = wiring_contract_problems(args)
        if problems:
            raise WiringError("; ".join(problems))
        super().__init__("eventplatform:workloads:EventWorkload", name, None, opts)
        self._name = name
        self._args = args
        self.labels = {"app.kubernetes.io/name": args.service_name, **MANAGED_BY}
        self.account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._meta(args.service_name),
            automount_service_account_token=False,
            opts=child(self),
        )
        self.binding = args.broker.bind(self)
        self.deployment = self._deployment(name, self.binding)
        if args.http_port:
            k8s.core.v1.Service(
                f"{name}-svc",
                metadata=self._meta(args.service_name),
                spec={"selector": {"app.kubernetes.io/name": args.service_name},
                      "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
                opts=child(self),
            )
        if args.environment == "prod" and not args.singleton:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=self._meta(args.service_name),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": args.service_name}}},
                opts=child(self),
            )
        self.scaled_object = None
        if args.scaled:
            assert args.autoscaling is not None
            self.scaled_object = autoscaling.scaled_object(self, name, args, args.autoscaling, self.binding,
                                                           self.deployment)
        if args.rule_labels is not None:
            monitoring.alerts(self, name, args, args.rule_labels)
            monitoring.pod_monitor(self, name, args, args.rule_labels)
            monitoring.dashboard(self, name, args, self.labels)
        self._network_policies(name)
        self.register_outputs({})

    # --- what a broker wiring declares its resources in (broker.WorkloadScope) -------------
    @property
    def resource_name(self) -> str:
        return self._name

    @property
    def args(self) -> EventWorkloadArgs:
        return self._args

    def child_options(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def credentials(self, broker: str, data: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]:
        """A Secret in the workload's namespace with what the pod needs to authenticate."""
        secret = k8s.core.v1.Secret(
            f"{self._name}-{broker}-credentials",
            metadata=self._meta(f"{self.args.service_name}-{broker}"),
            string_data=data,
            opts=child(self),
        )
        name_of_secret: pulumi.Output[str] = secret.metadata.apply(lambda m: m["name"])
        return name_of_secret

    def ca_copy(self, broker: str, ca_cert: pulumi.Input[str]) -> pulumi.Output[str]:
        """The broker's CA certificate in a Secret of the workload's namespace, for the pod to mount
        (a pod can only mount Secrets of its own namespace; the broker's CA lives in the broker's)."""
        ca = k8s.core.v1.Secret(
            f"{self._name}-{broker}-ca",
            metadata=self._meta(f"{self.args.service_name}-{broker}-ca"),
            string_data={} if ca_cert == CA_NOT_YET_ISSUED else {"ca.crt": ca_cert},
            opts=child(self),
        )
        name_of_secret: pulumi.Output[str] = ca.metadata.apply(lambda m: m["name"])
        return name_of_secret

    # --- the workload's own objects --------------------------------------------------------
    def _meta(self, object_name: str) -> dict[str, Any]:
        return {"name": object_name, "namespace": self.args.namespace, "labels": self.labels}

    def _deployment(self, name: str, binding: Binding) -> k8s.apps.v1.Deployment:
        args = self.args
        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in {
            "SERVICE_NAME": args.service_name,
            "HEALTH_PORT": str(HEALTH_PORT),
            "METRICS_PORT": str(METRICS_PORT),
            "SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
            **broker_literals(args),
            **binding.env,
            **args.extra_env,
        }.items()]
        env += binding.secret_env
        ports = [{"name": "health", "containerPort": HEALTH_PORT}, {"name": "metrics", "containerPort": METRICS_PORT}]
        if args.http_port:
            ports.append({"name": "http", "containerPort": args.http_port})
            env.append({"name": "API_PORT", "value": str(args.http_port)})
        volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, *binding.volumes]
        mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}, *binding.mounts]
        # Scraped by its own PodMonitor (.monitoring), not the platform's label convention, so each
        # workload is scraped exactly once.
        pod_labels = dict(self.labels)
        pod_spec = runtime_pod_spec(args.service_name, args.image, args.command, env, ports, args.cpu, args.memory,
                                    mounts, volumes, SHUTDOWN_TIMEOUT_S)
        if args.environment == "prod":
            pod_spec["topologySpreadConstraints"] = zone_spread({"app.kubernetes.io/name": args.service_name})
        spec: dict[str, Any] = {
            "selector": {"matchLabels": {"app.kubernetes.io/name": args.service_name}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        }
        if args.singleton:
            # Never two instances at once, not even during a rollout.
            spec["strategy"] = {"type": "Recreate"}
        if not args.scaled:
            spec["replicas"] = args.replicas
        # With KEDA owning the replica count, Pulumi must not fight it on every update.
        opts = child(self, depends_on=[self.account])
        if args.scaled:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["spec.replicas"]))
        metadata = self._meta(args.service_name)
        if args.singleton:
            metadata["annotations"] = {SINGLETON_ANNOTATION: "true"}
        return k8s.apps.v1.Deployment(name, metadata=metadata, spec=spec, opts=opts)

    def _network_policies(self, name: str) -> None:
        """Allow exactly what the wiring needs; the namespace's default deny drops the rest."""
        args = self.args
        selector = {"matchLabels": {"app.kubernetes.io/name": args.service_name}}
        broker_namespace, broker_ports = args.broker.egress()
        monitoring_ns = {"kubernetes.io/metadata.name": args.monitoring_namespace}
        ingress: list[dict[str, Any]] = [{
            "from": [{"namespaceSelector": {"matchLabels": monitoring_ns}}],
            "ports": [{"port": METRICS_PORT, "protocol": "TCP"}],
        }]
        if args.http_port:
            # The API is for callers inside the namespace (the generator, other services);
            # expose it further with an explicit policy or through Knative/ingress.
            ingress.append({"from": [{"podSelector": {}}], "ports": [{"port": args.http_port, "protocol": "TCP"}]})
        egress = [
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": broker_namespace}}}],
             "ports": [{"port": p, "protocol": "TCP"} for p in broker_ports]},
            DNS_EGRESS,
        ]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(args.service_name),
            spec={"podSelector": selector, "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
            opts=child(self),
        )
