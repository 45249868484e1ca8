#!/usr/bin/env bash
# `make cluster-down`: stop the local cluster and delete its state (etcd data, kubeconfig, cache).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib.sh
. "$ROOT/scripts/cluster/lib.sh"
if [[ ! -d $KWOK_WORKDIR/clusters/$CLUSTER_NAME ]]; then
  say "no local cluster in $CLUSTER_STATE"
else
  if ! out=$(kwokctl delete cluster --name "$CLUSTER_NAME" 2>&1); then
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/[cluster]   /'
    fail "kwokctl could not delete the cluster" "look for leftover processes: ps -ef | grep $KWOK_WORKDIR"
  fi
  say "stopped and deleted"
fi
rm -rf "$CLUSTER_STATE"
