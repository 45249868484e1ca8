#!/usr/bin/env bash
# Provisions Apache Kafka (KRaft) for the apps tests and benchmarks from Maven Central jars.
#
#   scripts/brokers/kafka.sh install   download the jars once into the cache (idempotent)
#   scripts/brokers/kafka.sh path      print the install folder (lib/ + config/), fail if missing
#   scripts/brokers/kafka.sh version   print the pinned Kafka version
#
# The cache lives outside the checkout, keyed by version:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/kafka-<version>/{lib,config}
# Versions come from versions.env (# Brokers section); KAFKA_VERSION / KAFKA_LOG4J_VERSION in the
# environment override them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
versions_file="$repo_root/versions.env"

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=pinned.sh
. "$here/pinned.sh"

kafka_version="${KAFKA_VERSION:-$(pinned KAFKA_VERSION)}"
log4j_version="${KAFKA_LOG4J_VERSION:-$(pinned KAFKA_LOG4J_VERSION)}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/event-platform"
home="$cache_root/kafka-$kafka_version"
marker="$home/.installed"

is_installed() {
  [[ -f "$marker" && -d "$home/lib" && -f "$home/config/log4j2.xml" && -f "$home/config/log4j2-tools.xml" ]]
}

install() {
  if is_installed; then
    say "Kafka $kafka_version already installed at $home ($(ls "$home/lib" | wc -l) jars)"
    return 0
  fi
  command -v java >/dev/null || die "java not found: Kafka $kafka_version needs Java 17+"
  command -v mvn >/dev/null || die "mvn not found: install Maven 3.8+ (apt-get install maven)"
  mkdir -p "$cache_root"
  # Resolve into a staging folder and rename at the end, so an interrupted download never
  # looks like a finished install.
  local staging
  staging="$(mktemp -d "$cache_root/.kafka-$kafka_version.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  say "resolving Kafka $kafka_version (+ log4j-slf4j-impl $log4j_version) from Maven Central"
  if ! mvn -B -q -f "$here/kafka/pom.xml" \
      -Dkafka.version="$kafka_version" -Dlog4j.version="$log4j_version" \
      dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$staging/lib" >"$staging/mvn.log" 2>&1; then
    tail -n 30 "$staging/mvn.log" >&2
    die "Maven could not resolve Kafka $kafka_version (see the log above; is Maven Central reachable?)"
  fi
  say "resolved $(ls "$staging/lib" | wc -l) jars"
  if ls "$staging/lib" | grep -qE '^slf4j-api-2\.|^log4j-slf4j2-impl'; then
    die "an SLF4J 2.x jar entered the classpath; Kafka $kafka_version needs the 1.7 binding only"
  fi
  mkdir -p "$staging/config"
  cp "$here/kafka/log4j2.xml" "$here/kafka/log4j2-tools.xml" "$staging/config/"
  rm -f "$staging/mvn.log"
  printf 'kafka=%s log4j=%s\n' "$kafka_version" "$log4j_version" >"$staging/.installed"
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
  say "installed Kafka $kafka_version at $home"
}

case "${1:-}" in
  install) install ;;
  path)
    is_installed || die "Kafka $kafka_version is not installed at $home: run 'make setup' (or scripts/brokers/kafka.sh install)"
    printf '%s\n' "$home" ;;
  version) printf '%s\n' "$kafka_version" ;;
  *) die "usage: $0 {install|path|version}" ;;
esac
