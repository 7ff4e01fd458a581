"""shap's TreeExplainer on a Ferry model's trees, for the e2e explanation test.

    python shap_values.py TREE_TABLE_JSON MATRIX_JSON OUT_JSON

TREE_TABLE_JSON is `TrainedModel::tree_table()` as JSON (the node arrays shap's model
dictionary takes), MATRIX_JSON the preprocessed rows. Writes the path-dependent SHAP
values, shape [row][output][column], and the expected value per output.
"""

import json
import sys

import numpy as np
import shap

table = json.load(open(sys.argv[1]))
x = np.array(json.load(open(sys.argv[2])), dtype=np.float64)
trees = []
for t in table["trees"]:
    trees.append({
        "children_left": np.array(t["children_left"], dtype=np.int64),
        "children_right": np.array(t["children_right"], dtype=np.int64),
        "children_default": np.array(t["children_default"], dtype=np.int64),
        "feature": np.array(t["feature"], dtype=np.int64),
        "threshold": np.array([np.nan if v is None else v for v in t["threshold"]], dtype=np.float64),
        "value": np.array(t["value"], dtype=np.float64),
        "node_sample_weight": np.array(t["node_sample_weight"], dtype=np.float64),
    })
model = {
    "trees": trees,
    "base_offset": np.array(table["base_offset"], dtype=np.float64),
    "input_dtype": np.float64,
    "internal_dtype": np.float64,
    "tree_output": "raw_value",
}
explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
phi = np.asarray(explainer.shap_values(x, check_additivity=False))
k = table["n_outputs"]
# shap gives (rows, columns) for one output and (rows, columns, outputs) for more.
phi = phi.reshape(len(x), x.shape[1], k).transpose(0, 2, 1)
json.dump({"shap_values": phi.tolist(),
           "expected_value": np.atleast_1d(explainer.expected_value).tolist(),
           "shap_version": shap.__version__}, open(sys.argv[3], "w"))
