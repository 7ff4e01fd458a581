#!/usr/bin/env bash
# Instructions a request, and the code a request runs, Ferry against the bare handler,
# counted by callgrind:
#
#   bash bench/instructions.sh [--pgo] [SECONDS]
#
# Builds serve and the bare handler in the serving profile, or with --pgo as bench/serve.sh
# and the image build them (deploy/pgo.sh --bare: the serving profile with profile-guided
# optimisation, about 10 minutes more), trains iris into a temporary registry, and runs
# each server under `valgrind --tool=callgrind` on an ephemeral 127.0.0.1 port, Ferry as
# bench/serve.sh runs it (API keys, metrics, tracing without an exporter, live drift, a 1%
# prediction log). For each server and each route (native, KServe V2): 3 s of
# `wrk -t1 -c4` to warm up, the counters zeroed, SECONDS (default 5) of the same load, the
# counters dumped. Instructions in the dump over the requests wrk counted give
# instructions a request.
#
# The count is steady where CPU time is not (a shared machine's noise does not move
# it), but it does not weigh cache misses or the kernel's share. valgrind hides SHA-NI,
# so under it the API-key check hashes in software: about 3,500 instructions that the
# real CPU does in a few hundred cycles.
#
# The code a request runs is the other steady measure: the instructions executed at least
# once every two requests on average, counted in distinct 64-byte cache lines and 4 KiB
# pages (user space: the binary and the libraries it calls). When a worker wakes for a
# request after the load generator and the kernel have had the core, those lines are
# fetched again, so a larger set costs more at a paced load than under saturation, where
# they stay in cache. The layout matters as much as the code: measure it --pgo, as it
# ships.
#
# Writes target/bench/instructions.md: the table, then for each route the functions with
# the largest difference in own (exclusive) instructions a request between the two
# servers (inlining moves work between functions: read it as a guide, not a ledger).
set -euo pipefail
cd "$(dirname "$0")/.."
pgo=0
seconds=5
for arg in "$@"; do
  case $arg in
    --pgo) pgo=1 ;;
    *[!0-9]* | '') echo "usage: bench/instructions.sh [--pgo] [SECONDS]" >&2; exit 2 ;;
    *) seconds=$arg ;;
  esac
done
for tool in wrk valgrind callgrind_control callgrind_annotate python3; do
  command -v "$tool" > /dev/null || { echo "bench/instructions.sh needs $tool" >&2; exit 2; }
done
. bench/lib.sh
build_servers $pgo
iris_workdir
key=$(random_key instructions)
post_script "$tmp/native.lua" "$key" "$iris_record"
post_script "$tmp/v2.lua" "$key" "$iris_v2_record"

count() { # server route path -> prints "server route requests instructions dump"
  local out="$tmp/cg.$1.$2"
  if [ "$1" = ferry ]; then
    FERRY_API_KEYS="bench:predict:$key" valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out.%p" \
      "./$bin/serve" --registry "$tmp/registry" --bind 127.0.0.1:0 \
      --prediction-log "$tmp/predictions.jsonl" --prediction-log-sample-rate 0.01 \
      > "$tmp/$1.$2.out" 2> /dev/null &
  else
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out.%p" "./$bin/bare-handler" \
      --artifact "$tmp/registry/iris/1" --bind 127.0.0.1:0 > "$tmp/$1.$2.out" 2> /dev/null &
  fi
  pid=$!
  local base
  base=$(base_url "$tmp/$1.$2.out")
  wrk -t1 -c4 -d3s -s "$tmp/$2.lua" "$base$3" > /dev/null
  callgrind_control -z "$pid" > /dev/null 2>&1
  local requests
  requests=$(wrk -t1 -c4 -d"${seconds}s" -s "$tmp/$2.lua" "$base$3" | awk '/requests in/ {print $1}')
  callgrind_control -d "$pid" > /dev/null 2>&1
  kill "$pid"; wait "$pid" 2> /dev/null || true; pid=
  # The dump after the zeroing is part 1; the exit writes the rest (shutdown) apart.
  local dump
  dump=$(ls "$out".*.1)
  echo "$1 $2 $requests $(awk '/^(summary|totals):/ {print $2; exit}' "$dump") $dump"
}

