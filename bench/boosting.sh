#!/usr/bin/env bash
# Gradient boosting against scikit-learn's HistGradientBoostingRegressor and LightGBM,
# all figures from one run:
#
#   bash bench/boosting.sh [--no-large]
#
# - diamonds fit: the release `train --config configs/diamonds_boosting.yaml` process
#   (wall time and peak RSS from /usr/bin/time, stage times from its JSON report) against
#   bench/reference/boosting.py fitting HistGradientBoostingRegressor with the same
#   settings on the same columns;
# - 1M-row wide fit (skipped with --no-large): the same on bench/reference/make_large.py's
#   table (diamonds repeated to 1,000,000 rows, 20 extra numeric columns), every column a
#   feature of both models (target/bench/diamonds_1m.csv, 235 MB, written once);
# - predict of 10,000 rows: criterion's median for the model alone on the preprocessed
#   rows (`model/diamonds-boosting/10000` of crates/serve/benches/inference.rs) and for the
#   whole path from a JSON body (`predict/diamonds-boosting/10000`), against the median
#   of 50 calls of scikit-learn's `predict` on the encoded array;
# - artifact size: the model file and the whole version directory against LightGBM's text
#   model (LGBMRegressor, the same settings and early stopping).
#
# Writes target/bench/boosting.json and target/bench/boosting.md. Bounded: three fits per
# tool, criterion with short warm-up and measurement times.
set -euo pipefail
cd "$(dirname "$0")/.."
large=1
for arg in "$@"; do
  case "$arg" in
    --no-large) large=0 ;;
    *) echo "usage: bench/boosting.sh [--no-large]" >&2; exit 2 ;;
  esac
done
# serve too: building train alone unifies polars' features differently and rebuilds it.
cargo build --release --locked -p train -p serve
# shellcheck source=bench/lib.sh
. bench/lib.sh
venv=bench/.venv
reference_venv yaml sklearn lightgbm
mkdir -p target/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/results.jsonl"

# One fit per tool: name, Ferry config, CSV for Python, extra flag for Python.
fit() {
  local case=$1 config=$2 csv=$3 flag=$4
  /usr/bin/time -f '%e %M' -o "$tmp/time" \
    ./target/release/train --config "$config" --registry "$tmp/registry" --json > "$tmp/report"
  read -r wall kb < "$tmp/time"
  python3 - "$tmp/report" "$case" "$wall" "$kb" >> "$tmp/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"kind": "fit", "tool": "ferry", "case": sys.argv[2], "wall_s": float(sys.argv[3]),
                  "peak_rss_mib": int(sys.argv[4]) / 1024, "rmse": r["metrics"]["rmse"],
                  "fit_s": r["stages"]["fit"], "stages": r["stages"]}))
PY
  # shellcheck disable=SC2086
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$venv/bin/python" bench/reference/boosting.py fit "$csv" $flag > "$tmp/sk"
  read -r wall kb < "$tmp/time"
  python3 - "$tmp/sk" "$case" "$wall" "$kb" >> "$tmp/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"kind": "fit", "tool": "scikit-learn", "case": sys.argv[2], "wall_s": float(sys.argv[3]),
                  "peak_rss_mib": int(sys.argv[4]) / 1024, "rmse": r["rmse"], "fit_s": r["fit"],
                  "iterations": r["iterations"],
                  "stages": {k: r[k] for k in ("import", "load", "fit", "evaluate")}}))
PY
}

for _ in 1 2 3; do
  fit diamonds configs/diamonds_boosting.yaml data/diamonds.csv ""
done
if [ $large = 1 ]; then
  if [ ! -s target/bench/diamonds_1m.csv ]; then
    "$venv/bin/python" bench/reference/make_large.py data target/bench/diamonds_1m.csv
  fi
  python3 - "$PWD/target/bench/diamonds_1m.csv" > "$tmp/wide.yaml" <<'PY'
import sys
s = open("configs/diamonds_boosting.yaml").read()
s = s.replace("../data/diamonds.csv", sys.argv[1]).replace("model_name: diamonds-boosting", "model_name: diamonds-boosting-wide")
last = "    - {name: z, dtype: numeric, range: {min: 0}}\n"
assert last in s
print(s.replace(last, last + "".join(f"    - {{name: extra_{i:02d}, dtype: numeric}}\n" for i in range(20))), end="")
PY
  fit wide "$tmp/wide.yaml" target/bench/diamonds_1m.csv --wide
fi

# Predict: the models of inference.rs, trained into target/bench/registry.
rm -rf target/bench/registry
for c in iris titanic diamonds_forest diamonds_boosting; do
  ./target/release/train --config "configs/$c.yaml" --registry target/bench/registry > /dev/null
