# Source this file (`. ./env.sh`) to get the project's Pulumi engine and settings in your shell.
# The Makefile and the tests use exactly this file, so what works here works there.
#
#   PATH                  the pinned pulumi CLI + Python language host (built or downloaded by
#                         `make setup` into a cache outside the checkout) and the virtualenv
#   PULUMI_HOME           project-scoped plugin folder (.pulumi-home), nothing shared with ~/.pulumi
#   PULUMI_BACKEND_URL    local file state in .pulumi-state unless you already chose a backend
#   no downloads          automatic plugin acquisition and update checks are off
#   KUBECONFIG            while `make cluster-up`'s local cluster runs (.cluster/kubeconfig) and
#                         you have not chosen a kubeconfig yourself: that cluster, with
#                         EVENTPLATFORM_TARGET=local (README: "Try it locally")
#
# Stack passphrases: see README ("State and secrets").

_ep_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
_ep_version() { sed -n "s/^$1=//p" "$_ep_root/versions.env" | tail -n 1; }

export EVENTPLATFORM_ROOT="$_ep_root"
export ENGINE_CACHE="${ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/engine}"
export PATH="$ENGINE_CACHE/pulumi-$(_ep_version PULUMI_VERSION):$_ep_root/.venv/bin:$PATH"
export PULUMI_HOME="$_ep_root/.pulumi-home"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_ep_root/.pulumi-state}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export PULUMI_SKIP_CONFIRMATIONS=true
export CLUSTER_CACHE="${CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/cluster}"
# The pinned kubectl and kwokctl (an older kubectl on PATH would be outside the version skew).
export PATH="$CLUSTER_CACHE/kubernetes-$(_ep_version KUBERNETES_VERSION):$CLUSTER_CACHE/kwok-$(_ep_version KWOK_VERSION):$PATH"
if [[ -z "${KUBECONFIG:-}" && -f "$_ep_root/.cluster/kubeconfig" ]]; then
  export KUBECONFIG="$_ep_root/.cluster/kubeconfig"
  export KUBECACHEDIR="$_ep_root/.cluster/kube-cache"
  export EVENTPLATFORM_TARGET="${EVENTPLATFORM_TARGET:-local}"
fi
unset -f _ep_version
unset _ep_root
