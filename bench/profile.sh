#!/usr/bin/env bash
# Flamegraphs of the serving path under load, one per protocol:
#
#   bash bench/profile.sh [SECONDS]
#
# Starts the serve binary in the serving profile the image ships (without its PGO pass,
# so the graph shows the code as written, not as the profile laid it out), as bench/serve.sh does
# (API keys, metrics, live drift, the prediction log at 1%), drives single-record iris
# requests with wrk (2 threads, 64 connections) on the native, KServe V2 and MLflow
# routes in turn, and samples the server with `perf record --call-graph dwarf` for
# SECONDS (default 4) each. Writes bench/flamegraphs/{native,v2,mlflow}.svg (inferno:
# `cargo install inferno`). The load generator shares the machine: kernel time
# (loopback TCP) is most of each graph.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-4}
for tool in wrk perf inferno-collapse-perf inferno-flamegraph; do
  command -v "$tool" > /dev/null || { echo "bench/profile.sh needs $tool" >&2; exit 2; }
done
cargo build --release --locked -p train
cargo build --profile serving --locked -p serve
. bench/lib.sh
iris_workdir
key=$(random_key profile)
FERRY_API_KEYS="profile:predict:$key" ./target/serving/serve --registry "$tmp/registry" \
  --bind 127.0.0.1:0 --mlflow-model iris --prediction-log "$tmp/predictions.jsonl" \
  --prediction-log-sample-rate 0.01 > "$tmp/serve.out" 2> /dev/null &
pid=$!
base=$(base_url "$tmp/serve.out")
mkdir -p bench/flamegraphs
profile() { # name path body
  post_script "$tmp/$1.lua" "$key" "$3"
  wrk -t2 -c64 -d"$((seconds + 3))s" -s "$tmp/$1.lua" "$base$2" > "$tmp/$1.wrk" &
  local load=$!
  sleep 1
  perf record -q -F 499 --call-graph dwarf,16384 -p "$pid" -o "$tmp/$1.data" -- sleep "$seconds" 2> /dev/null
  wait "$load"
  perf script -i "$tmp/$1.data" 2> /dev/null | inferno-collapse-perf > "$tmp/$1.folded"
  inferno-flamegraph --title "serve, $1 route ($2), wrk -t2 -c64, $(grep Requests/sec "$tmp/$1.wrk" | tr -s ' ')" \
    < "$tmp/$1.folded" > "bench/flamegraphs/$1.svg"
  echo "bench/flamegraphs/$1.svg: $(grep Requests/sec "$tmp/$1.wrk")"
}
profile native /models/iris/predict "$iris_record"
profile v2 /v2/models/iris/infer "$iris_v2_record"
profile mlflow /invocations "$iris_mlflow_record"
