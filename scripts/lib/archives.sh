# Shared by the installers of pinned binaries (scripts/engine/install.sh, scripts/cluster/install.sh).
# Source it; it defines functions only.
#
# An archive comes from the artifact mirror when EVENTPLATFORM_MIRROR is set (air-gapped: no
# network, checked against the mirror's SHA256SUMS) and from the official download otherwise.
# A mirror folder holds the official archive names, xz or gzip compressed.

# mirror_archive FOLDER BASENAME: print the mirror's archive for BASENAME (no extension) after
# verifying its checksum; fail naming the file and what to do when it is missing or corrupt.
mirror_archive() {
  local folder=$1 base=$2 file ext want have
  for ext in tar.xz tar.gz; do
    [[ -f $folder/$base.$ext ]] && { file=$folder/$base.$ext; break; }
  done
  if [[ -z ${file:-} ]]; then
    echo "$folder has no $base.tar.xz or $base.tar.gz" >&2
    echo "  what to do: point EVENTPLATFORM_MIRROR at a complete mirror, or unset it to download" >&2
    return 1
  fi
  [[ -r $folder/SHA256SUMS ]] || { echo "$folder/SHA256SUMS is missing: cannot verify $file" >&2; return 1; }
  want=$(awk -v f="${file##*/}" '$2 == f || $2 == "*" f {print $1}' "$folder/SHA256SUMS")
  [[ -n $want ]] || { echo "$folder/SHA256SUMS does not list ${file##*/}" >&2; return 1; }
  have=$(sha256sum "$file" | cut -d' ' -f1)
  if [[ $have != "$want" ]]; then
    echo "${file} is corrupt: sha256 $have, SHA256SUMS says $want" >&2
    echo "  what to do: copy that archive into the mirror again from its source" >&2
    return 1
  fi
  printf '%s\n' "$file"
}

# download URL FILE: a short connect timeout, so an offline machine fails in seconds.
download() { curl -fsSL --connect-timeout 5 --max-time 900 -o "$2" "$1"; }

# unpack ARCHIVE DIR: by its extension (.tar.xz, .tar.gz/.tgz).
unpack() {
  mkdir -p "$2"
  case $1 in
    *.tar.xz) tar -xJf "$1" -C "$2" ;;
    *.tar.gz | *.tgz) tar -xzf "$1" -C "$2" ;;
    *) echo "unknown archive type: $1" >&2; return 1 ;;
  esac
}

# pinned KEY: the value of KEY in versions.env (the environment wins, for one-off overrides).
pinned_version() {
  local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [[ -n ${!1:-} ]]; then printf '%s\n' "${!1}"; return; fi
  sed -n "s/^$1=//p" "$root/versions.env" | tail -n 1
}
