#!/usr/bin/env bash
# Tree-ensemble inference: Ferry against LightGBM's own predict, ONNX Runtime, treelite
# (tl2cgen-compiled C) and lleaves (LLVM-compiled), and Ferry's random forest against
# scikit-learn's, all figures from one run:
#
#   bash bench/trees.sh [--seconds S]
#
# - bench/reference/trees.py trains LightGBM (500 trees of 63 leaves) on diamonds and on
#   a 1,000,000-row, 50-feature synthetic table, compiles and converts it, and writes
#   10,000 held-out rows (target/bench/trees/, made once: about 4 minutes; delete the
#   directory to redo it). Ferry imports the same text model.
# - Every tool scores the same rows in batches of 1, 100 and 10,000 rows, on one thread
#   and on all threads (RAYON_NUM_THREADS / num_threads / n_jobs / intra_op threads):
#   the median time per call over about S seconds per cell (default 1), taken in the
#   tool's own process (Ferry through `Model::predict` in Rust, the others through their
#   Python APIs, as their users call them).
# - Random forests: 100 trees grown until pure (configs/diamonds_forest.yaml's settings)
#   fitted by Ferry and by scikit-learn on the same diamonds rows, timed the same way.
#
# Writes target/bench/trees.json and target/bench/trees.md (the README's table).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/trees.sh [--seconds S]" >&2; exit 2 ;;
  esac
done
cargo build --release --locked -p ferry-core --example score_trees
. bench/lib.sh
venv=bench/.venv
reference_venv sklearn lightgbm onnxruntime onnxmltools treelite tl2cgen lleaves
dir=target/bench/trees
"$venv/bin/python" bench/reference/trees.py prepare data "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/results.jsonl"
all=$(nproc)
for threads in 1 "$all"; do
  for case in diamonds synthetic; do
    # Python first: it writes LightGBM's predictions, which Ferry's are checked against.
    "$venv/bin/python" bench/reference/trees.py score "$dir" "$case" "$threads" "$seconds" \
      2> >(grep -v -e '^\[' -e Treelite >&2) >> "$tmp/results.jsonl"
    ./target/release/examples/score_trees lightgbm "$dir" "$case" "$threads" "$seconds" >> "$tmp/results.jsonl"
  done
  ./target/release/examples/score_trees forest "$dir" "$threads" "$seconds" >> "$tmp/results.jsonl"
  "$venv/bin/python" bench/reference/trees.py forest "$dir" "$threads" "$seconds" >> "$tmp/results.jsonl"
done

python3 - "$tmp/results.jsonl" <<'PY'
import json, sys, os, platform, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
machine = f"{os.cpu_count()} cores, {platform.machine()}"
json.dump({"date": date, "machine": machine, "runs": rows}, open("target/bench/trees.json", "w"), indent=1)
cell = {(r["case"], r["tool"], r["threads"], r["batch"]): r for r in rows}
tools = ["lightgbm", "onnxruntime", "treelite", "lleaves"]
lines = [f"Tree inference benchmark, {date}, {machine}; one run. Microseconds per row (median "
         "call / batch), then each tool's time over Ferry's (above 1: Ferry is faster).", "",
         "| model | threads | batch | Ferry us/row | " + " | ".join(f"{t} us/row (x)" for t in tools) + " |",
         "|---|---|---|---|" + "---|" * len(tools)]
for case in ("diamonds", "synthetic"):
    for threads in sorted({r["threads"] for r in rows}):
        for batch in (1, 100, 10000):
            f = cell.get((case, "ferry", threads, batch))
            if not f:
                continue
            parts = []
            for t in tools:
                o = cell.get((case, t, threads, batch))
                parts.append(f"{o['row_us']:.2f} ({o['row_us'] / f['row_us']:.2f})" if o else "-")
            lines.append(f"| {case} LightGBM 500x63 | {threads} | {batch:,} | {f['row_us']:.2f} | " + " | ".join(parts) + " |")
diffs = {r["case"]: r["max_rel_diff"] for r in rows if r["tool"] == "ferry" and "max_rel_diff" in r}
lines += ["", "Largest relative difference of Ferry's predictions from LightGBM's: "
          + ", ".join(f"{c} {d:.1e}" for c, d in diffs.items()), ""]
lines += ["| random forest, diamonds | threads | batch | Ferry us/row | scikit-learn us/row | scikit-learn / Ferry |",
          "|---|---|---|---|---|---|"]
for threads in sorted({r["threads"] for r in rows}):
    for batch in (1, 100, 10000):
        f = cell.get(("diamonds-forest", "ferry", threads, batch))
        s = cell.get(("diamonds-forest", "scikit-learn", threads, batch))
        if f and s:
            lines.append(f"| 100 trees ({f['leaves']:,} and {s['leaves']:,} leaves) | {threads} | {batch:,} | "
                         f"{f['row_us']:.2f} | {s['row_us']:.2f} | {s['row_us'] / f['row_us']:.1f} |")
open("target/bench/trees.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
