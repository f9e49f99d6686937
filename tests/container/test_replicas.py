"""Many replicas, one picture: three API containers (podman, the session's image, run with the
Deployment's read-only root, in-memory /tmp and no capabilities) behind a real
load balancer (Debian's HAProxy running docker/haproxy.cfg, its compose DNS discovery swapped
for the three containers' 127.0.0.1 ports) and a real Prometheus that finds all three through
the committed `api` job's file discovery (compose's DNS names don't resolve here), with the
committed rules and a real Alertmanager with the committed routing. GitLab's trigger endpoint
is a local stand-in that records what it receives.

Shortened for a test (committed values in brackets): scrape and evaluation every 1 s [15 s],
drift window 1m [15m], the drift alerts' `for` 2s [10m], the retrain route's group_wait 1s
[1m]. The alert's floor of 200 values stays as committed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.gitlab_standin import serve
from tests.container.podman_image import logs, podman
from tests.support.monitoring import Prometheus, PROMETHEUS_DIR, rules, run_alertmanager
from tests.support.net import free_port, http_json, wait_until
from tests.support.processes import launch
from tests.support.shell import require_tool, ROOT
from tests.support.traffic import records

pytestmark = [pytest.mark.slow, pytest.mark.container]

REPLICAS = 3
FLOOR = 200  # the drift alerts' minimum number of values in the window (rules/alerts.yml)
DRIFTED_REQUESTS, ROWS_PER_REQUEST = 30, 10  # 300 values per feature, ~100 per replica


@contextlib.contextmanager
def replicas(image: str, count: int) -> Iterator[list[str]]:
    """`count` containers of the image, each on its own 127.0.0.1 port; removed afterwards."""
    names, addresses = [], []
    try:
        for _ in range(count):
            name, port = f"api-replica-{uuid.uuid4().hex[:8]}", free_port()
            # As the Deployment runs it: read-only root, /tmp in memory (the server makes its
            # metrics dir there; the Deployment mounts an emptyDir on it), no capabilities,
            # no privilege escalation (deploy/kubernetes/base/deployment.yaml).
            podman(
                "run",
                "--detach",
                "--name",
                name,
                "--publish",
                f"127.0.0.1:{port}:8000",
                "--read-only",
                "--tmpfs",
                "/tmp:rw,size=64m",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                image,
            )
            names.append(name)
            addresses.append(f"127.0.0.1:{port}")
        for name, address in zip(names, addresses):

            def ready(name: str = name, address: str = address) -> bool:
                state = podman("inspect", "--format", "{{.State.Status}}", name)
                assert state == "running", logs(name)[-3000:]
                return http_json(f"http://{address}/ready", timeout=2)[0] == 200

            wait_until(ready, 120, f"{name}'s /ready")
            podman("exec", name, "sleep", "0")  # the preStop pause's command exists
        yield addresses
    finally:
        for name in names:
            podman("rm", "--force", "--time", "5", name, check=False)


def haproxy_config(port: int, backends: list[str]) -> str:
    """docker/haproxy.cfg with its DNS discovery replaced by fixed servers, on 127.0.0.1."""
    text = (ROOT / "docker" / "haproxy.cfg").read_text()
    text = re.sub(r"\nresolvers compose\n(    .*\n)+", "\n", text)
    servers = "".join(f"    server api{n} {a} check\n" for n, a in enumerate(backends, 1))
    text, found = re.subn(r"    server-template .*\n", servers, text)
    assert found == 1, "docker/haproxy.cfg has no server-template line to replace"
    text, found = re.subn(r"bind :8000", f"bind 127.0.0.1:{port}", text)
    assert found == 1
    return text


def prometheus_config(workdir: Path, address: str, alertmanager: str) -> dict[str, Any]:
    """The committed prometheus.yml: only the api job, its DNS discovery dropped and its file
    discovery pointed at `workdir/targets`; 1 s intervals."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(workdir / "rules" / "*.yml")]
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "api"]
    del api["dns_sd_configs"]
    ((pattern,),) = [sd["files"] for sd in api["file_sd_configs"]]
    api["file_sd_configs"] = [{"files": [str(workdir / pattern)], "refresh_interval": "1s"}]
    config["scrape_configs"] = [api]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    return config


@contextlib.contextmanager
def run_prometheus(workdir: Path, alertmanager: str, targets: list[str]) -> Iterator[Prometheus]:
    binary = require_tool("prometheus")
    (workdir / "rules").mkdir(parents=True)
    shortened = rules(drift_window="1m", alert_for={"FeatureDrift": "2s", "PredictionDrift": "2s"})
    for name, text in shortened.items():
        (workdir / "rules" / name).write_text(text)
    (workdir / "targets").mkdir()
    # What an operator (or a script) writes: one file_sd file listing the replicas.
    (workdir / "targets" / "replicas.yml").write_text(yaml.safe_dump([{"targets": targets}]))
    address = f"127.0.0.1:{free_port()}"
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(workdir, address, alertmanager)))
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={address}",
        "--log.level=warn",
    ]
    with launch(
        "prometheus", cmd, f"http://{address}", "/-/ready", workdir / "p.log", os.environ
    ) as s:
        yield Prometheus(s, config)


