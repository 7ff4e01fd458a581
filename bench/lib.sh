# Helpers the bench scripts source.

# Waits (at most 60 s) for a line "... http://ADDR..." in $1 and prints the base URL.
base_url() {
  for _ in $(seq 600); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$1" 2>/dev/null | head -1 || true)
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.1
  done
  echo "no server address in $1" >&2
  cat "$1" >&2
  exit 1
}
