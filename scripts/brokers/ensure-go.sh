#!/usr/bin/env bash
# Prints the bin folder of a Go toolchain new enough to build the test NATS server and CLI. Uses the machine's Go
# when it is at least GO_MIN_VERSION; otherwise fetches GO_TOOLCHAIN_VERSION from the Go module
# proxy (the same golang.org/toolchain module `GOTOOLCHAIN=auto` uses) into the cache, once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
v() { sed -n "s/^$1=//p" "$ROOT/versions.env" | tail -n 1; }
min=$(v GO_MIN_VERSION)
want=$(v GO_TOOLCHAIN_VERSION)
say() { printf '[go] %s\n' "$*" >&2; }

if command -v go >/dev/null; then
  have=$(go env GOVERSION 2>/dev/null); have=${have#go}
  if [[ $(printf '%s\n%s\n' "$min" "$have" | sort -V | head -n1) == "$min" ]]; then
    dirname "$(command -v go)"
    exit 0
  fi
  say "the machine's Go $have is older than $min: using Go $want from the module proxy"
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/go-$want"
if [[ ! -x $cache/go/bin/go ]]; then
  case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) say "no Go for $(uname -m)"; exit 1 ;; esac
  os=$(uname -s | tr '[:upper:]' '[:lower:]')
  proxy=${GOPROXY:-https://proxy.golang.org}; proxy=${proxy%%,*}
  url="$proxy/golang.org/toolchain/@v/v0.0.1-go$want.$os-$arch.zip"
  say "download $url"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --connect-timeout 10 -o "$tmp/go.zip" "$url" || { say "cannot download $url"; exit 1; }
  mkdir -p "$cache"
  (cd "$tmp" && python3 -m zipfile -e go.zip unpacked) || { say "cannot unpack the Go toolchain"; exit 1; }
  # The module zip holds golang.org/toolchain@.../ with the GOROOT inside; zip drops exec bits.
  rm -rf "$cache/go" && mv "$tmp"/unpacked/golang.org/toolchain@*/ "$cache/go"
  chmod -R u+x "$cache/go/bin" "$cache/go/pkg/tool"
fi
echo "$cache/go/bin"
