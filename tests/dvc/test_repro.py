"""`dvc repro` end to end in a temporary copy of the repository.

Real DVC: the four stages run, a second repro does nothing, a param change reruns only the
stages that read it, experiments, metrics and plots work, and push/pull round-trip through
a local remote.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.repo import copy_checkout, default_params, init_repo
from tests.support.shell import sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC repo holding the project's files, with its own local remote."""
    work = init_repo(copy_checkout(tmp_path_factory.mktemp("repo")), message="files")
    remote = tmp_path_factory.mktemp("remote")
    sh("dvc", "remote", "modify", "--local", "local", "url", remote, cwd=work)
    return work


def test_repro_runs_all_stages_then_nothing(repo: Path) -> None:
    first = sh("dvc", "repro", cwd=repo)
    for stage in ("load", "preprocess", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first
    assert "epoch 20/20" in first
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["f1"] > 0.9
    second = sh("dvc", "repro", cwd=repo)
    assert "Running stage" not in second
    assert "up to date" in sh("dvc", "status", cwd=repo)


def _set_param(repo: Path, section: str, key: str, value: object) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params[section][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_param_change_reruns_only_the_stages_that_read_it(repo: Path) -> None:
    sh("dvc", "repro", cwd=repo)
    _set_param(repo, "evaluate", "drift_bins", 5)
    out = sh("dvc", "repro", cwd=repo)
    assert "Running stage 'evaluate'" in out
    for stage in ("load", "preprocess", "train"):
        assert f"Running stage '{stage}'" not in out
    _set_param(repo, "train", "epochs", 5)
    out = sh("dvc", "repro", cwd=repo)
    assert "Running stage 'train'" in out and " 5/5  train_loss" in out
    assert "Running stage 'preprocess'" not in out and "Running stage 'load'" not in out


def test_metrics_plots_and_experiments(repo: Path) -> None:
    sh("dvc", "repro", cwd=repo)
    shown = json.loads(sh("dvc", "metrics", "show", "--json", cwd=repo))
    assert shown, "no metrics"
    assert "| reports/metrics.json" in sh("dvc", "metrics", "show", "--md", cwd=repo)
    plots = json.loads(sh("dvc", "plots", "show", "--json", "--split", cwd=repo))
    assert {"Training loss", "Training accuracy", "Confusion matrix", "ROC"} <= set(plots["data"])
    assert not plots.get("errors")
    out = sh("dvc", "exp", "run", "-S", "train.epochs=3", cwd=repo)
    assert " 3/3  train_loss" in out
    assert "train.epochs" in sh("dvc", "exp", "show", "--md", cwd=repo)


def test_push_and_pull_round_trip(repo: Path) -> None:
    sh("dvc", "repro", cwd=repo)
    model = repo / "model" / "model.skops"
    before = model.read_bytes()
    sh("dvc", "push", cwd=repo)
    model.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    sh("dvc", "pull", cwd=repo)
    assert model.read_bytes() == before


def test_every_key_can_be_left_out_of_params_yaml(repo: Path) -> None:
    """params.yaml with every key deleted (empty sections): `dvc repro` runs on the defaults —
    the same model byte for byte — and a key added back with another value reruns exactly the
    stages whose sections hold it (dvc.yaml lists whole sections, not keys)."""
    path = repo / "params.yaml"
    original = path.read_text()
    try:
        path.write_text(yaml.safe_dump(default_params()))  # earlier tests changed some keys
        sh("dvc", "repro", cwd=repo)
        model = (repo / "model" / "model.skops").read_bytes()
        empty = {section: {} for section in default_params()}
        path.write_text(yaml.safe_dump(empty))
        out = sh("dvc", "repro", cwd=repo)
        assert "Running stage 'train'" in out
        assert (repo / "model" / "model.skops").read_bytes() == model
        path.write_text(yaml.safe_dump({**empty, "evaluate": {"drift_bins": 5}}))
        out = sh("dvc", "repro", cwd=repo)
        assert "Running stage 'evaluate'" in out and "Running stage 'train'" not in out
    finally:
        path.write_text(original)
