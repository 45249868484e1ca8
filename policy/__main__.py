"""event-platform's Pulumi policy pack: `pulumi preview --policy-pack policy`.

Levels: the pack's defaults suit dev (security basics mandatory, hygiene advisory);
policy/prod.json raises everything to mandatory for prod. The same rules judge rendered
manifests (policy/check_render.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from event_platform.policy import rules

ADVISORY_IN_DEV = {"restricted-pod-security", "resources-set"}


def _is_kubernetes(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:") and not resource_type.startswith("kubernetes:helm.sh")


def known(value: Any) -> Any:
    """The resource's inputs as plain data, each value a preview cannot know yet as None.

    The pack's proxy raises on reading an unknown value, and one unknown field (a Secret's
    generated stringData) would otherwise stop a stack-wide policy from running at all. Rules read
    None as "not set"; at `pulumi up` the values are known and judged as they are.
    """
    if isinstance(value, Mapping):
        return {key: _item(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_item(value, index) for index in range(len(value))]
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        return known(container[key])
    except UnknownValueError:
        return None


def _per_object(check: Callable[[dict[str, Any]], list[str]]) -> Callable[..., None]:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if _is_kubernetes(args.resource_type):
            for violation in check(known(args.props)):
                report(violation, args.urn)

    return validate


def _stack_is_prod(args: StackValidationArgs) -> bool:
    return any(r.urn.split("::")[0].endswith(":prod") for r in args.resources)


def _prod_availability(args: StackValidationArgs, report: ReportViolation) -> None:
    if _stack_is_prod(args):
        workloads = [known(r.props) for r in args.resources if _is_kubernetes(r.resource_type)]
        for violation in rules.prod_availability(workloads):
            report(violation, None)


def _network_policies(args: StackValidationArgs, report: ReportViolation) -> None:
    objs = [known(r.props) for r in args.resources if _is_kubernetes(r.resource_type)]
    for violation in rules.network_policy_per_namespace(objs):
        report(violation, None)


def _protected_stateful(args: StackValidationArgs, report: ReportViolation) -> None:
    if not _stack_is_prod(args):
        return
    for resource in args.resources:
        kind = resource.resource_type.rsplit(":", 1)[-1]
        if _is_kubernetes(resource.resource_type) and kind in rules.STATEFUL_KINDS and not resource.opts.protect:
            report(f"{kind} {resource.name} holds data but is not protected (protect=True)", resource.urn)


POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name=name,
        description=(check.__doc__ or name).strip().splitlines()[0],
        validate=_per_object(check),
        enforcement_level=EnforcementLevel.ADVISORY if name in ADVISORY_IN_DEV else EnforcementLevel.MANDATORY,
    )
    for name, check in rules.PER_OBJECT.items()
]
POLICIES += [
    StackValidationPolicy(
        name="prod-availability",
        description="Prod Deployments and StatefulSets run at least 2 replicas behind a PodDisruptionBudget.",
        validate=_prod_availability,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="network-policy-per-namespace",
        description="Every namespace the stack creates has a NetworkPolicy.",
        validate=_network_policies,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="prod-stateful-protected",
        description="Prod brokers, node pools, topics, streams and PVCs are protected against deletion.",
        validate=_protected_stateful,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]

if __name__ == "__main__":
    PolicyPack(name="event-platform", enforcement_level=EnforcementLevel.ADVISORY, policies=POLICIES)
