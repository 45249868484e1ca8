# Shared by scripts/cluster/up.sh and down.sh: where the local cluster's binaries and state live.
# Source it; it sets variables and defines functions only.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/archives.sh
. "$_root/scripts/lib/archives.sh"
CLUSTER_CACHE="${CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/cluster}"
K8S_V=$(pinned_version KUBERNETES_VERSION)
ETCD_V=$(pinned_version ETCD_VERSION)
KWOK_V=$(pinned_version KWOK_VERSION)
BIN_K8S=$CLUSTER_CACHE/kubernetes-$K8S_V
BIN_ETCD=$CLUSTER_CACHE/etcd-$ETCD_V
BIN_KWOK=$CLUSTER_CACHE/kwok-$KWOK_V
CLUSTER_NAME=event-platform
# Everything the cluster writes: inside the checkout (or wherever CLUSTER_STATE points).
CLUSTER_STATE="${CLUSTER_STATE:-$_root/.cluster}"
export KWOK_WORKDIR=$CLUSTER_STATE/kwok
export KUBECONFIG=$CLUSTER_STATE/kubeconfig
export KUBECACHEDIR=$CLUSTER_STATE/kube-cache
# kwokctl runs the kubectl it finds first on PATH: the pinned one (an older one is outside the skew).
export PATH="$BIN_K8S:$BIN_KWOK:$PATH"
unset _root

say() { printf '[cluster] %s\n' "$*"; }
fail() { say "FAILED: $1"; say "  what to do: $2"; exit 1; }

cluster_running() {
  [[ -f $KUBECONFIG ]] && kubectl get --raw /readyz >/dev/null 2>&1
}

port_taken() { # PORT: something accepts connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
