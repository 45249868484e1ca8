#!/usr/bin/env bash
# Build the Pulumi engine from Go modules, for machines that reach the Go module proxy but not
# get.pulumi.com or GitHub releases (install-official.sh is the first choice when they are reachable).
#
#   scripts/engine/build-from-source.sh [pulumi] [language-python] [random] [kubernetes]
#
# Versions come from versions.env. Results go to a cache outside the checkout, one folder per
# component and version, and are never rebuilt once present (delete the folder to rebuild):
#   $ENGINE_CACHE/pulumi-<v>/      pulumi, pulumi-language-python, pulumi-language-python-exec
#   $ENGINE_CACHE/kubernetes-<v>/  pulumi-resource-kubernetes
#   $ENGINE_CACHE/random-<v>/      pulumi-resource-random
# ENGINE_CACHE defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/engine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSIONS_FILE="${VERSIONS_FILE:-$ROOT/versions.env}"
ENGINE_CACHE="${ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-platform/engine}"
WORK="$ENGINE_CACHE/.work"   # wrapper modules and writable source copies; never in the repo
LOGS="$ENGINE_CACHE/.logs"

say() { printf '[engine] %s\n' "$*"; }

# KEY=VALUE lines; a value already in the environment wins, so one-off overrides need no edit.
load_versions() {
  local key value
  [[ -r $VERSIONS_FILE ]] || { say "cannot read $VERSIONS_FILE"; exit 2; }
  while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
    [[ -n ${!key:-} ]] || printf -v "$key" '%s' "$value"
  done <"$VERSIONS_FILE"
}

# step: one progress line, and the name a failure report will use.
step() { STEP="$COMPONENT: $*"; say "$STEP"; echo "== $STEP" >>"$LOG"; }

# run <what to do if it fails> -- command...: output goes to the component's log; a failure
# names the step, shows the end of the log and says what to do.
run() {
  local hint=$1; shift 2
  if "$@" >>"$LOG" 2>&1; then return 0; fi
  say "FAILED: $STEP"
  tail -n 12 "$LOG" | sed 's/^/[engine]   | /'
  if tail -n 12 "$LOG" | grep -q 'not available\|403 Forbidden\|404 Not Found\|410 Gone'; then
    hint="the module proxy ($(go env GOPROXY)) or checksum database ($(go env GOSUMDB)) does not serve this module version. Check the pseudo-version in $VERSIONS_FILE, use a proxy that has it (GOPROXY=...), or install the official binaries with scripts/engine/install-official.sh on a machine that can reach get.pulumi.com and copy $ENGINE_CACHE over"
  fi
  say "  why: see $LOG"
  say "  what to do: $hint"
  return 1
}

