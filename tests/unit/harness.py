"""A reusable Pulumi mock-monitor harness: runs a program and records what it registers."""

from __future__ import annotations

import asyncio
import json
import runpy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import wait_for_rpcs

REPO = Path(__file__).resolve().parents[2]
HELM_TEMPLATE = "kubernetes:helm:template"


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    parent: str | None = None
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def kind(self) -> str:
        return str(self.inputs.get("kind", ""))

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.inputs.get("spec") or {})

    @property
    def object_name(self) -> str:
        return str((self.inputs.get("metadata") or {}).get("name", ""))


@dataclass(frozen=True)
class Registration:
    """What the engine identifies a resource by: its URN (type chain + name), its parent's URN and
    the URNs it says it was known by before (aliases). A changed URN without an alias to the old
    one is a delete and a create: for a broker or a volume, a replacement."""

    urn: str
    type: str
    name: str
    parent: str  # the parent's URN; "" for the stack's direct children (providers)
    custom: bool
    read: bool  # `Resource.get`: read from the cluster, never created or replaced
    alias_specs: tuple[tuple[str, str, str | None], ...] = ()  # (name, type, parent URN or None = current)
    alias_urns: tuple[str, ...] = ()


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping each registration's URN, parent and aliases."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:
        # Registrations arrive on several threads; each calls new_resource on its own thread.
        self.recorder.pending.options = (bool(request.protect), bool(request.retainOnDelete))
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            specs, urns = [], [*request.aliasURNs]
            for alias in request.aliases:
                if alias.HasField("spec"):
                    spec = alias.spec
                    parent = "" if spec.noParent else (spec.parentUrn or None)
                    specs.append((spec.name or request.name, spec.type or request.type, parent))
                else:
                    urns.append(alias.urn)
            self._keep(request, response.urn, read=False, specs=tuple(specs), urns=tuple(urns))
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        self._keep(request, response.urn, read=True)
        return response

    def _keep(self, request: Any, urn: str, *, read: bool, specs: tuple[tuple[str, str, str | None], ...] = (),
              urns: tuple[str, ...] = ()) -> None:
        self.recorder.registrations[urn] = Registration(
            urn=urn, type=request.type, name=request.name, parent=request.parent,
            custom=bool(getattr(request, "custom", True)), read=read, alias_specs=specs, alias_urns=urns)


@dataclass
class Recorder(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    # Every registration by URN (RecordingMonitor): what the resource-name snapshot compares.
    registrations: dict[str, Registration] = field(default_factory=dict)
    # What the program returned, with every Output resolved to (value, is_secret).
    results: dict[str, tuple[Any, bool]] = field(default_factory=dict)
    # What a StackReference reads: the referenced stack's outputs, answered at the boundary.
    stack_outputs: dict[str, Any] = field(default_factory=dict)
    # What reading an existing object (`Resource.get`) finds, by id: the cluster's answer.
    existing: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Which of those the referenced stack exported as secrets (the engine reports their names).
    secret_stack_outputs: list[str] = field(default_factory=list)
    # (protect, retain_on_delete) of the registration this thread is making (RecordingMonitor).
    pending: threading.local = field(default_factory=threading.local)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        protect, retain = getattr(self.pending, "options", (False, False))
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), args.provider,
                                         protect=protect, retain_on_delete=retain))
        outputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = {"name": args.inputs.get("name", args.name), "outputs": self.stack_outputs,
                       "secretOutputNames": self.secret_stack_outputs}
        if args.resource_id and args.resource_id in self.existing:
            outputs.update(self.existing[args.resource_id])
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = "generated-" + args.name
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        # A helm.v3.Chart asks the provider to template it; record what it asked for (release,
        # chart, values) and answer with no objects: the engine tests template for real.
        if args.token == HELM_TEMPLATE:
            opts = json.loads(args.args["jsonOpts"])
            self.resources.append(Registered(HELM_TEMPLATE, opts["release_name"], opts, args.provider or ""))
        return {}

    # --- queries tests read like specifications -------------------------------------
    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def chart(self, release: str) -> Registered:
        """The template request of the chart released as ``release``; ``inputs`` holds its options."""
        (found,) = [r for r in self.of_type(HELM_TEMPLATE) if r.name == release]
        return found

    def custom(self, kind: str) -> list[Registered]:
        # CustomResource registers under the type token kubernetes:<apiVersion>:<Kind>.
        return [r for r in self.resources if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")
                and "apiVersion" in r.inputs]

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]

    def __iter__(self) -> Iterator[Registered]:
        return iter(self.resources)


def run(build: Callable[[], Any], *, stack: str = "dev", config: dict[str, Any] | None = None,
        recorder: Recorder | None = None, project: str = "event-platform") -> Recorder:
    """Run ``build`` under the mock monitor and wait until every registration has finished.

    Pass your own ``recorder`` to inspect what was registered when ``build`` raises.
    """
    recorder = recorder if recorder is not None else Recorder()
    # The SDK binds its futures to the current event loop when mocks are installed.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # A fresh root stack per run: the previous run's belongs to a closed loop.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(recorder, project=project, stack=stack, preview=False,
                             monitor=RecordingMonitor(recorder))
    pulumi.runtime.set_all_config(
        {(k if ":" in k else f"{project}:{k}"): _config_text(v) for k, v in (config or {}).items()})
    try:
        try:
            built = build()
        except BaseException:
            # Let the registrations already queued (the root stack) finish, so the next run
            # in this process starts clean.
            loop.run_until_complete(wait_for_rpcs())
            raise
        try:
            loop.run_until_complete(wait_for_rpcs())
        except BaseException:
            # A failed apply leaves the other outputs' tasks queued on this loop: finish them here,
            # or the next run awaits them on a closed loop.
            _drain(loop)
            raise
        if isinstance(built, dict):
            for key, value in built.items():
                recorder.results[key] = loop.run_until_complete(_resolve(value))
    finally:
        loop.close()
    return recorder


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    from pulumi.runtime.settings import SETTINGS

    while SETTINGS.outputs:
        pending = list(SETTINGS.outputs)
        SETTINGS.outputs.clear()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


async def _resolve(value: Any) -> tuple[Any, bool]:
    output = pulumi.Output.from_input(value)
    return await output.future(), bool(await output.is_secret())


def run_stack(stack: str, config: dict[str, Any] | None = None, recorder: Recorder | None = None) -> Recorder:
    """Run the real stack program (__main__.py) with the stack file's config (plus overrides)."""
    import yaml

    stack_file = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {key.split(":", 1)[1]: value for key, value in stack_file.items()}
    values.update(config or {})
    return run(lambda: runpy.run_path(str(REPO / "__main__.py")), stack=stack, config=values, recorder=recorder)


def _config_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's marker of a secret value on the wire


def reveal(value: Any) -> Any:
    """`value` with every secret envelope the monitor saw replaced by what it wraps."""
    if isinstance(value, dict):
        if SECRET_SIG in value.values() and "value" in value:
            return reveal(value["value"])
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value
