#!/usr/bin/env bash
# Says whether the pinned engine is complete for this checkout; exits 1 naming what is missing.
# `make preview`/`up`/`destroy` call it first so a missing piece fails at once, explained.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENGINE_CACHE="${ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/engine}"
v() { sed -n "s/^$1=//p" "$ROOT/versions.env" | tail -n 1; }
missing=()
for path in "pulumi-$(v PULUMI_VERSION)/pulumi" "pulumi-$(v PULUMI_VERSION)/pulumi-language-python" \
  "pulumi-$(v PULUMI_VERSION)/pulumi-language-python-exec" \
  "kubernetes-$(v PULUMI_KUBERNETES_VERSION)/pulumi-resource-kubernetes" \
  "random-$(v PULUMI_RANDOM_VERSION)/pulumi-resource-random"; do
  [[ -x $ENGINE_CACHE/$path || -f $ENGINE_CACHE/$path ]] || missing+=("$path")
done
if ((${#missing[@]} == 0)); then
  echo "engine complete in $ENGINE_CACHE"
  exit 0
fi
echo "the Pulumi engine is incomplete; missing under $ENGINE_CACHE:"
printf '  %s\n' "${missing[@]}"
echo "what to do: run 'make setup' (set EVENTPLATFORM_MIRROR to a mirror holding engine/ when"
echo "get.pulumi.com and GitHub releases are unreachable). README: 'The Pulumi engine'."
exit 1
