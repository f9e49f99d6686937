"""The compose stack as several replicas run it: the API scaled behind HAProxy, Prometheus
discovering every replica (compose DNS, plus files), Alertmanager reachable from localhost and
the monitoring network only. Static checks with the real tools (haproxy -c, promtool); the
replicas themselves run in tests/container/test_replicas.py."""

from __future__ import annotations

import yaml
from tests.deploy.manifests import run
from tests.support.shell import require_tool, ROOT

COMPOSE = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_api_runs_replicas_behind_the_balancer_only() -> None:
    api = SERVICES["api"]
    assert str(api["deploy"]["replicas"]).startswith("${API_REPLICAS:-")
    assert "ports" not in api, "replicas can't share a published port: clients use the balancer"
    balancer = SERVICES["balancer"]
    assert balancer["ports"] == ["127.0.0.1:8000:8000"]
    assert set(api["networks"]) == set(balancer["networks"]) == {"serving"}


def test_every_published_port_is_on_localhost() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_alertmanager_is_on_the_monitoring_network_only() -> None:
    """Its status page shows the webhook URL with the trigger token: no API container (nor
    anything else on the serving network) can reach it."""
    assert SERVICES["alertmanager"]["networks"] == ["monitoring"]
    on_serving = {n for n, s in SERVICES.items() if "serving" in s.get("networks", [])}
    assert on_serving == {"api", "balancer", "prometheus"}


def test_prometheus_discovers_every_replica() -> None:
    config = yaml.safe_load((ROOT / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "api"]
    assert "static_configs" not in api
    (dns,) = api["dns_sd_configs"]
    assert dns["names"] == ["api"] and dns["type"] == "A" and dns["port"] == 8000
    assert api["file_sd_configs"][0]["files"] == ["targets/*.yml"]
    run(require_tool("promtool"), "check", "config", ROOT / "monitoring/prometheus/prometheus.yml")


def test_the_balancer_config_is_valid_and_checks_readiness() -> None:
    config = ROOT / "docker" / "haproxy.cfg"
    run(require_tool("haproxy"), "-c", "-f", config)
    text = config.read_text()
    assert "option httpchk GET /ready" in text  # loading or draining replicas get no traffic
    assert "server-template api " in text and "resolvers compose" in text
