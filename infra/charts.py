"""Helm charts, templated by the Kubernetes provider and registered as ordinary resources.

Why ``helm.v3.Chart`` and not ``helm.sh/v4:Chart``: with no cluster to ask (render mode, a
pull request's preview), pulumi-kubernetes 4.32.0 templates a v4 Chart for Helm's default
Kubernetes v1.20.0 and offers no input to change it, so every chart that states a
``kubeVersion`` constraint fails and the others render for a cluster nobody runs. The v3 Chart's
template call takes ``kube_version``: render mode templates for the Kubernetes version the stack
targets, and against a cluster the provider asks the API server, as Helm does.

A v3 Chart registers its objects from this Python process once the template call returns, so
a component that owns one is only complete when the chart's ``ready`` resolves; components
owning charts expose it as ``charts_ready``. ``settled`` turns a list of dependencies into one
that waits for those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra import artifacts

# The Kubernetes version charts are templated for when no API server answers (render mode);
# the Kubernetes schema the render checks validate against is the same release line.
RENDER_KUBERNETES_VERSION = "1.36.1"


# Edits one rendered object (a plain dict) in place before it is registered.
Transformation = Callable[[dict[str, Any], pulumi.ResourceOptions], None]


@dataclass(frozen=True)
class ChartTemplating:
    """What Helm's template capabilities are: ``kube_version`` None means ask the cluster."""

    kube_version: str | None = None

    @classmethod
    def for_target(cls, target: str) -> ChartTemplating:
        return cls(RENDER_KUBERNETES_VERSION if target == "render" else None)


@runtime_checkable
class OwnsCharts(Protocol):
    """A component whose charts' objects all exist once ``charts_ready`` resolves."""

    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]


def with_extra_values(values: dict[str, Any], extra_values: dict[str, Any]) -> dict[str, Any]:
    """The escape hatch every chart component offers as ``extra_values``: chart values merged over
    the ones the component sets (nested mappings merge, anything else replaces). Only the mappings
    on an overridden path are copied: the values may hold Outputs, which cannot be copied."""
    merged = dict(values)
    for key, value in extra_values.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = with_extra_values(current, value)
        else:
            merged[key] = value
    return merged


def helm_chart(release_name: str, pin: artifacts.ChartPin, source: artifacts.ArtifactSource,
               templating: ChartTemplating, *, namespace: pulumi.Input[str], values: dict[str, Any],
               skip_crds: bool = False, opts: pulumi.ResourceOptions,
               transformations: list[Transformation] | None = None) -> k8s.helm.v3.Chart:
    """The pinned chart from upstream or the mirror, as release ``release_name``.

    Helm hooks are rendered as plain objects by a v3 Chart (nothing runs them as hooks), so
    callers switch hook-only features off in ``values``. ``transformations`` edit the rendered
    objects before they are registered: only for what a chart's values cannot express.
    """
    common: dict[str, Any] = {
        "namespace": namespace,
        "values": values,
        "transformations": transformations or [],
        "skip_crd_rendering": skip_crds,
        "kube_version": templating.kube_version,
    }
    location = source.chart_location(pin)
    config: k8s.helm.v3.ChartOpts | k8s.helm.v3.LocalChartOpts
    if "path" in location:
        config = k8s.helm.v3.LocalChartOpts(path=location["path"], **common)
    else:
        fetch = k8s.helm.v3.FetchOpts(repo=location["repo"]) if location.get("repo") else None
        config = k8s.helm.v3.ChartOpts(chart=location["chart"], version=location["version"], fetch_opts=fetch,
                                       **common)
    return k8s.helm.v3.Chart(release_name, config, opts)


def keep_crds(obj: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
    """A transformation leaving a chart's CRDs in the cluster when they leave the program or the
    stack is destroyed: deleting a CRD deletes every object of its kind (Helm keeps them too)."""
    if obj.get("kind") == "CustomResourceDefinition":
        opts.retain_on_delete = True


def settled(depends_on: Sequence[pulumi.Resource]) -> pulumi.Input[Sequence[pulumi.Resource]]:
    """``depends_on`` that also waits for every object of the charts among (or owned by) ``depends_on``."""
    depends_on = list(depends_on)  # a snapshot: callers may append to their list afterwards
    waits: list[pulumi.Output[Sequence[pulumi.Resource]]] = []
    for dep in depends_on:
        if isinstance(dep, k8s.helm.v3.Chart):
            waits.append(dep.ready)
        elif isinstance(dep, OwnsCharts):
            waits.append(dep.charts_ready)
    if not waits:
        return depends_on
    resolved = pulumi.Output.all(*waits).apply(lambda lists: [r for group in lists for r in group])
    return resolved.apply(lambda objects: [*depends_on, *objects])


def ready_of(*charts: k8s.helm.v3.Chart) -> pulumi.Output[Sequence[pulumi.Resource]]:
    """A component's ``charts_ready``: every object of its charts."""
    return pulumi.Output.all(*(chart.ready for chart in charts)).apply(
        lambda lists: [r for group in lists for r in group])
