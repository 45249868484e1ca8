#!/usr/bin/env bash
# Says whether the pinned local control plane is installed; exits 1 naming what is missing.
# `make cluster-up` calls it first so a missing binary fails at once, explained.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_CACHE="${CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/cluster}"
v() { sed -n "s/^$1=//p" "$ROOT/versions.env" | tail -n 1; }
missing=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [[ -x $CLUSTER_CACHE/kubernetes-$(v KUBERNETES_VERSION)/$b ]] || missing+=("kubernetes-$(v KUBERNETES_VERSION)/$b")
done
[[ -x $CLUSTER_CACHE/etcd-$(v ETCD_VERSION)/etcd ]] || missing+=("etcd-$(v ETCD_VERSION)/etcd")
for b in kwok kwokctl; do
  [[ -x $CLUSTER_CACHE/kwok-$(v KWOK_VERSION)/$b ]] || missing+=("kwok-$(v KWOK_VERSION)/$b")
done
if ((${#missing[@]} == 0)); then
  echo "control plane complete in $CLUSTER_CACHE"
  exit 0
fi
echo "the local control plane is incomplete; missing under $CLUSTER_CACHE:"
printf '  %s\n' "${missing[@]}"
echo "what to do: run 'make setup' (with EVENTPLATFORM_MIRROR set to a mirror holding cluster/"
echo "when dl.k8s.io and GitHub releases are unreachable). README: 'Try it locally'."
exit 1
