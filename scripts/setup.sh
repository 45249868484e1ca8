#!/usr/bin/env bash
# `make setup`: everything the project needs on a fresh machine, idempotent and prompt-free.
# One progress line per step; a failed step says which, why, and what to do.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../env.sh
. ./env.sh
VERSION_OF() { sed -n "s/^$1=//p" versions.env | tail -n 1; }
PULUMI_V=$(VERSION_OF PULUMI_VERSION)
K8S_V=$(VERSION_OF PULUMI_KUBERNETES_VERSION)
RANDOM_V=$(VERSION_OF PULUMI_RANDOM_VERSION)
STEPS=7
n=0

say() { printf '[setup] %s\n' "$*"; }
step() { n=$((n + 1)); say "($n/$STEPS) $*"; }
fail() {
  say "FAILED at step $n: $1"
  say "  what to do: $2"
  exit 1
}

step "Python virtualenv with the pinned requirements (.venv)"
command -v python3 >/dev/null || fail "python3 is not installed" "install Python 3.11 or newer"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  fail "$(python3 --version) is too old" "install Python 3.11 or newer"
[[ -x .venv/bin/python ]] || python3 -m venv .venv || fail "could not create .venv" "install the venv module (apt-get install python3-venv)"
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt ||
    fail "pip could not install requirements.txt" "check that PyPI (or your PIP_INDEX_URL) is reachable"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . ||
    fail "could not install this project into .venv" "see the pip output above"
  echo "$want" >"$stamp"
else
  say "      requirements unchanged, nothing to install"
fi

step "Pulumi engine $PULUMI_V (CLI, Python language host), plugins kubernetes $K8S_V and random $RANDOM_V"
for pair in "pulumi:$PULUMI_V" "pulumi-kubernetes:$K8S_V" "pulumi-random:$RANDOM_V"; do
  pinned=$(sed -n "s/^${pair%%:*}==//p" requirements.txt)
  [[ $pinned == "${pair#*:}" ]] ||
    fail "versions.env says ${pair%%:*} ${pair#*:} but requirements.txt pins $pinned" \
      "make them equal: the engine asks for plugins at exactly the SDK wheel's version"
done
where="the official release downloads"
[[ -n ${EVENTPLATFORM_MIRROR:-} ]] && where="the mirror $EVENTPLATFORM_MIRROR/engine"
if scripts/engine/status.sh >/dev/null; then
  say "      cached in $ENGINE_CACHE"
else
  say "      from $where"
  scripts/engine/install.sh | sed 's/^/[setup]       /' ||
    fail "the engine could not be installed (see above)" "fix what the line above says, then rerun make setup"
  scripts/engine/status.sh >/dev/null || { scripts/engine/status.sh | sed 's/^/[setup]       /'; fail "the engine is incomplete" "see above"; }
fi

step "Plugins into the project's PULUMI_HOME ($PULUMI_HOME)"
install_plugin() {
  local name=$1 version=$2 dir="$PULUMI_HOME/plugins/resource-$1-v$2"
  if [[ -x $dir/pulumi-resource-$name ]]; then return 0; fi
  pulumi plugin install resource "$name" "$version" --exact \
    --file "$ENGINE_CACHE/$name-$version/pulumi-resource-$name" >/dev/null ||
    fail "pulumi could not install the $name plugin" "run: . ./env.sh && pulumi plugin ls"
}
install_plugin kubernetes "$K8S_V"
install_plugin random "$RANDOM_V"

step "Local control plane: Kubernetes $(VERSION_OF KUBERNETES_VERSION), etcd $(VERSION_OF ETCD_VERSION), kwok $(VERSION_OF KWOK_VERSION)"
where="the official downloads (dl.k8s.io, GitHub releases)"
[[ -n ${EVENTPLATFORM_MIRROR:-} ]] && where="the mirror $EVENTPLATFORM_MIRROR/cluster"
if scripts/cluster/status.sh >/dev/null; then
  say "      cached in $CLUSTER_CACHE"
else
  say "      from $where"
  scripts/cluster/install.sh | sed 's/^/[setup]       /' ||
    fail "the control plane could not be installed (see above)" "fix what the line above says, then rerun make setup"
  scripts/cluster/status.sh >/dev/null || { scripts/cluster/status.sh | sed 's/^/[setup]       /'; fail "the control plane is incomplete" "see above"; }
fi

step "Brokers for the workload tests and benchmarks: Kafka, RabbitMQ, NATS"
for broker in kafka rabbitmq nats; do
  scripts/brokers/$broker.sh install ||
    fail "$broker could not be provisioned" "see the scripts/brokers/$broker.sh output above"
done

step "Local state backend (.pulumi-state)"
mkdir -p .pulumi-state

step "Check"
say "installed:"
say "  python      $(.venv/bin/python --version | cut -d' ' -f2) in .venv"
if command -v pulumi >/dev/null; then
  cli=$(pulumi version) || fail "the pulumi CLI does not run" "delete $ENGINE_CACHE/pulumi-$PULUMI_V and run make setup"
  [[ $cli == "v$PULUMI_V" ]] || fail "pulumi version says $cli, expected v$PULUMI_V" "delete $ENGINE_CACHE/pulumi-$PULUMI_V and rerun"
  say "  pulumi      $cli ($(command -v pulumi))"
fi
pulumi plugin ls 2>/dev/null | awk 'NR > 1 && NF && $1 != "TOTAL" { printf "[setup]   plugin      %s %s\n", $1, $3 }'
say "  engine      $(scripts/engine/status.sh)"
say "  cluster     $(scripts/cluster/status.sh) (make cluster-up)"
say "  kafka       $(VERSION_OF KAFKA_VERSION) ($(scripts/brokers/kafka.sh path))"
say "  rabbitmq    $(VERSION_OF RABBITMQ_DEB_VERSION) ($(scripts/brokers/rabbitmq.sh path))"
say "  nats        $(VERSION_OF NATS_SERVER_VERSION) ($(scripts/brokers/nats.sh path))"
say "  state       $PULUMI_BACKEND_URL"
say "next: make test   (then: make preview STACK=dev)"
