"""`dvc repro` end to end in a temporary copy of the repository.

Real DVC: the four stages run, a second repro does nothing, a param change reruns only the
stages that read it, experiments, metrics and plots work, and push/pull round-trip through
a local remote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline_helpers import ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def sh(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC repo holding the project's files, with its own local remote."""
    work = tmp_path_factory.mktemp("repo")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    sh(work, "git", "init", "-q")
    sh(work, "git", "add", "-A")
    sh(work, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files")
    remote = tmp_path_factory.mktemp("remote")
    sh(work, "dvc", "remote", "modify", "--local", "local", "url", str(remote))
    return work


def test_repro_runs_all_stages_then_nothing(repo: Path) -> None:
    first = sh(repo, "dvc", "repro")
    for stage in ("load", "preprocess", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first
    assert "epoch 20/20" in first
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["f1"] > 0.9
    second = sh(repo, "dvc", "repro")
    assert "Running stage" not in second
    assert "up to date" in sh(repo, "dvc", "status")


def _set_param(repo: Path, section: str, key: str, value: object) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params[section][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_param_change_reruns_only_the_stages_that_read_it(repo: Path) -> None:
    sh(repo, "dvc", "repro")
    _set_param(repo, "evaluate", "drift_bins", 5)
    out = sh(repo, "dvc", "repro")
    assert "Running stage 'evaluate'" in out
    for stage in ("load", "preprocess", "train"):
        assert f"Running stage '{stage}'" not in out
    _set_param(repo, "train", "epochs", 5)
    out = sh(repo, "dvc", "repro")
    assert "Running stage 'train'" in out and " 5/5  train_loss" in out
    assert "Running stage 'preprocess'" not in out and "Running stage 'load'" not in out


def test_metrics_plots_and_experiments(repo: Path) -> None:
    sh(repo, "dvc", "repro")
    shown = json.loads(sh(repo, "dvc", "metrics", "show", "--json"))
    assert shown, "no metrics"
    assert "| reports/metrics.json" in sh(repo, "dvc", "metrics", "show", "--md")
    plots = json.loads(sh(repo, "dvc", "plots", "show", "--json", "--split"))
    assert {"Training loss", "Training accuracy", "Confusion matrix", "ROC"} <= set(plots["data"])
    assert not plots.get("errors")
    out = sh(repo, "dvc", "exp", "run", "-S", "train.epochs=3")
    assert " 3/3  train_loss" in out
    assert "train.epochs" in sh(repo, "dvc", "exp", "show", "--md")


def test_push_and_pull_round_trip(repo: Path) -> None:
    sh(repo, "dvc", "repro")
    model = repo / "model" / "model.skops"
    before = model.read_bytes()
    sh(repo, "dvc", "push")
    model.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    sh(repo, "dvc", "pull")
    assert model.read_bytes() == before
