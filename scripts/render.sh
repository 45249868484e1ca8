#!/usr/bin/env bash
# `make render STACK=...`: every manifest the stack would apply, expanded (charts, release
# manifests) into rendered/<stack>/ (0-crd/ + 1-manifest/), through the real engine with the
# Kubernetes provider in render mode — no cluster, no cloud account. It runs in a throw-away copy
# of the project with its own backend, so the checkout's stack files and real state stay
# untouched. Then it validates the tree (python -m event_platform.policy.check_render).
set -euo pipefail
stack=${1:?usage: render.sh STACK}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. ./env.sh
[[ -f Pulumi.$stack.yaml ]] || { echo "[render] no stack file Pulumi.$stack.yaml (stacks: dev, prod)"; exit 1; }
# EVENTPLATFORM_RENDER_ROOT: where <stack>/ goes (default rendered/); EVENTPLATFORM_RENDER_WORK:
# keep the throw-away project, state and log there for inspection (the engine tests read them).
out_root=${EVENTPLATFORM_RENDER_ROOT:-$root/rendered}
if [[ -n ${EVENTPLATFORM_RENDER_WORK:-} ]]; then
  work=$EVENTPLATFORM_RENDER_WORK; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi

out="$out_root/$stack"
rm -rf "$out"   # a render is a pure function of the inputs: start from nothing
project="$work/project"
mkdir -p "$project" "$work/state" "$work/home"
cp Pulumi.yaml "Pulumi.$stack.yaml" __main__.py "$project/"
ln -s "$root/.venv" "$project/.venv"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE="render-only"
unset PULUMI_CONFIG_PASSPHRASE_FILE
export EVENTPLATFORM_TARGET=render
# The file backend rewrites the whole state after every step: for a render that state is thrown
# away, so write it once at the end.
export PULUMI_SKIP_CHECKPOINTS=true
# No kubeconfig may be found in render mode, or the provider asks a cluster for its version.
unset KUBECONFIG
export HOME="$work/home"

cd "$project"
pulumi stack init "$stack" --secrets-provider passphrase >/dev/null
pulumi config set --stack "$stack" --path platform.render_directory "$out_root" >/dev/null  # + /<stack>
start=$SECONDS
pulumi up --stack "$stack" --yes --non-interactive --skip-preview --suppress-progress >"$work/up.log" 2>&1 || {
  cat "$work/up.log"; echo "[render] pulumi up in render mode failed (log above)"; exit 1; }
echo "[render] wrote $(find "$out" -name '*.yaml' | wc -l) files to $out in $((SECONDS - start)) s"
cd "$root"
python -m event_platform.policy.check_render check "$out" --environment "$stack"
