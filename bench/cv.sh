#!/usr/bin/env bash
# Cross-validated quality, Ferry against scikit-learn, on the same configs.
#
#   bash bench/cv.sh [CONFIG...]
#
# For each config (by default the logistic regressions and forests on iris, wine, breast
# cancer and titanic, and the linear models and forests on diabetes and diamonds): the
# release `train cv --config C --json` (5-fold, stratified for classifiers, on the
# training split, writing its folds with --folds-out) and bench/reference/cv.py C FOLDS,
# which builds the same preprocessing and model in scikit-learn from the config and
# cross-validates it on exactly those training rows and folds (in bench/.venv, created
# as bench/serve.sh does): the two columns differ only by the models. Writes target/bench/cv.json and
# target/bench/cv.md: per metric, both means and stds and whether Ferry's mean is within
# one scikit-learn std of scikit-learn's mean, or better.
set -euo pipefail
cd "$(dirname "$0")/.."
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(
    configs/iris.yaml configs/iris_forest.yaml
    configs/wine_logistic.yaml configs/wine_forest.yaml
    configs/breast_cancer.yaml configs/breast_cancer_forest.yaml
    configs/titanic_logistic.yaml configs/titanic.yaml
    configs/diabetes.yaml configs/diabetes_ridge.yaml configs/diabetes_forest.yaml
    configs/diamonds_linear.yaml configs/diamonds_forest.yaml
  )
fi
# serve too: building train alone unifies polars' features differently and rebuilds it.
cargo build --release --locked -p train -p serve
# shellcheck source=bench/lib.sh
. bench/lib.sh
venv=bench/.venv
reference_venv yaml sklearn
mkdir -p target/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/results.jsonl"
for config in "${configs[@]}"; do
  echo "== $config" >&2
  ferry=$(./target/release/train cv --config "$config" --registry "$tmp/registry" --json \
    --folds-out "$tmp/folds.csv")
  sklearn=$("$venv/bin/python" bench/reference/cv.py "$config" "$tmp/folds.csv")
  python3 -c 'import json,sys; print(json.dumps({"config": sys.argv[1], "ferry": json.loads(sys.argv[2]), "sklearn": json.loads(sys.argv[3])}))' \
    "$config" "$ferry" "$sklearn" >> "$tmp/results.jsonl"
done
python3 -c 'import json,sys; json.dump([json.loads(l) for l in open(sys.argv[1])], open("target/bench/cv.json", "w"), indent=1)' \
  "$tmp/results.jsonl"
python3 bench/reference/cv_table.py target/bench/cv.json > target/bench/cv.md
cat target/bench/cv.md
