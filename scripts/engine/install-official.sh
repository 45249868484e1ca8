#!/usr/bin/env bash
# Install the official Pulumi release binaries (CLI + language hosts from get.pulumi.com, the
# kubernetes and random plugins from their GitHub releases) into the same cache layout as
# build-from-source.sh. Gives up within seconds when those hosts are unreachable, so callers can
# fall back to building from source:
#   scripts/engine/install-official.sh || scripts/engine/build-from-source.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSIONS_FILE="${VERSIONS_FILE:-$ROOT/versions.env}"
ENGINE_CACHE="${ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/engine}"

say() { printf '[engine] %s\n' "$*"; }
fail() { say "FAILED: $1"; say "  why: $2"; say "  what to do: $3"; exit 1; }

# Same KEY=VALUE reading as build-from-source.sh: the environment wins over the file.
while IFS='=' read -r key value; do
  [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
  [[ -n ${!key:-} ]] || printf -v "$key" '%s' "$value"
done <"$VERSIONS_FILE"

case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) fail "detect platform" "unsupported OS $(uname -s)" "install Pulumi by hand" ;; esac
case "$(uname -m)" in x86_64 | amd64) cli_arch=x64 plugin_arch=amd64 ;; aarch64 | arm64) cli_arch=arm64 plugin_arch=arm64 ;;
  *) fail "detect platform" "unsupported CPU $(uname -m)" "install Pulumi by hand" ;; esac

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# fetch URL FILE: a short connect timeout, so an offline machine fails in seconds, not minutes.
fetch() { curl -fsSL --connect-timeout 5 --max-time 600 -o "$2" "$1"; }

cli_url="https://get.pulumi.com/releases/sdk/pulumi-v$PULUMI_VERSION-$os-$cli_arch.tar.gz"
sums_url="https://get.pulumi.com/releases/sdk/pulumi-$PULUMI_VERSION-checksums.txt"
out="$ENGINE_CACHE/pulumi-$PULUMI_VERSION"
if [[ -x $out/pulumi && -x $out/pulumi-language-python ]]; then
  say "pulumi: already installed in $out"
else
  say "pulumi: download $cli_url"
  fetch "$cli_url" "$tmp/cli.tar.gz" ||
    fail "download the Pulumi CLI" "$cli_url is unreachable" "run scripts/engine/build-from-source.sh instead"
  # Verify against the release's published checksums when they can be fetched.
  if fetch "$sums_url" "$tmp/sums.txt"; then
    want=$(awk -v f="${cli_url##*/}" '$2 == f {print $1}' "$tmp/sums.txt")
    have=$(sha256sum "$tmp/cli.tar.gz" | cut -d' ' -f1)
    [[ -n $want && $want == "$have" ]] ||
      fail "verify the Pulumi CLI" "sha256 $have does not match $sums_url" "retry; if it persists, do not use this download"
  else
    say "pulumi: no checksum list at $sums_url; relying on HTTPS alone"
  fi
  say "pulumi: unpack into $out"
  tar -xzf "$tmp/cli.tar.gz" -C "$tmp"
  mkdir -p "$out"
  for f in "$tmp"/pulumi/*; do
    cp -Rf "$f" "$out/"; echo "official: $cli_url" >"$out/.${f##*/}.source"
  done
fi

# plugin NAME VERSION: the provider's GitHub release tarball holds the binary at its top level.
plugin() {
  local name=$1 version=$2 out="$ENGINE_CACHE/$1-$2" bin="pulumi-resource-$1"
  local url="https://github.com/pulumi/pulumi-$name/releases/download/v$version/$bin-v$version-$os-$plugin_arch.tar.gz"
  if [[ -x $out/$bin ]]; then say "$name: already installed in $out"; return; fi
  say "$name: download $url"
  fetch "$url" "$tmp/$name.tar.gz" ||
    fail "download $bin" "$url is unreachable" "run scripts/engine/build-from-source.sh $name instead"
  mkdir -p "$tmp/$name" "$out"
  tar -xzf "$tmp/$name.tar.gz" -C "$tmp/$name"
  mv -f "$tmp/$name/$bin" "$out/$bin"; chmod 0755 "$out/$bin"
  echo "official: $url" >"$out/.$bin.source"
}
plugin kubernetes "$PULUMI_KUBERNETES_VERSION"
plugin random "$PULUMI_RANDOM_VERSION"
say "installed under $ENGINE_CACHE"
