"""`make bench` (`python -m bench`): every benchmark in turn. None of them is a test."""

from __future__ import annotations

import sys

from bench import run, stack_evaluation


def main() -> int:
    stack_evaluation.main()
    return run.main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
