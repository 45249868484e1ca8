"""`make bench` (`python -m bench`): every benchmark in turn. None of them is a test.

The stacks under the mock monitor (bench/stack_evaluation.py) and through the real engine
(bench/engine.py), the dev platform's lifecycle on the local cluster (bench/cluster_lifecycle.py),
Kafka (bench/run.py), then RabbitMQ and NATS JetStream (bench/brokers.py, which also writes the
table of all three to bench/README.md). `--quick` is passed to both broker benchmarks.
"""

from __future__ import annotations

import sys

from bench import brokers, cluster_lifecycle, engine, run, stack_evaluation


def main() -> int:
    stack_evaluation.main()
    engine.main()
    cluster_lifecycle.main()
    kafka = run.main(sys.argv[1:])
    return kafka or brokers.main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
