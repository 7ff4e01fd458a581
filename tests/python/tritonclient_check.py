"""Drives a running Ferry server with NVIDIA's tritonclient (the KServe V2 / Open
Inference Protocol HTTP client), as a Triton or KServe user would, and prints what it
got as one JSON object for the Rust test (tests/e2e/kserve.rs) to compare with Ferry's
native endpoint.

    python tritonclient_check.py HOST:PORT TITANIC_RECORDS_JSON IRIS_ROWS_JSON DIABETES_ROWS_JSON
"""

import json
import sys

import numpy as np
import tritonclient.http as http
from tritonclient.utils import InferenceServerException

url, titanic, iris, diabetes = sys.argv[1], *(json.loads(a) for a in sys.argv[2:5])
client = http.InferenceServerClient(url=url)
out = {
    "live": client.is_server_live(),
    "ready": client.is_server_ready(),
    "server": client.get_server_metadata(),
    "titanic_meta": client.get_model_metadata("titanic"),
    "titanic_ready": client.is_model_ready("titanic"),
    "titanic_v1_ready": client.is_model_ready("titanic", "1"),
}

TITANIC = [("pclass", "INT64", np.int64), ("sex", "BYTES", np.object_),
           ("age", "FP64", np.float64), ("sibsp", "INT64", np.int64),
           ("parch", "INT64", np.int64), ("fare", "FP64", np.float64),
           ("embarked", "BYTES", np.object_)]


def titanic_inputs(binary):
    inputs = []
    for name, datatype, np_type in TITANIC:
        values = [np.nan if r[name] is None else r[name] for r in titanic]
        array = np.array(values, dtype=np_type)
        tensor = http.InferInput(name, [len(values)], datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def as_lists(result, names):
    got = {}
    for name in names:
        array = result.as_numpy(name)
        if array.dtype == np.object_:
            array = np.array([v.decode() if isinstance(v, bytes) else v for v in array.ravel()])
        got[name] = array.tolist()
    return got


# Binary inputs and, as tritonclient asks by default (no outputs named), binary outputs.
result = client.infer("titanic", titanic_inputs(True))
out["titanic_binary"] = as_lists(result, ["predict", "predict_proba"])
out["titanic_binary_version"] = result.get_response()["model_version"]
# JSON inputs and JSON outputs, at an explicit version.
requested = [http.InferRequestedOutput("predict", binary_data=False),
             http.InferRequestedOutput("predict_proba", binary_data=False)]
result = client.infer("titanic", titanic_inputs(False), model_version="1", outputs=requested)
out["titanic_json"] = as_lists(result, ["predict", "predict_proba"])
out["titanic_json_outputs"] = [o.get("data") is not None for o in result.get_response()["outputs"]]

# One [n, 4] FP32 tensor, the features in schema order.
tensor = http.InferInput("input", [len(iris), 4], "FP32")
tensor.set_data_from_numpy(np.array(iris, dtype=np.float32))
out["iris_matrix"] = as_lists(client.infer("iris", [tensor]), ["predict", "predict_proba"])

# A regressor: one [n, 10] FP64 tensor; only predict.
tensor = http.InferInput("input", [len(diabetes), 10], "FP64")
tensor.set_data_from_numpy(np.array(diabetes, dtype=np.float64))
out["diabetes_matrix"] = as_lists(client.infer("diabetes", [tensor]), ["predict"])

# Errors come back as exceptions carrying the server's message.
errors = {}
tensor = http.InferInput("petal", [1], "FP64")
tensor.set_data_from_numpy(np.array([1.0]))
for key, call in [("unknown_input", lambda: client.infer("iris", [tensor])),
                  ("unknown_model", lambda: client.get_model_metadata("nope"))]:
    try:
        call()
        errors[key] = None
    except InferenceServerException as e:
        errors[key] = {"status": e.status(), "message": e.message()}
out["errors"] = errors
print(json.dumps(out))
