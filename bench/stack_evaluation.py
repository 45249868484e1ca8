"""How long each stack program takes to evaluate under the mock monitor (target: < 2 s each).

Run with `python -m bench.stack_evaluation`; `make bench` runs it with the other benchmarks.
Each stack is evaluated several times in one process; the first run includes imports.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from tests.unit.harness import run_stack

TARGET_SECONDS = 2.0
RUNS = 5


def measure(stack: str) -> dict[str, float | int]:
    timings = []
    resources = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        recorder = run_stack(stack)
        timings.append(time.perf_counter() - started)
        resources = len(recorder.resources)
    return {"first_s": timings[0], "median_s": statistics.median(timings), "max_s": max(timings),
            "resources": resources}


def main() -> dict[str, dict[str, float | int]]:
    results = {stack: measure(stack) for stack in ("dev", "prod")}
    print(f"{'stack':<6} {'first':>8} {'median':>8} {'max':>8} {'resources':>10}  target < {TARGET_SECONDS:.0f} s")
    for stack, r in results.items():
        verdict = "ok" if r["max_s"] < TARGET_SECONDS else "SLOW"
        print(f"{stack:<6} {r['first_s']:>7.2f}s {r['median_s']:>7.2f}s {r['max_s']:>7.2f}s "
              f"{r['resources']:>10}  {verdict}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "stack_evaluation.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
