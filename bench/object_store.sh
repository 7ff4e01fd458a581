#!/usr/bin/env bash
# The object-store registry against the local one, in one run on one machine, with the
# largest example (configs/diamonds_forest.yaml, a 62 MiB artifact) and the release
# binaries. The S3 side is moto's server on loopback (tests/python/s3_server.py, from
# tests/.venv: run .ci/run or pip install -r tests/python/requirements.txt first).
#
# Per round (ROUNDS, default 3), interleaved:
#   publish   the run report's publish stage (write, read back, upload or rename, move
#             latest) into a local registry and into s3://ferry/bench;
#   ready     serve --model diamonds_forest, spawn to /ready = 200: on the local
#             registry, on the bucket with an empty cache (cold), and again with the
#             cache that start filled (warm); plus the time to GET the version's
#             objects from the server once with boto3 (download).
# Prints each round and the median ratios the issue sets targets for:
#   publish s3/local (target <= 2), cold/(local + download) (<= 2), warm/local (<= 1.2).
# Bounded: each readiness poll gives up after 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${ROUNDS:-3}
config=configs/diamonds_forest.yaml
model=diamonds_forest
cargo build --release --locked -p train -p serve
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
tests/.venv/bin/python tests/python/s3_server.py > "$tmp/s3.out" 2> /dev/null &
pids+=($!)
endpoint=$(base_url "$tmp/s3.out")
curl -fsS -X PUT "$endpoint/ferry" > /dev/null
export AWS_ENDPOINT_URL=$endpoint AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret

publish_seconds() {
  ./target/release/train --config "$config" --registry "$1" --json 2> /dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"]["publish"])'
}

# Seconds from spawn to /ready = 200 for serve on registry $1 with cache $2.
ready_seconds() {
  local out="$tmp/serve.out" start pid base
  : > "$out"
  start=$(date +%s%N)
  ./target/release/serve --no-auth --registry "$1" --cache-dir "$2" --model "$model" \
    --bind 127.0.0.1:0 > "$out" 2> /dev/null &
  pid=$!
  for _ in $(seq 6000); do
    base=$(sed -n 's/^listening on //p' "$out" | head -1)
    if [ -n "$base" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ready")" = 200 ]; then
      break
    fi
    sleep 0.01
  done
  echo "scale=3; ($(date +%s%N) - $start) / 1000000000" | bc
  kill "$pid"; wait "$pid" 2> /dev/null || true
}

# Seconds to GET every object of version $1 once with boto3 (moto's dependency).
download_seconds() {
  tests/.venv/bin/python - "$endpoint" "bench/$model/$1/" << 'PY'
import sys, time, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench-secret")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="ferry", Prefix=sys.argv[2])["Contents"]]
start = time.perf_counter()
for key in keys:
    s3.get_object(Bucket="ferry", Key=key)["Body"].read()
print(f"{time.perf_counter() - start:.3f}")
PY
}

echo "round publish_local publish_s3 ready_local ready_cold ready_warm download"
for r in $(seq "$rounds"); do
  pl=$(publish_seconds "$tmp/local")
  ps=$(publish_seconds "s3://ferry/bench")
  rl=$(ready_seconds "$tmp/local" "$tmp/unused-cache")
  rc=$(ready_seconds "s3://ferry/bench" "$tmp/cache-$r")
  rw=$(ready_seconds "s3://ferry/bench" "$tmp/cache-$r")
  dl=$(download_seconds "$r")
  echo "$r $pl $ps $rl $rc $rw $dl" | tee -a "$tmp/rounds"
done
python3 - "$tmp/rounds" << 'PY'
import statistics, sys
rows = [list(map(float, line.split()[1:])) for line in open(sys.argv[1])]
col = lambda i: statistics.median(r[i] for r in rows)
pl, ps, rl, rc, rw, dl = (col(i) for i in range(6))
print(f"median publish: local {pl:.2f} s, s3 {ps:.2f} s -> s3/local {ps/pl:.2f} (target <= 2)")
print(f"median ready: local {rl:.2f} s, cold {rc:.2f} s, warm {rw:.2f} s, download {dl:.2f} s")
print(f"cold/(local + download) {rc/(rl+dl):.2f} (target <= 2); warm/local {rw/rl:.2f} (target <= 1.2)")
PY
