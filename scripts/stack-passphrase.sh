#!/usr/bin/env bash
# Prints the path of the passphrase file for a stack's local state, creating it on first use.
#   dev:   a fixed, documented passphrase (dev state holds nothing worth protecting)
#   other: a random passphrase generated once per checkout, readable by the owner only
# Set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE yourself to override.
set -euo pipefail
stack=${1:?usage: stack-passphrase.sh STACK}
dir="$(cd "$(dirname "$0")/.." && pwd)/.pulumi-state/passphrases"
mkdir -p "$dir" && chmod 700 "$dir"
file="$dir/$stack"
if [[ ! -s $file ]]; then
  umask 077
  if [[ $stack == dev ]]; then
    printf 'event-platform-dev-only' >"$file"
  else
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file"
  fi
fi
printf '%s\n' "$file"
