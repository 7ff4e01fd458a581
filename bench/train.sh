#!/usr/bin/env bash
# Training benchmark: Ferry against scikit-learn on diamonds (53,940 rows), in one run.
#
#   bash bench/train.sh [--no-python] [--large]
#
# --large adds the large-table case: diamonds repeated to 1,000,000 rows with 20 extra
# numeric columns no model uses (written once to target/bench/diamonds_1m.csv by
# bench/reference/make_large.py, 235 MB, not committed), least squares by Ferry (reading
# only the schema's columns) against scikit-learn (pandas reading only the used columns).
#
# For configs/diamonds_{linear,ridge,forest}.yaml: the whole release
# `train` process (wall time and peak RSS from /usr/bin/time, stage times and R² from its
# JSON report), then bench/reference/train.py fitting the same model with scikit-learn
# on the same columns (in bench/.venv, created as bench/serve.sh does). Writes
# target/bench/train.json and target/bench/train.md and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
python=1
large=0
for arg in "$@"; do
  case "$arg" in
    --no-python) python=0 ;;
    --large) large=1 ;;
    *) echo "usage: bench/train.sh [--no-python] [--large]" >&2; exit 2 ;;
  esac
done
# serve too: building train alone unifies polars' features differently and rebuilds it.
cargo build --release --locked -p train -p serve
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
venv=bench/.venv
if { [ $python = 1 ] || [ $large = 1 ]; } && [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r bench/reference/requirements.txt
fi
: > "$tmp/results.jsonl"
kinds="linear ridge forest"
if [ $large = 1 ]; then
  kinds="$kinds large"
  if [ ! -s target/bench/diamonds_1m.csv ]; then
    mkdir -p target/bench
    "$venv/bin/python" bench/reference/make_large.py data target/bench/diamonds_1m.csv
  fi
  sed "s|../data/diamonds.csv|$PWD/target/bench/diamonds_1m.csv|; s|model_name: diamonds_linear|model_name: diamonds_large|" \
    configs/diamonds_linear.yaml > "$tmp/diamonds_large.yaml"
fi
for kind in $kinds; do
  config="configs/diamonds_$kind.yaml"
  [ "$kind" = large ] && config="$tmp/diamonds_large.yaml"
  /usr/bin/time -f '%e %M' -o "$tmp/time" \
    ./target/release/train --config "$config" --registry "$tmp/registry" --json > "$tmp/report"
  read -r wall kb < "$tmp/time"
  python3 - "$tmp/report" "$kind" "$wall" "$kb" >> "$tmp/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"tool": "ferry", "model": sys.argv[2], "wall_s": float(sys.argv[3]),
                  "peak_rss_mib": int(sys.argv[4]) / 1024, "r2": r["metrics"]["r2"], "stages": r["stages"]}))
PY
  if [ $python = 1 ]; then
    if [ "$kind" = large ]; then
      /usr/bin/time -f '%e %M' -o "$tmp/time" "$venv/bin/python" bench/reference/train.py linear data target/bench/diamonds_1m.csv > "$tmp/sk"
    else
      /usr/bin/time -f '%e %M' -o "$tmp/time" "$venv/bin/python" bench/reference/train.py "$kind" data > "$tmp/sk"
    fi
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
for model in ("linear", "ridge", "forest", "large"):
    f = next((r for r in rows if r["tool"] == "ferry" and r["model"] == model), None)
    s = next((r for r in rows if r["tool"] == "scikit-learn" and r["model"] == model), None)
    if f and s:
        lines.append(f"- {model}: wall time {f['wall_s'] / s['wall_s']:.2f}, peak RSS {f['peak_rss_mib'] / s['peak_rss_mib']:.2f}, R² {f['r2']:.4f} vs {s['r2']:.4f}")
open("target/bench/train.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote target/bench/train.json and target/bench/train.md"
