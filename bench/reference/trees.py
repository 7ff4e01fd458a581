"""The other side of bench/trees.sh: tree-ensemble inference in LightGBM, ONNX Runtime,
treelite (compiled by tl2cgen) and lleaves, on the rows Ferry scores.

    python trees.py prepare DATA_DIR OUT_DIR
    python trees.py score OUT_DIR CASE THREADS SECONDS
    python trees.py forest OUT_DIR THREADS SECONDS

- prepare: writes, for each case, the training matrix and the scored rows as raw
  little-endian f64 (`CASE.train.f64`, `CASE.target.f64`, `CASE.rows.f64`, with
  `CASE.json` giving the shapes), trains LightGBM (500 trees of 63 leaves, learning rate
  0.1, no early stopping, seed 42) and saves its text model (`CASE.lgb.txt`), compiles it
  with tl2cgen (`CASE.tl2cgen.so`) and lleaves (`CASE.lleaves.o`) and converts it to ONNX
  with onnxmltools (`CASE.onnx`). Cases: `diamonds` (53,940 rows; the 6 numeric columns
  and cut, color, clarity as ordinal codes; price) and `synthetic` (1,000,000 rows of 50
  seeded normal columns, a nonlinear target). The scored rows are 10,000 rows the model
  was not trained on. Files already there are kept (delete OUT_DIR to redo).
- score: times each tool on CASE's rows in batches of 1, 100 and 10,000 with THREADS
  threads, about SECONDS per cell, and prints one JSON line per cell: the median seconds
  per call and per row, with the largest difference from LightGBM's own predictions.
- forest: scikit-learn's RandomForestRegressor with the settings of
  configs/diamonds_forest.yaml (100 trees grown until pure, every column a candidate) on
  diamonds' training matrix, timed on the same rows and batches (n_jobs=THREADS).

Batches are consecutive rows, cycling through the 10,000, so every call sees new rows.
"""

import json
import os
import statistics
import sys
import time

import numpy as np

TREES, LEAVES, SCORED = 500, 63, 10_000
BATCHES = (1, 100, 10_000)


def write(out, case, name, array):
    np.ascontiguousarray(array, dtype="<f8").tofile(os.path.join(out, f"{case}.{name}.f64"))


def read(out, case, name, cols=None):
    a = np.fromfile(os.path.join(out, f"{case}.{name}.f64"), dtype="<f8")
    return a if cols is None else a.reshape(-1, cols)


def shape(out, case):
    return json.load(open(os.path.join(out, f"{case}.json")))


def diamonds(data):
    import pandas as pd

    df = pd.read_csv(os.path.join(data, "diamonds.csv"))
    order = {
        "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
        "color": ["D", "E", "F", "G", "H", "I", "J"],
        "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
    }
    for col, levels in order.items():
        df[col] = pd.Categorical(df[col], categories=levels).codes.astype(float)
    x = df[["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"]].to_numpy(float)
    return x, df["price"].to_numpy(float)


def synthetic():
    rng = np.random.default_rng(42)
    n, k = 1_000_000, 50
    x = rng.normal(size=(n, k))
    y = (np.sin(x[:, 0]) * 3 + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) + (x[:, 4] > 0.5) * 2
         + 0.5 * x[:, 5:15].sum(axis=1) + rng.normal(scale=0.5, size=n))
    return x, y


