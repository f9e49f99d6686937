"""What the model served and what came back: ids for predicted rows, labels scored against them.

`Ledger.served(records, best, values)` is the one call every prediction route makes after the
model ran (/predict today; an Open Inference Protocol route the same way): it returns one
signed id per row, in order, and hands the rows to capture when it is on. It depends only on
(rows, predictions, model version), so ids mean the same whichever route issued them.

`Ledger.label(items)` scores labels from POST /feedback against what their ids say was
served — on any replica that has the key, no shared state — and refuses, per item, what it
can't accept. "Already labelled" is remembered per process (a bounded memory of recent ids);
duplicates that reached different processes are removed when captured labels are joined
(`mlops_template.ct.feedback_data`).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mlops_template.core.card import ModelCard

from api.feedback.ids import IdError, Issued, Signer
from api.feedback.settings import FeedbackSettings
from api.records import Records
from api.telemetry.quality import Quality

DAY = 86400.0
CLOCK_SKEW = 300.0  # seconds an id may be "from the future" (replica clocks differ)
# Farthest a regression label may be from the served value: beyond any real target, and far
# enough from float overflow that no number of labels makes the error metric's sum infinite.
MAX_ABS_ERROR = 1e150


class Sink(Protocol):
    """Where served rows and labels are captured (api.feedback.capture.Capture)."""

    def predictions(self, records: Records, ids: list[str], predicted: np.ndarray, ms: int) -> None:
        """`predicted`: class indices into the card's classes, or the regression values."""

    def labels(self, rows: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True)
class Refusal:
    index: int
    reason: str
    detail: str


@dataclass
class Outcome:
    accepted: int = 0
    refused: list[Refusal] = field(default_factory=list)


class Ledger:
    def __init__(
        self,
        signer: Signer,
        card: ModelCard,
        settings: FeedbackSettings,
        quality: Quality,
        sink: Sink | None = None,
    ) -> None:
        self.signer, self.card, self.quality, self.sink = signer, card, quality, sink
        self.classes = list(card.classes)
        self.known = set(self.classes)
        self.max_age = settings.max_age_days * DAY
        self.remember = settings.remember
        self.seen: OrderedDict[bytes, None] = OrderedDict()

    # -- predictions ---------------------------------------------------------------------

    def served(
        self, records: Records, best: np.ndarray | None, values: np.ndarray | None
    ) -> list[str]:
        """One id per row of `records` (class indices `best`, or regression `values`)."""
        ms = int(time.time() * 1000)
        ids = self.signer.issue(best, values, ms)
        if self.sink is not None:
            predicted = best if best is not None else values
            assert predicted is not None
            self.sink.predictions(records, ids, predicted, ms)
        return ids

    # -- labels --------------------------------------------------------------------------

    def label(self, items: list[Any]) -> Outcome:
        """Score each {"id", "label"} item; accept it or say why not."""
        now = time.time()
        outcome = Outcome()
        captured: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                issued, label = self._check(item, now)
            except IdError as exc:
                outcome.refused.append(Refusal(index, exc.reason, str(exc)))
                self.quality.refused(exc.reason)
                continue
            outcome.accepted += 1
            delay = now - issued.served_at
            if issued.label is not None:
                verdict = "correct" if label == issued.label else "wrong"
                self.quality.labelled(issued.version, verdict, delay)
                predicted: Any = issued.label
            else:
                assert issued.value is not None
                self.quality.labelled(
                    issued.version, "scored", delay, abs(float(label) - issued.value)
                )
                predicted = issued.value
            captured.append(
                {
                    "id": item["id"],
                    "label": label,
                    "labelled_ms": int(now * 1000),
                    "served_ms": issued.served_ms,
                    "model_version": issued.version,
                    "prediction": predicted,
                }
            )
        if captured and self.sink is not None:
            self.sink.labels(captured)
        return outcome

    def _check(self, item: Any, now: float) -> tuple[Issued, Any]:
        if not isinstance(item, dict) or set(item) != {"id", "label"}:
            # The route refuses such bodies with a 422; other callers get a per-item answer.
            raise IdError("malformed_item", 'each item must be {"id": …, "label": …}')
        issued = self.signer.read(item["id"])
        age = now - issued.served_at
        if age > self.max_age:
            days = self.max_age / DAY
            raise IdError("expired_id", f"the prediction is older than {days:g} days")
        if age < -CLOCK_SKEW:
            raise IdError("malformed_id", "the id's time is in the future")
        self._same_model(issued)
        label = self._label(item["label"], issued)
        key = issued.nonce + issued.served_ms.to_bytes(6, "big")
        if key in self.seen:
            raise IdError("duplicate", "this prediction was already labelled")
        self.seen[key] = None
        if len(self.seen) > self.remember:
            self.seen.popitem(last=False)
        return issued, label

    def _same_model(self, issued: Issued) -> None:
        """Any version of this model may have served it, not another model sharing the key:
        its label would be scored (and captured) against a prediction this model never made."""
        if (issued.label is not None) != bool(self.classes):
            served = "a classifier" if issued.label is not None else "a regressor"
            raise IdError("wrong_model", f"the id is from {served}, another model")
        if issued.label is not None and issued.label not in self.known:
            raise IdError("wrong_model", "the id's class is not one of this model's classes")

    def _label(self, label: Any, issued: Issued) -> Any:
        if issued.label is not None:  # classification: a class name
            if isinstance(label, (bool, int)) and not isinstance(label, float):
                label = str(label)  # 1 for class "1", true for "True"
            if not isinstance(label, str):
                raise IdError("wrong_label_type", "the label must be a class name (a string)")
            if label not in self.known:
                shown = ", ".join(self.classes[:20])
                raise IdError("unknown_class", f"the label is not a known class ({shown})")
            return label
        if isinstance(label, bool) or not isinstance(label, (int, float)):
            raise IdError("wrong_label_type", "the label must be a number (regression)")
        if not math.isfinite(label):
            raise IdError("wrong_label_type", "the label must be a finite number")
        assert issued.value is not None
        if not abs(float(label) - issued.value) <= MAX_ABS_ERROR:  # also catches overflow
            raise IdError("out_of_range", f"the label is more than {MAX_ABS_ERROR:g} away")
        return float(label)