results="$tmp/results"
: > "$results"
for route in native:/models/iris/predict v2:/v2/models/iris/infer; do
  for server in ferry bare; do
    # Not in a pipeline: the server's $pid must stay in this shell, for the exit trap.
    count "$server" "${route%%:*}" "${route#*:}" >> "$results"
    tail -1 "$results"
  done
done

mkdir -p target/bench
python3 - "$results" > target/bench/instructions.md <<'EOF'
import re, subprocess, sys

rows = [line.split() for line in open(sys.argv[1])]
got = {(s, r): (int(n), int(i), f) for s, r, n, i, f in rows}

def own(path, requests):
    """Own instructions a request, by function."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", path],
                          capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([\d. ]+%\)\s+)?(\S.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = re.sub(r"\s*\[[^\]]*\]$", "", m.group(2))
        name = re.sub(r"^[^<:]*?:(?=[^:])", "", name, count=1)
        if any(s in name for s in ("thread_start", "vtable.shim", "start_thread")) or name == "clone":
            continue
        costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", "")) / requests
    return costs

def footprint(path, requests):
    """The code a request runs: distinct 64-byte lines and 4 KiB pages holding the
    instructions executed at least once every two requests. Reads the dump's cost lines
    (`positions: instr line`, addresses compressed relative to the last one) and skips
    the inclusive cost line after each `calls=`."""
    names, counts = {}, {}
    obj, last, after_call = None, 0, False
    with open(path) as dump:
        for line in dump:
            if line.startswith(("ob=", "cob=")):
                m = re.match(r"c?ob=\((\d+)\)(?: (.*))?", line.strip())
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("ob="):
                    obj = names[m.group(1)]
            elif line.startswith("calls="):
                after_call = True
            elif line[:1] in "0123456789+-*":
                parts = line.split()
                pos = parts[0]
                if pos.startswith("0x"):
                    last = int(pos, 16)
                elif pos[0] in "+-":
                    last += int(pos)
                elif pos != "*":
                    last = int(pos)
                if after_call:
                    after_call = False
                elif len(parts) >= 3:
                    counts[(obj, last)] = counts.get((obj, last), 0) + int(parts[2])
    hot = [k for k, n in counts.items() if 2 * n >= requests]
    return len({(o, a // 64) for o, a in hot}), len({(o, a // 4096) for o, a in hot})

print("| route | Ferry instructions a request | bare handler | ratio |")
print("|---|---|---|---|")
for route in ("native", "v2"):
    f, b = got[("ferry", route)], got[("bare", route)]
    print(f"| {route} | {f[1] // f[0]:,} | {b[1] // b[0]:,} | {f[1] / f[0] / (b[1] / b[0]):.3f} |")
print("\nThe code a request runs (instructions executed at least once every two requests):\n")
print("| route | Ferry lines | bare lines | ratio | Ferry KiB | bare KiB | Ferry pages | bare pages |")
print("|---|---|---|---|---|---|---|---|")
for route in ("native", "v2"):
    (fl, fp), (bl, bp) = (footprint(got[(s, route)][2], got[(s, route)][0]) for s in ("ferry", "bare"))
    print(f"| {route} | {fl:,} | {bl:,} | {fl / bl:.3f} | {fl * 64 / 1024:.1f} | {bl * 64 / 1024:.1f} | {fp} | {bp} |")
for route in ("native", "v2"):
    f, b = got[("ferry", route)], got[("bare", route)]
    fc, bc = own(f[2], f[0]), own(b[2], b[0])
    diff = sorted(set(fc) | set(bc), key=lambda k: -(fc.get(k, 0) - bc.get(k, 0)))
    print(f"\n{route}: the 25 functions with the most own instructions a request above the bare handler's\n")
    print("| Ferry | bare | difference | function |")
    print("|---|---|---|---|")
    for k in diff[:25]:
        print(f"| {fc.get(k, 0):,.0f} | {bc.get(k, 0):,.0f} | {fc.get(k, 0) - bc.get(k, 0):,.0f} | `{k[:120]}` |")
EOF
sed -n '1,11p' target/bench/instructions.md
echo "target/bench/instructions.md"
