"""The other side of bench/boosting.sh: scikit-learn's HistGradientBoostingRegressor and
LightGBM fitting what configs/diamonds_boosting.yaml fits, on the same columns.

    python boosting.py fit CSV [--wide]
    python boosting.py predict CSV ROWS REPEATS
    python boosting.py lightgbm CSV OUT_TXT

Every mode reads CSV with pandas (only the columns the model uses), one-hot encodes cut,
color and clarity as the config does, holds out 20% (seed 42) and fits with the config's
settings: 100 iterations of 31-leaf trees, learning rate 0.1, at least 20 rows a leaf,
255 bins, early stopping on a tenth of the training rows ("auto" turns it on above
10,000 rows, for both). --wide also uses the 20 extra numeric columns of
bench/reference/make_large.py's table.

- fit: one JSON line with the stage times, the iterations kept, rmse, R2 and peak RSS;
- predict: fits, then times `predict` on the first ROWS held-out rows REPEATS times and
  prints the median and best seconds per call (one JSON line);
- lightgbm: trains LightGBM (lightgbm.train, regression objective) with the same settings and writes its text
  model to OUT_TXT; prints its size and the iterations kept.
"""

import json
import os
import resource
import statistics
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402
from sklearn.metrics import mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

BASE = ["carat", "cut", "color", "clarity", "depth", "table", "price", "x", "y", "z"]
EXTRA = [f"extra_{i:02d}" for i in range(20)]


def load(csv, wide):
    columns = BASE + (EXTRA if wide else [])
    df = pd.read_csv(csv, usecols=columns)
    x = pd.get_dummies(df.drop(columns=["price"]), columns=["cut", "color", "clarity"]).astype(float)
    y = df["price"].to_numpy(dtype=float)
    return train_test_split(x.to_numpy(), y, test_size=0.2, random_state=42)


def hgb():
    return HistGradientBoostingRegressor(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
        l2_regularization=0.0, max_bins=255, early_stopping="auto", validation_fraction=0.1,
        n_iter_no_change=10, tol=1e-7, random_state=42)


def main():
    mode, csv = sys.argv[1], sys.argv[2]
    wide = "--wide" in sys.argv[3:]
    t_import = time.perf_counter()
    x_train, x_test, y_train, y_test = load(csv, wide)
    t_load = time.perf_counter()
    if mode == "fit":
        model = hgb().fit(x_train, y_train)
        t_fit = time.perf_counter()
        pred = model.predict(x_test)
        t_eval = time.perf_counter()
        print(json.dumps({
            "import": t_import - t0, "load": t_load - t_import, "fit": t_fit - t_load,
            "evaluate": t_eval - t_fit, "iterations": int(model.n_iter_),
            "rmse": float(np.sqrt(mean_squared_error(y_test, pred))), "r2": r2_score(y_test, pred),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }))
    elif mode == "predict":
        rows, repeats = int(sys.argv[3]), int(sys.argv[4])
        model = hgb().fit(x_train, y_train)
        batch = np.ascontiguousarray(x_test[:rows])
        model.predict(batch)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict(batch)
            times.append(time.perf_counter() - start)
        print(json.dumps({"rows": len(batch), "iterations": int(model.n_iter_),
                          "median_s": statistics.median(times), "best_s": min(times)}))
    elif mode == "lightgbm":
        import lightgbm

        out = sys.argv[3]
        x_fit, x_valid, y_fit, y_valid = train_test_split(x_train, y_train, test_size=0.1, random_state=42)
        params = {"objective": "regression", "learning_rate": 0.1, "num_leaves": 31,
                  "min_data_in_leaf": 20, "lambda_l2": 0.0, "max_bin": 255, "seed": 42,
                  "verbose": -1}
        train = lightgbm.Dataset(x_fit, y_fit)
        booster = lightgbm.train(params, train, num_boost_round=100,
                                 valid_sets=[lightgbm.Dataset(x_valid, y_valid, reference=train)],
                                 callbacks=[lightgbm.early_stopping(10, verbose=False)])
        booster.save_model(out)
        kept = booster.best_iteration or booster.current_iteration()
        print(json.dumps({"bytes": os.path.getsize(out), "iterations": int(kept)}))
    else:
        raise SystemExit(f"boosting.py: unknown mode {mode}")


main()
