#!/usr/bin/env bash
# Soak: the release server under load on three protocols at once, with a hot reload
# every 10 seconds, for SOAK_SECONDS (300) in segments of SOAK_SEGMENT seconds (60).
#
#   bash bench/soak.sh
#
# Trains iris into a temporary registry and starts target/release/serve with API keys,
# the MLflow scoring route on iris and a 1% prediction log, as in production. During
# each segment, three wrk processes share concurrency 64: the native route (22
# connections), KServe V2 /infer (21) and MLflow /invocations (21), one iris record per
# request; meanwhile, every 10 s, a new iris version is trained (moving `latest`), POST
# /admin/reload swaps it in, and the server's RSS is read. Writes target/bench/soak.json and target/bench/soak.md: per segment and
# route, requests/s, p99 and failures (non-2xx answers, socket errors, timeouts); every
# reload's status; the RSS series. The verdicts compare the last segment with the first:
# zero failed requests, RSS growth under 5%, each route's p99 within 20%. Loopback only;
# bounded by SOAK_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-300}
segment=${SOAK_SEGMENT:-60}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --locked -p train -p serve
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh

./target/release/train --config configs/iris.yaml --registry "$tmp/registry" > /dev/null
key=$(random_key soak)
FERRY_API_KEYS="soak:predict+admin:$key" ./target/release/serve --registry "$tmp/registry" \
  --bind 127.0.0.1:0 --mlflow-model iris --prediction-log "$tmp/predictions.jsonl" \
  --prediction-log-sample-rate 0.01 > "$tmp/serve.out" 2> "$tmp/serve.err" &
pids+=($!); server_pid=$!
base=$(base_url "$tmp/serve.out")
wait_ready "$base"

lua() { # name, body
  cat > "$tmp/$1.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.body = '$2'
EOF
}
lua native "$iris_record"
lua v2 "$iris_v2_record"
lua mlflow "$iris_mlflow_record"
for route in "native /models/iris/predict" "v2 /v2/models/iris/infer" "mlflow /invocations"; do
  read -r -a parts <<< "$route"
  set -- "${parts[@]}"
  code=$(curl -s -o "$tmp/check" -w '%{http_code}' -X POST "$base$2" -H 'content-type: application/json' \
    -H "authorization: Bearer $key" --data-binary "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$tmp/$1.lua")")
  [ "$code" = 200 ] || { echo "$1 answered $code: $(cat "$tmp/check")" >&2; exit 1; }
done

# Reloads and RSS samples, every 10 s, until the load ends.
(
  while kill -0 "$server_pid" 2>/dev/null && [ ! -e "$tmp/done" ]; do
    ./target/release/train --config configs/iris.yaml --registry "$tmp/registry" > /dev/null
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/admin/reload" -H "authorization: Bearer $key")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
    echo "$(date +%s) $code $rss" >> "$tmp/ticks"
    sleep 10
  done
) &
pids+=($!)

segments=$(( seconds / segment ))
for s in $(seq 1 "$segments"); do
  echo "== segment $s of $segments (${segment} s)" >&2
  wrk -t1 -c22 -d"${segment}s" --timeout 10s --latency -s "$tmp/native.lua" "$base/models/iris/predict" > "$tmp/seg$s-native" &
  w1=$!
  wrk -t1 -c21 -d"${segment}s" --timeout 10s --latency -s "$tmp/v2.lua" "$base/v2/models/iris/infer" > "$tmp/seg$s-v2" &
  w2=$!
  wrk -t1 -c21 -d"${segment}s" --timeout 10s --latency -s "$tmp/mlflow.lua" "$base/invocations" > "$tmp/seg$s-mlflow" &
  w3=$!
  wait "$w1" "$w2" "$w3"
done
touch "$tmp/done"
kill -0 "$server_pid" || { echo "the server died" >&2; cat "$tmp/serve.err" >&2; exit 1; }

mkdir -p target/bench
python3 - "$tmp" "$segments" "$segment" <<'PY'
import json, os, re, sys, datetime, platform
tmp, segments, segment = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

def parse(path):
    out = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors = sum(int(g) for g in m.groups())
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p99_ms": p99, "failed": non2xx + errors, "requests": requests}

routes = ["native", "v2", "mlflow"]
segs = [{r: parse(f"{tmp}/seg{s}-{r}") for r in routes} for s in range(1, segments + 1)]
ticks = [line.split() for line in open(f"{tmp}/ticks")]
reloads = [int(t[1]) for t in ticks]
rss = [int(t[2]) for t in ticks]
failed = sum(seg[r]["failed"] for seg in segs for r in routes)
requests = sum(seg[r]["requests"] for seg in segs for r in routes)
# RSS growth: the last sample against the first sample after the first segment's warm-up.
warm = rss[min(len(rss) - 1, max(1, segment // 10))]
growth = (rss[-1] - warm) / warm
p99_ratio = {r: segs[-1][r]["p99_ms"] / segs[0][r]["p99_ms"] for r in routes}
date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
machine = f"{os.cpu_count()} cores, {platform.machine()}"
result = {"date": date, "machine": machine, "seconds": segments * segment, "segments": segs,
          "reload_statuses": reloads, "rss_kib": rss, "requests": requests, "failed": failed,
          "rss_growth": growth, "p99_last_over_first": p99_ratio}
json.dump(result, open("target/bench/soak.json", "w"), indent=1)
lines = [f"Soak, {date}, {machine}: {segments * segment} s at concurrency 64 (native 22, V2 21, "
         f"MLflow 21 connections), a new version trained and hot-reloaded every 10 s.", "",
         "| segment | " + " | ".join(f"{r} req/s | {r} p99 ms" for r in routes) + " | failed |",
         "|---" * (2 * len(routes) + 2) + "|"]
for i, seg in enumerate(segs, 1):
    cells = " | ".join(f"{seg[r]['rps']:,.0f} | {seg[r]['p99_ms']:.2f}" for r in routes)
    lines.append(f"| {i} | {cells} | {sum(seg[r]['failed'] for r in routes)} |")
ok = lambda b: "yes" if b else "NO"
lines += ["",
          f"- requests: {requests:,}; failed: {failed} (target 0: {ok(failed == 0)})",
          f"- reloads (each to a newly trained version): {len(reloads)}, statuses {sorted(set(reloads))}",
          f"- RSS: {rss[0]:,} KiB at the start, {warm:,} KiB warm, {rss[-1]:,} KiB at the end: "
          f"growth {growth * 100:.1f}% (target under 5%: {ok(growth < 0.05)})",
          "- p99, last segment / first: " + ", ".join(f"{r} {v:.2f}" for r, v in p99_ratio.items())
          + f" (target within 20%: {ok(all(0.8 <= v <= 1.2 for v in p99_ratio.values()))})"]
open("target/bench/soak.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote target/bench/soak.json and target/bench/soak.md"
