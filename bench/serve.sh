#!/usr/bin/env bash
# Serving benchmark: Ferry against its ceiling and against the Python stack, in one run.
#
#   bash bench/serve.sh [--quick] [--no-python] [--mlflow] [--no-pgo] [--control]
#
# Builds the binaries: train in the release profile; serve and the bare handler as the
# image ships serve, in the serving profile (release with fat LTO) with profile-guided
# optimisation, each with a profile of its own routes (deploy/pgo.sh --bare, about 10
# minutes), so the two servers are compiled alike. --no-pgo builds both without PGO
# (target/serving). Then trains iris, titanic and diamonds_linear into a temporary
# registry, and starts, each on an ephemeral 127.0.0.1 port:
#   ferry    serve with the three models (ferry-v2: its KServe V2 route,
#            single records at c=16 and c=64)
#   bare     bench/bare: a bare actix-web handler doing the same parse, softmax and
#            serialisation for iris (the ceiling), on the native route and on the KServe
#            V2 route (bare-v2: the same V2 body parsed, answered with the same V2 JSON)
#   fastapi  bench/reference/app.py: FastAPI + uvicorn (1 worker) + scikit-learn, the same
#            models fitted on the same data, in a virtual environment this script creates
#            (bench/.venv); skipped with --no-python
#   mlflow   with --mlflow: `mlflow models serve` of the same scikit-learn iris model
# Then drives each with wrk (2 threads, timeout 10 s) for single-record and 100-record
# bodies at concurrency 1, 16 and 64, DURATION seconds per cell (10; 3 with --quick).
# Ferry against the bare handler, native and V2 routes, is then measured again in
# interleaved rounds (ROUNDS rounds, 8 by default, of ROUND_SECONDS, 5, a cell; each round
# runs every cell, starting one cell later each round, and which server goes first
# alternates, so the machine's drift hits both alike):
#   - saturated, at concurrency 64 and 16: summed requests, and each round's p99. At a
#     fixed concurrency the latency is the concurrency over the throughput, so this p99
#     follows the throughput ratio;
#   - paced: 16 connections each sending a request 1 ms after its last answer, the same
#     offered load for both servers, well under either's capacity: the p99 of the
#     requests themselves, without the queue of a saturated server.
#   Each round also reads the server's CPU time (user + system, /proc/PID/stat), which
#   gives the CPU it spends a request: steadier than throughput, which the load
#   generator's share of the cores moves.
# Writes target/bench/serve.json and target/bench/serve.md: throughput (requests and
# rows per second), p50/p99/p99.9 latency, errors, each server's RSS after its load, and
# Ferry's spawn-to-ready time. Ratios to the ceiling and to FastAPI are printed last.
# --control runs a second bare handler (the same binary) where Ferry runs, and only the
# interleaved rounds: what the rounds' ratios are for two servers at par, on the machine
# as it is that day. It writes target/bench/serve-control.json and serve-control.md.
# Every request goes to 127.0.0.1; every load is bounded by DURATION and ROUND_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=${DURATION:-10}
rounds=${ROUNDS:-8}
round_seconds=${ROUND_SECONDS:-5}
python=1
mlflow=0
pgo=1
control=0
for arg in "$@"; do
  case $arg in
    --quick) duration=${DURATION:-3}; rounds=${ROUNDS:-2}; round_seconds=${ROUND_SECONDS:-2} ;;
    --no-python) python=0 ;;
    --mlflow) mlflow=1 ;;
    --no-pgo) pgo=0 ;;
    --control) control=1; python=0 ;;
    *) echo "usage: bench/serve.sh [--quick] [--no-python] [--mlflow] [--no-pgo] [--control]" >&2; exit 2 ;;
  esac
done
if [ $control = 1 ] && [ $mlflow = 1 ]; then
  echo "--control measures the bare handler against itself only; it takes no --mlflow" >&2; exit 2
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
build_servers $pgo
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

for c in iris titanic diamonds_linear; do
  ./target/release/train --config "configs/$c.yaml" --registry "$tmp/registry" > /dev/null
