#!/usr/bin/env bash
# Provisions NATS (nats-server with JetStream, and the `nats` CLI for `nats bench`) for the apps
# tests and benchmarks, built from the Go module proxy (no binary downloads from GitHub).
#
#   scripts/brokers/nats.sh install   build both binaries once into the cache (idempotent)
#   scripts/brokers/nats.sh path      print the install folder (bin/nats-server, bin/nats), fail if missing
#   scripts/brokers/nats.sh version   print the pinned nats-server version
#
# The cache lives outside the checkout, keyed by both versions:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/nats-<server version>-cli-<cli version>/bin/
# Versions come from versions.env (# Brokers section); NATS_SERVER_VERSION / NATSCLI_VERSION in the
# environment override them. Go comes from scripts/brokers/ensure-go.sh (the machine's Go when new
# enough, else the pinned toolchain from the module proxy). The two binaries build one after the
# other, to stay frugal on shared CPUs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
versions_file="$repo_root/versions.env"

say() { printf 'nats.sh: %s\n' "$*" >&2; }
die() { printf 'nats.sh: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=pinned.sh
. "$here/pinned.sh"

server_version="${NATS_SERVER_VERSION:-$(pinned NATS_SERVER_VERSION)}"
cli_version="${NATSCLI_VERSION:-$(pinned NATSCLI_VERSION)}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/event-platform"
home="$cache_root/nats-$server_version-cli-$cli_version"
marker="$home/.installed"

is_installed() { [[ -f "$marker" && -x "$home/bin/nats-server" && -x "$home/bin/nats" ]]; }

install() {
  if is_installed; then
    say "nats-server $server_version and nats CLI $cli_version already installed at $home"
    return 0
  fi
  local go_bin
  go_bin="$("$repo_root/scripts/brokers/ensure-go.sh")" || die "no Go toolchain (see scripts/brokers/ensure-go.sh)"
  mkdir -p "$cache_root"
  local staging
  staging="$(mktemp -d "$cache_root/.nats-$server_version.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  mkdir -p "$staging/bin"
  # Built inside a throw-away module with exact `go get`s: `go install pkg@version` also asks the
  # proxy for the module's version list (deprecation check), which it refuses for natscli.
  mkdir -p "$staging/mod"
  local build_env=(GOBIN="$staging/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local)
  (cd "$staging/mod" && env "${build_env[@]}" "$go_bin/go" mod init event-platform/nats-tools) >"$staging/go.log" 2>&1
  local target package
  for target in "github.com/nats-io/nats-server/v2@v$server_version" "github.com/nats-io/natscli/nats@v$cli_version"; do
    package="${target%@*}"
    say "building $target from the Go module proxy"
    # `go get <package>@<version>` records every module the package needs (go.sum included).
    if ! (cd "$staging/mod" && env "${build_env[@]}" "$go_bin/go" get "$target" &&
          env "${build_env[@]}" "$go_bin/go" install -trimpath -ldflags='-s -w' "$package") >>"$staging/go.log" 2>&1; then
      tail -n 30 "$staging/go.log" >&2
      die "building $target failed (see above; is the Go module proxy reachable?)"
    fi
  done
  "$staging/bin/nats-server" --version >&2
  rm -rf "$staging/go.log" "$staging/mod"
  printf 'nats-server=%s natscli=%s\n' "$server_version" "$cli_version" >"$staging/.installed"
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
  say "installed nats-server $server_version and nats $cli_version at $home"
}

case "${1:-}" in
  install) install ;;
  path)
    is_installed || die "NATS $server_version is not installed at $home: run 'make setup' (or scripts/brokers/nats.sh install)"
    printf '%s\n' "$home" ;;
  version) printf '%s\n' "$server_version" ;;
  *) die "usage: $0 {install|path|version}" ;;
esac
