"""Hostile text (column names, params, trigger-payload fields) stays inert in every report's
Markdown: no broken table, mention, reference, HTML, code span or quick action, and lengths and
counts are capped. The reports are the real functions: the drift report, the retrain merge
request's description and title, and the merge-request report's params section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlops_template.core import markdown
from mlops_template.ct import describe, payload
from mlops_template.ct.compare import Comparison
from mlops_template.ct.drift_report import Report, Row, to_markdown
from mlops_template.review import report as mr_report
from tests.support.repo import default_params

HOSTILE = [
    "a|b",
    "x`code`",
    "<img src=https://evil.example/p.png>",
    "@all please look",
    "see #1 and !2 ~bug %v1 $3 &4",
    "line one\n/merge",
    "/assign @someone",
    "tab\tand\r\nCRLF\u2028LS",
    "[click](https://evil.example)",
    "![pixel](https://evil.example/p.png)",
    "\u202eevil bidi",
    "back\\slash|",
]


def assert_inert(md: str) -> None:
    for line in md.splitlines():
        assert not line.startswith("/"), f"quick action: {line!r}"
    assert "<" not in md, "HTML"
    assert not re.search(r"(?<!\\)`", md), "code span"
    without_entities = re.sub(r"&(lt|gt|amp);", "", md)
    assert not re.search(r"[@#!~%$&][A-Za-z0-9]", without_entities), "mention or reference"
    assert not re.search(r"(?<!\\)\[", md), "link or image"
    assert "\u202e" not in md and "\r" not in md and "\u2028" not in md
    header = None
    for line in md.splitlines():
        if line.startswith("|"):
            pipes = len(re.findall(r"(?<!\\)\|", line.replace("\\\\", "")))
            header = header or pipes
            assert pipes == header, f"broken table row: {line!r}"
        else:
            header = None


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_makes_each_hostile_text_inert(text: str) -> None:
    out = markdown.escape(text)
    assert "\n" not in out
    assert_inert(f"| {out} |\n")


def test_escape_caps_the_length_and_keeps_plain_names() -> None:
    assert markdown.escape("mean_radius") == "mean_radius"
    assert markdown.escape("x" * 10_000) == "x" * (markdown.MAX_CHARS - 1) + "…"


def test_table_caps_the_rows() -> None:
    text = markdown.table(["a"], [[i] for i in range(markdown.MAX_ROWS + 7)])
    assert text.count("\n| ") == markdown.MAX_ROWS
    assert "(7 more rows not shown)" in text


def test_drift_report_with_hostile_column_names() -> None:
    rows = [Row(name, 0.5, 0.01, 0.0, 0.0, True) for name in HOSTILE * 30]
    text = to_markdown(Report(rows, None, "skipped: @all /merge", 0.2, 100))
    assert_inert(text)
    assert "more rows not shown" in text and " more." in text  # rows and named features capped


def hostile_payload(alerts: int) -> dict[str, object]:
    return {
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": HOSTILE[i % len(HOSTILE)], "feature": HOSTILE[-i % 12]},
                "annotations": {"psi": "0.5", "summary": "\n/close\n@all <b>x</b> `y` | z"},
                "startsAt": "/label ~urgent",
            }
            for i in range(alerts)
        ],
    }


def test_retrain_description_and_title_with_a_hostile_payload() -> None:
    reason = payload.parse(hostile_payload(1000), "trigger")
    result = Comparison(new={"f1": 0.9, "@all": 1.0}, prod={"f1": 0.8}, prod_ref="/merge")
    text = describe.description(
        reason,
        result,
        metric="f1",
        gate="PASS @all\n/merge",
        data_note="data as checked out (no update)",
        changed=["dvc.lock", "/approve"],
        drift_md="",
        report_md="",
        pipeline_url="https://gitlab.example/p/-/pipelines/1",
    )
    assert_inert(text.split("\n---\n")[0])  # the footer is the template's own text
    assert "more rows not shown" in text  # 1000 alerts: a capped table
    assert len(text) < 50_000
    title = describe.title(reason, "abc")
    assert "\n" not in title and len(title) <= 255
    assert_inert(title)


def test_merge_request_report_params_with_hostile_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = default_params()
    params["data"]["target"] = "@all\n/merge <b>|</b>"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    section = mr_report.params_section(None)
    assert_inert(section)
    assert "data.target" in section
