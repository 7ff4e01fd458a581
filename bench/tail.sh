#!/usr/bin/env bash
# The saturated p99 when the load generator shares the server's cores: what it measures.
#
#   bash bench/tail.sh
#
# bench/serve.sh runs wrk on the same 2 cores as the servers it loads. At saturation (64
# connections, each sending its next request as soon as it has its answer) the p99 then
# depends on how the kernel shares the cores between wrk's threads and the server's
# workers, not only on the server. This script measures that on the cell where Ferry's
# p99 is above the bare handler's in bench/serve.sh (single iris records, native route,
# 64 connections), with two builds of each server, the same source:
#
#   ferry+pgo    serve through deploy/pgo.sh, as the image ships it (and bench/serve.sh runs it)
#   ferry        serve in the serving profile, without PGO
#   bare+pgo     bench/bare through deploy/pgo.sh --bare (bench/serve.sh's ceiling)
#   bare         bench/bare in the serving profile, without PGO
#
# Ferry runs as bench/serve.sh runs it (API keys, metrics, live drift, the prediction log
# at 1%). Two set-ups, ROUNDS rounds (8) of ROUND_SECONDS (5) a server, each round
# starting with the next server:
#
#   shared   as bench/serve.sh: the servers and wrk (2 threads) on every core;
#   pinned   the servers on CPU 0 and wrk (1 thread) on CPU 1 (taskset), so that the
#            client takes no core from the server; each server then runs one worker (its
#            default: one a core it may use).
#
# For each server: its CPU time a request (user + system, /proc/PID/stat), the requests,
# the median over rounds of the p25, p50, p90 and p99, and the p99 against, round by
# round, the bare handler of the same build (and, for the PGO builds, against the same
# server without PGO). PGO makes a server cheaper a request and changes nothing else, so
# where a build with PGO has the higher p99, that p99 is not the server's own tail.
# Writes target/bench/tail.json and target/bench/tail.md. Every request goes to
# 127.0.0.1; every load is bounded by ROUND_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

