"""What every inference protocol shares: a body becomes `Records`, model output becomes a body.

`/predict` (`api.routes.predict.PredictCodec`) and the Open Inference Protocol
(`api.v2.codec.V2Codec`) differ only in how they read a request body and write the answer.
Everything between — validation limits, the model thread and its dynamic batching
(`api.batcher`), inference, the drift and prediction metrics — is one code path
(`api.routes.predict.answer_many`), whichever protocol the request came in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import orjson

from api.records import Records

# The answer of one request: (its rows of model output, whether those are class
# probabilities, one signed prediction id per row) → the response body. Output rows are
# probabilities (n, classes) for classifiers, values (n,) for regressors.
Reply = Callable[[np.ndarray, bool, list[str]], bytes]


class Codec(Protocol):
    def read(self, body: bytes) -> tuple[Records, Reply]:
        """The validated records of `body` and how to answer it; raises an input error."""
        ...


class InputError(ValueError):
    """A request body a protocol refuses; `reason` is the label of the rejection metric."""

    def __init__(self, message: str, reason: str = "wrong_type") -> None:
        super().__init__(message)
        self.reason = reason


NOT_FINITE = "NaN and Infinity are not JSON numbers"


def not_finite(body: bytes, exc: orjson.JSONDecodeError) -> bool:
    """Whether orjson refused `body` for a NaN, an Infinity or a number too large for a
    double (1e400): worth saying so, rather than "unexpected character"."""
    at = body.decode("utf-8", "replace")[exc.pos : exc.pos + 9]
    return at.startswith(("NaN", "Infinity", "-Infinity")) or "infinity" in str(exc)
