"""Overload benchmark: the real server, one worker, a deliberately slow model, far more clients
than it can serve; then how fast it recovers once the load stops.

    python bench/overload.py [--trees 500] [--clients 300] [--rows 256] [--seconds 20]
                             [--checkout DIR] [--env NAME=VALUE ...]

Trains a forest of --trees trees on the bundled data (the stages, in a temporary folder) and
serves it on the sklearn path (USE_ONNX=false): a few thousand rows a second. --clients
clients each POST --rows-row batches back to back for --seconds (tests/support/load.py, its own
process; a 503 client waits its Retry-After), while another process probes /health and /ready
every 50 ms. Prints a markdown table: answers by status, latency of accepted and shed
requests, /health and /ready latency, the server's memory, and the recovery after the load:
seconds until /ready is 200 and a one-record /predict is answered 200 within 1 s.

--checkout runs another checkout's server code (e.g. `git archive main | tar -x -C DIR`) with
this interpreter, to compare before and after in one run. Timings on a shared machine vary:
compare the rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("load", "preprocess", "train", "evaluate")


def train(folder: Path, trees: int) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(model="random_forest", n_estimators=trees, epochs=1)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    code = "; ".join(f"from mlops_template.stages import {s}; {s}.main()" for s in STAGES)
    subprocess.run([sys.executable, "-c", code], cwd=folder, check=True, capture_output=True)
    return folder / "model"


def get(url: str, body: bytes | None = None, timeout: float = 2.0) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def serve(model_dir: Path, port: int, checkout: Path, env: dict[str, str], log: Path) -> Any:
    full = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "USE_ONNX": "false",
        "DRAIN_SECONDS": "0",
        "MODEL_DIR": str(model_dir),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-prom-"),
        "PYTHONPATH": f"{checkout / 'src'}{os.pathsep}{checkout}",
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"], cwd=checkout, env=full, stdout=out, stderr=-2
        )
    deadline = time.monotonic() + 90
    while get(f"http://127.0.0.1:{port}/ready") != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process


def memory_mb(pid: int) -> float:
    master = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [master, *master.children()]) / 2**20


def tool(mode: str, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.support.load", mode, *args]
    return subprocess.Popen(command, cwd=ROOT)


def percentiles(values: list[float]) -> str:
    if not values:
        return "–"
    ms = np.asarray(values) * 1000
    return f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 99):.0f} / {ms.max():.0f}"


def run(args: Any, model_dir: Path, work: Path) -> dict[str, Any]:
    port = 18000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}"
    env = dict(item.split("=", 1) for item in args.env)
    process = serve(model_dir, port, args.checkout, env, work / "server.log")
    try:
        from api.schemas import example_record
        from api.state import read_card

        record = example_record(read_card(model_dir))
        body = work / "body.json"
        body.write_text(json.dumps({"records": [record] * args.rows}))
        one = json.dumps({"records": [record]}).encode()
        before = memory_mb(process.pid)
        probe = tool("probe", url, "--paths", "/health,/ready", "--seconds",
                     str(args.seconds + 8), "--out", str(work / "probe.json"))  # fmt: skip
        load = tool("load", f"{url}/predict", str(body), "--clients", str(args.clients),
                    "--seconds", str(args.seconds), "--out", str(work / "load.json"))  # fmt: skip
        peak = before
        while load.poll() is None:
            peak = max(peak, memory_mb(process.pid))
            time.sleep(0.2)
        stopped = time.monotonic()
        ready_at = predict_at = None
        while time.monotonic() - stopped < 30 and predict_at is None:
            now = time.monotonic()
            if ready_at is None and get(f"{url}/ready") == 200:
                ready_at = now - stopped
            if ready_at is not None and get(f"{url}/predict", one, timeout=1.0) == 200:
                predict_at = time.monotonic() - stopped
            time.sleep(0.05)
        probe.wait()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    rows = json.loads((work / "load.json").read_text())["rows"]
    probes = json.loads((work / "probe.json").read_text())["rows"]
    during = [p for p in probes if p[0] < stopped]
    return {
        "statuses": Counter(r[2] for r in rows),
        "retry_after": sum(1 for r in rows if r[2] == 503 and r[3]),
        "accepted": [r[1] for r in rows if r[2] == 200],
        "shed": [r[1] for r in rows if r[2] == 503],
        "health": [p[2] for p in during if p[1] == "/health"],
        "health_status": Counter(p[3] for p in during if p[1] == "/health"),
        "ready_status": Counter(p[3] for p in during if p[1] == "/ready"),
        "memory": (before, peak),
        "recovery": (ready_at, predict_at),
    }


def table(args: Any, r: dict[str, Any]) -> str:
    s, (before, peak), (ready, predict) = r["statuses"], r["memory"], r["recovery"]
    n = sum(s.values())
    other = {k: v for k, v in s.items() if k not in (200, 503)}
    rows_per_s = s[200] * args.rows / args.seconds
    lines = [
        f"| {args.trees}-tree forest (sklearn path), 1 worker; {args.clients} clients × "
        f"{args.rows}-row batches for {args.seconds} s | |",
        "|---|---|",
        f"| answered 200 | {s[200]} ({rows_per_s:,.0f} rows/s) |",
        f"| answered 503 (with Retry-After) | {s[503]} ({r['retry_after']}) |",
        f"| anything else | {other or 0} |",
        f"| latency of 200s, p50 / p99 / max ms | {percentiles(r['accepted'])} |",
        f"| latency of 503s, p50 / p99 / max ms | {percentiles(r['shed'])} |",
        f"| /health during the load: statuses; p50 / p99 / max ms | "
        f"{dict(r['health_status'])}; {percentiles(r['health'])} |",
        f"| /ready during the load: statuses | {dict(r['ready_status'])} |",
        f"| server memory (master + worker) before / peak | {before:.0f} / {peak:.0f} MB "
        f"(+{peak - before:.0f}) |",
        f"| after the load: /ready 200, then a 1-record /predict 200 | "
        f"{_s(ready)} / {_s(predict)} |",
        f"| requests in all | {n} |",
    ]
    return "\n".join(lines) + "\n"


def _s(seconds: float | None) -> str:
    return "not within 30 s" if seconds is None else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="whose server code to run")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--model-dir", type=Path, help="serve this bundle instead of training")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = args.model_dir
        if model_dir is None:
            (work / "train").mkdir()
            model_dir = train(work / "train", args.trees)
        sys.stdout.write(table(args, run(args, model_dir, work)))


if __name__ == "__main__":
    main()
