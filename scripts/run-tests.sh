#!/usr/bin/env bash
# Runs the whole test suite. pytest exits 5 when it collected nothing; that is a failure here.
set -uo pipefail
python -m pytest "$@"
rc=$?
if [[ $rc == 5 ]]; then
  echo "[test] pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
