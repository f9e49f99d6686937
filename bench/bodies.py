"""Request bodies of the serving benchmark: the same rows as V2 tensors, and /feedback bodies
whose ids are signed with the key the benchmarked servers get."""

import json
from pathlib import Path
from typing import Any

FEEDBACK_KEY = "bench-feedback-key-0123456789abcdefghij"  # pragma: allowlist secret


def v2_body(card: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The same rows as an Open Inference Protocol request: one tensor per feature (columns
    that are not features, such as IDs, have no tensor)."""
    from api.v2.tensors import DECLARED

    inputs = [
        {
            "name": f.name,
            "shape": [len(records)],
            "datatype": DECLARED[f.kind],
            "data": [r.get(f.name) for r in records],
        }
        for f in card.features
    ]
    return {"inputs": inputs}


def feedback_bodies(model_dir: Path, labels: int, count: int, path: Path) -> Path:
    """`count` /feedback bodies of `labels` distinct ids each (one JSON body per line)."""
    import numpy as np

    from api.feedback.ids import Signer
    from api.state import read_card

    card = read_card(model_dir)
    signer = Signer([FEEDBACK_KEY.encode()], card.version, card.classes)
    n = labels * count
    if card.classes:
        ids = signer.issue(np.zeros(n, dtype=int), None)
        label: Any = card.classes[0]
    else:
        ids, label = signer.issue(None, np.zeros(n)), 0.0
    with path.open("w") as out:
        for start in range(0, n, labels):
            items = [{"id": i, "label": label} for i in ids[start : start + labels]]
            out.write(json.dumps({"feedback": items}) + "\n")
    return path
