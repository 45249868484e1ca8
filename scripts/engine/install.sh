#!/usr/bin/env bash
# Install the pinned Pulumi engine into the cache outside the checkout:
#   $ENGINE_CACHE/pulumi-<v>/      pulumi, its Python (and YAML) language hosts
#   $ENGINE_CACHE/kubernetes-<v>/  pulumi-resource-kubernetes
#   $ENGINE_CACHE/random-<v>/      pulumi-resource-random
# From $EVENTPLATFORM_MIRROR/engine/ when a mirror is given (checksums verified, no network),
# otherwise from the official release downloads. Versions: versions.env. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/archives.sh
. "$ROOT/scripts/lib/archives.sh"
ENGINE_CACHE="${ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/engine}"
PULUMI_V=$(pinned_version PULUMI_VERSION)
say() { printf '[engine] %s\n' "$*"; }
fail() { say "FAILED: $1"; say "  what to do: $2"; exit 1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) os=linux cli_arch=x64 arch=amd64 ;;
  Linux/aarch64) os=linux cli_arch=arm64 arch=arm64 ;;
  Darwin/x86_64) os=darwin cli_arch=x64 arch=amd64 ;;
  Darwin/arm64) os=darwin cli_arch=arm64 arch=arm64 ;;
  *) fail "no Pulumi release for $(uname -s)/$(uname -m)" "install Pulumi $PULUMI_V by hand into $ENGINE_CACHE" ;;
esac
mirror=${EVENTPLATFORM_MIRROR:+$EVENTPLATFORM_MIRROR/engine}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# fetch BASENAME URL: the archive's local path, from the mirror or downloaded.
fetch() {
  local base=$1 url=$2
  if [[ -n $mirror ]]; then
    mirror_archive "$mirror" "$base" || fail "no usable $base in the mirror" "see the line above"
  else
    download "$url" "$tmp/$base.tar.gz" ||
      fail "could not download $url" "check the network, or set EVENTPLATFORM_MIRROR to a mirror with engine/$base.tar.*"
    printf '%s\n' "$tmp/$base.tar.gz"
  fi
}

# place DIR FILES...: move unpacked files into DIR in one step per file, so an interrupted
# install never looks complete (status.sh checks the files).
place() {
  local dir=$1 f; shift
  mkdir -p "$dir"
  for f in "$@"; do chmod 0755 "$f"; mv -f "$f" "$dir/"; done
  echo "${mirror:-official downloads}" >"$dir/.source"
}

cli_dir=$ENGINE_CACHE/pulumi-$PULUMI_V
if [[ -x $cli_dir/pulumi && -x $cli_dir/pulumi-language-python ]]; then
  say "pulumi $PULUMI_V: already installed in $cli_dir"
else
  base=pulumi-v$PULUMI_V-$os-$cli_arch
  archive=$(fetch "$base" "https://get.pulumi.com/releases/sdk/$base.tar.gz")
  say "pulumi $PULUMI_V: unpack ${archive##*/}"
  unpack "$archive" "$tmp/cli"
  place "$cli_dir" "$tmp"/cli/pulumi/*
fi

plugin() { # NAME VERSION
  local name=$1 version=$2 dir="$ENGINE_CACHE/$1-$2" bin="pulumi-resource-$1" base archive
  if [[ -x $dir/$bin ]]; then say "$name $version: already installed in $dir"; return; fi
  base=$bin-v$version-$os-$arch
  archive=$(fetch "$base" "https://github.com/pulumi/pulumi-$name/releases/download/v$version/$base.tar.gz")
  say "$name $version: unpack ${archive##*/}"
  unpack "$archive" "$tmp/$name"
  [[ -f $tmp/$name/$bin ]] || fail "${archive##*/} holds no $bin" "replace the archive with the official release asset"
  place "$dir" "$tmp/$name/$bin"
}
plugin kubernetes "$(pinned_version PULUMI_KUBERNETES_VERSION)"
plugin random "$(pinned_version PULUMI_RANDOM_VERSION)"