done

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# Ferry, timed from spawn to /ready = 200, with authentication on: every request
# carries an API key that Ferry checks (the other servers ignore the header). Metrics,
# tracing (no exporter), live drift and the prediction log (1% of requests) are on, as
# in production.
key=$(random_key bench)
if [ $control = 0 ]; then
  subject=ferry
  start=$(date +%s%N)
  FERRY_API_KEYS="bench:predict:$key" "./$bin/serve" --registry "$tmp/registry" \
    --bind 127.0.0.1:0 --prediction-log "$tmp/predictions.jsonl" \
    --prediction-log-sample-rate 0.01 > "$tmp/ferry.out" 2> /dev/null &
  pids+=($!); ferry_pid=$!
  ferry=$(base_url "$tmp/ferry.out")
  wait_ready "$ferry"
  ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
else
  # The control: the bare handler again, in Ferry's place (it has no /ready).
  subject=control
  "./$bin/bare-handler" --artifact "$tmp/registry/iris/1" --bind 127.0.0.1:0 > "$tmp/ferry.out" 2>&1 &
  pids+=($!); ferry_pid=$!
  ferry=$(base_url "$tmp/ferry.out")
  ready_ms=0
fi

"./$bin/bare-handler" --artifact "$tmp/registry/iris/1" --bind 127.0.0.1:0 > "$tmp/bare.out" 2>&1 &
pids+=($!); bare_pid=$!
bare=$(base_url "$tmp/bare.out")

fastapi=; fastapi_pid=; mlflow_url=; mlflow_pid=
if [ $python = 1 ] || [ $mlflow = 1 ]; then
  venv=bench/.venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r bench/reference/requirements.txt
  fi
fi
if [ $python = 1 ]; then
  (cd bench/reference && FERRY_DATA="$root/data" exec "$root/$venv/bin/uvicorn" app:app \
    --host 127.0.0.1 --port 0 --workers 1 --log-level warning > "$tmp/fastapi.out" 2>&1) &
  pids+=($!); fastapi_pid=$!
  # uvicorn logs its address only at info level: find the port it listens on instead.
  for _ in $(seq 600); do
    port=$(ss -ltnpH 2>/dev/null | grep "pid=$fastapi_pid," | grep -o '127\.0\.0\.1:[0-9]*' | head -1 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "uvicorn did not start" >&2; cat "$tmp/fastapi.out" >&2; exit 1; }
  fastapi="http://$port"
fi
if [ $mlflow = 1 ]; then
  "$venv/bin/pip" show mlflow > /dev/null 2>&1 || "$venv/bin/pip" install --quiet 'mlflow>=2.10'
  FERRY_DATA="$root/data" "$venv/bin/python" - "$tmp/mlflow-iris" <<'EOF'
import sys, os
sys.path.insert(0, "bench/reference")
import mlflow.sklearn
from app import iris_model
mlflow.sklearn.save_model(iris_model, sys.argv[1])
EOF
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # mlflow starts its scoring server with the `uvicorn` it finds on PATH.
  PATH="$root/$venv/bin:$PATH" "$venv/bin/mlflow" models serve -m "$tmp/mlflow-iris" \
    --env-manager local -h 127.0.0.1 -p "$mport" > "$tmp/mlflow.out" 2>&1 &
  pids+=($!); mlflow_pid=$!
  mlflow_url="http://127.0.0.1:$mport"
  for _ in $(seq 600); do curl -s -o /dev/null "$mlflow_url/ping" && break; sleep 0.1; done
  curl -s -o /dev/null "$mlflow_url/ping" || { echo "mlflow models serve did not start" >&2; cat "$tmp/mlflow.out" >&2; exit 1; }
fi

