"""Small helpers every component shares: naming, options for children, secure defaults."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra.charts import settled

PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "event-platform"
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", PART_OF_LABEL: PART_OF}


def child(parent: pulumi.Resource, *, depends_on: list[pulumi.Resource] | None = None,
          stateful: bool = False, protect: bool = False) -> pulumi.ResourceOptions:
    """Options for a component's child.

    ``depends_on`` waits for every object of the charts it names (``event_platform.infra.charts.settled``).
    Stateful children of a protected platform (brokers, node pools, topics, streams) are both
    protected against `pulumi destroy` and retained in the cluster if their definition is ever
    removed from the program, so a refactor can never delete data.
    """
    guard = stateful and protect
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=settled(depends_on or []),
        protect=guard,
        retain_on_delete=guard,
    )


def restricted_container_security() -> dict[str, Any]:
    """The container securityContext the `restricted` Pod Security Standard asks for."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_pod_security(run_as_user: int | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        context.update(runAsUser=run_as_user, runAsGroup=run_as_user, fsGroup=run_as_user)
    return context


def runtime_pod_spec(service_name: str, image: str, command: list[str], env: list[dict[str, Any]],
                     ports: list[dict[str, Any]], cpu: str, memory: str, mounts: list[dict[str, Any]],
                     volumes: list[dict[str, Any]], drain_s: int) -> dict[str, Any]:
    """The pod of a service run by the workload runtime: restricted, probed on its health port
    (/livez, and /readyz which fails while draining), requests and a memory limit."""
    return {
        "serviceAccountName": service_name,
        "automountServiceAccountToken": False,
        # Longer than the runtime's drain bound, so SIGTERM handling is never cut short.
        "terminationGracePeriodSeconds": drain_s + 10,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "app",
            "image": image,
            "command": command,
            "env": env,
            "ports": ports,
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
            "securityContext": restricted_container_security(),
            "livenessProbe": {"httpGet": {"path": "/livez", "port": "health"}, "periodSeconds": 10,
                              "failureThreshold": 3},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}, "periodSeconds": 5},
            "startupProbe": {"httpGet": {"path": "/livez", "port": "health"}, "periodSeconds": 2,
                             "failureThreshold": 30},
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    }


def zone_spread(match_labels: dict[str, str]) -> list[dict[str, Any]]:
    """Spread replicas over zones, then nodes; ScheduleAnyway keeps small clusters schedulable."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": match_labels},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Override wins; nested mappings merge; lists replace (a list is always stated whole)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def custom_resource(name: str, api_version: str, kind: str, namespace: pulumi.Input[str],
                    spec: dict[str, Any], opts: pulumi.ResourceOptions,
                    labels: dict[str, str] | None = None,
                    resource_name: str | None = None,
                    annotations: dict[str, str] | None = None) -> k8s.apiextensions.CustomResource:
    """A namespaced custom resource with the platform's labels.

    ``resource_name`` is the Pulumi logical name (unique in the stack); ``name`` the object name.
    """
    return k8s.apiextensions.CustomResource(
        resource_name or name,
        api_version=api_version,
        kind=kind,
        metadata={"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **(labels or {})},
                  **({"annotations": annotations} if annotations else {})},
        spec=spec,
        opts=opts,
    )
