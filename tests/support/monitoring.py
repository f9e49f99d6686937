"""Real Prometheus and Alertmanager (Debian packages) with the committed configuration, on
free 127.0.0.1 ports; `tests.support.fixtures` wraps them as pytest fixtures."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port, http_json, wait_until
from tests.support.processes import Server, launch
from tests.support.shell import ROOT

MONITORING = ROOT / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
ALERTMANAGER_DIR = MONITORING / "alertmanager"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DRIFT_WINDOW = "15m"  # the committed window, rewritten by `rules(drift_window=...)`


def load_render() -> Any:
    """monitoring/alertmanager/render.py as a module."""
    spec = importlib.util.spec_from_file_location("am_render", ALERTMANAGER_DIR / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rules(
    drift_window: str | None = None,
    alert_for: Mapping[str, str] | None = None,
    replace: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The committed rule files (name → text), optionally with a shorter drift window and
    shorter `for:` durations per alert name (tests can't wait 15 + 10 minutes); `replace`
    swaps whole files (e.g. quality.yml generated from test params)."""
    out: dict[str, str] = {}
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        text = path.read_text()
        if drift_window:
            text = text.replace(f"[{DRIFT_WINDOW}]", f"[{drift_window}]")
        if alert_for:
            doc = yaml.safe_load(text)
            for group in doc["groups"]:
                for rule in group["rules"]:
                    if rule.get("alert") in alert_for:
                        rule["for"] = alert_for[rule["alert"]]
            text = yaml.safe_dump(doc, sort_keys=False)
        out[path.name] = text
    out.update(replace or {})
    return out


def prometheus_config(
    rule_dir: Path,
    self_address: str,
    api_targets: list[str],
    alertmanager: str | None = None,
    interval: str = "1s",
) -> dict[str, Any]:
    """The committed prometheus.yml with targets on 127.0.0.1 and short intervals."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(rule_dir / "*.yml")]
    targets: dict[str, list[str]] = {
        "api": api_targets,
        "prometheus": [self_address],
        "alertmanager": [alertmanager] if alertmanager else [],
    }
    jobs = []
    for job in config["scrape_configs"]:
        wanted = targets[job["job_name"]]
        if wanted:
            # Only these targets: no DNS or file discovery (compose's names don't resolve here).
            for key in [k for k in job if k.endswith("_sd_configs")]:
                del job[key]
            job["static_configs"] = [{"targets": wanted}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    if alertmanager:
        config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    else:
        config.pop("alerting")
    return config


@dataclass
class Prometheus:
    server: Server
    config_file: Path = field(repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query result (a list of {metric, value}); fails on a query error."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = http_json(url)
        if status != 200 or body.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {status} {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def alerts(self, name: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Active alerts (pending and firing), optionally of one name and state."""
        alerts: list[dict[str, Any]] = http_json(f"{self.url}/api/v1/alerts")[1]["data"]["alerts"]
        return [
            a
            for a in alerts
            if (name is None or a["labels"]["alertname"] == name)
            and (state is None or a["state"] == state)
        ]

    def wait_up(self, job: str = "api", timeout: float = 30) -> None:
        """Until every target of `job` was scraped successfully (first scrape takes ~6 s)."""

        def up() -> bool:
            result = self.query(f'up{{job="{job}"}}')
            return bool(result) and all(r["value"][1] == "1" for r in result)

        wait_until(up, timeout, f"Prometheus to scrape job {job}")


@contextlib.contextmanager
def run_prometheus(
    workdir: Path,
    api_targets: list[str],
    alertmanager: str | None = None,
    interval: str = "1s",
    drift_window: str | None = "1m",
    alert_for: Mapping[str, str] | None = None,
    rule_files: Mapping[str, str] | None = None,
) -> Iterator[Prometheus]:
    """Real Prometheus with the committed config (rewritten to 127.0.0.1) and rules
    (`rule_files`: name → text replacing committed files)."""
    binary = shutil.which("prometheus") or "prometheus"
    port = free_port()
    rule_dir = workdir / "rules"
    rule_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rules(drift_window, alert_for, rule_files).items():
        (rule_dir / name).write_text(text)
    address = f"127.0.0.1:{port}"
    config = prometheus_config(rule_dir, address, api_targets, alertmanager, interval)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={address}",
        "--log.level=warn",
    ]
    with launch(
        "prometheus", cmd, f"http://{address}", "/-/ready", workdir / "prometheus.log", os.environ
    ) as s:
        yield Prometheus(s, config_file)


# -- Alertmanager -------------------------------------------------------------------------


def render_alertmanager(
    env: Mapping[str, str], route_overrides: Mapping[str, str] | None = None
) -> str:
    """monitoring/alertmanager/render.py's output for `env`; `route_overrides` shortens the
    retrain route's timings (group_wait, group_interval, repeat_interval) for tests."""
    text: str = load_render().render(env)
    if route_overrides:
        doc = yaml.safe_load(text)
        for route in doc["route"]["routes"]:
            if route["receiver"] == "retrain":
                route.update(route_overrides)
        text = yaml.safe_dump(doc, sort_keys=False)
    return text


@contextlib.contextmanager
def run_alertmanager(
    workdir: Path, env: Mapping[str, str], route_overrides: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Real Alertmanager (Debian package) with the rendered committed config."""
    binary = (
        shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or "alertmanager"
    )
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(render_alertmanager(env, route_overrides))
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    with launch(
        "alertmanager", cmd, f"http://127.0.0.1:{port}", "/-/ready", workdir / "am.log", os.environ
    ) as s:
        yield s
