"""The docs stay true: every `curl … /predict -d '…'` in the README and docs/ works on the default
model, and the README shows the answer it really gives."""

from __future__ import annotations

import json
import re

from tests.support.api import TestClient
from tests.support.shell import ROOT

README = (ROOT / "README.md").read_text()
DOCS = README + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
BODIES = re.findall(
    r"curl -s -X POST http://127\.0\.0\.1:8000/predict [^\n]*?-d '(\{.*?\})'\n", DOCS
)


def test_the_docs_have_predict_examples() -> None:
    assert len(BODIES) >= 3  # the README's one record, docs/serving.md's record and batch


def test_every_readme_predict_example_works(client: TestClient) -> None:
    for body in BODIES:
        response = client.post(
            "/predict", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["predictions"]) == len(json.loads(body)["records"])


def test_the_answer_shown_in_the_readme_is_the_real_one(client: TestClient) -> None:
    shown = re.search(
        r'It answers `\{"model_version":"(\w+)","predictions":\[\{"prediction":"(\w+)"', README
    )
    assert shown is not None
    answer = client.post(
        "/predict", content=BODIES[0], headers={"Content-Type": "application/json"}
    )
    assert answer.json()["model_version"] == shown.group(1)
    assert answer.json()["predictions"][0]["prediction"] == shown.group(2)
