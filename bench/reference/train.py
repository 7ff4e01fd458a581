"""scikit-learn fitting the same diamonds models as Ferry's configs, for bench/train.sh.

    python train.py linear|ridge|forest DATA_DIR [CSV]

Reads diamonds.csv with pandas, one-hot encodes cut, color and clarity (and standardises
the measurements for the linear models, as configs/diamonds_linear.yaml and
configs/diamonds_ridge.yaml do), holds out 20% (seed 42), fits LinearRegression,
Ridge(alpha=1.0) or RandomForestRegressor(100 trees, all columns per split, n_jobs=2),
predicts the held-out rows and prints one JSON line with the stage times, R2 and peak
RSS. With CSV (the large-table input of bench/reference/make_large.py), it reads that file
instead, only the columns the model uses, as a careful pandas user would.
"""

import json
import resource
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression, Ridge  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

kind, data = sys.argv[1], sys.argv[2]
t_import = time.perf_counter()
columns = ["carat", "cut", "color", "clarity", "depth", "table", "price", "x", "y", "z"]
if len(sys.argv) > 3:
    df = pd.read_csv(sys.argv[3], usecols=columns)
else:
    df = pd.read_csv(f"{data}/diamonds.csv")
x = pd.get_dummies(df.drop(columns=["price"]), columns=["cut", "color", "clarity"]).astype(float)
y = df["price"].to_numpy(dtype=float)
x_train, x_test, y_train, y_test = train_test_split(x.to_numpy(), y, test_size=0.2, random_state=42)
if kind in ("linear", "ridge"):
    numeric = [x.columns.get_loc(c) for c in ["carat", "depth", "table", "x", "y", "z"]]
    mean, std = x_train[:, numeric].mean(axis=0), x_train[:, numeric].std(axis=0)
    x_train[:, numeric] = (x_train[:, numeric] - mean) / std
    x_test[:, numeric] = (x_test[:, numeric] - mean) / std
    model = LinearRegression() if kind == "linear" else Ridge(alpha=1.0)
else:
    model = RandomForestRegressor(n_estimators=100, max_features=1.0, n_jobs=2, random_state=42)
t_load = time.perf_counter()
model.fit(x_train, y_train)
t_fit = time.perf_counter()
r2 = r2_score(y_test, model.predict(x_test))
t_eval = time.perf_counter()
print(json.dumps({
    "import": t_import - t0, "load": t_load - t_import, "fit": t_fit - t_load,
    "evaluate": t_eval - t_fit, "r2": r2,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
