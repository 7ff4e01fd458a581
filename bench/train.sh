#!/usr/bin/env bash
# Training benchmark: Ferry against scikit-learn on diamonds (53,940 rows), in one run.
#
#   bash bench/train.sh [--no-python]
#
# For configs/diamonds_{linear,ridge,forest}.yaml: the whole release
# `train` process (wall time and peak RSS from /usr/bin/time, stage times and R² from its
# JSON report), then bench/reference/train.py fitting the same model with scikit-learn
# on the same columns (in bench/.venv, created as bench/serve.sh does). Writes
# target/bench/train.json and target/bench/train.md and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
python=1
[ "${1:-}" = "--no-python" ] && python=0
cargo build --release --locked -p train
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
venv=bench/.venv
if [ $python = 1 ] && [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r bench/reference/requirements.txt
fi
: > "$tmp/results.jsonl"
for kind in linear ridge forest; do
  /usr/bin/time -f '%e %M' -o "$tmp/time" \
    ./target/release/train --config "configs/diamonds_$kind.yaml" --registry "$tmp/registry" --json > "$tmp/report"
  read -r wall kb < "$tmp/time"
  python3 - "$tmp/report" "$kind" "$wall" "$kb" >> "$tmp/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"tool": "ferry", "model": sys.argv[2], "wall_s": float(sys.argv[3]),
                  "peak_rss_mib": int(sys.argv[4]) / 1024, "r2": r["metrics"]["r2"], "stages": r["stages"]}))
PY
  if [ $python = 1 ]; then
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$venv/bin/python" bench/reference/train.py "$kind" data > "$tmp/sk"
    read -r wall kb < "$tmp/time"
    python3 - "$tmp/sk" "$kind" "$wall" "$kb" >> "$tmp/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"tool": "scikit-learn", "model": sys.argv[2], "wall_s": float(sys.argv[3]),
                  "peak_rss_mib": int(sys.argv[4]) / 1024, "r2": r["r2"],
                  "stages": {k: r[k] for k in ("import", "load", "fit", "evaluate")}}))
PY
  fi
done
mkdir -p target/bench
python3 - "$tmp/results.jsonl" <<'PY'
import json, sys, os, platform, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
machine = f"{os.cpu_count()} cores, {platform.machine()}"
json.dump({"date": date, "machine": machine, "runs": rows}, open("target/bench/train.json", "w"), indent=1)
lines = [f"Training benchmark, {date}, {machine}: diamonds (43,152 training rows), whole processes.", "",
         "| tool | model | wall s | peak RSS MiB | R² | stages (s) |", "|---|---|---|---|---|---|"]
for r in rows:
    stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
    lines.append(f"| {r['tool']} | {r['model']} | {r['wall_s']:.2f} | {r['peak_rss_mib']:.0f} | {r['r2']:.4f} | {stages} |")
lines += ["", "Ratios, same run (Ferry / scikit-learn):", ""]
for model in ("linear", "ridge", "forest"):
    f = next((r for r in rows if r["tool"] == "ferry" and r["model"] == model), None)
    s = next((r for r in rows if r["tool"] == "scikit-learn" and r["model"] == model), None)
    if f and s:
        lines.append(f"- {model}: wall time {f['wall_s'] / s['wall_s']:.2f}, peak RSS {f['peak_rss_mib'] / s['peak_rss_mib']:.2f}, R² {f['r2']:.4f} vs {s['r2']:.4f}")
open("target/bench/train.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote target/bench/train.json and target/bench/train.md"
