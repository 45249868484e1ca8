#!/usr/bin/env bash
# Install the pinned local control plane into the cache outside the checkout:
#   $CLUSTER_CACHE/kubernetes-<v>/  kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   $CLUSTER_CACHE/etcd-<v>/        etcd
#   $CLUSTER_CACHE/kwok-<v>/        kwok, kwokctl
# From $EVENTPLATFORM_MIRROR/cluster/ when a mirror is given (checksums verified, no network),
# otherwise from the official downloads (dl.k8s.io with its .sha256 files, GitHub releases of
# etcd and kwok). Versions: versions.env. Idempotent.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"   # CLUSTER_CACHE, K8S_V, ETCD_V, KWOK_V

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) os=linux arch=amd64 ;;
  Linux/aarch64) os=linux arch=arm64 ;;
  *) fail "no control-plane binaries for $(uname -s)/$(uname -m) (kwokctl's binary runtime needs Linux)" \
    "run the platform against a real cluster instead (make up with your own kubeconfig)" ;;
esac
mirror=${EVENTPLATFORM_MIRROR:+$EVENTPLATFORM_MIRROR/cluster}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# place DIR FILES...: one move per file, so an interrupted install never looks complete.
place() {
  local dir=$1 f; shift
  mkdir -p "$dir"
  for f in "$@"; do chmod 0755 "$f"; mv -f "$f" "$dir/"; done
  echo "${mirror:-official downloads}" >"$dir/.source"
}

complete() { # DIR FILES...
  local dir=$1 f; shift
  for f in "$@"; do [[ -x $dir/$f ]] || return 1; done
}

# from_mirror NAME BASENAME DIR FILES...: unpack the mirror's archive, place its FILES.
from_mirror() {
  local name=$1 base=$2 dir=$3 archive; shift 3
  archive=$(mirror_archive "$mirror" "$base") || fail "no usable $base in the mirror" "see the line above"
  say "$name: unpack ${archive##*/}"
  unpack "$archive" "$tmp/$name"
  local f paths=()
  for f in "$@"; do
    [[ -f $tmp/$name/$name/$f ]] || fail "${archive##*/} holds no $name/$f" "copy the archive into the mirror again"
    paths+=("$tmp/$name/$name/$f")
  done
  place "$dir" "${paths[@]}"
}

# fetch_verified URL FILE: download URL and check it against URL.sha256 (dl.k8s.io publishes one per binary).
fetch_verified() {
  download "$1" "$2" || fail "could not download $1" "check the network, or set EVENTPLATFORM_MIRROR to a mirror with cluster/"
  download "$1.sha256" "$2.sha256" || fail "could not download $1.sha256" "check the network"
  [[ $(sha256sum "$2" | cut -d' ' -f1) == "$(cut -d' ' -f1 <"$2.sha256")" ]] ||
    fail "$1 does not match its published sha256" "retry; if it persists, report it upstream"
}

dir=$CLUSTER_CACHE/kubernetes-$K8S_V
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
if complete "$dir" "${bins[@]}"; then
  say "kubernetes $K8S_V: already installed in $dir"
elif [[ -n $mirror ]]; then
  from_mirror kubernetes "kubernetes-v$K8S_V-$os-$arch" "$dir" "${bins[@]}"
else
  for b in "${bins[@]}"; do
    say "kubernetes $K8S_V: download $b"
    fetch_verified "https://dl.k8s.io/release/v$K8S_V/bin/$os/$arch/$b" "$tmp/$b"
  done
  place "$dir" "${bins[@]/#/$tmp/}"
fi

dir=$CLUSTER_CACHE/etcd-$ETCD_V
if complete "$dir" etcd; then
  say "etcd $ETCD_V: already installed in $dir"
elif [[ -n $mirror ]]; then
  from_mirror etcd "etcd-v$ETCD_V-$os-$arch" "$dir" etcd
else
  base=etcd-v$ETCD_V-$os-$arch
  say "etcd $ETCD_V: download $base.tar.gz"
  download "https://github.com/etcd-io/etcd/releases/download/v$ETCD_V/$base.tar.gz" "$tmp/$base.tar.gz" ||
    fail "could not download etcd $ETCD_V" "check the network, or set EVENTPLATFORM_MIRROR to a mirror with cluster/"
  download "https://github.com/etcd-io/etcd/releases/download/v$ETCD_V/SHA256SUMS" "$tmp/etcd.SHA256SUMS" ||
    fail "could not download etcd's SHA256SUMS" "check the network"
  (cd "$tmp" && grep " $base.tar.gz\$" etcd.SHA256SUMS | sha256sum -c --quiet -) ||
    fail "$base.tar.gz does not match etcd's SHA256SUMS" "retry; if it persists, report it upstream"
  unpack "$tmp/$base.tar.gz" "$tmp/etcd"
  place "$dir" "$tmp/etcd/$base/etcd"
fi

dir=$CLUSTER_CACHE/kwok-$KWOK_V
if complete "$dir" kwok kwokctl; then
  say "kwok $KWOK_V: already installed in $dir"
elif [[ -n $mirror ]]; then
  from_mirror kwok "kwok-v$KWOK_V-$os-$arch" "$dir" kwok kwokctl
else
  for b in kwok kwokctl; do
    say "kwok $KWOK_V: download $b"
    download "https://github.com/kubernetes-sigs/kwok/releases/download/v$KWOK_V/$b-$os-$arch" "$tmp/$b" ||
      fail "could not download $b $KWOK_V" "check the network, or set EVENTPLATFORM_MIRROR to a mirror with cluster/"
  done
  # kwok's releases publish no checksum file: the download is over HTTPS from GitHub only.
  place "$dir" "$tmp/kwok" "$tmp/kwokctl"
fi
