"""The estimator part of the fast path: a linear model applied in numpy, anything else exported
to ONNX and run by onnxruntime. `api.inference.FastPath` checks both against the sklearn
pipeline before it serves with them."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from api.encoders import Unsupported


def linear_weights(est: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(coef.T, intercept) of a linear model numpy can apply exactly, else None."""
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    if isinstance(est, SGDRegressor):
        return np.asarray(est.coef_, dtype=float).reshape(-1, 1), np.atleast_1d(
            np.asarray(est.intercept_, dtype=float)
        )
    if isinstance(est, SGDClassifier) and est.loss == "log_loss":
        return np.asarray(est.coef_, dtype=float).T, np.asarray(est.intercept_, dtype=float)
    return None


def _session(onx: Any, output: str) -> Any:
    """An onnxruntime session (one thread: one core per worker) that has output `output`."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(
        onx.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    if output not in [o.name for o in session.get_outputs()]:
        raise Unsupported(f"ONNX model has no output {output!r}")
    return session


def _reason(exc: Exception) -> str:
    """One short line: converters put whole attribute dumps (megabytes) in their messages."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}"


def export_onnx(estimator: Any, width: int, task: str) -> tuple[Any, type, str]:
    """(onnxruntime session, input dtype, output name) for `estimator` on `width` features."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    output = "probabilities" if task == "classification" else "variable"
    if type(estimator).__name__.startswith("HistGradientBoosting"):
        from api import boosting  # skl2onnx can't convert these here: the node is built directly

        try:
            return _session(boosting.onnx_model(estimator, width, task), output), np.float64, output
        except Unsupported:
            raise
        except Exception as exc:  # onnx/onnxruntime raise many types on a model they refuse
            raise Unsupported(f"ONNX export failed: {_reason(exc)}") from None
    options = {id(estimator): {"zipmap": False}} if task == "classification" else {}
    errors = []
    # Double precision first (exact parity); some estimators only convert in float32.
    for tensor, dtype in ((DoubleTensorType, np.float64), (FloatTensorType, np.float32)):
        try:
            onx = to_onnx(
                estimator,
                initial_types=[("x", tensor([None, width]))],
                options=options,
                target_opset={"": 17, "ai.onnx.ml": 3},
            )
            return _session(onx, output), dtype, output
        except Exception as exc:  # skl2onnx/onnxruntime raise many types on unsupported models
            errors.append(f"{tensor.__name__}: {_reason(exc)}")
    raise Unsupported("ONNX export failed: " + "; ".join(errors))


def run_linear(
    x: np.ndarray, coef: np.ndarray, intercept: np.ndarray, task: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(probabilities, None) for classification, (None, values) for regression."""
    scores = x @ coef + intercept
    if task == "regression":
        return None, scores[:, 0]
    # SGDClassifier(loss="log_loss").predict_proba: logistic of the decision function;
    # one-vs-rest probabilities normalised to sum to 1 for more than two classes.
    p = expit(scores)
    if p.shape[1] == 1:
        return np.hstack([1.0 - p, p]), None
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total != 0), None