def prepare(data, out):
    import lightgbm

    os.makedirs(out, exist_ok=True)
    for case, make in (("diamonds", lambda: diamonds(data)), ("synthetic", synthetic)):
        model = os.path.join(out, f"{case}.lgb.txt")
        if not os.path.exists(model):
            x, y = make()
            rng = np.random.default_rng(7)
            order = rng.permutation(len(x))
            scored, train = order[:SCORED], order[SCORED:]
            write(out, case, "train", x[train])
            write(out, case, "target", y[train])
            write(out, case, "rows", x[scored])
            json.dump({"features": x.shape[1], "train_rows": len(train), "rows": SCORED},
                      open(os.path.join(out, f"{case}.json"), "w"))
            params = {"objective": "regression", "learning_rate": 0.1, "num_leaves": LEAVES,
                      "min_data_in_leaf": 20, "max_bin": 255, "seed": 42, "verbose": -1}
            start = time.perf_counter()
            booster = lightgbm.train(params, lightgbm.Dataset(x[train], y[train]),
                                     num_boost_round=TREES)
            booster.save_model(model)
            print(f"trees.py: {case}: LightGBM trained in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr)
        compile_all(out, case)


def compile_all(out, case):
    model = os.path.join(out, f"{case}.lgb.txt")
    n = shape(out, case)["features"]
    so = os.path.join(out, f"{case}.tl2cgen.so")
    if not os.path.exists(so):
        import tl2cgen
        import treelite

        start = time.perf_counter()
        tl = treelite.frontend.load_lightgbm_model(model)
        tl2cgen.export_lib(tl, toolchain="gcc", libpath=so, params={"parallel_comp": 8},
                           nthread=os.cpu_count())
        print(f"trees.py: {case}: tl2cgen compiled in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
    obj = os.path.join(out, f"{case}.lleaves.o")
    if not os.path.exists(obj):
        import lleaves

        start = time.perf_counter()
        lleaves.Model(model_file=model).compile(cache=obj)
        print(f"trees.py: {case}: lleaves compiled in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
    onnx_path = os.path.join(out, f"{case}.onnx")
    if not os.path.exists(onnx_path):
        import lightgbm
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        booster = lightgbm.Booster(model_file=model)
        onx = onnxmltools.convert_lightgbm(booster, initial_types=[("input", FloatTensorType([None, n]))])
        open(onnx_path, "wb").write(onx.SerializeToString())


def tools(out, case, threads):
    """(name, predict) for each tool; predict takes a C-contiguous f64 batch."""
    import lightgbm
    import lleaves
    import onnxruntime
    import tl2cgen

    model = os.path.join(out, f"{case}.lgb.txt")
    booster = lightgbm.Booster(model_file=model)
    yield "lightgbm", lambda x: booster.predict(x, num_threads=threads)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(os.path.join(out, f"{case}.onnx"), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def onnx(x):
        return session.run(None, {name: x.astype(np.float32)})[0].ravel()

    yield "onnxruntime", onnx

    predictor = tl2cgen.Predictor(os.path.join(out, f"{case}.tl2cgen.so"), nthread=threads)

    def treelite(x):
        return predictor.predict(tl2cgen.DMatrix(x, dtype=predictor.threshold_type)).ravel()

    yield "treelite", treelite

    compiled = lleaves.Model(model_file=model)
    compiled.compile(cache=os.path.join(out, f"{case}.lleaves.o"))
    yield "lleaves", lambda x: compiled.predict(x, n_jobs=threads)


def time_cells(rows, predict, seconds):
    """Median seconds per call for each batch size, and the predictions of all rows."""
    cells = {}
    for batch in BATCHES:
        starts = list(range(0, len(rows) - batch + 1, batch))
        batches = [np.ascontiguousarray(rows[s:s + batch]) for s in starts]
        predict(batches[0])
        times, i, spent = [], 0, 0.0
        while (spent < seconds or len(times) < 5) and len(times) < 200_000:
            x = batches[i % len(batches)]
            start = time.perf_counter()
            predict(x)
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            spent += elapsed
            i += 1
        cells[batch] = (statistics.median(times), len(times))
    return cells, np.asarray(predict(rows), dtype=float).ravel()


def score(out, case, threads, seconds):
    rows = read(out, case, "rows", shape(out, case)["features"])
    reference = None
    for tool, predict in tools(out, case, threads):
        cells, predictions = time_cells(rows, predict, seconds)
        if reference is None:
            reference = predictions
            write(out, case, "lightgbm", predictions)
        diff = float(np.max(np.abs(predictions - reference) / np.maximum(1.0, np.abs(reference))))
        for batch, (median, calls) in cells.items():
            print(json.dumps({"case": case, "tool": tool, "threads": threads, "batch": batch,
                              "call_s": median, "row_us": median / batch * 1e6, "calls": calls,
                              "max_rel_diff": diff}), flush=True)


def forest(out, threads, seconds):
    from sklearn.ensemble import RandomForestRegressor

    n = shape(out, "diamonds")["features"]
    x, y = read(out, "diamonds", "train", n), read(out, "diamonds", "target")
    start = time.perf_counter()
    model = RandomForestRegressor(n_estimators=100, random_state=42, n_jobs=-1).fit(x, y)
    fit_s = time.perf_counter() - start
    model.set_params(n_jobs=threads)
    leaves = sum(int(t.tree_.n_leaves) for t in model.estimators_)
    cells, _ = time_cells(read(out, "diamonds", "rows", n), model.predict, seconds)
    for batch, (median, calls) in cells.items():
        print(json.dumps({"case": "diamonds-forest", "tool": "scikit-learn", "threads": threads,
                          "batch": batch, "call_s": median, "row_us": median / batch * 1e6,
                          "calls": calls, "leaves": leaves, "fit_s": fit_s}), flush=True)


def main():
    mode = sys.argv[1]
    if mode == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif mode == "score":
        score(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "forest":
        forest(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        raise SystemExit(f"trees.py: unknown mode {mode}")


main()
