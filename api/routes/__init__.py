"""One router per resource."""

PREDICT_PATH = "/predict"  # also in the alert rules' route="/predict" (tests check they agree)
V2_PREFIX = "/v2"  # the Open Inference Protocol (api.routes.v2)
FEEDBACK_PATH = "/feedback"  # labels for earlier predictions (api.routes.feedback)
# The route labels of inference calls, as the alert and recording rules select them
# (route=~"…"; tests check it matches /predict and the V2 infer routes, and nothing else).
INFERENCE_ROUTES = "/predict|/v2/models/.+/infer"


def is_v2(path: str) -> bool:
    """A path of the Open Inference Protocol (errors there are `{"error": …}`)."""
    return path == V2_PREFIX or path.startswith(V2_PREFIX + "/")


def is_inference(path: str) -> bool:
    """A path that runs the model: /predict or a V2 infer (shared limits, rejections, load)."""
    return path == PREDICT_PATH or (path.startswith(V2_PREFIX + "/") and path.endswith("/infer"))