done
FERRY_BENCH_REGISTRY="$PWD/target/bench/registry" cargo bench --locked -p serve --bench inference -- \
  --warm-up-time 1 --measurement-time 5 'diamonds-boosting/10000' > "$tmp/criterion.txt"
"$venv/bin/python" bench/reference/boosting.py predict data/diamonds.csv 10000 50 > "$tmp/sk_predict"
python3 - "$tmp/sk_predict" >> "$tmp/results.jsonl" <<'PY'
import json, sys
sk = json.load(open(sys.argv[1]))
def median_s(group):
    e = json.load(open(f"target/criterion/{group}/diamonds-boosting/10000/new/estimates.json"))
    return e["median"]["point_estimate"] / 1e9
print(json.dumps({"kind": "predict", "rows": 10000, "ferry_model_s": median_s("model"),
                  "ferry_request_s": median_s("predict"), "sklearn_s": sk["median_s"],
                  "sklearn_rows": sk["rows"]}))
PY

# Artifact size against LightGBM's text model.
"$venv/bin/python" bench/reference/boosting.py lightgbm data/diamonds.csv "$tmp/lightgbm.txt" > "$tmp/lgb"
dir=target/bench/registry/diamonds-boosting/1
python3 - "$tmp/lgb" "$(stat -c %s "$dir/model.bin")" "$(du -sb "$dir" | cut -f1)" >> "$tmp/results.jsonl" <<'PY'
import json, sys
lgb = json.load(open(sys.argv[1]))
print(json.dumps({"kind": "artifact", "ferry_model_bytes": int(sys.argv[2]), "ferry_version_bytes": int(sys.argv[3]),
                  "lightgbm_bytes": lgb["bytes"], "lightgbm_iterations": lgb["iterations"]}))
PY

python3 - "$tmp/results.jsonl" <<'PY'
import json, sys, os, platform, datetime, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
machine = f"{os.cpu_count()} cores, {platform.machine()}"
json.dump({"date": date, "machine": machine, "runs": rows}, open("target/bench/boosting.json", "w"), indent=1)
lines = [f"Boosting benchmark, {date}, {machine}: Ferry against HistGradientBoostingRegressor "
         "and LightGBM, same settings, one run.", "",
         "| case | tool | wall s | fit s | peak RSS MiB | rmse |", "|---|---|---|---|---|---|"]
fits = [r for r in rows if r["kind"] == "fit"]
for r in fits:
    lines.append(f"| {r['case']} | {r['tool']} | {r['wall_s']:.2f} | {r['fit_s']:.2f} | {r['peak_rss_mib']:.0f} | {r['rmse']:.1f} |")
lines += ["", "Ratios, Ferry / scikit-learn (medians of the runs above):", ""]
for case in ("diamonds", "wide"):
    f = [r for r in fits if r["case"] == case and r["tool"] == "ferry"]
    s = [r for r in fits if r["case"] == case and r["tool"] == "scikit-learn"]
    if f and s:
        m = lambda runs, k: statistics.median(r[k] for r in runs)
        lines.append(f"- {case} fit: process wall time {m(f, 'wall_s') / m(s, 'wall_s'):.2f}, "
                     f"fit stage {m(f, 'fit_s') / m(s, 'fit_s'):.2f}, peak RSS {m(f, 'peak_rss_mib') / m(s, 'peak_rss_mib'):.2f}")
p = next(r for r in rows if r["kind"] == "predict")
lines.append(f"- predict {p['rows']:,} rows: model {p['ferry_model_s'] * 1e3:.2f} ms, whole request path "
             f"{p['ferry_request_s'] * 1e3:.2f} ms, scikit-learn predict {p['sklearn_s'] * 1e3:.2f} ms: "
             f"scikit-learn / Ferry {p['sklearn_s'] / p['ferry_model_s']:.1f}x (model), "
             f"{p['sklearn_s'] / p['ferry_request_s']:.1f}x (from JSON)")
a = next(r for r in rows if r["kind"] == "artifact")
lines.append(f"- artifact: model file {a['ferry_model_bytes']:,} bytes, whole version directory "
             f"{a['ferry_version_bytes']:,} bytes, LightGBM text model {a['lightgbm_bytes']:,} bytes "
             f"({a['lightgbm_iterations']} trees): {a['ferry_model_bytes'] / a['lightgbm_bytes']:.2f} "
             f"and {a['ferry_version_bytes'] / a['lightgbm_bytes']:.2f} of it")
open("target/bench/boosting.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote target/bench/boosting.json and target/bench/boosting.md"
