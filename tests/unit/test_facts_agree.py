"""Facts that a config file, a rule or a document must repeat agree with the code's one place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from api.routes import INFERENCE_ROUTES, PREDICT_PATH, is_inference
from mlops_template.core import card, config, drift
from mlops_template.ct import commands

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "prometheus" / "rules"
PARAMS_DOC = ROOT / "docs" / "pipeline.md"  # the params.yaml reference table
MODEL_VERSION_INFER = "/v2/models/{name}/versions/{version}/infer"


def rules() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found[rule.get("alert") or rule["record"]] = rule
    return found


@pytest.mark.parametrize("alert", ["FeatureDrift", "PredictionDrift"])
def test_the_drift_alerts_fire_where_the_offline_report_does(alert: str) -> None:
    first = rules()[alert]["expr"].strip().splitlines()[0]
    match = re.fullmatch(r"\S+_psi:15m\{[^}]*\}\s*(>=|>|<=|<)\s*([0-9.]+)", first.strip())
    assert match, f"{alert}: can't read the PSI comparison in {first!r}"
    operator, threshold = match.group(1), float(match.group(2))
    assert threshold == drift.PSI_THRESHOLD
    # the rule's comparison, applied by the Python side
    assert operator == ">"
    assert not drift.drifted(drift.PSI_THRESHOLD)
    assert drift.drifted(drift.PSI_THRESHOLD + 1e-9)
    assert f"(PSI > {drift.PSI_THRESHOLD:g})" in rules()[alert]["annotations"]["description"]


def test_the_ci_drift_thresholds_are_the_defaults() -> None:
    from mlops_template.ct import two_sample

    text = (ROOT / "ci" / "retrain.gitlab-ci.yml").read_text()
    values = re.findall(r"\b(\w*THRESHOLD):\s*\"?([0-9.]+)\"?", text)
    psi = {float(v) for name, v in values if "AUC" not in name}
    auc = {float(v) for name, v in values if "AUC" in name}
    assert psi, "no drift threshold variable in ci/retrain.gitlab-ci.yml"
    assert psi == {drift.PSI_THRESHOLD}
    assert auc == {two_sample.AUC_THRESHOLD}  # DRIFT_AUC_THRESHOLD: the classifier score


def test_rules_select_the_routes_the_api_serves() -> None:
    routes, patterns = set(), set()
    for path in RULES.glob("*.yml"):
        routes |= set(re.findall(r'route="([^"]+)"', path.read_text()))
        patterns |= set(re.findall(r'route=~"([^"]+)"', path.read_text()))
    assert routes <= {PREDICT_PATH} and patterns == {INFERENCE_ROUTES}


def test_the_inference_routes_are_predict_and_the_v2_infer_routes() -> None:
    """Every route label the app exports matches INFERENCE_ROUTES (anchored, as PromQL
    anchors it) exactly when the route runs the model."""
    from api.main import create_app
    from api.middleware import Observe

    [observe] = [m for m in create_app().user_middleware if m.cls is Observe]
    served: set[str] = observe.kwargs["paths"]
    assert "/health" in served
    matching = {p for p in served if re.fullmatch(INFERENCE_ROUTES, p)}
    assert matching == {PREDICT_PATH, "/v2/models/{name}/infer", MODEL_VERSION_INFER}
    assert all(is_inference(p.replace("{name}", "m").replace("{version}", "1")) for p in matching)


def test_the_remote_timeout_defaults_agree() -> None:
    variables = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())["variables"]
    assert float(variables["DVC_TIMEOUT"]) == commands.DEFAULT_REMOTE_TIMEOUT
    for script in sorted((ROOT / "ci").glob("*.sh")):
        for value in re.findall(r"DVC_TIMEOUT:-(\d+)", script.read_text()):
            assert float(value) == commands.DEFAULT_REMOTE_TIMEOUT, script.name


def test_the_artifact_is_the_model_cards_name() -> None:
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    assert list(artifacts) == [card.MODEL_NAME]


def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def test_params_yaml_holds_every_default() -> None:
    committed = flat(yaml.safe_load((ROOT / "params.yaml").read_text()))
    assert committed == flat(config.as_dict(config.Params()))


def test_the_params_reference_table_lists_every_key_with_its_default() -> None:
    documented = {}
    for key, cell in re.findall(
        r"^\| `([a-z_]+\.[a-z0-9_]+)` \| `([^`]*)` \|", PARAMS_DOC.read_text(), re.M
    ):
        try:
            documented[key] = yaml.safe_load(cell)
        except yaml.YAMLError:
            documented[key] = cell
    assert documented == flat(config.as_dict(config.Params()))


SERVING_DOC = ROOT / "docs" / "serving.md"
FEEDBACK_DOC = ROOT / "docs" / "feedback.md"


def settings_rows(text: str) -> dict[str, str]:
    """{VARIABLE: its default cell} of a doc's settings tables (a row naming several: "")."""
    documented: dict[str, str] = {}
    for names_cell, default_cell in re.findall(r"^\| (`[A-Z_]+`[^|]*) \| ([^|]+) \|", text, re.M):
        found = re.findall(r"`([A-Z_]+)`", names_cell)
        documented.update({n: default_cell if len(found) == 1 else "" for n in found})
    return documented


def same_default(documented: dict[str, str], variable: str, field: Any, doc: str) -> None:
    assert variable in documented, f"docs/{doc} has no row for {variable}"
    default = field.default
    numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
    if documented[variable] and numeric:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert documented[variable].strip() == f"`{shown}`", variable


def test_the_serving_docs_list_every_setting_and_metric() -> None:
    from api.settings import Settings
    from api.telemetry import names

    text = SERVING_DOC.read_text()
    documented = settings_rows(text)
    feedback_rows = settings_rows(FEEDBACK_DOC.read_text())
    for name, field in Settings.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):  # FEEDBACK_*, CAPTURE_*
            prefix = str(nested.model_config.get("env_prefix", ""))
            for sub, sub_field in nested.model_fields.items():
                same_default(feedback_rows, f"{prefix}{sub}".upper(), sub_field, "feedback.md")
            continue
        same_default(documented, name.upper(), field, "serving.md")
    for metric in names.ALL:
        suffix = "_total" if metric.kind == "counter" else ""
        assert f"| `{metric.name}{suffix}` |" in text, f"docs/serving.md lacks {metric.name}"


def test_the_api_model_size_limit_is_the_loaders() -> None:
    from api.settings import MAX_MODEL_BYTES, Settings
    from mlops_template.core import bundle

    assert MAX_MODEL_BYTES == bundle.MAX_MODEL_BYTES == Settings().max_model_bytes
