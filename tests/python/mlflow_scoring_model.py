"""Saves an MLflow model for the /invocations parity test: scikit-learn's logistic
regression on data/iris.csv with the signature MLflow infers from the frame, as teams
log their models. The test serves it with `mlflow models serve` and sends the same bad
requests to it and to Ferry.

Usage: python mlflow_scoring_model.py DATA_CSV OUT_DIR
"""

import sys

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression


def main() -> None:
    data, out = sys.argv[1], sys.argv[2]
    frame = pd.read_csv(data)
    x = frame[["sepal_length", "sepal_width", "petal_length", "petal_width"]]
    y = frame["species"]
    model = LogisticRegression(max_iter=1000).fit(x, y)
    signature = infer_signature(x, model.predict(x))
    mlflow.sklearn.save_model(model, out, signature=signature)


if __name__ == "__main__":
    main()
