"""scikit-learn's cross-validation of a Ferry pipeline config, for bench/cv.sh.

    python cv.py CONFIG [FOLDS]

Reads the Ferry YAML config and builds the same pipeline in scikit-learn: the data file
with pandas (the config's separator and missing-value markers, rows with a missing
non-nullable feature dropped), the preprocessing steps in order on their columns
(SimpleImputer, StandardScaler, MinMaxScaler, OneHotEncoder with the schema's categories)
and the model with the config's hyperparameters. With FOLDS (the CSV `row,fold` that
`train cv --folds-out` writes), it cross-validates on exactly Ferry's training rows and
folds (PredefinedSplit), so the two columns differ only by the models. Without it, it
holds out the config's test fraction itself (stratified for classifiers) and draws its
own folds (StratifiedKFold for classifiers, KFold otherwise, shuffled): the same
procedure on other rows. Prints one JSON object: metric -> mean, std (population, as
`scores.std()`) and the fold values.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import (
    KFold, PredefinedSplit, StratifiedKFold, cross_validate, train_test_split)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

SCORERS = {
    "accuracy": "accuracy",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}
NEGATED = {"log_loss", "rmse", "mae"}
CLASSIFIERS = {"logistic_regression", "decision_tree_classifier", "random_forest_classifier",
               "gradient_boosting_classifier"}


def tree_params(m):
    return {
        "max_depth": m.get("max_depth"),
        "min_samples_leaf": m.get("min_samples_leaf", 1),
        "min_samples_split": m.get("min_samples_split", 2),
    }


def make_model(m, seed, categorical=None):
    kind = m["type"]
    if kind == "logistic_regression":
        # smartcore's objective is log-loss + alpha/2 |w|^2: scikit-learn's C = 1/alpha.
        alpha = m.get("alpha", 1.0)
        return LogisticRegression(C=1.0 / alpha if alpha > 0 else np.inf, max_iter=5000)
    if kind == "linear_regression":
        return LinearRegression()
    if kind == "ridge_regression":
        return Ridge(alpha=m.get("alpha", 1.0))
    if kind == "lasso":
        return Lasso(alpha=m.get("alpha", 1.0), max_iter=m.get("max_iter", 1000), tol=m.get("tol", 1e-4))
    if kind == "elastic_net":
        return ElasticNet(alpha=m.get("alpha", 1.0), l1_ratio=m.get("l1_ratio", 0.5),
                          max_iter=m.get("max_iter", 1000), tol=m.get("tol", 1e-4))
    if kind == "decision_tree_classifier":
        return DecisionTreeClassifier(criterion=m.get("criterion", "gini"), random_state=seed, **tree_params(m))
    if kind == "decision_tree_regressor":
        return DecisionTreeRegressor(random_state=seed, **tree_params(m))
    if kind == "random_forest_classifier":
        return RandomForestClassifier(n_estimators=m.get("n_trees", 100), criterion=m.get("criterion", "gini"),
                                      max_features=m.get("max_features", "sqrt"), n_jobs=2,
                                      random_state=seed, **tree_params(m))
    if kind == "random_forest_regressor":
        return RandomForestRegressor(n_estimators=m.get("n_trees", 100), max_features=m.get("max_features", 1.0),
                                     n_jobs=2, random_state=seed, **tree_params(m))
    if kind in ("gradient_boosting_classifier", "gradient_boosting_regressor"):
        cls = HistGradientBoostingClassifier if kind.endswith("classifier") else HistGradientBoostingRegressor
        early = m.get("early_stopping", "auto")
        if early == "cv":
            raise SystemExit("cv.py: early_stopping: cv has no HistGradientBoosting counterpart")
        return cls(max_iter=m.get("max_iter", 100), learning_rate=m.get("learning_rate", 0.1),
                   max_leaf_nodes=m.get("max_leaf_nodes", 31), max_depth=m.get("max_depth"),
                   min_samples_leaf=m.get("min_samples_leaf", 20),
                   l2_regularization=m.get("l2_regularization", 0.0), max_bins=m.get("max_bins", 255),
                   early_stopping=early, validation_fraction=m.get("validation_fraction", 0.1),
                   n_iter_no_change=m.get("n_iter_no_change", 10), tol=m.get("tol", 1e-7),
                   categorical_features=categorical if categorical is not None and any(categorical) else None,
                   **({"loss": m["loss"]} if m.get("loss") in ("squared_error", "absolute_error") else {}),
                   random_state=seed)
    raise SystemExit(f"cv.py: no scikit-learn counterpart for {kind}")


def step_transformer(step, features):
    op = step["op"]
    if op == "impute":
        strategy = step.get("strategy", "mean")
        if isinstance(strategy, dict):
            return SimpleImputer(strategy="constant", fill_value=strategy["constant"])
        return SimpleImputer(strategy=strategy)
    if op == "standard_scale":
        return StandardScaler()
    if op == "min_max_scale":
        return MinMaxScaler()
    if op == "one_hot":
        raise AssertionError("one_hot is built per column")
    raise SystemExit(f"cv.py: no scikit-learn counterpart for op {op}")


def make_preprocessing(config, frame):
    """The ColumnTransformer of the config's steps and, per output column, whether it
    holds category codes: a categorical feature without a one_hot step (which only
    gradient boosting accepts) is ordinal-encoded in the schema's order, missing and
    unseen categories as NaN, as Ferry's category codes are."""
    features = config["schema"]["features"]
    chains = {f["name"]: [] for f in features}
    for step in (config.get("preprocessing") or {}).get("steps", []):
        for column in step["columns"]:
            chains[column].append(step)
    parts, categorical = [], []
    for f in features:
        name, steps = f["name"], []
        categories = f.get("categories") or sorted(frame[name].dropna().unique().tolist())
        encoded = any(step["op"] == "one_hot" for step in chains[name])
        for i, step in enumerate(chains[name]):
            if step["op"] == "one_hot":
                steps.append((f"{i}", OneHotEncoder(
                    categories=[categories],
                    handle_unknown="ignore" if step.get("handle_unknown") == "ignore" else "error",
                    sparse_output=False)))
            else:
                steps.append((f"{i}", step_transformer(step, features)))
        if f["dtype"] == "categorical" and not encoded:
            steps.append(("codes", OrdinalEncoder(
                categories=[categories], handle_unknown="use_encoded_value", unknown_value=np.nan,
                encoded_missing_value=np.nan)))
            categorical.append(True)
        else:
            categorical.extend([False] * (len(categories) if encoded else 1))
        parts.append((name, Pipeline(steps) if steps else "passthrough", [name]))
    return ColumnTransformer(parts), categorical


