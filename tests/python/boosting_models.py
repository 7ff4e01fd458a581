"""Trains one XGBoost and one LightGBM model per objective on the committed tables and
writes, for the gradient-boosting import test (tests/e2e/boosting.rs), into OUT_DIR:

- {lib}_{task}.json / .txt: the model file (XGBoost JSON, LightGBM text);
- {lib}_{task}.expected.json: for every row of the table, in file order, the library's
  prediction (probabilities for classifiers, values for regressors), its raw score, and
  its own TreeSHAP contributions (XGBoost pred_contribs, LightGBM pred_contrib) with the
  bias last.

    python boosting_models.py DATA_DIR OUT_DIR
"""

import json
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)

TABLES = {
    # task: (table, target, objective-specific label encoding)
    "binary": ("breast_cancer.csv", "diagnosis"),
    "multiclass": ("iris.csv", "species"),
    "regression": ("diabetes.csv", "progression"),
}

for task, (table, target) in TABLES.items():
    frame = pd.read_csv(data_dir / table)
    x = frame.drop(columns=[target]).astype(float)
    features = list(x.columns)
    if task == "regression":
        y = frame[target].astype(float).to_numpy()
    else:
        # Class codes in sorted label order, as Ferry numbers classes.
        classes = sorted(frame[target].astype(str).unique())
        y = frame[target].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    xv = x.to_numpy()

    params = {
        "binary": {"objective": "binary:logistic"},
        "multiclass": {"objective": "multi:softprob", "num_class": 3},
        "regression": {"objective": "reg:squarederror"},
    }[task]
    dtrain = xgb.DMatrix(xv, label=y, feature_names=features)
    booster = xgb.train({**params, "max_depth": 4, "eta": 0.3, "seed": 7}, dtrain, num_boost_round=40)
    booster.save_model(str(out / f"xgboost_{task}.json"))
    margin = booster.predict(dtrain, output_margin=True)
    pred = booster.predict(dtrain)
    contribs = booster.predict(dtrain, pred_contribs=True)
    json.dump({"prediction": pred.tolist(), "raw": margin.tolist(), "contributions": contribs.tolist()},
              open(out / f"xgboost_{task}.expected.json", "w"))

    lparams = {
        "binary": {"objective": "binary"},
        "multiclass": {"objective": "multiclass", "num_class": 3},
        "regression": {"objective": "regression"},
    }[task]
    ds = lgb.Dataset(xv, label=y, feature_name=features, free_raw_data=False)
    model = lgb.train({**lparams, "num_leaves": 15, "min_data_in_leaf": 5, "learning_rate": 0.1,
                       "verbose": -1, "seed": 7, "deterministic": True}, ds, num_boost_round=40)
    model.save_model(str(out / f"lightgbm_{task}.txt"))
    json.dump({"prediction": model.predict(xv).tolist(), "raw": model.predict(xv, raw_score=True).tolist(),
               "contributions": model.predict(xv, pred_contrib=True).tolist()},
              open(out / f"lightgbm_{task}.expected.json", "w"))
print("ok")