def test_three_replicas_behind_a_balancer_count_once_and_alert_once(
    image: str, model_dir: Path, tmp_path: Path
) -> None:
    haproxy = require_tool("haproxy")
    require_tool("prometheus-alertmanager")
    card = json.loads((model_dir / "model_card.json").read_text())
    features = {f["name"] for f in card["features"]}
    with contextlib.ExitStack() as stack:
        http_recorder = stack.enter_context(serve())  # GitLab's trigger endpoint
        backends = stack.enter_context(replicas(image, REPLICAS))
        port = free_port()
        (tmp_path / "haproxy.cfg").write_text(haproxy_config(port, backends))
        balancer = stack.enter_context(
            launch(
                "haproxy",
                [haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                f"http://127.0.0.1:{port}",
                "/ready",
                tmp_path / "haproxy.log",
                os.environ,
            )
        )
        (tmp_path / "am").mkdir()
        alertmanager = stack.enter_context(
            run_alertmanager(
                tmp_path / "am",
                {
                    "GITLAB_URL": http_recorder.url,
                    "PROJECT_ID": "42",
                    "REF": "main",
                    "TRIGGER_TOKEN": "trigger-token-test",
                },
                route_overrides={"group_wait": "1s"},
            )
        )
        prometheus = stack.enter_context(
            run_prometheus(tmp_path / "prom", alertmanager.address, backends)
        )
        wait_until(
            lambda: len(prometheus.query('up{job="api"} == 1')) == REPLICAS,
            30,
            f"Prometheus to find and scrape all {REPLICAS} replicas by file",
        )

        # N single-record requests through the balancer: the request counters of the three
        # replicas (each merging its two workers) add up to N.
        n = 60
        for row in records(card, n, seed=1):
            status, body = http_json(f"{balancer.url}/predict", {"records": [row]})
            assert status == 200, body
        total = 'sum(http_requests_total{job="api", route="/predict"})'
        wait_until(lambda: prometheus.value(total) == n, 30, f"{total} == {n}")
        per_replica = prometheus.query(
            'sum by (instance) (http_requests_total{job="api", route="/predict"})'
        )
        assert len(per_replica) == REPLICAS
        assert all(float(r["value"][1]) > 0 for r in per_replica), per_replica
        assert http_recorder.requests == []

        # Drifted traffic spread round-robin: each replica alone stays below the floor, the
        # deployment as a whole passes it, as one replica receiving everything would.
        rows = records(card, DRIFTED_REQUESTS * ROWS_PER_REQUEST, drifted=True, seed=2)
        for start in range(0, len(rows), ROWS_PER_REQUEST):
            batch = rows[start : start + ROWS_PER_REQUEST]
            status, body = http_json(f"{balancer.url}/predict", {"records": batch})
            assert status == 200, body
        counted = "job_feature:model_feature_bin:increase15m"
        wait_until(
            lambda: len(prometheus.query(f"{counted} >= {FLOOR}")) == len(features),
            30,
            f"{counted} >= {FLOOR} for every feature",
        )
        alone = prometheus.query(
            'max(sum by (instance, feature) (increase(model_feature_bin_total{job="api"}[1m])))'
        )
        assert float(alone[0]["value"][1]) < FLOOR, alone
        firing = wait_until(
            lambda: len(prometheus.alerts("FeatureDrift", "firing")) == len(features)
            and prometheus.alerts("FeatureDrift", "firing"),
            60,
            "FeatureDrift firing for every feature",
        )
        # One alert per feature for the deployment, not one per replica.
        assert {a["labels"]["feature"] for a in firing} == features
        assert all("instance" not in a["labels"] for a in firing)

        # Alertmanager sends one trigger for the episode, with every drifted feature in it.
        wait_until(lambda: http_recorder.requests, 30, "the retrain trigger")
        time.sleep(5)  # several evaluations and group waits later: still one
        (trigger,) = http_recorder.requests
        assert trigger.path == "/api/v4/projects/42/ref/main/trigger/pipeline"
        alerts = trigger.json()["alerts"]
        drifted = {
            a["labels"]["feature"] for a in alerts if a["labels"]["alertname"] == "FeatureDrift"
        }
        assert drifted == features
        assert len(alerts) == len({json.dumps(a["labels"], sort_keys=True) for a in alerts})
