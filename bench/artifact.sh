#!/usr/bin/env bash
# Size, training memory and serving cost of the largest example model: trains
# configs/diamonds_forest.yaml (100 fully grown trees, 43,152 rows) with the release
# binary into a temporary registry, then starts serve on an ephemeral 127.0.0.1 port with
# only that model and measures the time from spawn to /ready = 200 and the server's RSS.
# Prints one line per figure. Bounded: the readiness poll gives up after 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/diamonds_forest.yaml}
cargo build --release --locked -p train -p serve
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
/usr/bin/time -f '%e %M' -o "$tmp/time" \
  ./target/release/train --config "$config" --registry "$tmp/registry" --json > "$tmp/report"
read -r seconds peak_kb < "$tmp/time"
name=$(sed -n 's/^  "model": "\(.*\)",$/\1/p' "$tmp/report")
dir="$tmp/registry/$name/1"
model_file=$(basename "$(compgen -G "$dir/model.*" | head -1)")
artifact=$(du -sb "$dir" | cut -f1)
echo "train wall time: ${seconds} s"
echo "train peak RSS: $((peak_kb / 1024)) MiB"
echo "artifact: $((artifact / 1048576)) MiB ($model_file $(( $(stat -c %s "$dir/$model_file") / 1048576 )) MiB)"
start=$(date +%s%N)
./target/release/serve --no-auth --registry "$tmp/registry" --model "$name" --bind 127.0.0.1:0 > "$tmp/out" 2> /dev/null &
pid=$!
base=
for _ in $(seq 3000); do
  base=$(sed -n 's/^listening on //p' "$tmp/out" | head -1)
  if [ -n "$base" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ready")" = 200 ]; then break; fi
  sleep 0.01
done
end=$(date +%s%N)
[ -n "$base" ] || { echo "serve did not start" >&2; exit 1; }
echo "serve spawn to ready: $(( (end - start) / 1000000 )) ms"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "serve RSS with the model loaded: $((rss_kb / 1024)) MiB ($(( rss_kb * 1024 * 100 / artifact ))% of the artifact)"
