"""Two-sample tests and the classifier drift score, alone and in the drift report CLI
(a batch file, or the API's capture folder, against the training split)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.feedback.sink import Columns, Sink
from api.records import Records
from mlops_template.core import card, capture
from mlops_template.ct import drift_report, two_sample
from mlops_template.stages import datasets


@pytest.fixture(scope="module")
def halves() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = datasets.read("breast_cancer").drop(columns=["diagnosis"])
    reference = frame.sample(frac=0.5, random_state=1)
    return reference, frame.drop(reference.index)


def test_nothing_moved_scores_near_one_half(
    halves: tuple[pd.DataFrame, pd.DataFrame], model_dir: Path
) -> None:
    reference, recent = halves
    features = card.read(model_dir).features
    score = two_sample.classifier_score(reference, recent, features)
    assert score is not None and 0.35 < score.auc < 0.65 and not score.drifted
    tests = two_sample.numeric_tests(reference, recent, features)
    assert len(tests) == 30
    assert sum(t.ks_pvalue < 0.01 for t in tests) <= 2
    assert max(t.wasserstein for t in tests) < 0.3


def test_a_shifted_feature_leads_both_tests(
    halves: tuple[pd.DataFrame, pd.DataFrame], model_dir: Path
) -> None:
    reference, recent = halves
    recent = recent.assign(worst_area=recent["worst_area"] * 1.5)
    features = card.read(model_dir).features
    tests = two_sample.numeric_tests(reference, recent, features)
    assert tests[0].name == "worst_area" and tests[0].ks_pvalue < 1e-6
    assert tests[0].wasserstein > 0.5
    score = two_sample.classifier_score(reference, recent, features)
    assert score is not None and score.auc > 0.85 and score.drifted


def test_a_broken_relation_between_features_shows_only_in_the_classifier(
    halves: tuple[pd.DataFrame, pd.DataFrame], model_dir: Path
) -> None:
    """Sizes shuffled apart from the radius they follow: every marginal distribution is
    unchanged, the joint one is not."""
    reference, recent = halves
    rng = np.random.default_rng(0)
    moved = ["mean_perimeter", "mean_area", "worst_perimeter", "worst_area"]
    shuffled = recent.assign(**{c: rng.permutation(recent[c].to_numpy()) for c in moved})
    features = card.read(model_dir).features
    tests = {t.name: t for t in two_sample.numeric_tests(recent, shuffled, features)}
    assert tests["mean_perimeter"].ks == 0.0
    score = two_sample.classifier_score(reference, shuffled, features)
    assert score is not None and score.auc > 0.8 and score.drifted


def test_too_few_rows_give_no_score(model_dir: Path) -> None:
    frame = datasets.read("breast_cancer").drop(columns=["diagnosis"])
    assert two_sample.classifier_score(frame, frame.head(5), card.read(model_dir).features) is None


def run(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = drift_report.main(list(args))
    return code, out.getvalue() + err.getvalue()


def test_the_report_on_captured_traffic_against_the_training_split(
    model_dir: Path, tmp_path: Path
) -> None:
    model_card = card.read(model_dir)
    frame = datasets.read("breast_cancer").drop(columns=["diagnosis"])
    reference = tmp_path / "train.parquet"
    frame.to_parquet(reference)
    recent = frame.sample(300, random_state=2).assign(mean_radius=lambda f: f["mean_radius"] * 1.4)
    rows = list(recent.itertuples(index=False, name=None))
    ids = [f"id-{i}" for i in range(len(rows))]
    now = int(pd.Timestamp.now(tz="UTC").value // 10**6)
    columns = Columns(model_card, (), (), b"k" * 32)
    table = columns.predictions([(Records(rows), ids, np.zeros(len(rows), dtype=int), now)])
    url = str(tmp_path / "capture")
    Sink(url).write(capture.PREDICTIONS, table, now)
    code, text = run(
        "--capture",
        url,
        "--model-dir",
        str(model_dir),
        "--reference",
        str(reference),
        "--format",
        "md",
    )
    assert code == 1, text
    assert "**Multivariate drift**" in text and ": DRIFT" in text
    first = next(line for line in text.splitlines() if line.startswith("| mean_radius | 0."))
    assert first
    code, text = run("--capture", str(tmp_path / "nothing"), "--model-dir", str(model_dir))
    assert code == 2 and "no captured rows" in text
