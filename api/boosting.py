"""scikit-learn's histogram gradient boosting as one ONNX tree-ensemble node, built here.

skl2onnx 1.20 can't convert `HistGradientBoosting*` with the onnx release pinned here (its
converter writes a Python bool into an int list: "Field onnx.AttributeProto.ints: Expected an
int, got a boolean"). The fitted trees are plain arrays, so the node is written directly from
them — with the thresholds, leaf values and baseline as double tensors (`*_as_tensor`), so the
splits are those sklearn makes on float64 input, and missing values follow each node's
`missing_go_to_left` like sklearn's predictor does. `FastPath` still checks the result against
the sklearn pipeline on probe rows before it serves with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from api.encoders import Unsupported

OPSETS = {"": 17, "ai.onnx.ml": 3}


def _nodes(estimator: Any) -> tuple[dict[str, list[Any]], dict[str, list[Any]], np.ndarray]:
    """(node attributes, leaf attributes, thresholds) of every tree, trees numbered in order."""
    nodes: dict[str, list[Any]] = {
        key: []
        for key in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_modes",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "nodes_missing_value_tracks_true",
        )
    }
    leaves: dict[str, list[Any]] = {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    thresholds: list[float] = []
    tree = 0
    for iteration in estimator._predictors:
        for output, predictor in enumerate(iteration):
            table = predictor.nodes
            if np.any(table["is_categorical"]):
                raise Unsupported("gradient boosting with native categorical splits")
            for index, node in enumerate(table):
                leaf = bool(node["is_leaf"])
                nodes["nodes_treeids"].append(tree)
                nodes["nodes_nodeids"].append(index)
                nodes["nodes_featureids"].append(0 if leaf else int(node["feature_idx"]))
                nodes["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                nodes["nodes_truenodeids"].append(0 if leaf else int(node["left"]))
                nodes["nodes_falsenodeids"].append(0 if leaf else int(node["right"]))
                missing_left = 0 if leaf else int(node["missing_go_to_left"])
                nodes["nodes_missing_value_tracks_true"].append(missing_left)
                thresholds.append(0.0 if leaf else float(node["num_threshold"]))
                if leaf:
                    leaves["treeids"].append(tree)
                    leaves["nodeids"].append(index)
                    leaves["ids"].append(output)
                    leaves["weights"].append(float(node["value"]))
            tree += 1
    return nodes, leaves, np.asarray(thresholds, dtype=np.float64)


def onnx_model(estimator: Any, width: int, task: str) -> Any:
    """The ONNX model (input `x`: float64 of `width` columns) of a fitted HistGradientBoosting
    estimator: output `probabilities` for classification, `variable` for regression."""
    from onnx import TensorProto, checker, helper, numpy_helper

    if not getattr(estimator, "_predictors", None):
        raise Unsupported("gradient boosting model has no trees")
    loss = type(estimator._loss).__name__
    if task == "regression" and loss != "HalfSquaredError":
        raise Unsupported(f"gradient boosting loss {loss} (only squared error is exported)")
    nodes, leaves, thresholds = _nodes(estimator)
    base = np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel()
    attrs: dict[str, Any] = {
        **nodes,
        "nodes_values_as_tensor": numpy_helper.from_array(thresholds, "thresholds"),
    }
    weights = numpy_helper.from_array(np.asarray(leaves["weights"], np.float64), "weights")
    base_values = numpy_helper.from_array(base, "base")
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, width])
    if task == "classification":
        n = len(estimator.classes_)
        attrs.update(
            class_treeids=leaves["treeids"],
            class_nodeids=leaves["nodeids"],
            class_ids=leaves["ids"],
            class_weights_as_tensor=weights,
            base_values_as_tensor=base_values,
            classlabels_int64s=list(range(n)),
            # Binary: one score per row, sigmoid → [1 - p, p]; else one score per class.
            post_transform="LOGISTIC" if n == 2 else "SOFTMAX",
        )
        node = helper.make_node(
            "TreeEnsembleClassifier",
            ["x"],
            ["label", "probabilities"],
            domain="ai.onnx.ml",
            **attrs,
        )
        outputs = [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n]),
        ]
    else:
        attrs.update(
            target_treeids=leaves["treeids"],
            target_nodeids=leaves["nodeids"],
            target_ids=leaves["ids"],
            target_weights_as_tensor=weights,
            base_values_as_tensor=base_values,
            n_targets=1,
            aggregate_function="SUM",
            post_transform="NONE",
        )
        node = helper.make_node(
            "TreeEnsembleRegressor", ["x"], ["variable"], domain="ai.onnx.ml", **attrs
        )
        outputs = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])]
    graph = helper.make_graph([node], "gradient_boosting", [x], outputs)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(domain, v) for domain, v in OPSETS.items()]
    )
    checker.check_model(model)
    return model
