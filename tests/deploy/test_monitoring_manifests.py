"""The monitoring objects for Kubernetes are generated from monitoring/ (one source of truth):
the PrometheusRule's groups are the rule files' groups, pass `promtool check rules` and every
promtool rule unit test of monitoring/prometheus/tests/; the dashboards are ConfigMaps for
Grafana's sidecar. A test fails as soon as a generated file is stale."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.deploy.manifests import KUBERNETES, one, render, run
from tests.support.shell import require_tool, ROOT

MONITORING = ROOT / "monitoring"
GENERATED = KUBERNETES / "monitoring" / "generated"


def load_generate() -> Any:
    spec = importlib.util.spec_from_file_location("k8s_generate", KUBERNETES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_up_to_date() -> None:
    stale = load_generate().stale()
    assert (
        not stale
    ), f"stale: {[str(p.relative_to(ROOT)) for p in stale]}; run `make k8s-manifests`"


def test_a_changed_source_makes_the_generated_files_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate = load_generate()
    rules = tmp_path / "rules"
    shutil.copytree(MONITORING / "prometheus" / "rules", rules)
    monkeypatch.setattr(generate, "RULES", rules)
    assert generate.stale() == []
    alerts = rules / "alerts.yml"
    alerts.write_text(alerts.read_text().replace("for: 1m", "for: 2m", 1))
    assert generate.stale() == [GENERATED / "prometheusrule.yaml"]
    assert generate.main(["--check"]) == 1


def test_prometheus_rule_holds_exactly_the_source_groups() -> None:
    rule = one(render(KUBERNETES / "monitoring"), "PrometheusRule")
    source = [
        group
        for path in sorted((MONITORING / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == source
    assert rule["metadata"]["namespace"] == "monitoring"


def test_prometheus_rule_groups_pass_promtool_and_the_rule_unit_tests(tmp_path: Path) -> None:
    """The groups as the operator hands them to Prometheus: checked, and every unit test of
    monitoring/prometheus/tests/ run against them instead of against the source files."""
    promtool = require_tool("promtool")
    rule = one(render(KUBERNETES / "monitoring"), "PrometheusRule")
    rules_file = tmp_path / "rules" / "prometheusrule.yml"
    rules_file.parent.mkdir()
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    out = run(promtool, "check", "rules", rules_file)
    assert "SUCCESS" in out
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    test_files = sorted((MONITORING / "prometheus" / "tests").glob("*.yml"))
    assert test_files
    for path in test_files:
        doc = yaml.safe_load(path.read_text())
        doc["rule_files"] = ["../rules/prometheusrule.yml"]
        (tests_dir / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    out = run(promtool, "test", "rules", *sorted(tests_dir.glob("*.yml")))
    assert out.count("SUCCESS") == len(test_files), out


def test_dashboards_are_configmaps_for_the_grafana_sidecar() -> None:
    docs = [d for d in render(KUBERNETES / "monitoring") if d["kind"] == "ConfigMap"]
    sources = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
    assert len(docs) == len(sources)
    for doc, source in zip(docs, sources):
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(doc["data"][source.name]) == json.loads(source.read_text())