def main():
    path = Path(sys.argv[1])
    config = yaml.safe_load(path.read_text())
    data = config["data"]
    csv = data.get("csv") or {}
    frame = pd.read_csv(path.parent / data["path"], sep=csv.get("separator", ","),
                        na_values=data.get("null_values") or None, keep_default_na=True)
    features = config["schema"]["features"]
    target = config["schema"]["target"]["name"]
    required = [f["name"] for f in features if not f.get("nullable", False)] + [target]
    frame = frame.dropna(subset=required)
    x = frame[[f["name"] for f in features]]
    y = frame[target].to_numpy()
    model = config["model"]
    classifier = model["type"] in CLASSIFIERS
    split = config.get("split") or {}
    seed = split.get("seed", 42)
    evaluation = config.get("evaluation") or {}
    folds = (evaluation.get("cv") or {}).get("folds", 5)
    if len(sys.argv) > 2:
        assigned = pd.read_csv(sys.argv[2])
        rows = assigned["row"].to_numpy()
        x_train, y_train = x.iloc[rows], y[rows]
        splitter = PredefinedSplit(assigned["fold"].to_numpy())
    else:
        x_train, _, y_train, _ = train_test_split(
            x, y, test_size=split.get("test_fraction", 0.2), random_state=seed,
            stratify=y if classifier else None)
        splitter = (StratifiedKFold if classifier else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    metrics = evaluation.get("metrics") or (
        ["accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss"] if classifier
        else ["rmse", "mae", "r2"])
    if not classifier:
        y_train = y_train.astype(float)
    preprocess, categorical = make_preprocessing(config, frame)
    pipeline = Pipeline([("preprocess", preprocess), ("model", make_model(model, seed, categorical))])
    scores = cross_validate(pipeline, x_train, y_train, cv=splitter,
                            scoring={m: SCORERS[m] for m in metrics})
    out = {}
    for m in metrics:
        values = scores[f"test_{m}"]
        if m in NEGATED:
            values = -values
        out[m] = {"mean": float(values.mean()), "std": float(values.std()), "folds": values.tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
