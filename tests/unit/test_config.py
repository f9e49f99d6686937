"""params.yaml parsing: defaults, validation, and errors that name the key."""

from pathlib import Path

import pytest
import yaml

from mlops_template.core import config
from mlops_template.core.errors import ConfigError

PARAMS_YAML = Path(__file__).parents[2] / "params.yaml"


def test_committed_params_yaml_is_valid() -> None:
    params = config.load(Path(__file__).parents[2] / "params.yaml")
    assert params.data.source == "breast_cancer"
    assert params.train.epochs == 20


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'train.epoch'"):
        config.from_dict({"train": {"epoch": 3}})


def test_unknown_section_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown section 'trian'"):
        config.from_dict({"trian": {}})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"train": {"model": "xgboost"}}, "train.model must be one of"),
        ({"train": {"epochs": 0}}, "train.epochs must be at least 1"),
        ({"preprocess": {"test_size": 1.5}}, "preprocess.test_size must be between 0 and 1"),
        ({"data": {"task": "ranking"}}, "data.task must be classification or regression"),
        ({"train": {"epochs": -1}}, r"train.epochs must be at least 1, not -1"),
        ({"train": {"epochs": "ten"}}, r"train.epochs must be an integer, not 'ten' \(str\)"),
        ({"train": {"epochs": 2.5}}, r"train.epochs must be an integer"),
        ({"train": {"epochs": True}}, r"train.epochs must be an integer, not True \(bool\)"),
        ({"train": {"learning_rate": "0.1"}}, r"train.learning_rate must be a number"),
        ({"train": {"learning_rate": 0}}, r"train.learning_rate must be more than 0"),
        ({"train": {"alpha": float("inf")}}, r"train.alpha must be a finite number"),
        ({"train": {"n_estimators": 10**9}}, r"train.n_estimators must be at most 10000"),
        ({"train": {"max_depth": 0}}, r"train.max_depth must be at least 1"),
        ({"train": {"hidden_layers": [8, "a"]}}, r"train.hidden_layers\[1\] must be an integer"),
        ({"train": {"hidden_layers": [0]}}, r"train.hidden_layers\[0\] must be at least 1"),
        ({"train": {"hidden_layers": []}}, r"train.hidden_layers must hold at least one value"),
        ({"train": {"hidden_layers": 64}}, r"train.hidden_layers must be a list"),
        ({"train": {"seed": None}}, r"train.seed must be set, not null"),
        ({"evaluate": {"drift_bins": 100000}}, r"evaluate.drift_bins must be at most 100"),
        ({"evaluate": {"drift_bins": 1}}, r"evaluate.drift_bins must be at least 2"),
        ({"data": {"min_rows": 0}}, r"data.min_rows must be at least 1"),
        ({"data": {"target": 2020}}, r"data.target must be a string, not 2020 \(int\)"),
        ({"data": {"source": ""}}, r"data.source must not be empty"),
        ({"preprocess": {"dedupe": "yes please"}}, r"preprocess.dedupe must be true or false"),
        ({"preprocess": {"max_dropped": 1.5}}, r"preprocess.max_dropped must be at most 1"),
        ({"preprocess": {"split": "time"}}, r"preprocess.split time needs preprocess.split_column"),
        ({"preprocess": {"split": "kfold"}}, r"preprocess.split must be random or group or time"),
        ({"preprocess": {"max_categories": 1}}, r"preprocess.max_categories must be at least 2"),
        ({"preprocess": {"clip": -1}}, r"preprocess.clip must be more than 0"),
        ({"gate": {"max_drop": -0.1}}, r"gate.max_drop must be at least 0"),
        ({"data": "breast_cancer"}, r"section 'data' must be a mapping"),
        ({"train": {"min_samples_leaf": 0}}, "train.min_samples_leaf must be at least 1"),
        ({"train": {"max_leaf_nodes": 1}}, "train.max_leaf_nodes must be at least 2"),
        (
            {"train": {"boosting_learning_rate": 0}},
            "train.boosting_learning_rate must be more than 0",
        ),
        ({"train": {"max_iter": 10**9}}, "train.max_iter must be at most 10000"),
        ({"train": {"early_stopping": "auto"}}, "train.early_stopping must be true or false"),
        ({"train": {"l2_regularization": -1}}, "train.l2_regularization must be at least 0"),
        ({"evaluate": {"importance_repeats": 0}}, "evaluate.importance_repeats must be at least 1"),
        ({"tune": {"trials": 0}}, "tune.trials must be at least 1"),
        ({"tune": {"models": ["xgboost"]}}, "tune.models: 'xgboost' is not one of"),
        ({"tune": {"models": "linear"}}, "tune.models must be a list"),
        ({"tune": {"minutes": -1}}, "tune.minutes must be more than 0"),
        ({"gate": {"confidence": 1.5}}, "gate.confidence must be between 0 and 1"),
        ({"gate": {"resamples": 0}}, "gate.resamples must be at least 1"),
        ({"gate": {"use_ci": "yes"}}, "gate.use_ci must be true or false"),
    ],
)
def test_invalid_values(raw: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.from_dict(raw)


def test_hidden_layers_become_a_tuple() -> None:
    params = config.from_dict({"train": {"hidden_layers": [8, 4]}})
    assert params.train.hidden_layers == (8, 4)


def test_a_whole_number_is_accepted_where_a_float_belongs() -> None:
    params = config.from_dict({"train": {"learning_rate": 1}, "preprocess": {"clip": None}})
    assert params.train.learning_rate == 1.0 and isinstance(params.train.learning_rate, float)
    assert params.preprocess.clip is None


def flat_keys() -> list[tuple[str, str]]:
    committed = yaml.safe_load(PARAMS_YAML.read_text())
    return [(section, key) for section, keys in committed.items() for key in keys]


@pytest.mark.parametrize(("section", "key"), flat_keys(), ids=lambda v: str(v))
def test_every_key_is_optional(section: str, key: str, tmp_path: Path) -> None:
    """Delete one key from the committed params.yaml: the default takes its place."""
    committed = yaml.safe_load(PARAMS_YAML.read_text())
    del committed[section][key]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(committed))
    params = config.load(path)
    default = getattr(getattr(config.Params(), section), key)
    assert getattr(getattr(params, section), key) == default


def test_an_empty_params_file_is_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("")
    assert config.load(path) == config.Params()
