#!/usr/bin/env bash
# `make cluster-up`: a local Kubernetes control plane (kwokctl, binary runtime) on 127.0.0.1 with
# simulated nodes. Everything it writes stays in $CLUSTER_STATE (default .cluster/ in the
# checkout, git-ignored): kwok's workdir, the kubeconfig and kubectl's cache; never ~/.kube.
#   CLUSTER_API_PORT  the API server's port on 127.0.0.1 (default 16443)
#   CLUSTER_NODES     simulated nodes (default 3, so prod's zone/host spread has somewhere to go)
#   CLUSTER_PVS       pre-provisioned PersistentVolumes (default 40; kwok simulates no storage driver)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib.sh
. "$ROOT/scripts/cluster/lib.sh"
port=${CLUSTER_API_PORT:-16443}
nodes=${CLUSTER_NODES:-3}
pvs=${CLUSTER_PVS:-40}

"$ROOT/scripts/cluster/status.sh" >/dev/null || { "$ROOT/scripts/cluster/status.sh"; exit 1; }
if cluster_running; then
  say "already running: $(kubectl config view -o jsonpath='{.clusters[0].cluster.server}')"
  say "KUBECONFIG=$KUBECONFIG"
  exit 0
fi
[[ $port =~ ^[0-9]+$ ]] || fail "CLUSTER_API_PORT=$port is not a port number" "set it to a free port, e.g. 16443"
if port_taken "$port"; then
  fail "port $port on 127.0.0.1 is already taken (another cluster, or another program)" \
    "stop what listens there (ss -ltnp 'sport = :$port'), or choose another: make cluster-up CLUSTER_API_PORT=<free port>"
fi

mkdir -p "$CLUSTER_STATE" "$KUBECACHEDIR"
# kwokctl has no flag for the listen address: only its configuration file sets it.
cat >"$CLUSTER_STATE/kwokctl.yaml" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverPort: $port
  kubeVersion: v$K8S_V
  etcdVersion: $ETCD_V
  kubeApiserverBinary: $BIN_K8S/kube-apiserver
  kubeControllerManagerBinary: $BIN_K8S/kube-controller-manager
  kubeSchedulerBinary: $BIN_K8S/kube-scheduler
  kubectlBinary: $BIN_K8S/kubectl
  etcdBinary: $BIN_ETCD/etcd
  kwokControllerBinary: $BIN_KWOK/kwok
YAML

say "starting Kubernetes v$K8S_V (etcd $ETCD_V, kwok $KWOK_V) on https://127.0.0.1:$port"
started=$SECONDS
if ! kwokctl create cluster --name "$CLUSTER_NAME" --config "$CLUSTER_STATE/kwokctl.yaml" \
  --kubeconfig "$KUBECONFIG" --wait 120s >"$CLUSTER_STATE/create.log" 2>&1; then
  sed 's/^/[cluster]   /' "$CLUSTER_STATE/create.log" | tail -n 20
  kwokctl delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
  fail "kwokctl could not start the cluster (full log: $CLUSTER_STATE/create.log)" \
    "see the lines above; a port taken by another process shows as 'address already in use'"
fi
kwokctl scale node --name "$CLUSTER_NAME" --replicas "$nodes" >>"$CLUSTER_STATE/create.log" 2>&1 ||
  fail "kwokctl could not add $nodes simulated nodes (log: $CLUSTER_STATE/create.log)" "run make cluster-down, then retry"
# Zones for the simulated nodes: prod spreads brokers over topology.kubernetes.io/zone.
i=0
for node in $(kubectl get nodes -o name); do
  kubectl label --overwrite "$node" "topology.kubernetes.io/zone=local-$((i % 3))" >/dev/null
  i=$((i + 1))
done
# kwok simulates no storage driver: pre-provisioned volumes let PVCs (brokers' disks) bind.
"$ROOT/scripts/cluster/volumes.sh" "$pvs" | kubectl apply -f - >/dev/null ||
  fail "could not create the simulated PersistentVolumes" "see kubectl's message above"
say "ready in $((SECONDS - started)) s: $nodes simulated nodes, $pvs volumes"
say "use it: . ./env.sh   (KUBECONFIG=$KUBECONFIG is set there while the cluster runs)"