# wrk script for a body; its done() prints one JSON line with the figures. With a third
# argument, each connection waits that many milliseconds before each request.
lua() { # name body [delay_ms]
  cat > "$tmp/$1.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.body = [==[$2]==]
${3:+delay = function() return $3 end}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"seconds":%.3f,"errors":%d,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency:percentile(99.9) / 1e3))
end
EOF
}
titanic_record='{"pclass":3,"sex":"male","age":22,"sibsp":1,"parch":0,"fare":7.25,"embarked":"S"}'
lua iris-1 "$iris_record"
lua iris-100 "$(records_body "$iris_record" 100)"
lua titanic-1 "$titanic_record"
lua titanic-100 "$(records_body "$titanic_record" 100)"
lua v2-1 "$iris_v2_record"
lua paced-iris-1 "$iris_record" 1
lua paced-v2-1 "$iris_v2_record" 1
lua mlflow-1 "{\"dataframe_records\":[[5.1,3.5,1.4,0.2]]}"
lua mlflow-100 "{\"dataframe_records\":[$(for i in $(seq 100); do [ "$i" -gt 1 ] && printf ','; printf '[5.1,3.5,1.4,0.2]'; done)]}"

results="$tmp/results.jsonl"
: > "$results"
run() { # server url model rows concurrency script
  local out
  out=$(wrk -t"$(( $5 < 2 ? 1 : 2 ))" -c"$5" -d"${duration}s" --timeout 10s -s "$tmp/$6.lua" "$2" | tail -1)
  echo "{\"server\":\"$1\",\"model\":\"$3\",\"rows\":$4,\"concurrency\":$5,\"wrk\":$out}" >> "$results"
  echo "$1 $3 rows=$4 c=$5 $out"
}
declare -A rss
for rows in 1 100; do
  [ $control = 1 ] && break
  for c in 1 16 64; do
    run ferry "$ferry/models/iris/predict" iris "$rows" "$c" "iris-$rows"
    run bare "$bare/models/iris/predict" iris "$rows" "$c" "iris-$rows"
    if [ "$rows" = 1 ] && [ "$c" != 1 ]; then
      run ferry-v2 "$ferry/v2/models/iris/infer" iris 1 "$c" v2-1
      run bare-v2 "$bare/v2/models/iris/infer" iris 1 "$c" v2-1
    fi
    run ferry "$ferry/models/titanic/predict" titanic "$rows" "$c" "titanic-$rows"
    if [ -n "$fastapi" ]; then
      run fastapi "$fastapi/models/iris/predict" iris "$rows" "$c" "iris-$rows"
      run fastapi "$fastapi/models/titanic/predict" titanic "$rows" "$c" "titanic-$rows"
    fi
    if [ -n "$mlflow_url" ]; then
      run mlflow "$mlflow_url/invocations" iris "$rows" "$c" "mlflow-$rows"
    fi
  done
done
# Interleaved rounds, Ferry (or the control) against the bare handler on the same route.
rounds_out="$tmp/rounds.jsonl"
: > "$rounds_out"
round() { # cell server url concurrency script round
  local out pid before
  pid=$ferry_pid; [ "$2" = bare ] && pid=$bare_pid
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c"$4" -d"${round_seconds}s" --timeout 10s -s "$tmp/$5.lua" "$3" | tail -1)
  echo "{\"cell\":\"$1\",\"server\":\"$2\",\"round\":$6,\"cpu_ticks\":$(( $(cpu_ticks "$pid") - before )),\"wrk\":$out}" >> "$rounds_out"
}
# Each round runs every cell, starting one cell later than the round before, so that no
# cell always comes first (right after the 10 s cells) or last.
cells=("native c=64:64:iris-1:/models/iris/predict" "native c=16:16:iris-1:/models/iris/predict"
  "V2 c=64:64:v2-1:/v2/models/iris/infer" "V2 c=16:16:v2-1:/v2/models/iris/infer"
  "native paced:16:paced-iris-1:/models/iris/predict" "V2 paced:16:paced-v2-1:/v2/models/iris/infer")
