"""The merge-request report (`python -m mlops_template.review.report`) on real pipeline runs.

Each repo is a git clone of this checkout with `main` on a bare origin and a `feature` branch
that changes params.yaml; `dvc repro` trains for real, then the report compares the branch with
`origin/main` exactly as the CI report job does.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from tests.support.repo import feature_params, main_learning_rate, make_mr_repo, set_params
from tests.support.shell import sh

pytestmark = pytest.mark.slow  # each repo trains for real with `dvc repro`

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_report(repo: Path, *args: str) -> str:
    sh(sys.executable, "-m", "mlops_template.review.report", *args, cwd=repo, timeout=300)
    return (repo / "report" / "report.md").read_text()


def images(report: str, folder: Path) -> dict[str, Path]:
    """Alt text → image file of every markdown image; each must be a real PNG."""
    found = {alt: folder / src for alt, src in re.findall(r"!\[([^\]]+)\]\(\./([^)]+)\)", report)}
    for alt, path in found.items():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC), f"{alt}: {path.name} is not a PNG"
        assert len(data) > 5000, f"{alt}: {path.name} is suspiciously small"
    return found


@pytest.fixture(scope="module")
def mr_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_mr_repo(tmp_path_factory.mktemp("mr"), feature_params())
    sh(sys.executable, "-m", "dvc", "repro", "-q", cwd=repo, timeout=600)
    return repo


def test_report_compares_branch_with_target(mr_repo: Path) -> None:
    report = run_report(mr_repo, "--target-ref", "origin/main")
    metrics = report.split("## Metrics (vs origin/main)")[1].split("##")[0]
    assert re.search(r"\|\s*Path\s*\|\s*Metric\s*\|\s*origin/main\s*\|\s*workspace\s*\|", metrics)
    assert re.search(r"\|\s*reports/metrics\.json\s*\|\s*f1\s*\|", metrics)
    params = report.split("## Params changed")[1].split("##")[0]
    old, new = main_learning_rate(), feature_params()["train"]["learning_rate"]
    assert re.search(rf"train\.learning_rate\s*\|\s*{old:g}\s*\|\s*{new:g}\s*\|", params)
    assert re.search(r"## Quality gate\n\n(✅ PASS|❌ FAIL): f1 = [0-9.]+ .*baseline", report)
    epochs = report.split("## Training per epoch")[1].split("##")[0]
    assert len(re.findall(r"^\| \d+ \|", epochs, flags=re.MULTILINE)) == 20
    found = images(report, mr_repo / "report")
    assert {"Training loss", "Confusion matrix", "ROC"} <= set(found)
    # Why it decides: importance chart, reliability plot, per-class table, and the change
    # against main's model with a paired bootstrap interval (same test rows on both branches).
    assert {"Permutation importance", "Calibration"} <= set(found)
    per_class = report.split("## Per class (test split)")[1].split("##")[0]
    assert re.search(r"^\| benign \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 72 \|$", per_class, re.M)
    change = report.split("## Change against the target branch (bootstrap)")[1].split("##")[0]
    assert re.search(
        r"f1 [\d.]+ vs [\d.]+: [+-][\d.]+ \(95% interval [+-][\d.]+ to [+-][\d.]+; paired "
        r"bootstrap, 1000 resamples of 114 test rows\): (within noise|better|worse)",
        change,
    ), change


def test_report_without_target_and_with_a_failed_gate(mr_repo: Path) -> None:
    """An unknown ref (first commit, local preview) falls back to the current state; a gate
    failure is reported, not raised: the report is most useful exactly then."""
    params = (mr_repo / "params.yaml").read_text()
    try:
        set_params(mr_repo, gate={"min": 0.9999})
        report = run_report(mr_repo, "--target-ref", "origin/no-such-branch")
    finally:
        (mr_repo / "params.yaml").write_text(params)
    assert " vs " not in report.splitlines()[0]
    assert re.search(r"## Metrics\n\n\|\s*Path\s*\|\s*accuracy", report)
    assert f"| train.learning_rate | {feature_params()['train']['learning_rate']:g} |" in report
    assert "❌ FAIL: f1 =" in report and "0.9999" in report
    assert "Confusion matrix" in images(report, mr_repo / "report")


def test_report_for_a_regression_model(tmp_path: Path) -> None:
    repo = make_mr_repo(
        tmp_path,
        {
            "data": {"source": "diabetes", "target": "progression", "task": None},
            "gate": {"metric": "r2", "min": 0.0, "max_drop": 1.0},
        },
    )
    sh(sys.executable, "-m", "dvc", "repro", "-q", cwd=repo, timeout=600)
    report = run_report(repo)  # main holds a classifier: compare nothing with it
    assert "✅ PASS: r2 =" in report
    found = images(report, repo / "report")
    assert "Predictions" in found
    assert "Confusion matrix" not in found
    assert "Permutation importance" in found and "## Per class" not in report
