"""params.yaml parsing: defaults, validation, and errors that name the key."""

from pathlib import Path

import pytest

from mlops_template.core import config
from mlops_template.core.errors import ConfigError


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
        ({"train": {"min_samples_leaf": 0}}, "train.min_samples_leaf must be at least 1"),
        ({"tune": {"trials": 0}}, "tune.trials must be at least 1"),
        ({"tune": {"models": ["xgboost"]}}, "tune.models: 'xgboost' is not one of"),
        ({"tune": {"minutes": -1}}, "tune.minutes must be positive or null"),
        ({"gate": {"confidence": 1.5}}, "gate.confidence must be between 0 and 1"),
    ],
)
def test_invalid_values(raw: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.from_dict(raw)


def test_hidden_layers_become_a_tuple() -> None:
    params = config.from_dict({"train": {"hidden_layers": [8, 4]}})
    assert params.train.hidden_layers == (8, 4)
