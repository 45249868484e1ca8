#!/usr/bin/env bash
# Provisions RabbitMQ for the apps tests and benchmarks: the server (with its management plugin)
# from Debian, and RabbitMQ PerfTest from Maven Central.
#
#   scripts/brokers/rabbitmq.sh install   apt-get the pinned server, resolve PerfTest (idempotent)
#   scripts/brokers/rabbitmq.sh path      print the install folder, fail if missing or not the pin:
#                                           bin/  -> the server's scripts (rabbitmq-server, rabbitmqctl)
#                                           lib/  PerfTest jars (java -cp 'lib/*' com.rabbitmq.perf.PerfTest)
#   scripts/brokers/rabbitmq.sh version   print the pinned server version (Debian package version)
#
# The server is a system package (Debian ships the only reachable build, 3.10.8 on Erlang 25);
# nothing runs as a system service: tests start private nodes (own node name, ports, data folder,
# Erlang port mapper) on loopback. The cache lives outside the checkout, keyed by both versions:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/rabbitmq-<server>-perftest-<perftest>/
# Versions come from versions.env (# Brokers section); RABBITMQ_DEB_VERSION /
# RABBITMQ_PERFTEST_VERSION in the environment override them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
versions_file="$repo_root/versions.env"

say() { printf 'rabbitmq.sh: %s\n' "$*" >&2; }
die() { printf 'rabbitmq.sh: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=pinned.sh
. "$here/pinned.sh"

deb_version="${RABBITMQ_DEB_VERSION:-$(pinned RABBITMQ_DEB_VERSION)}"
server_version="${deb_version%%-*}"  # 3.10.8-1.1+deb12u1 -> 3.10.8
perftest_version="${RABBITMQ_PERFTEST_VERSION:-$(pinned RABBITMQ_PERFTEST_VERSION)}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/event-platform"
home="$cache_root/rabbitmq-$server_version-perftest-$perftest_version"
marker="$home/.installed"
server_bin="/usr/lib/rabbitmq/bin"

installed_deb() { dpkg-query -W -f='${Status} ${Version}' rabbitmq-server 2>/dev/null | sed -n 's/^install ok installed //p'; }

server_ok() {
  [[ "$(installed_deb)" == "$deb_version" && -x "$server_bin/rabbitmq-server" ]] &&
    [[ -d "/usr/lib/rabbitmq/lib/rabbitmq_server-$server_version/plugins" ]] &&
    compgen -G "/usr/lib/rabbitmq/lib/rabbitmq_server-$server_version/plugins/rabbitmq_management-*" >/dev/null
}

is_installed() { [[ -f "$marker" && -d "$home/lib" ]] && server_ok; }

install_server() {
  if server_ok; then
    say "rabbitmq-server $deb_version already installed"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: RabbitMQ $deb_version comes from Debian (bookworm)"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
  say "installing rabbitmq-server=$deb_version from Debian (apt-get)"
  # Do not start a system-wide node: policy-rc.d answers 101 ("action forbidden") while installing.
  local policy=/usr/sbin/policy-rc.d created_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    created_policy=true
  fi
  local status=0
  if ! apt-cache policy rabbitmq-server 2>/dev/null | grep -qF "$deb_version"; then
    "${sudo[@]}" apt-get update -qq || status=$?
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "rabbitmq-server=$deb_version" >/dev/null || status=$?
  if $created_policy; then "${sudo[@]}" rm -f "$policy"; fi
  [[ $status -eq 0 ]] || die "apt-get could not install rabbitmq-server=$deb_version (is the Debian mirror reachable? apt-cache policy rabbitmq-server)"
  server_ok || die "rabbitmq-server $deb_version installed but its management plugin is missing"
}

install_perftest() {
  if [[ -f "$marker" && -d "$home/lib" ]]; then
    say "PerfTest $perftest_version already resolved at $home/lib ($(ls "$home/lib" | wc -l) jars)"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven 3.8+ (apt-get install maven)"
  mkdir -p "$cache_root"
  local staging
  staging="$(mktemp -d "$cache_root/.rabbitmq-$server_version.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  say "resolving com.rabbitmq:perf-test:$perftest_version from Maven Central"
  if ! mvn -B -q -f "$here/rabbitmq/pom.xml" -Dperftest.version="$perftest_version" \
      dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$staging/lib" >"$staging/mvn.log" 2>&1; then
    tail -n 30 "$staging/mvn.log" >&2
    die "Maven could not resolve PerfTest $perftest_version (see the log above; is Maven Central reachable?)"
  fi
  rm -f "$staging/mvn.log"
  ln -s "$server_bin" "$staging/bin"
  printf 'rabbitmq-server=%s perftest=%s\n' "$deb_version" "$perftest_version" >"$staging/.installed"
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
  say "PerfTest $perftest_version resolved ($(ls "$home/lib" | wc -l) jars)"
}

case "${1:-}" in
  install)
    install_server
    install_perftest
    say "RabbitMQ $server_version (management plugin included) and PerfTest $perftest_version at $home" ;;
  path)
    is_installed || die "RabbitMQ $deb_version / PerfTest $perftest_version is not installed (found server: '$(installed_deb)'): run 'make setup' (or scripts/brokers/rabbitmq.sh install)"
    printf '%s\n' "$home" ;;
  version) printf '%s\n' "$server_version" ;;
  *) die "usage: $0 {install|path|version}" ;;
esac