for r in $(seq "$rounds"); do
  k=$(( (r - 1) % ${#cells[@]} ))
  for cell in "${cells[@]:k}" "${cells[@]:0:k}"; do
    IFS=: read -r name c script path <<< "$cell"
    if [ $((r % 2)) = 1 ]; then
      round "$name" $subject "$ferry$path" "$c" "$script" "$r"; round "$name" bare "$bare$path" "$c" "$script" "$r"
    else
      round "$name" bare "$bare$path" "$c" "$script" "$r"; round "$name" $subject "$ferry$path" "$c" "$script" "$r"
    fi
  done
  echo "interleaved: round $r of $rounds done"
done

rss[$subject]=$(rss_kb "$ferry_pid")
rss[bare]=$(rss_kb "$bare_pid")
[ -n "$fastapi_pid" ] && rss[fastapi]=$(( $(ps -o rss= --ppid "$fastapi_pid" | awk '{s+=$1} END {print s+0}') + $(rss_kb "$fastapi_pid") ))
[ -n "$mlflow_pid" ] && rss[mlflow]=$(( $(ps -o rss= --ppid "$mlflow_pid" | awk '{s+=$1} END {print s+0}') + $(rss_kb "$mlflow_pid") ))
rss_json=$(for k in "${!rss[@]}"; do printf '"%s":%s,' "$k" "${rss[$k]}"; done)

out=target/bench/serve; [ $control = 1 ] && out=target/bench/serve-control
mkdir -p target/bench
python3 - "$results" "$ready_ms" "{${rss_json%,}}" "$duration" "$rounds_out" "$round_seconds" "$(getconf CLK_TCK)" "$pgo" "$subject" "$out" <<'EOF'
import json, sys, platform, os, datetime, statistics
sys.path.insert(0, "bench")
from rounds import ratios as round_ratios  # per-round p99 ratios, as bench/rounds.py pools them
rows = [json.loads(l) for l in open(sys.argv[1])]
ready_ms, rss, duration = int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
round_rows = [json.loads(l) for l in open(sys.argv[5])]
round_seconds, ticks_per_s = int(sys.argv[6]), int(sys.argv[7])
build = "serving profile with PGO (deploy/pgo.sh)" if sys.argv[8] == "1" else "serving profile, no PGO"
subject, out = sys.argv[9], sys.argv[10]
label = "Ferry" if subject == "ferry" else "A second bare handler (the control)"
for r in rows:
    w = r["wrk"]
    r["req_per_s"] = w["requests"] / w["seconds"]
    r["rows_per_s"] = r["req_per_s"] * r["rows"]
machine = f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}"
report = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": machine, "build": build, "subject": subject, "seconds_per_cell": duration,
    "ferry_spawn_to_ready_ms": ready_ms if subject == "ferry" else None,
    "rss_kib_after_load": rss, "cells": rows, "interleaved_rounds": round_rows,
}
json.dump(report, open(f"{out}.json", "w"), indent=1)
def cell(server, model, n, c):
    return next((r for r in rows if (r["server"], r["model"], r["rows"], r["concurrency"]) == (server, model, n, c)), None)
per_cell = f", {duration} s per cell" if rows else ""
lines = [f"Serving benchmark, {report['date']}, {machine}; {label} and the bare handler built alike: {build}; wrk -t2{per_cell}; load generator and servers share the machine.", ""]
if rows:
    lines += ["| server | model | rows/request | concurrency | requests/s | rows/s | p50 ms | p99 ms | p99.9 ms | errors |",
              "|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    w = r["wrk"]
    lines.append(f"| {r['server']} | {r['model']} | {r['rows']} | {r['concurrency']} | {r['req_per_s']:,.0f} | {r['rows_per_s']:,.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {w['p999_ms']:.2f} | {w['errors']} |")
lines += ["", (f"Ferry spawn to /ready: {ready_ms} ms. " if subject == "ferry" else "")
          + "RSS after the load (KiB): " + ", ".join(f"{k} {v:,}" for k, v in sorted(rss.items())), ""]
ratios = []
for model, n, c in [("iris", 1, 64), ("iris", 1, 16), ("iris", 100, 64)]:
    f, b = cell("ferry", model, n, c), cell("bare", model, n, c)
    if f and b:
        ratios.append(f"ferry / bare handler, {model}, {n} row(s), c={c}: throughput {f['req_per_s'] / b['req_per_s']:.2f}, p99 {f['wrk']['p99_ms'] / max(b['wrk']['p99_ms'], 1e-9):.2f}")
    v, bv = cell("ferry-v2", model, n, c), cell("bare-v2", model, n, c)
    if v and bv:
        ratios.append(f"ferry KServe V2 / bare handler's V2 route, {model}, {n} row(s), c={c}: throughput {v['req_per_s'] / bv['req_per_s']:.2f}, p99 {v['wrk']['p99_ms'] / max(bv['wrk']['p99_ms'], 1e-9):.2f}")
    if v and b:
        ratios.append(f"ferry KServe V2 / bare handler's native route, {model}, {n} row(s), c={c}: throughput {v['req_per_s'] / b['req_per_s']:.2f}, p99 {v['wrk']['p99_ms'] / max(b['wrk']['p99_ms'], 1e-9):.2f}")
for model, n, c in [("iris", 1, 64), ("titanic", 1, 64), ("iris", 100, 64), ("titanic", 100, 64)]:
    f, p = cell("ferry", model, n, c), cell("fastapi", model, n, c)
    if f and p and p["rows_per_s"] > 0:
        ratios.append(f"ferry / fastapi, {model}, {n} row(s), c={c}: rows/s {f['rows_per_s'] / p['rows_per_s']:.0f}x")
    m = cell("mlflow", model, n, c)
    if f and m and m["rows_per_s"] > 0:
        ratios.append(f"ferry / mlflow models serve, {model}, {n} row(s), c={c}: rows/s {f['rows_per_s'] / m['rows_per_s']:.0f}x")
if ratios:
    lines += ["Ratios, same run:", ""] + [f"- {r}" for r in ratios]
cells = list(dict.fromkeys(r["cell"] for r in round_rows))
if cells:
    n_rounds = max(r["round"] for r in round_rows)
    lines += ["", f"{label} against the bare handler on the same route, {n_rounds} interleaved rounds of {round_seconds} s "
              "(saturated: summed requests; paced: 16 connections, 1 ms between a connection's answer and its next request):", "",
              f"| cell | {subject} req/s | bare req/s | throughput ratio | {subject} p99 ms (median of rounds) | bare p99 ms | p99 ratio (median of rounds) | rounds with {subject}'s p99 at or below | {subject} CPU µs/request | bare CPU µs/request |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    p99_ratios = round_ratios(report, subject)
    for cell in cells:
        got = {(r["server"], r["round"]): r["wrk"] for r in round_rows if r["cell"] == cell}
        rs = sorted({k[1] for k in got})
        f = sum(got[(subject, i)]["requests"] for i in rs); b = sum(got[("bare", i)]["requests"] for i in rs)
        fs = sum(got[(subject, i)]["seconds"] for i in rs); bs = sum(got[("bare", i)]["seconds"] for i in rs)
        fp = [got[(subject, i)]["p99_ms"] for i in rs]; bp = [got[("bare", i)]["p99_ms"] for i in rs]
        ratio = statistics.median(p99_ratios[cell])
        below = sum(x <= 1 for x in p99_ratios[cell])
        cpu = {s: sum(r["cpu_ticks"] for r in round_rows if r["cell"] == cell and r["server"] == s) / ticks_per_s * 1e6
               for s in (subject, "bare")}
        lines.append(f"| {cell} | {f / fs:,.0f} | {b / bs:,.0f} | {(f / fs) / (b / bs):.2f} | {statistics.median(fp):.3f} | "
                     f"{statistics.median(bp):.3f} | {ratio:.2f} | {below} of {len(rs)} | {cpu[subject] / f:.2f} | {cpu['bare'] / b:.2f} |")
open(f"{out}.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo "wrote $out.json and $out.md"
