#!/usr/bin/env bash
# Load test of the release serve binary on loopback: trains the example configs into a
# temporary registry, starts serve on an ephemeral 127.0.0.1 port, runs wrk (10 s per
# model, 64 connections) and prints throughput, latency and the server's RSS.
# Needs wrk (Debian: apt-get install wrk). Every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --locked -p train -p serve
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for c in iris titanic diabetes; do
  ./target/release/train --config "configs/$c.yaml" --registry "$tmp/registry" > /dev/null
done
./target/release/serve --no-auth --registry "$tmp/registry" --bind 127.0.0.1:0 > "$tmp/out" 2> /dev/null &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.05; done
base=$(sed -n 's/^listening on //p' "$tmp/out" | head -1)
echo "serve at $base, RSS after start: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
for model in iris titanic; do
  echo "== $model, one record per request"
  wrk -t2 -c64 -d10s --latency -s "bench/$model.lua" "$base/models/$model/predict" \
    | grep -E 'Requests/sec|^ +(50|99)%|Non-2xx|requests in'
done
echo "RSS after load: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
