"""One router per resource."""

PREDICT_PATH = "/predict"  # also in the alert rules' route="/predict" (tests check they agree)
V2_PREFIX = "/v2"  # the Open Inference Protocol (api.routes.v2)
V2_MODEL = V2_PREFIX + "/models/{name}"  # its model routes' templates, with and without
V2_VERSION = V2_MODEL + "/versions/{version}"  # a version
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


def infer_route(path: str) -> str:
    """The route template of a V2 infer path ("" if it is none): for the requests answered
    before routing (shed with 503, 413 by Content-Length), which would else be counted under
    route="unmatched", out of the inference routes' rates and ratios."""
    parts = path.split("/")
    if parts[:3] != ["", "v2", "models"] or parts[-1] != "infer" or not all(parts[3:]):
        return ""
    if len(parts) == 5:
        return V2_MODEL + "/infer"
    if len(parts) == 7 and parts[4] == "versions":
        return V2_VERSION + "/infer"
    return ""
