"""Upgrading this package leaves a platform's resources in place.

Each stack is `pulumi up`'d in render mode with the previous release of the package (the commit
UPGRADE_BASE_COMMIT in versions.env, exported with `git archive`), then the current code is put
into the same project folder over the same backend and stack and previewed: the preview may
create and update, but it must not replace or delete anything. A resource whose name or type
changed on purpose keeps its state only through an alias; INTENDED_RENAMES lists those, and
the test checks that each one is carried over by its alias rather than recreated.

The previous release runs on the checkout's virtualenv (its own code, today's pinned SDKs): the
test is about this package's resource names, types and inputs, not about SDK upgrades.
Measured on a shared 2-core machine: dev 3.6 min at load average 5; dev 8.4 and prod 9.2 min
at load average 10-14 (the preview of 544/620 unchanged resources is the longer half).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine.conftest import REPO, pulumi

pytestmark = [pytest.mark.engine, pytest.mark.timeout(3000)]

# Steps that would take a running platform's resource away or swap it for a new one.
DESTRUCTIVE_OPS = {"replace", "create-replacement", "delete-replaced", "delete", "discard-replaced"}
# Renames made on purpose since UPGRADE_BASE_COMMIT, as "type::name" of the old URN -> of the new
# one. Each needs an alias in the code; the test proves the alias by the new URN's step not
# being a create. Empty: nothing has been renamed since the base commit.
INTENDED_RENAMES: dict[str, str] = {}


def base_commit() -> str:
    for line in (REPO / "versions.env").read_text().splitlines():
        if line.startswith("UPGRADE_BASE_COMMIT="):
            return line.split("=", 1)[1].strip()
    pytest.fail("versions.env has no UPGRADE_BASE_COMMIT=<commit of the previous release>", pytrace=False)


def export_commit(commit: str, into: Path) -> None:
    """The tree of `commit` as files, or a failure that says how to get the commit."""
    present = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO, capture_output=True)
    if present.returncode != 0:
        pytest.fail(
            f"the upgrade base commit {commit} (versions.env UPGRADE_BASE_COMMIT) is not in this clone "
            f"(a shallow clone?): fetch it with `git fetch --unshallow` or `git fetch origin {commit}`",
            pytrace=False)
    into.mkdir(parents=True)
    archive = into.parent / "previous-release.tar"
    subprocess.run(["git", "archive", "--format=tar", f"--output={archive}", commit], cwd=REPO, check=True)
    subprocess.run(["tar", "-xf", str(archive), "-C", str(into)], check=True)
    archive.unlink()


def copy_current_code(into: Path) -> None:
    """The checkout's files as they are now (committed or not, ignored files left out)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    into.mkdir(parents=True)
    for name in filter(None, listed.split("\0")):
        source, target = REPO / name, into / name
        if source.is_symlink():  # event_platform/infra -> ../infra: the package maps the folders
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def urn_key(urn: str) -> str:
    """"type::name" of a URN (urn:pulumi:<stack>::<project>::<type chain>::<name>), the parent
    chain reduced to the resource's own type."""
    type_chain, name = urn.split("::")[2:4]
    return f"{type_chain.rsplit('$', 1)[-1]}::{name}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_current_code_previews_over_the_previous_releases_state_without_replacing_anything(
        engine_env: dict[str, str], tmp_path: Path, stack: str) -> None:
    commit = base_commit()
    project = tmp_path / "project"
    render_root = tmp_path / "rendered"
    export_commit(commit, project)
    env = {
        **engine_env,
        "EP_TEST_PROJECT": str(project),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        # The program's own folder first: the virtualenv's editable install of this package points
        # at the checkout, which must not stand in for the previous release's code.
        "PYTHONPATH": str(project),
        # As in scripts/render.sh: the state of a render is written once, at the end.
        "PULUMI_SKIP_CHECKPOINTS": "true",
    }
    (project / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "state").mkdir()
    started = time.monotonic()
    pulumi(env, "stack", "init", stack, "--secrets-provider", "passphrase")
    pulumi(env, "config", "set", "--stack", stack, "--path", "platform.render_directory", str(render_root))
    pulumi(env, "up", "--stack", stack, "--yes", "--non-interactive", "--skip-preview", "--suppress-progress")
    up_seconds = time.monotonic() - started
    deployment = json.loads(pulumi(env, "stack", "export", "--stack", stack).stdout)["deployment"]
    before = {r["urn"] for r in deployment["resources"] if not r["type"].startswith("pulumi:providers:")}
    assert len(before) > 50, f"the previous release's {stack} state holds only {len(before)} resources"

    # The current code into the same folder: same backend, same stack (its passphrase salt kept).
    stack_file = project / f"Pulumi.{stack}.yaml"
    salt = [line for line in stack_file.read_text().splitlines() if line.startswith("encryptionsalt:")]
    shutil.rmtree(project)
    copy_current_code(project)
    (project / ".venv").symlink_to(REPO / ".venv")
    stack_file.write_text("\n".join([*salt, stack_file.read_text()]))
    pulumi(env, "config", "set", "--stack", stack, "--path", "platform.render_directory", str(render_root))
    started = time.monotonic()
    # --show-sames: the JSON lists every resource, so the test can see that none went missing.
    preview = json.loads(pulumi(env, "preview", "--stack", stack, "--json", "--show-sames",
                                "--non-interactive").stdout)
    print(f"{stack}: up of {commit[:12]} in {up_seconds:.0f} s, preview of the current code in "
          f"{time.monotonic() - started:.0f} s: {preview['changeSummary']}")

    steps = preview["steps"]
    destructive = sorted(f"{s['op']} {s['urn']}" for s in steps if s["op"] in DESTRUCTIVE_OPS)
    assert not destructive, f"upgrading {stack} from {commit[:12]} would replace or delete:\n" + "\n".join(destructive)
    ops = {s["urn"]: s["op"] for s in steps}
    by_key = {urn_key(urn): urn for urn in ops}
    for old, new in INTENDED_RENAMES.items():
        assert any(urn_key(urn) == old for urn in before), f"{old} is not in the previous release's state"
        assert new in by_key, f"the renamed {new} is not in the preview"
        assert ops[by_key[new]] != "create", f"{new} would be created anew: its alias to {old} is missing"
    # Every resource of the previous release is still there (kept, updated, or renamed by alias).
    # A resource moved under a new parent by an alias keeps its type and name: its step carries the
    # new URN, and the state it continues is the old one's.
    renamed = set(INTENDED_RENAMES)
    continued = {s.get("oldState", {}).get("urn") for s in steps if s["op"] != "create"}
    moved = {urn_key(urn) for urn, op in ops.items() if op != "create"}
    missing = sorted(urn for urn in before if urn not in ops and urn not in continued
                     and urn_key(urn) not in renamed | moved)
    assert not missing, f"resources of the previous release missing from the preview: {missing}"
