"""`make tune` on the bundled data: reproducible leaderboards, the test split untouched, sub-study
merging, and `--apply` writing the winner into params.yaml with its comments kept."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_template.core import config, io
from mlops_template.core.errors import ConfigError, StageError
from mlops_template.stages import load, preprocess
from mlops_template.tuning import apply, board, merge, search, trial
from tests.support.shell import ROOT


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the committed params.yaml and the preprocess stage's outputs."""
    folder = tmp_path_factory.mktemp("tune")
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        load.main()
        preprocess.main()
    return folder


@pytest.fixture
def workdir(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of `prepared` as the working directory."""
    target = tmp_path / "work"
    shutil.copytree(prepared, target)
    monkeypatch.chdir(target)
    return target


def without_timings(doc: dict[str, Any]) -> dict[str, Any]:
    """The leaderboard minus what a clock decides (seconds per trial and in total)."""
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    return {
        **{k: v for k, v in doc.items() if k not in ("seconds", "trials", "baseline", "best")},
        "trials": [strip(r) for r in doc["trials"]],
        "baseline": strip(doc["baseline"]) if doc["baseline"] else None,
        "best": strip(doc["best"]) if doc["best"] else None,
    }


def set_tune(**values: Any) -> None:
    raw = yaml.safe_load(Path("params.yaml").read_text())
    raw["tune"] = {**raw.get("tune", {}), **values}
    Path("params.yaml").write_text(yaml.safe_dump(raw))


def test_the_same_seed_gives_the_same_leaderboard(workdir: Path) -> None:
    search.main(["--trials", "8", "--out", "first.json"])
    search.main(["--trials", "8", "--out", "second.json"])
    search.main(["--trials", "8", "--seed", "7", "--out", "other.json"])
    first, second = io.read_json(Path("first.json")), io.read_json(Path("second.json"))
    assert len(first["trials"]) == 8
    assert without_timings(first) == without_timings(second)
    other = io.read_json(Path("other.json"))
    assert [t["params"] for t in other["trials"]] != [t["params"] for t in first["trials"]]
    assert Path("first.md").read_text().startswith("## Hyperparameter search: f1")


def test_the_search_never_reads_the_test_split_and_matches_or_beats_params_yaml(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Path("data/processed/test.parquet").unlink()
    with caplog.at_level(logging.INFO, logger="mlops_template.tuning.search"):
        search.main(["--trials", "6"])
    doc = io.read_json(board.JSON)
    baseline = doc["baseline"]
    assert baseline["note"] == "params.yaml" and baseline["value"] is not None
    assert doc["best"]["value"] >= baseline["value"]  # f1: higher is better
    assert doc["split"] == "validation"
    # One progress line per trial: number, score (or state), best so far, elapsed, params.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tune: trial")]
    assert len(lines) == 6
    pattern = (
        r"tune: trial (\d)/6  (f1=[\d.]+|pruned|failed)  best=[\d.]+ \(#\d\)  [\d.]+ s  linear "
    )
    for number, line in enumerate(lines, 1):
        match = re.match(pattern + r"learning_rate=\S+ alpha=\S+", line)
        assert match and int(match.group(1)) == number, line


def test_sub_studies_merge_into_one_leaderboard(workdir: Path) -> None:
    search.main(["--trials", "6", "--shard", "1/2", "--out", "shards/1.json"])
    search.main(["--trials", "6", "--shard", "2/2", "--out", "shards/2.json"])
    one, two = io.read_json(Path("shards/1.json")), io.read_json(Path("shards/2.json"))
    assert one["seed"] == 42 and two["seed"] == 43  # seed-split, no shared database
    assert one["baseline"] is not None and two["baseline"] is None
    merge.main(["shards/1.json", "shards/2.json", "--out", "merged.json"])
    merged = io.read_json(Path("merged.json"))
    assert len(merged["trials"]) == 12
    assert [s["shard"] for s in merged["shards"]] == [1, 2]
    scored = [t["value"] for t in merged["trials"] + [merged["baseline"]] if t["value"] is not None]
    assert merged["best"]["value"] == max(scored)
    winner = merged["best"]
    if winner["number"]:  # the merged decision pairs the winner's own validation outputs
        assert merged["outputs"]["best"]["trial"] == [winner["shard"], winner["number"]]
        assert merged["decision"]["interval"] is not None
    table = Path("merged.md").read_text()
    assert "in 2 parallel sub-studies" in table
    assert re.search(r"\| 1 \| (params\.yaml|[12]-\d+) \| linear \|", table), table


def test_merge_refuses_leaderboards_of_different_searches(workdir: Path) -> None:
    search.main(["--trials", "3", "--out", "a.json"])
    doc = io.read_json(Path("a.json"))
    io.write_json(Path("b.json"), {**doc, "metric": "accuracy"})
    with pytest.raises(StageError, match="differ in metric"):
        merge.main(["a.json", "b.json"])


def test_the_family_can_be_searched_too(workdir: Path) -> None:
    set_tune(models=["linear", "gradient_boosting"])
    search.main(["--trials", "6"])
    doc = io.read_json(board.JSON)
    assert {t["params"]["model"] for t in doc["trials"]} == {"linear", "gradient_boosting"}
    boosted = next(t for t in doc["trials"] if t["params"]["model"] == "gradient_boosting")
    assert set(boosted["params"]) >= {"boosting_learning_rate", "max_iter", "max_leaf_nodes"}


def test_apply_writes_the_winner_and_keeps_the_comments(workdir: Path) -> None:
    before = Path("params.yaml").read_text()
    doc = {
        "metric": "f1",
        "shards": [{"shard": 1}],
        "best": {
            "shard": 1,
            "number": 3,
            "value": 0.97,
            "params": {"model": "mlp", "learning_rate": 0.002, "hidden_layers": [32]},
        },
    }
    apply.apply(doc)
    after = Path("params.yaml").read_text()
    assert config.load().train.model == "mlp"
    assert config.load().train.hidden_layers == (32,)
    assert re.search(r"^  hidden_layers: \[32\] +# mlp$", after, re.M)
    assert re.search(r"^  learning_rate: 0.002 +# linear and mlp$", after, re.M)
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 3, changed  # model, learning_rate, hidden_layers; the rest as it was
    assert all("#" in b for _, b in changed)  # each keeps its comment


def test_apply_refuses_params_the_stages_would_refuse(workdir: Path) -> None:
    before = Path("params.yaml").read_text()
    doc = {
        "metric": "f1",
        "shards": [],
        "best": {"shard": 1, "number": 1, "value": 1.0, "params": {"model": "xgboost"}},
    }
    with pytest.raises(ConfigError, match="train.model must be one of"):
        apply.apply(doc)
    assert Path("params.yaml").read_text() == before


def test_a_gain_within_the_validation_noise_keeps_params_yaml(workdir: Path) -> None:
    """On the default data (91 validation rows) the best of a few trials beats params.yaml by a
    row or two: `--apply` keeps params.yaml and says why; `--best` writes the trial anyway."""
    before = Path("params.yaml").read_text()
    search.main(["--trials", "8", "--apply"])
    doc = io.read_json(board.JSON)
    assert doc["best"]["number"] > 0 and doc["best"]["value"] > doc["baseline"]["value"]
    decision = doc["decision"]
    assert decision["choice"] == "params.yaml" and decision["why"].endswith("within noise")
    assert "of 91 validation rows" in decision["why"]
    assert decision["interval"]["low"] <= 0 < decision["interval"]["high"]  # 0 inside
    assert decision["interval"]["rows"] == 91
    assert Path("params.yaml").read_text() == before
    assert "keeps params.yaml" in Path("reports/tune.md").read_text()
    apply.main(["--best"])
    assert config.load().train.learning_rate == doc["best"]["params"]["learning_rate"]


def test_a_gain_beyond_noise_is_applied() -> None:
    """A trial right on 400 validation rows where params.yaml is wrong on 60 of them."""
    import numpy as np

    from mlops_template.core.config import GateParams
    from mlops_template.stages import explain

    y = np.array(["a", "b"] * 200)
    good = np.tile([[0.9, 0.1], [0.1, 0.9]], (200, 1))
    poor = good.copy()
    poor[:60] = poor[:60, ::-1]
    classes = np.array(["a", "b"])

    def outputs(proba: Any) -> dict[str, Any]:
        return explain.predictions(
            "val", y, classes[proba.argmax(axis=1)], proba, "classification", classes
        )

    baseline = {"shard": 1, "number": 0, "value": 0.85, "state": "complete", "params": {}}
    trial = {"shard": 1, "number": 1, "value": 1.0, "state": "complete", "params": {}}
    doc = board.leaderboard(
        metric="accuracy",
        seed=42,
        families=["linear"],
        shards=[{"shard": 1}],
        baseline=baseline,
        trials=[trial],
        seconds=1.0,
        outputs={"baseline": outputs(poor), "best": {**outputs(good), "trial": [1, 1]}},
        noise=GateParams(),
    )
    assert doc["decision"]["choice"] == "trial" and doc["decision"]["trial"] == "1"
    assert doc["decision"]["interval"]["low"] > 0.1


def test_a_trial_the_train_checks_refuse_is_recorded_as_failed() -> None:
    """A trial that learns nothing (the train stage's baseline check) is a failed trial with
    the reason, not the end of the search."""
    import numpy as np

    from mlops_template.core.config import TrainParams
    from mlops_template.stages.encoding import Split

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 3)), rng.choice(["a", "b"], 300, p=[0.7, 0.3]).astype(object)
    classes = np.array(["a", "b"], dtype=object)
    data = trial.Data(Split(x[:200], y[:200]), Split(x[200:], y[200:]), "classification", classes)
    record = trial.attempt(TrainParams(epochs=5), data, "f1")
    assert record["state"] == "failed" and record["value"] is None
    assert "learned nothing usable" in record["note"]
