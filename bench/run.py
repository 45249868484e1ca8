"""Benchmark: the runtime's producer and consumer vs a plain kafka-python loop vs Kafka's Java tools.

    .venv/bin/python -m bench.run [--quick]        (`make bench` runs it via bench/__main__.py)

Starts a private Kafka broker (scripts/brokers/kafka.sh install first), measures
  - producer throughput: runtime EventPublisher vs plain KafkaProducer loop (same settings),
  - consumer throughput: runtime Processor vs plain KafkaConsumer poll/commit loop,
  - end-to-end latency p50/p99 at a steady rate, both paths,
  - the ceiling: ProducerPerformance, ConsumerPerformance and EndToEndLatency (Java),
prints a table and writes JSON to bench/results/. The Python paths run in paired rounds (the
producers interleaved in chunks of 1,000 events, the consumers back to back, order swapped each
time); rates are medians over rounds and the ratios medians of the per-round ratios, so
background load on the machine falls on both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kafka.admin import KafkaAdminClient  # noqa: E402

from bench import loops  # noqa: E402
from bench.phases import Phases  # noqa: E402
from event_platform.apps.runtime.settings import KafkaSettings  # noqa: E402
from scripts.brokers.local_kafka import LocalKafka  # noqa: E402

RESULTS = REPO / "bench" / "results"
PRODUCER_TARGET, CONSUMER_TARGET = 0.9, 0.8


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Bench:
    def __init__(self, broker: LocalKafka, quick: bool) -> None:
        self.broker = broker
        self.settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        self.rounds = 2 if quick else 4  # the median of 4 is the mean of the middle two
        self.events = 4_000 if quick else 8_000
        self.consumer_events = 2 * self.events
        self.rate, self.latency_events = 500, 800 if quick else 1_000
        self.java_events = 60_000 if quick else 80_000  # ceiling rows only (120k took 14 s)
        self.admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        self._topics = 0
        self.phases = Phases()

    def topic(self, partitions: int = 3) -> str:
        self._topics += 1
        name = f"bench-{self._topics}"
        self.admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}},
                                 wait_for_metadata=True)
        return name

    def producers(self) -> dict[str, list[loops.Run]]:
        results: dict[str, list[loops.Run]] = {"plain": [], "runtime": []}
        for _ in range(self.rounds):
            plain, runtime = loops.produce_interleaved(self.settings, self.topic(), self.topic(), self.events)
            results["plain"].append(plain)
            results["runtime"].append(runtime)
        return results

    def consumers(self) -> dict[str, list[loops.Run]]:
        """One topic, filled once by the runtime with twice the producer rounds' events (a longer
        window: a one-off stall in a ~1 s run moved its ratio by 0.2); every round each path
        reads all of it in a fresh consumer group, first reader swapped every round. The plain
        loop json-decodes each value."""
        topic = self.topic()
        loops.produce_runtime(self.settings, topic, self.consumer_events)
        results: dict[str, list[loops.Run]] = {"plain": [], "runtime": []}
        readers = {"plain": loops.consume_plain, "runtime": loops.consume_runtime}
        for round_number in range(self.rounds):
            order = ["plain", "runtime"] if round_number % 2 == 0 else ["runtime", "plain"]
            for name in order:
                results[name].append(readers[name](self.settings, topic, self.consumer_events))
        return results

    def latencies(self) -> dict[str, loops.Run]:
        warmup = self.latency_events // 10  # the first events also pay for connection set-up
        runs = {
            "plain": loops.latency_plain(self.settings, self.topic(), self.rate, self.latency_events),
            "runtime": loops.latency_runtime(self.settings, self.topic(), self.rate, self.latency_events),
        }
        for run in runs.values():
            run.latencies_ms = run.latencies_ms[warmup:]
        return runs

    def java(self) -> dict[str, dict[str, float]]:
        topic = self.topic()
        durable = ["acks=all", "enable.idempotence=true", "linger.ms=5"]
        produced = self._tool("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records",
                              str(self.java_events), "--record-size", "200", "--throughput", "-1",
                              "--command-property", *durable)
        last = [line for line in produced.splitlines() if "records sent" in line][-1]
        numbers = [float(n) for n in re.findall(r"([\d.]+) (?:records/sec|ms)", last)]
        consumed = self._tool("org.apache.kafka.tools.ConsumerPerformance", "--topic", topic, "--num-records",
                              str(self.java_events), "--timeout", "60000",
                              "--command-property", "isolation.level=read_committed")
        header, row = [line for line in consumed.splitlines() if line.strip()][-2:]
        fields = dict(zip([h.strip() for h in header.split(",")], [v.strip() for v in row.split(",")], strict=False))
        latency = self._tool("org.apache.kafka.tools.EndToEndLatency", "--topic", self.topic(1), "--num-records",
                             str(self.latency_events), "--producer-acks", "all", "--record-size", "200")
        p50 = re.search(r"50th = ([\d.]+)", latency)
        p99 = re.search(r"99th = ([\d.]+)", latency)
        return {
            "producer": {"rate": numbers[0], "p50_ms": numbers[3], "p99_ms": numbers[5]},
            "consumer": {"rate": float(fields.get("fetch.nMsg.sec") or fields["nMsg.sec"])},
            "latency": {"p50_ms": float(p50.group(1)) if p50 else float("nan"),
                        "p99_ms": float(p99.group(1)) if p99 else float("nan")},
        }

    def _tool(self, main_class: str, *args: str) -> str:
        command = self.broker.java(main_class, "--bootstrap-server", self.broker.bootstrap_servers, *args, heap="384m",
                                   log_config="log4j2-tools.xml")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{main_class} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done.stdout


def summarise(producers: dict[str, list[loops.Run]], consumers: dict[str, list[loops.Run]],
              latencies: dict[str, loops.Run], java: dict[str, dict[str, float]]) -> dict[str, Any]:
    def median_rate(runs: list[loops.Run]) -> float:
        return statistics.median(run.rate for run in runs)

    rows = []
    for role, measured in (("producer", producers), ("consumer", consumers)):
        rows.append({"role": role, "path": "java (ceiling)", "events_per_s": java[role]["rate"]})
        for path in ("plain", "runtime"):
            rows.append({"role": role, "path": f"{path} kafka-python" if path == "plain" else "runtime",
                         "events_per_s": median_rate(measured[path]),
                         "rounds": [round(run.rate) for run in measured[path]]})
    for path, run in latencies.items():
        rows.append({"role": "end-to-end", "path": "plain kafka-python" if path == "plain" else "runtime",
                     "p50_ms": percentile(run.latencies_ms, 0.5), "p99_ms": percentile(run.latencies_ms, 0.99)})
    rows.append({"role": "end-to-end", "path": "java EndToEndLatency (sync)", **java["latency"]})
    def paired_ratio(measured: dict[str, list[loops.Run]]) -> float:
        """Median over rounds of runtime/plain within the round (pairs share the load)."""
        return statistics.median(r.rate / p.rate for r, p in zip(measured["runtime"], measured["plain"], strict=True))

    ratios = {
        "producer_runtime_vs_plain": paired_ratio(producers),
        "consumer_runtime_vs_plain": paired_ratio(consumers),
    }
    return {"rows": rows, "ratios": ratios,
            "targets": {"producer": PRODUCER_TARGET, "consumer": CONSUMER_TARGET}}


def print_table(summary: dict[str, Any], rate: int) -> None:
    print(f"\n{'role':<11} {'path':<28} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    print("-" * 69)
    for row in summary["rows"]:
        rate_text = f"{row['events_per_s']:>10,.0f}" if "events_per_s" in row else f"{'@' + str(rate) + '/s':>10}"
        p50 = f"{row['p50_ms']:>8.1f}" if "p50_ms" in row else f"{'':>8}"
        p99 = f"{row['p99_ms']:>8.1f}" if "p99_ms" in row else f"{'':>8}"
        print(f"{row['role']:<11} {row['path']:<28} {rate_text} {p50} {p99}")
    ratios, targets = summary["ratios"], summary["targets"]
    for role in ("producer", "consumer"):
        ratio = ratios[f"{role}_runtime_vs_plain"]
        verdict = "meets" if ratio >= targets[role] else "MISSES"
        print(f"{role} runtime / plain = {ratio:.2f}  (median of paired rounds; {verdict} the "
              f"{targets[role]:.1f}x target)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and rounds (a smoke run)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as data:
        broker = LocalKafka(data_dir=Path(data))
        broker.start()
        try:
            bench = Bench(broker, args.quick)
            producers = bench.phases.timed("producers", bench.producers)
            consumers = bench.phases.timed("consumers", bench.consumers)
            latencies = bench.phases.timed("latencies", bench.latencies)
            java = bench.phases.timed("java", bench.java)
        finally:
            broker.stop()
    summary = summarise(producers, consumers, latencies, java)
    summary.update(
        when=datetime.now(UTC).isoformat(timespec="seconds"), seconds=round(time.monotonic() - began, 1),
        phases_s=bench.phases, kafka=broker.home.name, python=platform.python_version(), events=bench.events,
        consumer_events=bench.consumer_events, rounds=bench.rounds,
        latency_rate_per_s=bench.rate, cpus=len(os.sched_getaffinity(0)), load_average=os.getloadavg(),
    )
    print_table(summary, bench.rate)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"\n{summary['seconds']}s; results in {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
