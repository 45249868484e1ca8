#!/usr/bin/env bash
# `make render STACK=...`: every manifest the stack would apply, expanded (charts, release
# manifests) into rendered/<stack>/ (0-crd/ + 1-manifest/), through the real engine with the
# Kubernetes provider in render mode — no cluster, no cloud account, and the stack's real state
# untouched (a throw-away backend holds the render's own state). Then validate it.
set -euo pipefail
stack=${1:?usage: render.sh STACK}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. ./env.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

out="rendered/$stack"
rm -rf "$out"   # a render is a pure function of the inputs: start from nothing
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE="render-only"
unset PULUMI_CONFIG_PASSPHRASE_FILE
export EVENTPLATFORM_TARGET=render
# No kubeconfig may be found in render mode, or the provider asks a cluster for its version.
unset KUBECONFIG
export HOME="$work/home"
mkdir -p "$HOME" "$work/state"

# The render stack reads the same Pulumi.<stack>.yaml; secrets in it are not needed to render.
pulumi stack init "$stack" --secrets-provider passphrase >/dev/null
pulumi up --stack "$stack" --yes --non-interactive --skip-preview --suppress-progress >"$work/up.log" 2>&1 || {
  cat "$work/up.log"; echo "[render] pulumi up in render mode failed (log above)"; exit 1; }
git checkout -q -- "Pulumi.$stack.yaml" 2>/dev/null || true   # stack init may add a salt line
echo "[render] wrote $(find "$out" -name '*.yaml' | wc -l) files to $out"
python -m policy.check_render check "$out" --environment "$stack"
