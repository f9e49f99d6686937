"""The committed monitoring configs, checked by the real tools: promtool (config, rules, rule
unit tests, dashboard PromQL), amtool (rendered Alertmanager config and its routing),
check-jsonschema (compose file), hadolint (Dockerfile)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support.monitoring import (
    ALERTMANAGER_DIR,
    DASHBOARDS,
    PROMETHEUS_DIR,
    load_render,
    render_alertmanager,
)
from tests.support.shell import ROOT, require_tool, venv_tool
from tests.monitoring.promql import metric_names, panel_exprs, panels, recorded_names, rule_docs

from api.telemetry.names import exported_series_names

RULE_DIR = PROMETHEUS_DIR / "rules"
STANDIN_ENV = {
    "GITLAB_URL": "http://127.0.0.1:9",
    "PROJECT_ID": "42",
    "REF": "main",
    "TRIGGER_TOKEN": "glptt-not-a-real-token",
}
ALERTS = {
    "APIDown",
    "APIHighErrorRatio",
    "APIHighLatencyP99",
    "ModelInputValidationErrors",
    "FeatureDrift",
    "PredictionDrift",
    "ModelQualityDrop",
}


def run(*cmd: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_prometheus_config_and_rules_are_valid() -> None:
    promtool = require_tool("promtool")
    out = run(promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert "3 rule files found" in out
    run(promtool, "check", "rules", *map(str, sorted(RULE_DIR.glob("*.yml"))))


def test_every_alert_has_promtool_unit_tests_that_pass() -> None:
    promtool = require_tool("promtool")
    test_files = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert test_files
    run(promtool, "test", "rules", *map(str, test_files))
    alerts = {rule["alert"] for rule in rule_docs(RULE_DIR) if "alert" in rule}
    assert alerts == ALERTS
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in test_files:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == alerts, f"alerts never shown firing: {alerts - fired}"
    assert quiet == alerts, f"alerts never shown quiet: {alerts - quiet}"


def test_alerts_carry_runbooks_and_drift_alerts_route_to_retraining() -> None:
    for rule in rule_docs(RULE_DIR):
        if "alert" not in rule:
            continue
        annotations, labels = rule["annotations"], rule["labels"]
        assert {"summary", "description", "runbook", "runbook_url"} <= set(annotations)
        assert labels["severity"] in {"critical", "warning"}
        if "Drift" in rule["alert"]:
            assert labels["action"] == "retrain"
            assert {"feature", "psi"} <= set(annotations)


def test_rules_name_only_exported_metrics_or_recorded_series() -> None:
    known = exported_series_names() | recorded_names(RULE_DIR) | {"up"}
    for rule in rule_docs(RULE_DIR):
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('record') or rule.get('alert')} reads unknown {unknown}"


def test_every_dashboard_expr_parses_and_names_only_exported_metrics(tmp_path: Path) -> None:
    """promtool parses each panel expr as a recording rule (it catches typos like `rat(`)."""
    promtool = require_tool("promtool")
    assert DASHBOARDS
    known = exported_series_names() | recorded_names(RULE_DIR) | {"up"}
    rules = []
    for dashboard in DASHBOARDS:
        for n, (title, expr) in enumerate(panel_exprs(dashboard)):
            unknown = metric_names(expr) - known
            assert not unknown, f"{dashboard.name} panel {title!r} reads unknown {unknown}"
            rules.append(
                {"record": f"dashboard:{dashboard.stem.replace('-', '_')}:{n}", "expr": expr}
            )
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = run(promtool, "check", "rules", str(rule_file))
    assert f"{len(rules)} rules found" in out


def test_dashboard_has_the_panels_the_service_needs() -> None:
    exprs = " ".join(expr for d in DASHBOARDS for _, expr in panel_exprs(d))
    for needed in (
        "job_route_status:http_requests:rate5m",  # request rate
        "job:http_requests_errors:ratio_rate5m",  # error ratio
        "job_route:http_request_duration_seconds:quantile_rate5m",  # latency quantiles
        "http_requests_in_flight",
        "job_class:model_predictions:rate5m",
        "model_prediction_value_bucket",
        "job:model_prediction_confidence:quantile_rate5m",
        "job_feature:model_feature_psi:15m",
        "job:model_prediction_psi:15m",
        "model_info",
        "model_loaded_timestamp_seconds",
        "model_input_validation_errors_total",
        "model_requests_rejected_total",
        "model_requests_expired_total",
        "model_queue_requests",
        "model_queue_rows",
    ):
        assert needed in exprs, f"no dashboard panel uses {needed}"


def test_grafana_provisioning_points_at_the_dashboards_and_datasource() -> None:
    grafana = ROOT / "monitoring" / "grafana"
    datasource = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    provider = yaml.safe_load((grafana / "provisioning/dashboards/dashboards.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker/docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert (
        f"../monitoring/grafana/dashboards:{provider['providers'][0]['options']['path']}:ro"
        in mounts
    )
    for dashboard in DASHBOARDS:
        uids = {p["datasource"]["uid"] for p in panels(dashboard)}
        assert uids == {uid}, dashboard.name
        assert json.loads(dashboard.read_text())["uid"]


def test_compose_file_is_valid_and_pins_every_image() -> None:
    check = venv_tool("check-jsonschema")
    compose_file = ROOT / "docker" / "docker-compose.yml"
    run(check, "--builtin-schema", "vendor.compose-spec", str(compose_file))
    compose = yaml.safe_load(compose_file.read_text())
    assert {"api", "prometheus", "alertmanager", "grafana"} <= set(compose["services"])
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned {image}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (compose_file.parent / source).exists(), f"{name}: no {source}"


def test_alertmanager_template_renders_to_a_valid_config_without_committed_secrets(
    tmp_path: Path,
) -> None:
    amtool = require_tool("amtool")
    template = (ALERTMANAGER_DIR / "alertmanager.yml.tmpl").read_text()
    assert "token=${TRIGGER_TOKEN}" in template
    assert not (ALERTMANAGER_DIR / "alertmanager.yml").exists(), "rendered config committed"
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager({**STANDIN_ENV, "TRIGGER_TOKEN": "a/b&c"}))
    run(amtool, "check-config", str(config))
    doc = yaml.safe_load(config.read_text())
    retrain = next(r for r in doc["receivers"] if r["name"] == "retrain")
    hook = retrain["webhook_configs"][0]
    assert hook["url"] == (
        "http://127.0.0.1:9/api/v4/projects/42/ref/main/trigger/pipeline?token=a%2Fb%26c"
    )
    assert hook["send_resolved"] is False  # a resolution would start a second pipeline


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=FeatureDrift", "action=retrain", "job=api", "feature=x"], "retrain"),
        (["alertname=PredictionDrift", "action=retrain", "job=api"], "retrain"),
        (["alertname=APIDown", "severity=critical", "job=api"], "default"),
        (["alertname=ModelInputValidationErrors", "team=ml", "job=api"], "default"),
    ],
)
def test_alertmanager_routes_drift_to_retraining(
    tmp_path: Path, labels: list[str], receiver: str
) -> None:
    amtool = require_tool("amtool")
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager(STANDIN_ENV))
    out = run(amtool, "config", "routes", "test", f"--config.file={config}", *labels)
    assert out.strip() == receiver


def test_render_names_what_is_missing_and_reads_the_token_from_a_file(tmp_path: Path) -> None:
    render = load_render()
    with pytest.raises(render.RenderError, match="PROJECT_ID, TRIGGER_TOKEN"):
        render.render({"GITLAB_URL": "https://gitlab.example.com", "REF": "main"})
    with pytest.raises(render.RenderError, match="http"):
        render.render({**STANDIN_ENV, "GITLAB_URL": "gitlab.example.com"})
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    env = {k: v for k, v in STANDIN_ENV.items() if k != "TRIGGER_TOKEN"}
    text = render.render({**env, "TRIGGER_TOKEN_FILE": str(secret)})
    assert "token=from-file" in text


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = venv_tool("hadolint")
    run(hadolint, str(ROOT / "docker" / "Dockerfile"))
