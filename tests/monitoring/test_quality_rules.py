"""The quality rules are generated from params.yaml's monitor section: the committed files are
what the generator writes, and for other settings the generated promtool tests still pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_template.core import config
from mlops_template.core.live_params import MonitorParams
from mlops_template.core.errors import ConfigError
from mlops_template.ct import monitor_rules, quality_rules
from tests.support.shell import ROOT, require_tool


def test_the_committed_rules_and_their_tests_are_what_params_yaml_gives() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_template.ct.monitor_rules", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{done.stderr} (run `make monitor-rules`)"


def test_a_changed_floor_makes_the_committed_file_stale(tmp_path: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["monitor"]["floor"] = 0.5
    monitor = config.from_dict(params).monitor
    committed = (ROOT / quality_rules.OUT).read_text()
    assert quality_rules.render(monitor) != committed
    assert "< 0.5\n" in quality_rules.render(monitor)


@pytest.mark.parametrize(
    "monitor",
    [
        MonitorParams(),
        MonitorParams(metric="mae", floor=12.5, min_labels=30, window="15m", alert_after="0s"),
        MonitorParams(metric="accuracy", floor=1.0, min_labels=1, window="2h", alert_after="1m"),
        MonitorParams(metric="accuracy", floor=0.3, min_labels=5000, window="30m"),
    ],
    ids=["committed", "mae", "floor-1", "many-labels"],
)
def test_generated_rules_fire_and_stay_quiet_as_their_tests_say(
    monitor: MonitorParams, tmp_path: Path
) -> None:
    promtool = require_tool("promtool")
    files = monitor_rules.outputs(monitor, tmp_path)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    rules, tests = files
    for args in (["check", "rules", str(rules)], ["test", "rules", str(tests)]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    cases = yaml.safe_load(files[tests])["tests"]
    assert any(c["alert_rule_test"][0]["exp_alerts"] for c in cases)
    assert any(not c["alert_rule_test"][0]["exp_alerts"] for c in cases)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"metric": "f1"}, "monitor.metric"),
        ({"floor": 1.5}, "monitor.floor"),
        ({"floor": "high"}, "monitor.floor"),
        ({"min_labels": 0}, "monitor.min_labels"),
        ({"window": "one hour"}, "monitor.window"),
        ({"alert_after": "10 minutes"}, "monitor.alert_after"),
        ({"metric": "mae", "floor": -1}, "monitor.floor"),
    ],
)
def test_bad_monitor_params_name_the_key(section: dict[str, object], key: str) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["monitor"].update(section)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.from_dict(params)


def test_the_metric_must_fit_the_task() -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["task"] = "regression"
    with pytest.raises(ConfigError, match="monitor.metric accuracy needs data.task"):
        config.from_dict(params)
