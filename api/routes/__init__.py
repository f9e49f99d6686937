"""One router per resource."""

PREDICT_PATH = "/predict"  # also in the alert rules' route="/predict" (tests check they agree)