rounds=${ROUNDS:-8}
round_seconds=${ROUND_SECONDS:-5}
[ $# = 0 ] || { echo "usage: bench/tail.sh (ROUNDS, ROUND_SECONDS in the environment)" >&2; exit 2; }
for tool in wrk taskset; do
  command -v "$tool" > /dev/null || { echo "bench/tail.sh needs $tool" >&2; exit 2; }
done
# The pinned set-up uses CPUs 0 and 1: both must be this process's to use.
[ "$(nproc)" -ge 2 ] || { echo "bench/tail.sh needs 2 cores" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
# Both builds: through PGO (target/pgo/bin) and in the serving profile (target/serving).
build_servers 1
build_servers 0
tmp=$(mktemp -d)
pids=()
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
trap 'stop_servers; rm -rf "$tmp"' EXIT

./target/release/train --config configs/iris.yaml --registry "$tmp/registry" > /dev/null
key=$(random_key bench)
cat > "$tmp/iris.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.body = [==[$iris_record]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"errors":%d,"p25_us":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f}\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(25),
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
EOF

servers=(ferry+pgo ferry bare+pgo bare)
declare -A dir=([ferry+pgo]=target/pgo/bin [ferry]=target/serving
  [bare+pgo]=target/pgo/bin [bare]=target/serving)
declare -A url pid
start_servers() { # command words the servers run under (env, or taskset -c 0)
  local s
  for s in "${servers[@]}"; do
    if [ "${s#ferry}" != "$s" ]; then
      FERRY_API_KEYS="bench:predict:$key" "$@" "./${dir[$s]}/serve" --registry "$tmp/registry" \
        --bind 127.0.0.1:0 --prediction-log "$tmp/$s.jsonl" \
        --prediction-log-sample-rate 0.01 > "$tmp/$s.out" 2> /dev/null &
    else
      "$@" "./${dir[$s]}/bare-handler" --artifact "$tmp/registry/iris/1" \
        --bind 127.0.0.1:0 > "$tmp/$s.out" 2>&1 &
    fi
    pids+=($!); pid[$s]=$!; url[$s]=$(base_url "$tmp/$s.out")
  done
  wait_ready "${url[ferry+pgo]}"
  wait_ready "${url[ferry]}"
}

out="$tmp/rounds.jsonl"
: > "$out"
for setup in shared pinned; do
  if [ $setup = shared ]; then
    start_servers env; load=(wrk -t2)
  else
    start_servers taskset -c 0; load=(taskset -c 1 wrk -t1)
  fi
  for r in $(seq "$rounds"); do
    k=$(( (r - 1) % ${#servers[@]} ))
    for s in "${servers[@]:k}" "${servers[@]:0:k}"; do
      before=$(cpu_ticks "${pid[$s]}")
      line=$("${load[@]}" -c64 -d"${round_seconds}s" --timeout 10s -s "$tmp/iris.lua" \
        "${url[$s]}/models/iris/predict" | tail -1)
      echo "{\"setup\":\"$setup\",\"server\":\"$s\",\"round\":$r,\"cpu_ticks\":$(( $(cpu_ticks "${pid[$s]}") - before )),\"wrk\":$line}" >> "$out"
    done
    echo "$setup: round $r of $rounds done"
  done
  stop_servers
done

mkdir -p target/bench
python3 - "$out" "$(getconf CLK_TCK)" "$rounds" "$round_seconds" <<'EOF'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tick_us = 1e6 / int(sys.argv[2])
report = {"rounds": int(sys.argv[3]), "round_seconds": int(sys.argv[4]), "setups": {}}
md = [f"# Saturated p99: single iris records, native route, 64 connections ({sys.argv[3]} rounds of {sys.argv[4]} s a server)", ""]
# Each server's p99 is compared, round by round, with these.
against = {"ferry+pgo": ["bare+pgo", "ferry"], "ferry": ["bare"], "bare+pgo": ["bare"], "bare": []}
for setup in ("shared", "pinned"):
    mine = [r for r in rows if r["setup"] == setup]
    p99 = {(r["server"], r["round"]): r["wrk"]["p99_us"] for r in mine}
    md += [f"## {setup}", "",
           "| server | CPU µs/request | requests | p25 µs | p50 µs | p90 µs | p99 µs (range) | p99 against | errors |",
           "|---|---|---|---|---|---|---|---|---|"]
    table = {}
    for s in dict.fromkeys(r["server"] for r in mine):
        rs = [r for r in mine if r["server"] == s]
        requests = sum(r["wrk"]["requests"] for r in rs)
        med = lambda k: st.median(r["wrk"][k] for r in rs)
        mine_p99 = [r["wrk"]["p99_us"] for r in rs]
        ratios = {}
        for other in against[s]:
            x = [p99[(s, r["round"])] / p99[(other, r["round"])] for r in rs if (other, r["round"]) in p99]
            ratios[other] = {"median": st.median(x), "rounds_at_or_below": sum(v <= 1 for v in x), "rounds": len(x)}
        row = {
            "cpu_us_per_request": sum(r["cpu_ticks"] for r in rs) * tick_us / max(requests, 1),
            "requests": requests,
            "p25_us": med("p25_us"), "p50_us": med("p50_us"), "p90_us": med("p90_us"), "p99_us": med("p99_us"),
            "p99_min_us": min(mine_p99), "p99_max_us": max(mine_p99),
            "p99_against": ratios,
            "errors": sum(r["wrk"]["errors"] for r in rs),
        }
        table[s] = row
        vs = "; ".join(f"{o}: {v['median']:.2f}x, at or below in {v['rounds_at_or_below']} of {v['rounds']}" for o, v in ratios.items()) or "-"
        md.append(f"| {s} | {row['cpu_us_per_request']:.2f} | {requests:,} | {row['p25_us']:.0f} | {row['p50_us']:.0f} "
                  f"| {row['p90_us']:.0f} | {row['p99_us']:.0f} ({min(mine_p99):.0f}-{max(mine_p99):.0f}) | {vs} | {row['errors']} |")
    report["setups"][setup] = table
    md.append("")
json.dump(report, open("target/bench/tail.json", "w"), indent=2)
open("target/bench/tail.md", "w").write("\n".join(md))
print("\n".join(md))
EOF
