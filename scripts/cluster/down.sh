#!/usr/bin/env bash
# `make cluster-down`: stop the local cluster and delete its state (etcd data, kubeconfig, cache).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib.sh
. "$ROOT/scripts/cluster/lib.sh"
if [[ ! -d $KWOK_WORKDIR/clusters/$CLUSTER_NAME ]]; then
  say "no local cluster in $CLUSTER_STATE"
else
  kwokctl delete cluster --name "$CLUSTER_NAME" >/dev/null ||
    fail "kwokctl could not delete the cluster" "look for leftover processes: ps -ef | grep $KWOK_WORKDIR"
  say "stopped and deleted"
fi
rm -rf "$CLUSTER_STATE"
