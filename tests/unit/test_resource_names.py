"""Names are a contract: both stacks register exactly the resources in tests/unit/resource_names/.

A resource whose URN changes without an alias is deleted and created again by the engine; these
tests fail on that before any stack sees it (tests/unit/resource_names.py explains the format).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from tests.unit import resource_names
from tests.unit.harness import Recorder, run


@pytest.mark.parametrize("stack", resource_names.STACKS)
def test_every_resource_keeps_its_urn(stack: str, request: pytest.FixtureRequest) -> None:
    recorder: Recorder = request.getfixturevalue(stack)
    difference = resource_names.problems(stack, recorder)
    assert difference is None, difference


class _Holder(pulumi.ComponentResource):
    def __init__(self, name: str, token: str = "eventplatform:test:Holder",
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(token, name, None, opts)
        k8s.core.v1.ConfigMap(f"{name}-data", data={}, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


def _names(build: object) -> resource_names.Names:
    recorder = run(build)  # type: ignore[arg-type]
    return resource_names.Names(recorder.registrations)


def test_urns_carry_the_whole_parent_type_chain() -> None:
    names = _names(lambda: _Holder("outer"))
    keys = [entry.key for entry in names.entries()]
    assert keys == ["eventplatform:test:Holder$kubernetes:core/v1:ConfigMap::outer-data",
                    "eventplatform:test:Holder::outer"]


def test_an_alias_to_the_old_name_keeps_a_renamed_resource() -> None:
    names = _names(lambda: k8s.core.v1.ConfigMap("new", data={}, opts=pulumi.ResourceOptions(
        aliases=[pulumi.Alias(name="old")])))
    (registration,) = [r for r in names.registrations.values() if r.name == "new"]
    assert "kubernetes:core/v1:ConfigMap::old" in names.alias_keys(registration)


def test_children_keep_their_urn_when_their_parent_is_aliased() -> None:
    # The engine matches a child under each earlier URN of its parent: a component whose type
    # token changed with an alias keeps its children without aliases of their own.
    names = _names(lambda: _Holder("outer", token="eventplatform:test:Renamed", opts=pulumi.ResourceOptions(
        aliases=[pulumi.Alias(type_="eventplatform:test:Holder")])))
    (child,) = [r for r in names.registrations.values() if r.name == "outer-data"]
    assert "eventplatform:test:Holder$kubernetes:core/v1:ConfigMap::outer-data" in names.alias_keys(child)


def test_a_rename_without_an_alias_is_reported_as_a_replacement(dev: Recorder) -> None:
    registrations = dict(dev.registrations)
    urn, registration = next((u, r) for u, r in registrations.items() if r.type == "kubernetes:apps/v1:Deployment")
    registrations[urn] = resource_names.Registration(**{**registration.__dict__, "name": registration.name + "-x"})
    renamed = Recorder(registrations=registrations)
    report = resource_names.problems("dev", renamed)
    assert report is not None
    assert "1 resource(s) would be deleted or replaced" in report
    assert f"  - {resource_names.Names(dev.registrations).key(registration)}" in report


def test_a_rename_with_an_alias_passes(dev: Recorder) -> None:
    registrations = dict(dev.registrations)
    urn, registration = next((u, r) for u, r in registrations.items() if r.type == "kubernetes:apps/v1:Deployment")
    registrations[urn] = resource_names.Registration(**{
        **registration.__dict__, "name": registration.name + "-x",
        "alias_specs": ((registration.name, registration.type, None),)})
    assert resource_names.problems("dev", Recorder(registrations=registrations)) is None


def test_dropping_the_alias_of_a_moved_resource_fails(dev: Recorder) -> None:
    # The platform's workloads moved under PlatformWorkloads with an alias to their old parent; the
    # snapshot keeps the old URNs as (former) as long as that alias reaches them.
    former = [entry for entry in resource_names.read_snapshot("dev") if entry.former]
    assert any(entry.key.endswith("$eventplatform:workloads:EventWorkload::payment-service") for entry in former)
    registrations = {urn: resource_names.Registration(**{**reg.__dict__, "alias_specs": ()})
                     if reg.type == "eventplatform:workloads:EventWorkload" and reg.name == "payment-service" else reg
                     for urn, reg in dev.registrations.items()}
    report = resource_names.problems("dev", Recorder(registrations=registrations))
    assert report is not None
    assert "  - eventplatform:platform:EventPlatform$eventplatform:workloads:EventWorkload::payment-service" in report
