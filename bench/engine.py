"""Wall time of the stacks through the real engine, against the engine's own floor.

    python -m bench.engine            (make bench runs it too)

- preview: `pulumi preview --stack prod` in render mode (what `make preview` runs without a
  kubeconfig), in a throw-away copy of the project and backend;
- render: `make render STACK=prod` (scripts/render.sh: an `up` in render mode plus the checks);
- floor: a program that registers as many resources as prod (plain ConfigMaps, same provider in
  render mode), previewed and then `up`-ed, on the same machine in the same run.

The ratios say how much the platform costs beyond the engine's per-resource minimum; the mock
evaluation time (bench/stack_evaluation.py) says how much of that is the Python program itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import sections
from tests.engine.conftest import project_environment

REPO = Path(__file__).resolve().parents[1]
STACK = "prod"
FLOOR_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

provider = k8s.Provider("render", render_yaml_to_directory="out")
for i in range({count}):
    k8s.core.v1.ConfigMap(f"floor-{{i}}", metadata={{"name": f"floor-{{i}}", "namespace": "floor"}},
                          data={{"key": "value"}}, opts=pulumi.ResourceOptions(provider=provider))
"""


def project_env(work: Path) -> dict[str, str]:
    env = project_environment()
    env.pop("KUBECONFIG", None)
    (work / "home").mkdir(parents=True, exist_ok=True)
    (work / "state").mkdir(exist_ok=True)
    env.update(HOME=str(work / "home"), PULUMI_BACKEND_URL=f"file://{work / 'state'}",
               PULUMI_CONFIG_PASSPHRASE="bench-only", EVENTPLATFORM_TARGET="render", PULUMI_SKIP_CHECKPOINTS="true")
    return env


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def stack_preview(work: Path, env: dict[str, str]) -> tuple[float, int]:
    project = work / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", f"Pulumi.{STACK}.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    (project / ".venv").symlink_to(REPO / ".venv")
    subprocess.run(["pulumi", "stack", "init", STACK], cwd=project, env=env, check=True, capture_output=True)
    seconds, out = timed(["pulumi", "preview", "--stack", STACK, "--non-interactive", "--json"], project, env)
    return seconds, len(json.loads(out)["steps"])


def render(work: Path, env: dict[str, str]) -> float:
    render_env = {k: v for k, v in env.items()
                  if k not in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "EVENTPLATFORM_TARGET")}
    render_env["EVENTPLATFORM_RENDER_ROOT"] = str(work / "rendered")
    seconds, _ = timed(["bash", "scripts/render.sh", STACK], REPO, render_env)
    return seconds


def floor(work: Path, env: dict[str, str], count: int) -> tuple[float, float]:
    project = work / "floor"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: floor\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / '.venv'}\n")
    (project / "__main__.py").write_text(FLOOR_PROGRAM.format(count=count))
    subprocess.run(["pulumi", "stack", "init", "floor"], cwd=project, env=env, check=True, capture_output=True)
    preview, _ = timed(["pulumi", "preview", "--stack", "floor", "--non-interactive"], project, env)
    up, _ = timed(["pulumi", "up", "--stack", "floor", "--yes", "--skip-preview", "--non-interactive"], project, env)
    return preview, up


def markdown(r: dict[str, Any], when: str) -> str:
    return "\n".join([
        "## The stacks through the engine",
        "",
        f"Measured {when} by `python -m bench.engine` ({r['cpus']} CPUs, 1-minute load average "
        f"{r['load_average'][0]} before and {r['load_average'][1]} after, render mode, no cluster; the prod "
        f"stack plans {r['resources']} resources).",
        "",
        "| run | seconds | engine floor (same resource count) | ratio |",
        "|---|---:|---:|---:|",
        f"| `pulumi preview` of prod (`make preview` without a kubeconfig) | {r['preview_s']} | "
        f"{r['floor_preview_s']} | {r['preview_to_floor']} |",
        f"| `make render STACK=prod` (`up` in render mode + checks) | {r['render_s']} | {r['floor_up_s']} | "
        f"{r['render_to_floor']} |",
        "",
        "Where the time goes: the floor is the engine's own cost per resource (plan, provider check, "
        "render). Above it, a preview pays for the Python program (bench/stack_evaluation.py: about 2 s "
        "under the mock monitor), the provider templating seven charts, and the size of the objects: the "
        "render holds 54 CRDs of up to 0.8 MB each, which every step serialises between program, engine "
        "and provider. A render adds writing 500+ files and the state once (about 17 MB), then "
        "`event_platform.policy.check_render` (schema validation of every object against Kubernetes' or its CRD's "
        "schema).",
    ])


def main() -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        work = Path(tmp)
        env = project_env(work)
        preview_s, steps = stack_preview(work, env)
        render_s = render(work, env)
        floor_preview_s, floor_up_s = floor(work, env, steps)
    results = {
        "stack": STACK, "resources": steps, "cpus": os.cpu_count(),
        "preview_s": round(preview_s, 1), "render_s": round(render_s, 1),
        "floor_preview_s": round(floor_preview_s, 1), "floor_up_s": round(floor_up_s, 1),
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "preview_to_floor": round(preview_s / floor_preview_s, 2), "render_to_floor": round(render_s / floor_up_s, 2),
    }
    print(f"engine ({STACK}, {steps} resources): preview {preview_s:.1f}s vs floor {floor_preview_s:.1f}s "
          f"(x{results['preview_to_floor']}); render {render_s:.1f}s vs floor up {floor_up_s:.1f}s "
          f"(x{results['render_to_floor']})")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine.json").write_text(json.dumps(results, indent=2) + "\n")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sections.README.write_text(sections.replace(sections.README.read_text(), "engine", markdown(results, when)))
    return results


if __name__ == "__main__":
    main()
