# Source this file (`. ./env.sh`) to get the project's Pulumi engine and settings in your shell.
# The Makefile and the tests use exactly this file, so what works here works there.
#
#   PATH                  the pinned pulumi CLI + Python language host (built or downloaded by
#                         `make setup` into a cache outside the checkout) and the virtualenv
#   PULUMI_HOME           project-scoped plugin folder (.pulumi-home), nothing shared with ~/.pulumi
#   PULUMI_BACKEND_URL    local file state in .pulumi-state unless you already chose a backend
#   no downloads          automatic plugin acquisition and update checks are off
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
unset -f _ep_version
unset _ep_root
