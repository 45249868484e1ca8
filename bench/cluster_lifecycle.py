"""Wall time of the dev platform's lifecycle on the local cluster (kwok): `pulumi up` (create),
the no-change `pulumi preview`, and `pulumi destroy`, with the resource count and the slowest
resources of the create (from the engine's event log: first event to outputs, per resource).

Run with `python -m bench.cluster_lifecycle`; `make bench` runs it with the other benchmarks.
A private cluster (own state folder and port) and a throw-away backend: nothing of yours is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import sections
from tests.engine.conftest import project_environment

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py")
SLOWEST = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(env: dict[str, str], cwd: Path, *args: str, stdout_to: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    if stdout_to is not None:
        stdout_to.write_text(result.stdout)
    return time.perf_counter() - started


def slowest(event_log: Path) -> tuple[int, list[tuple[str, float]]]:
    """Resources created and the slowest ones: resourcePreEvent → resOutputsEvent per URN."""
    began: dict[str, float] = {}
    took: dict[str, float] = {}
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        stamp = event.get("timestamp", 0)
        for key, into in (("resourcePreEvent", began), ("resOutputsEvent", took)):
            meta = event.get(key, {}).get("metadata")
            if meta and meta.get("op") == "create":
                urn = meta["urn"]
                if into is began:
                    began.setdefault(urn, stamp)
                elif urn in began:
                    took[urn] = stamp - began[urn]
    named = sorted(((urn.split("::")[-1], seconds) for urn, seconds in took.items()), key=lambda x: -x[1])
    return len(took), named[:SLOWEST]


def measure() -> dict[str, Any]:
    base = project_environment()
    with tempfile.TemporaryDirectory(prefix="ep-bench-cluster-") as tmp:
        root = Path(tmp)
        project = root / "project"
        project.mkdir()
        for name in PROJECT_FILES:
            shutil.copy(REPO / name, project / name)
        (project / ".venv").symlink_to(REPO / ".venv")
        (root / "state").mkdir()
        env = {**base, "CLUSTER_STATE": str(root / "cluster"), "CLUSTER_API_PORT": str(free_port()),
               "KUBECONFIG": str(root / "cluster" / "kubeconfig"), "KUBECACHEDIR": str(root / "cluster" / "cache"),
               "KWOK_WORKDIR": str(root / "cluster" / "kwok"), "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
               "PULUMI_CONFIG_PASSPHRASE": "bench-only", "EVENTPLATFORM_TARGET": "local",
               "EVENTPLATFORM_MIRROR": os.environ.get("EVENTPLATFORM_MIRROR")
               or str(REPO.parent / "shared" / "mirror")}
        cluster = REPO / "scripts" / "cluster"
        result: dict[str, Any] = {}
        try:
            result["cluster_up_s"] = run(env, REPO, str(cluster / "up.sh"))
            run(env, project, "pulumi", "stack", "init", "dev", "--secrets-provider", "passphrase")
            log = root / "up-events.jsonl"
            # `up --json` streams the engine's events, one JSON object per line, with timestamps.
            result["up_create_s"] = run(env, project, "pulumi", "up", "--stack", "dev", "--yes", "--skip-preview",
                                        "--non-interactive", "--json", stdout_to=log)
            result["resources"], result["slowest"] = slowest(log)
            result["preview_no_change_s"] = run(env, project, "pulumi", "preview", "--stack", "dev",
                                                "--non-interactive", "--expect-no-changes")
            result["destroy_s"] = run(env, project, "pulumi", "destroy", "--stack", "dev", "--yes",
                                      "--skip-preview", "--non-interactive")
        finally:
            result["cluster_down_s"] = run(env, REPO, str(cluster / "down.sh"))
    return result


def markdown(r: dict[str, Any], when: str) -> str:
    rows = "\n".join(f"| {name} | {seconds:.0f} |" for name, seconds in r["slowest"])
    return "\n".join([
        "## The dev platform on the local cluster",
        "",
        f"Measured {when} by `python -m bench.cluster_lifecycle` ({r['cpus']} CPUs, 1-minute load average "
        f"{r['load_average'][0]} before and {r['load_average'][1]} after): `make cluster-up`'s kwok cluster, "
        f"`EVENTPLATFORM_TARGET=local`, a file backend with checkpoints (as `make up` runs); "
        f"{r['resources']} resources created.",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| cluster up (API server, 3 simulated nodes, 40 volumes) | {r['cluster_up_s']:.0f} |",
        f"| `pulumi up` (create) | {r['up_create_s']:.0f} |",
        f"| `pulumi preview --expect-no-changes` | {r['preview_no_change_s']:.0f} |",
        f"| `pulumi destroy` | {r['destroy_s']:.0f} |",
        f"| cluster down | {r['cluster_down_s']:.0f} |",
        "",
        "The slowest resources of the create (first engine event to outputs; the engine's clock "
        "counts whole seconds):",
        "",
        "| resource | seconds |",
        "|---|---:|",
        rows,
    ])


def main() -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    result = measure()
    result.update(cpus=os.cpu_count(), load_average=[round(load_before, 1), round(os.getloadavg()[0], 1)])
    print(f"dev platform on the local cluster: {result['resources']} resources created")
    for key in ("cluster_up_s", "up_create_s", "preview_no_change_s", "destroy_s", "cluster_down_s"):
        print(f"  {key:<22} {result[key]:>7.1f} s")
    print("  slowest resources of the create:")
    for name, seconds in result["slowest"]:
        print(f"    {seconds:>6.1f} s  {name}")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster_lifecycle.json").write_text(json.dumps(result, indent=2) + "\n")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sections.README.write_text(sections.replace(sections.README.read_text(), "cluster_lifecycle",
                                                markdown(result, when)))
    return result


if __name__ == "__main__":
    main()
