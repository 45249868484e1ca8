"""Every chart-based component offers the same escape hatch: ``extra_values``, chart values merged
over the ones the component sets, for what its typed args do not cover."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

import event_platform.infra as components
from event_platform.infra import artifacts
from event_platform.infra.certmanager import CertManager, CertManagerArgs
from event_platform.infra.charts import with_extra_values
from event_platform.infra.kafka import StrimziOperator, StrimziOperatorArgs
from event_platform.infra.keda import Keda, KedaArgs
from event_platform.infra.knative import KnativeOperator, KnativeOperatorArgs
from event_platform.infra.nats import NatsArgs, NatsJetStream
from event_platform.infra.observability import MonitoringStack, MonitoringStackArgs, MonitoringStorage
from tests.unit.harness import run

SOURCE = artifacts.ArtifactSource(None)
EXTRA = {"extraKey": {"set": "by the user"}}


def _chart_components() -> list[type[pulumi.ComponentResource]]:
    """The public components that install a Helm chart (they expose ``charts_ready``)."""
    found = [getattr(components, name) for name in components.__all__]
    return [c for c in found if isinstance(c, type) and issubclass(c, pulumi.ComponentResource)
            and "charts_ready" in c.__annotations__]


def test_every_chart_component_takes_extra_values() -> None:
    charts = _chart_components()
    assert {c.__name__ for c in charts} >= {"CertManager", "StrimziOperator", "Keda", "KnativeOperator",
                                            "NatsJetStream", "MonitoringStack"}
    for component in charts:
        args = getattr(sys.modules[component.__module__], inspect.signature(component).parameters["args"].annotation)
        fields = {f.name: f for f in dataclasses.fields(args)}
        assert "extra_values" in fields, f"{args.__name__} has no extra_values"
        assert fields["extra_values"].default_factory is dict  # type: ignore[comparison-overlap]


BUILDS: dict[str, tuple[Callable[[dict[str, Any]], pulumi.ComponentResource], str]] = {
    "cert-manager": (lambda extra: CertManager("cm", CertManagerArgs("cm", SOURCE, extra_values=extra)),
                     "cert-manager"),
    "strimzi": (lambda extra: StrimziOperator("strimzi", StrimziOperatorArgs("kafka", SOURCE, extra_values=extra)),
                "strimzi"),
    "keda": (lambda extra: Keda("keda", KedaArgs("keda", SOURCE, extra_values=extra)), "keda"),
    "knative-operator": (lambda extra: KnativeOperator("kn", KnativeOperatorArgs("kn", SOURCE, extra_values=extra)),
                         "knative-operator"),
    "nats": (lambda extra: NatsJetStream("nats", NatsArgs("nats", "nats", 1, "1Gi", False, False, SOURCE,
                                                          extra_values=extra)), "nats"),
    "monitoring": (lambda extra: MonitoringStack("monitoring", MonitoringStackArgs(
        "monitoring", SOURCE, "1d", MonitoringStorage("ephemeral", "1Gi"), 1, 1, extra_values=extra)), "kps"),
}


@pytest.mark.parametrize("component", sorted(BUILDS))
def test_extra_values_reach_the_chart_over_the_components_own(component: str) -> None:
    build, release = BUILDS[component]
    plain = run(lambda: build({})).chart(release).inputs["values"]
    recorder = run(lambda: build(EXTRA))
    values = recorder.chart(release).inputs["values"]
    assert values["extraKey"] == {"set": "by the user"}
    assert {key: value for key, value in values.items() if key != "extraKey"} == plain


def test_extra_values_merge_mappings_and_replace_everything_else() -> None:
    values = {"a": {"keep": 1, "change": 2}, "list": [1, 2], "other": "x"}
    merged = with_extra_values(values, {"a": {"change": 3}, "list": [9]})
    assert merged == {"a": {"keep": 1, "change": 3}, "list": [9], "other": "x"}
    assert values == {"a": {"keep": 1, "change": 2}, "list": [1, 2], "other": "x"}  # the component's own untouched