# Go refuses a module whose go.mod asks for a newer Go than the local one (GOTOOLCHAIN=local).
need_go() {
  local have; have=$(go env GOVERSION); have=${have#go}
  if [[ $(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n1) != "$1" ]]; then
    say "FAILED: $STEP"
    say "  why: $2 needs Go >= $1, this is Go $have"
    say "  what to do: install Go $1 or newer from https://go.dev/dl (or the Go proxy via GOTOOLCHAIN=go$1+auto)"
    return 1
  fi
}

# download MODULE@VERSION: fetch it (checked against the checksum database) and set MOD_DIR,
# its read-only folder in the module cache, and MOD_GOMOD, its go.mod.
download() {
  local json
  json=$(go mod download -json "$1") || { printf '%s\n' "$json"; return 1; }
  MOD_DIR=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")
  MOD_GOMOD=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p' <<<"$json")
}

in_dir() { local d=$1; shift; (cd "$d" && "$@"); }

# go.mod `go` line and the replaces that point at other modules (local-path ones are printed
# with a leading "local " so callers can refuse or map them).
go_line() { sed -n 's/^go \([0-9.]*\).*/\1/p' "$1"; }
replaces() {
  go mod edit -json "$1" | tr -d ' \t\n' | { grep -o '"Old":{[^}]*},"New":{[^}]*}' || true; } |
    sed -e 's/"Old":{"Path":"\([^"]*\)"\(,"Version":"\([^"]*\)"\)\{0,1\}},"New":{"Path":"\([^"]*\)"\(,"Version":"\([^"]*\)"\)\{0,1\}}/\1@\3=\4@\6/' \
        -e 's/@=/=/' -e 's/@$//' |
    sed 's/^\([^=]*=\)\([./].*\)$/local \1\2/'
}

# install_bin NAME FOLDER FILE SOURCE: move a finished build into place in one step, so an
# interrupted build never looks finished.
install_bin() {
  mkdir -p "$2"; mv -f "$3" "$2/$1"; chmod 0755 "$2/$1"; echo "$4" >"$2/.$1.source"
}

have_bin() {
  [[ -x $2/$1 ]] || return 1
  say "$COMPONENT: already built: $2/$1 ($(cat "$2/.$1.source" 2>/dev/null || echo 'source unknown'))"
}

# A wrapper module requiring MODULES at exact versions, carrying the non-local replaces of the
# upstream go.mod (Go ignores replaces outside the main module, and upstream's local-path ones
# point into a checkout we do not have: the sibling modules are required at their release instead).
wrapper() { # DIR GO_LINE UPSTREAM_GOMOD MODULE@VERSION...
  local dir=$1 goline=$2 upstream=$3 r; shift 3
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'module example.invalid/event-platform-engine\n\ngo %s\n' "$goline" >"$dir/go.mod"
  for r in "$@"; do (cd "$dir" && go mod edit -require="$r"); done
  while read -r r; do
    [[ -z $r || $r == local\ * ]] || (cd "$dir" && go mod edit -replace="$r")
  done < <(replaces "$upstream")
}

build_pulumi() {
  local out="$ENGINE_CACHE/pulumi-$PULUMI_VERSION" dir="$WORK/pulumi-$PULUMI_VERSION"
  have_bin pulumi "$out" && return 0
  step "download github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  run "check PULUMI_VERSION in $VERSIONS_FILE" -- download "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  need_go "$(go_line "$MOD_GOMOD")" "pkg/v3@v$PULUMI_VERSION"
  step "write wrapper module $dir"
  # pkg/v3's go.mod points sdk/v3 at ../sdk: require the sdk/v3 release of the same version.
  wrapper "$dir" "$(go_line "$MOD_GOMOD")" "$MOD_GOMOD" \
    "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  step "compile pulumi (several minutes; log: $LOG)"
  # Same flags as the upstream release: static, reproducible paths, stripped, version stamped.
  run "read the log; a missing module means the proxy lacks part of the dependency graph" -- \
    in_dir "$dir" env CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      -o "$dir/pulumi.new" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  install_bin pulumi "$out" "$dir/pulumi.new" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  say "$COMPONENT: built $out/pulumi"
}

build_language_python() {
  local out="$ENGINE_CACHE/pulumi-$PULUMI_VERSION" dir="$WORK/language-python-$PULUMI_VERSION"
  local mod="github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"
  # The host refuses to start without its executor script beside it ("missing executor"); the
  # script ships in the sdk/v3 module. pulumi-resource-pulumi-python serves pulumi.dynamic.
  if [[ ! -x $out/pulumi-language-python-exec ]]; then
    step "copy the Python executor scripts from github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
    run "check PULUMI_VERSION in $VERSIONS_FILE" -- download "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
    mkdir -p "$out"
    cp "$MOD_DIR/python/cmd/pulumi-language-python-exec" "$MOD_DIR/python/dist/pulumi-resource-pulumi-python" "$out/"
    chmod 0755 "$out/pulumi-language-python-exec" "$out/pulumi-resource-pulumi-python"
  fi
  have_bin pulumi-language-python "$out" && return 0
  step "download $mod@$PULUMI_LANGUAGE_PYTHON_PSEUDO"
  run "check PULUMI_LANGUAGE_PYTHON_PSEUDO in $VERSIONS_FILE" -- download "$mod@$PULUMI_LANGUAGE_PYTHON_PSEUDO"
  need_go "$(go_line "$MOD_GOMOD")" "pulumi-language-python@$PULUMI_LANGUAGE_PYTHON_PSEUDO"
  step "write wrapper module $dir"
  # Its own go.mod names a stale pkg/v3 (upstream replaces it with the checkout): pin the release.
  wrapper "$dir" "$(go_line "$MOD_GOMOD")" "$MOD_GOMOD" "$mod@$PULUMI_LANGUAGE_PYTHON_PSEUDO" \
    "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  step "compile pulumi-language-python (log: $LOG)"
  run "read the log" -- in_dir "$dir" env CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$dir/pulumi-language-python.new" "$mod"
  install_bin pulumi-language-python "$out" "$dir/pulumi-language-python.new" "$mod@$PULUMI_LANGUAGE_PYTHON_PSEUDO"
  say "$COMPONENT: built $out/pulumi-language-python"
}

# Providers are built inside a writable copy of their module (the module cache is read-only and
# `go generate` must write schema-embed.json), with that copy as the main module so all of
# upstream's non-local replaces apply unchanged; only its local-path replaces are re-pointed.
build_provider() { # NAME VERSION MODULE PSEUDO GO-MOD-EDIT-ARGS...
  local name=$1 version=$2 mod=$3 pseudo=$4; shift 4
  local out="$ENGINE_CACHE/$name-$version" dir="$WORK/$name-$version" bin="pulumi-resource-$name" left
  have_bin "$bin" "$out" && return 0
  step "download $mod@$pseudo"
  run "check the $name pseudo-version in $VERSIONS_FILE" -- download "$mod@$pseudo"
  need_go "$(go_line "$MOD_GOMOD")" "$mod@$pseudo"
  step "make a writable copy in $dir/src"
  rm -rf "$dir"; mkdir -p "$dir"; cp -R "$MOD_DIR" "$dir/src"; chmod -R u+w "$dir/src"
  in_dir "$dir/src" go mod edit "$@"
  left=$(replaces "$dir/src/go.mod" | sed -n 's/^local //p')
  if [[ -n $left ]]; then
    say "FAILED: $STEP"
    say "  why: $mod@$pseudo has local-path replaces this script does not map: $left"
    say "  what to do: map them (require or replace by module version) in build_$name in $0"
    return 1
  fi
  step "go generate schema-embed.json (VERSION=$version)"
  run "read the log" -- in_dir "$dir/src/cmd/$bin" env VERSION="$version" go generate .
  step "compile $bin (several minutes; log: $LOG)"
  run "read the log" -- in_dir "$dir/src" env CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $mod/pkg/version.Version=$version" -o "$dir/$bin.new" "./cmd/$bin"
  install_bin "$bin" "$out" "$dir/$bin.new" "$mod@$pseudo"
  say "$COMPONENT: built $out/$bin"
}

build_kubernetes() {
  # Upstream replaces its Go SDK with ../sdk; require the SDK's release tag instead.
  build_provider kubernetes "$PULUMI_KUBERNETES_VERSION" github.com/pulumi/pulumi-kubernetes/provider/v4 \
    "$PULUMI_KUBERNETES_PSEUDO" -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$PULUMI_KUBERNETES_SDK"
}

build_random() {
  # The shim is a nested module (not in the provider's zip); fetch it from the same commit.
  # The version stamp is not optional: pulumi-random panics at start-up without it.
  build_provider random "$PULUMI_RANDOM_VERSION" github.com/pulumi/pulumi-random/provider/v4 \
    "$PULUMI_RANDOM_PSEUDO" \
    -replace="github.com/terraform-providers/terraform-provider-random/shim=github.com/pulumi/pulumi-random/provider/shim@$PULUMI_RANDOM_SHIM_PSEUDO"
}

main() {
  load_versions
  local targets=("$@") failed=() t start
  ((${#targets[@]})) || targets=(pulumi language-python random kubernetes)
  command -v go >/dev/null || { say "Go is not installed: get Go >= $GO_MIN_VERSION from https://go.dev/dl"; exit 2; }
  COMPONENT=go STEP="go: check version"; need_go "$GO_MIN_VERSION" "this engine build" || exit 2
  mkdir -p "$WORK" "$LOGS"
  # Wrappers list only the top modules; -mod=mod lets go fill in the rest (checksum-verified).
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
  cd "$WORK"
  for t in "${targets[@]}"; do
    case $t in pulumi | language-python | random | kubernetes) ;; *) say "unknown component: $t"; exit 2 ;; esac
    COMPONENT=$t LOG="$LOGS/$t.log"; : >"$LOG"; start=$SECONDS
    # Each component in its own subshell: one failure is reported, the others still build.
    set +e; (set -e; "build_${t//-/_}"); local rc=$?; set -e
    if ((rc == 0)); then say "$t: done in $((SECONDS - start))s"; continue; fi
    failed+=("$t")
    say "$t: stopped at \"$(sed -n 's/^== //p' "$LOG" | tail -n1)\" (full output: $LOG)"
  done
  if ((${#failed[@]})); then say "not built: ${failed[*]} (reasons above)"; exit 1; fi
  say "all built under $ENGINE_CACHE"
}

main "$@"; exit  # exit here: an edit to this file during a run cannot feed bash stray lines
