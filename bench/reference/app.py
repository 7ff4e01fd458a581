"""The Python stack Ferry is compared with: FastAPI + uvicorn + scikit-learn, written the
way such services usually are (pydantic request models, numpy rows, predict_proba).

It serves the same two models as the benchmark's Ferry server, fitted at start-up on the
same CSV files with the same preprocessing and hyperparameters:

- POST /models/iris/predict     standard scaling + LogisticRegression(C=1)
- POST /models/titanic/predict  median/most-frequent imputation, one-hot encoding,
                                RandomForestClassifier(100 trees, max_depth 7 (smartcore's
                                8), min_samples_leaf 2)

Bodies and answers have Ferry's shape: one record, or {"records": [...]}.
Run: uvicorn app:app --workers 1 (bench/serve.sh does, in a virtual environment).
"""

import os
import uuid
from typing import List, Optional, Union

import numpy as np
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA = os.environ.get("FERRY_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "data"))

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
iris = pd.read_csv(os.path.join(DATA, "iris.csv"))
iris_model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
iris_model.fit(iris[IRIS_FEATURES].values, iris["species"].values)

TITANIC_NUMERIC = ["pclass", "age", "sibsp", "parch", "fare"]
TITANIC_CATEGORICAL = ["sex", "embarked"]
titanic = pd.read_csv(os.path.join(DATA, "titanic.csv"), na_values=["?"])
titanic_model = make_pipeline(
    ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), TITANIC_NUMERIC),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="error"),
                ),
                TITANIC_CATEGORICAL,
            ),
        ]
    ),
    RandomForestClassifier(n_estimators=100, max_depth=7, min_samples_leaf=2, random_state=7),
)
titanic_model.fit(titanic[TITANIC_NUMERIC + TITANIC_CATEGORICAL], titanic["survived"])


class Iris(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


class IrisBatch(BaseModel):
    records: List[Iris]


class Passenger(BaseModel):
    pclass: int
    sex: str
    age: Optional[float] = None
    sibsp: int
    parch: int
    fare: Optional[float] = None
    embarked: Optional[str] = None


class PassengerBatch(BaseModel):
    records: List[Passenger]


app = FastAPI()


def answer(model_name, classes, probabilities):
    return {
        "request_id": str(uuid.uuid4()),
        "model": model_name,
        "model_version": 1,
        "api_version": "v1",
        "predictions": [
            {
                "label": classes[int(np.argmax(p))],
                "probabilities": {str(c): float(v) for c, v in zip(classes, p)},
            }
            for p in probabilities
        ],
    }


@app.post("/models/iris/predict")
def predict_iris(body: Union[IrisBatch, Iris]):
    records = body.records if isinstance(body, IrisBatch) else [body]
    x = np.array([[getattr(r, f) for f in IRIS_FEATURES] for r in records])
    return answer("iris", [str(c) for c in iris_model.classes_], iris_model.predict_proba(x))


@app.post("/models/titanic/predict")
def predict_titanic(body: Union[PassengerBatch, Passenger]):
    records = body.records if isinstance(body, PassengerBatch) else [body]
    frame = pd.DataFrame([r.model_dump() for r in records])
    frame = frame.where(frame.notna(), np.nan)  # None -> NaN, which the imputers fill
    classes = [int(c) for c in titanic_model.classes_]
    return answer("titanic", classes, titanic_model.predict_proba(frame))


@app.get("/ready")
def ready():
    return {"status": "ready"}
