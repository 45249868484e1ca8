# Sourced by the broker scripts: `pinned KEY` prints KEY's value from versions.env (# Brokers),
# read without sourcing the file; the caller defines `die` and `versions_file`.
pinned() {
  local key="$1" value
  [[ -f "$versions_file" ]] || die "$versions_file not found (it pins $key)"
  value="$(grep -E "^${key}=" "$versions_file" | tail -n1 | cut -d= -f2- | tr -d '"'"'"' ')"
  [[ -n "$value" ]] || die "$key is not set in $versions_file (# Brokers section)"
  printf '%s' "$value"
}
