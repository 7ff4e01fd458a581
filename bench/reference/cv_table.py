"""The side-by-side table of bench/cv.sh from its target/bench/cv.json.

    python cv_table.py target/bench/cv.json

Per config and metric (accuracy, f1_macro, roc_auc, log_loss for classifiers; rmse, r2 for
regressors, and mae for those fitted on the absolute error): Ferry's and scikit-learn's mean ± std over the same folds, and whether
Ferry's mean is the same (to 1e-6), better, within one scikit-learn std, or WORSE.
"""

import json
import sys

LOWER_BETTER = {"log_loss", "rmse", "mae"}
SHOWN = ["accuracy", "f1_macro", "roc_auc", "log_loss", "rmse", "r2"]

rows = json.load(open(sys.argv[1]))
print("| config | model | metric | Ferry mean ± std | scikit-learn mean ± std | Ferry |")
print("|---|---|---|---|---|---|")
verdicts = []
for r in rows:
    ferry, sk = r["ferry"]["cv"]["scores"], r["sklearn"]
    absolute = (r["ferry"].get("params") or {}).get("loss") == "absolute_error"
    shown = (["mae"] if absolute else []) + SHOWN
    for metric in [m for m in shown if m in sk and m in ferry]:
        f, s = ferry[metric], sk[metric]
        delta = f["mean"] - s["mean"]
        if abs(delta) <= 1e-6 * max(1.0, abs(s["mean"])):
            verdict = "same"
        elif (delta < 0) if metric in LOWER_BETTER else (delta > 0):
            verdict = "better"
        elif abs(delta) <= s["std"]:
            verdict = "within 1 std"
        else:
            verdict = "WORSE"
        verdicts.append(verdict)
        fmt = ".0f" if metric in LOWER_BETTER and s["mean"] > 100 else ".4f"
        print(f"| {r['config']} | {r['ferry']['kind']} | {metric} | "
              f"{f['mean']:{fmt}} ± {f['std']:{fmt}} | {s['mean']:{fmt}} ± {s['std']:{fmt}} | {verdict} |")
print()
print(f"{verdicts.count('same')} the same, {verdicts.count('better')} better, "
      f"{verdicts.count('within 1 std')} within one std, {verdicts.count('WORSE')} worse than "
      "scikit-learn by more than one of its stds")
