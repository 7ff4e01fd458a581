#!/usr/bin/env bash
# What MLflow tracking adds to a training run: the iris pipeline with and without
# `tracking.mlflow` (configs/iris.yaml against configs/mlflow/iris.yaml, the same
# pipeline plus 5-fold cross-validation and tracking), with the release binary, against a
# real `mlflow server` (sqlite store, artifact proxy) on loopback, from tests/.venv (run
# .ci/run or pip install -r tests/python/requirements.txt first).
#
# Per round (ROUNDS, default 10), interleaved, each into a fresh local registry:
#   plain     configs/iris.yaml plus the same cross-validation, no tracking;
#   tracked   configs/mlflow/iris.yaml: the run created, params, metrics (each fold a
#             step), tags and the run record logged, the model registered with its files
#             uploaded through the artifact proxy, the alias set, the run ended.
# Prints each round's wall times and the medians: the added seconds (target < 1 s) and
# the tracked/plain ratio. Bounded: the server gets 90 s to start.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-10}
cargo build --release --locked -p train
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -- "-$pid" 2> /dev/null || kill "$pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true setsid \
  tests/.venv/bin/mlflow server --backend-store-uri "sqlite:///$tmp/mlflow.db" \
  --artifacts-destination "$tmp/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
  > "$tmp/mlflow.log" 2>&1 &
pid=$!
for _ in $(seq 450); do
  curl -fs "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/health" > /dev/null || { cat "$tmp/mlflow.log"; exit 1; }
export MLFLOW_TRACKING_URI="http://127.0.0.1:$port"

# The plain pipeline: configs/mlflow/iris.yaml without its tracking section.
sed '/^tracking:/,$d' configs/mlflow/iris.yaml > configs/mlflow/.bench-plain.yaml
trap 'rm -f configs/mlflow/.bench-plain.yaml; cleanup' EXIT

seconds() {
  local start
  start=$(date +%s%N)
  ./target/release/train --config "$1" --registry "$tmp/reg-$2" --json > "$tmp/out.json" 2> /dev/null
  echo "scale=4; ($(date +%s%N) - $start) / 1000000000" | bc
}

plain=()
tracked=()
# One warm-up of each (the page cache, the server's first requests).
seconds configs/mlflow/.bench-plain.yaml warm-plain > /dev/null
seconds configs/mlflow/iris.yaml warm-tracked > /dev/null
for i in $(seq "$rounds"); do
  p=$(seconds configs/mlflow/.bench-plain.yaml "plain-$i")
  t=$(seconds configs/mlflow/iris.yaml "tracked-$i")
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["tracking"].get("error") is None, r["tracking"]' "$tmp/out.json"
  plain+=("$p")
  tracked+=("$t")
  printf 'round %2d  plain %.3fs  tracked %.3fs\n' "$i" "$p" "$t"
done
python3 - "${plain[*]}" "${tracked[*]}" <<'EOF'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
tracked = [float(x) for x in sys.argv[2].split()]
p, t = statistics.median(plain), statistics.median(tracked)
print(f"median: plain {p:.3f}s, tracked {t:.3f}s; tracking adds {t - p:.3f}s "
      f"(target < 1 s), tracked/plain {t / p:.2f}")
EOF
