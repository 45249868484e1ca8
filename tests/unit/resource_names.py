"""Names are a contract: every resource's URN in both stacks, checked in under resource_names/.

A resource's URN is its type chain (the types of its parents, then its own) and its name. If a
change to the code gives a resource another URN, the engine deletes the old one and creates the
new one: for a broker, a topic or a volume, a replacement. The snapshot makes such a change fail
tests/unit/test_resource_names.py unless the resource carries an alias to its old URN.

Regenerate after adding resources on purpose (or once a rename carries its alias):

    make snapshot        # = python -m tests.unit.resource_names

A URN that a rename left behind stays in the file, marked ``(former)``, for as long as an alias
reaches it: stacks deployed before the rename still hold resources under it, so dropping the
alias fails the test like the rename itself would have.

The URNs are computed the way the engine computes them (the whole parent type chain, without the
stack's own type), not the way the SDK's mock monitor abbreviates them (only the parent's type).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.unit.harness import REPO, Recorder, Registration

SNAPSHOTS = REPO / "tests" / "unit" / "resource_names"
STACKS = ("dev", "prod")
REGENERATE = "make snapshot  (python -m tests.unit.resource_names)"


@dataclass(frozen=True)
class Entry:
    key: str  # the URN without "urn:pulumi:<stack>::<project>::": "<type chain>::<name>"
    parent: str  # the parent's name, "-" for a child of the stack
    read: bool  # read with `Resource.get`, never created by the stack
    former: bool = False  # no longer the URN of a resource, but an alias of one reaches it

    def line(self) -> str:
        return f"{self.key}  parent={self.parent}" + ("  (read)" if self.read else "") + (
            "  (former)" if self.former else "")

    @staticmethod
    def parse(line: str) -> Entry:
        key, rest = line.split("  parent=", 1)
        parent, *flags = rest.split("  ")
        return Entry(key, parent, "(read)" in flags, "(former)" in flags)


class Names:
    """The registrations of one program run, keyed the way the engine keys them."""

    def __init__(self, registrations: Mapping[str, Registration]) -> None:
        self.registrations = registrations

    def _parent(self, registration: Registration) -> Registration | None:
        return self.registrations.get(registration.parent)

    def qualified_type(self, registration: Registration) -> str:
        parent = self._parent(registration)
        return f"{self.qualified_type(parent)}${registration.type}" if parent else registration.type

    def key(self, registration: Registration) -> str:
        return f"{self.qualified_type(registration)}::{registration.name}"

    def entries(self) -> list[Entry]:
        entries = []
        for registration in self.registrations.values():
            parent = self._parent(registration)
            entries.append(Entry(self.key(registration), parent.name if parent else "-", registration.read))
        return sorted(entries, key=lambda entry: entry.key)

    def alias_keys(self, registration: Registration) -> set[str]:
        """Every earlier URN the engine would match this resource with: its own aliases, and its
        current type and name under each earlier URN of its parent (the engine's child aliases)."""
        parent = self._parent(registration)
        parent_types = {""}
        if parent is not None:
            parent_types = {self.qualified_type(parent)} | {key.rsplit("::", 1)[0] for key in self.alias_keys(parent)}
        keys = {_join(prefix, registration.type, registration.name) for prefix in parent_types}
        for name, type_, parent_urn in registration.alias_specs:
            if parent_urn is None:
                prefixes = parent_types
            elif parent_urn == "" or parent_urn not in self.registrations:
                prefixes = {_urn_key(parent_urn).rsplit("::", 1)[0]} if parent_urn else {""}
            else:
                prefixes = {self.qualified_type(self.registrations[parent_urn])}
            keys |= {_join(prefix, type_, name) for prefix in prefixes}
        keys |= {_urn_key(urn) for urn in registration.alias_urns}
        keys.discard(self.key(registration))
        return keys


def _join(parent_type: str, type_: str, name: str) -> str:
    return f"{parent_type}${type_}::{name}" if parent_type else f"{type_}::{name}"


def _urn_key(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type chain>::<name> → <type chain>::<name>."""
    return urn.split("::", 2)[2]


def snapshot_path(stack: str) -> Path:
    return SNAPSHOTS / f"{stack}.txt"


def render(entries: list[Entry]) -> str:
    return "".join(f"{entry.line()}\n" for entry in entries)


def read_snapshot(stack: str) -> list[Entry]:
    text = snapshot_path(stack).read_text(encoding="utf-8")
    return [Entry.parse(line) for line in text.splitlines() if line and not line.startswith("#")]


def header(stack: str) -> str:
    return (f"# Every resource of the {stack} stack: <type chain>::<name>  parent=<parent's name>.\n"
            f"# A line that disappears is a resource the engine would delete or replace. Regenerate: {REGENERATE}\n")


def problems(stack: str, recorder: Recorder) -> str | None:
    """None when the program's resources match the snapshot; otherwise what changed, readably."""
    names = Names(recorder.registrations)
    current = {entry.key: entry for entry in names.entries()}
    snapshot = read_snapshot(stack)
    expected = {entry.key: entry for entry in snapshot}
    aliased = _aliased(names)
    replaced = [key for key in expected if key not in current and key not in aliased]
    renamed = {key: aliased[key] for key in expected if key not in current and key in aliased}
    added = [key for key in current if key not in expected and key not in renamed.values()]
    moved = [key for key in expected if key in current and current[key] != expected[key]]
    if not (replaced or added or moved):
        return None
    report = [f"the {stack} stack's resources differ from {snapshot_path(stack).relative_to(REPO)}:"]
    if replaced:
        report.append(f"{len(replaced)} resource(s) would be deleted or replaced (no resource has an alias to them); "
                      "give the renamed resource `aliases=[pulumi.Alias(...)]` with its old name/type/parent, "
                      "or, if the deletion is intended, regenerate:")
        report += [f"  - {key}" for key in replaced]
    if added:
        report.append(f"{len(added)} new resource(s); if intended, regenerate:")
        report += [f"  + {key}" for key in added]
    if moved:
        report.append("same URN, other parent or read mode:")
        report += [f"  {expected[key].line()}  →  {current[key].line()}" for key in moved]
    diff = difflib.unified_diff(render(snapshot).splitlines(), render(_with_former(names, snapshot)).splitlines(),
                                "snapshot", "program", lineterm="", n=0)
    report += ["", "diff:", *diff, "", f"regenerate with: {REGENERATE}"]
    return "\n".join(report)


def _aliased(names: Names) -> dict[str, str]:
    """Every earlier URN an alias reaches → the URN of the resource that carries the alias."""
    return {key: names.key(reg) for reg in names.registrations.values() for key in names.alias_keys(reg)}


def _with_former(names: Names, previous: list[Entry]) -> list[Entry]:
    """The program's entries, plus the previous snapshot's URNs that only an alias still reaches."""
    current = names.entries()
    keys, aliased = {entry.key for entry in current}, _aliased(names)
    former = [Entry(entry.key, entry.parent, entry.read, former=True)
              for entry in previous if entry.key not in keys and entry.key in aliased]
    return sorted([*current, *former], key=lambda entry: entry.key)


def write(stack: str, recorder: Recorder) -> Path:
    path = snapshot_path(stack)
    previous = read_snapshot(stack) if path.exists() else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header(stack) + render(_with_former(Names(recorder.registrations), previous)), encoding="utf-8")
    return path


def main() -> int:
    # The same offline, upstream-artifact evaluation the unit tests use (tests/unit/conftest.py).
    from tests.unit import conftest

    for stack in STACKS:
        path = write(stack, conftest.evaluate(stack))
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
