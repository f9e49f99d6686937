"""Serving benchmark: the real server against a bare validating endpoint, in one run.

Starts, one worker each, side by side:
  * bare — a FastAPI endpoint that validates the same request body (the schema built from
    the model card) and returns a constant: the framework's ceiling on this machine;
  * api  — `python -m api` with WORKERS=1: validation, inference, ids, all metrics on;
  * capture — the same with CAPTURE_ENABLED=true at 100 % sampling (Parquet to a temp folder).
and loads them with wrk in alternating runs (single record, 32 connections; median of
--rounds runs each), then api and capture with batches of 256 records, then /feedback of the
api server with 1 and with 100 labels per request (every id distinct, signed with the key the
server has, so each label is accepted).
Prints a markdown table (req/s, p50, p99, ratio; rows/s for the batches, labels/s).

    python bench/serve.py [--duration 10] [--connections 32] [--model-dir model]

wrk and the server share this machine's cores, so compare the ratio, not absolute numbers.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def bare_app() -> Any:
    """FastAPI app: POST /predict validates the card's request schema, returns a constant."""
    from fastapi import FastAPI

    from api.schemas import request_model
    from api.settings import Settings
    from api.state import read_card

    settings = Settings()
    body_type = request_model(read_card(settings.model_dir), settings.max_batch)
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: body_type) -> dict[str, str]:  # type: ignore[valid-type]
        return {"prediction": "constant"}

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {seconds} s")


FEEDBACK_KEY = "bench-feedback-key-0123456789abcdefghij"  # pragma: allowlist secret


def start(kind: str, port: int, model_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1"}
    env["MODEL_DIR"] = str(model_dir)
    env["FEEDBACK_KEY"] = FEEDBACK_KEY
    if kind == "capture":
        env["CAPTURE_ENABLED"] = "true"
        env["CAPTURE_URL"] = tempfile.mkdtemp(prefix="bench-capture-")
    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-prom-")
    env["PYTHONPATH"] = str(ROOT / "bench")  # gunicorn imports `serve:bare_app()` from here
    if kind in ("api", "capture"):
        command = [sys.executable, "-m", "api"]
    else:
        command = [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_conf"]
        command.append("serve:bare_app()")
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=-2)
    wait_ready(f"http://127.0.0.1:{port}/ready", process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, body: str | Path, connections: int, duration: int, workdir: Path
) -> dict[str, float]:
    """Run wrk with a POST body (or, for a Path, each line of that file in turn); requests/s,
    p50 and p99 in ms, and non-2xx count."""
    script = workdir / "post.lua"
    body_file = workdir / "body.json"
    if isinstance(body, Path):
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            "local bodies = {}\n"
            f'for line in io.lines("{body}") do bodies[#bodies + 1] = line end\n'
            "local i = 0\n"
            "request = function()\n"
            "  i = i % #bodies + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[i])\n"
            "end\n"
        )
    else:
        body_file.write_text(body)
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{body_file}", "r"); wrk.body = f:read("*a"); f:close()\n'
        )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script)]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps is not None, out
    return {
        "rps": float(rps.group(1)),
        "p50": to_ms(latency["50"]) if "50" in latency else float("nan"),
        "p99": to_ms(latency["99"]) if "99" in latency else float("nan"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the gunicorn workers), so a
    cost can be compared per request even while other load on the machine moves req/s."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def timed(
    process: subprocess.Popen[bytes], url: str, body: str | Path, c: int, duration: int, tmp: Path
) -> dict[str, float]:
    """A wrk run plus the server's CPU time per request in µs."""
    before = cpu_seconds(process.pid)
    run = wrk(url, body, c, duration, tmp)
    requests = run["rps"] * duration
    run["cpu_us"] = 1e6 * (cpu_seconds(process.pid) - before) / requests if requests else 0.0
    return run


def log(kind: str, run: dict[str, float]) -> dict[str, float]:
    """Each run on stderr as it ends: the spread behind the medians."""
    cpu = f"  cpu {run['cpu_us']:7.1f} us/req" if "cpu_us" in run else ""
    sys.stderr.write(f"{kind:5s} {run['rps']:8.0f} req/s  p99 {run['p99']:6.2f} ms{cpu}\n")
    return run


def median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def feedback_bodies(model_dir: Path, labels: int, count: int, path: Path) -> Path:
    """`count` /feedback bodies of `labels` distinct ids each (one JSON body per line)."""
    import numpy as np

    from api.feedback.ids import Signer
    from api.state import read_card

    card = read_card(model_dir)
    signer = Signer([FEEDBACK_KEY.encode()], card.version, card.classes)
    n = labels * count
    if card.classes:
        ids = signer.issue(np.zeros(n, dtype=int), None)
        label: Any = card.classes[0]
    else:
        ids, label = signer.issue(None, np.zeros(n)), 0.0
    with path.open("w") as out:
        for start in range(0, n, labels):
            items = [{"id": i, "label": label} for i in ids[start : start + labels]]
            out.write(json.dumps({"feedback": items}) + "\n")
    return path


def main_runs(args: Any, bodies: dict[str, str], tmp: Path) -> dict[str, Any]:
    """All servers up at once; wrk runs alternate between them so load drift hits all alike."""
    ports = {"bare": free_port(), "api": free_port(), "capture": free_port()}
    servers = {k: start(k, port, args.model_dir, tmp / f"{k}.log") for k, port in ports.items()}
    urls = {k: f"http://127.0.0.1:{port}/predict" for k, port in ports.items()}
    feedback_url = f"http://127.0.0.1:{ports['api']}/feedback"
    runs: dict[str, list[dict[str, float]]] = {
        k: [] for k in ("bare", "api", "capture", "batch", "capture-batch", "fb1", "fb100")
    }
    # Enough distinct ids that no label is refused as a duplicate (about 6,000 req/s at most).
    singles = feedback_bodies(
        args.model_dir, 1, 8000 * (args.duration * args.rounds + 2), tmp / "fb1"
    )
    hundreds = feedback_bodies(
        args.model_dir, 100, 300 * (args.duration * args.rounds + 2), tmp / "fb100"
    )
    try:
        for kind in servers:  # warm-up
            wrk(urls[kind], bodies["one"], args.connections, 2, tmp)
        for _ in range(args.rounds):
            for kind in ("bare", "api", "capture"):
                run = timed(
                    servers[kind], urls[kind], bodies["one"], args.connections, args.duration, tmp
                )
                runs[kind].append(log(kind, run))
        for _ in range(args.rounds):
            for kind, name in (("api", "batch"), ("capture", "capture-batch")):
                run = timed(servers[kind], urls[kind], bodies["batch"], 8, args.duration, tmp)
                runs[name].append(log(name, run))
        for _ in range(args.rounds):
            runs["fb1"].append(
                log("fb1", wrk(feedback_url, singles, args.connections, args.duration, tmp))
            )
            runs["fb100"].append(log("fb100", wrk(feedback_url, hundreds, 8, args.duration, tmp)))
    finally:
        for process in servers.values():
            stop(process)
    metrics = ("rps", "p50", "p99", "errors", "cpu_us")
    return {k: {m: median(v, m) for m in metrics if v and m in v[0]} for k, v in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per server")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    from api.schemas import example_record
    from api.state import read_card

    record = example_record(read_card(args.model_dir))
    bodies = {
        "one": json.dumps({"records": [record]}),
        "batch": json.dumps({"records": [record] * 256}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = main_runs(args, bodies, Path(tmp))
    bare, one, batch = result["bare"], result["api"], result["batch"]
    cap, cap_batch = result["capture"], result["capture-batch"]
    fb1, fb100 = result["fb1"], result["fb100"]
    c = args.connections
    lines = [
        f"| 1 worker each; wrk -t1 -c{c}; median of {args.rounds} alternating {args.duration} s "
        "runs | req/s | p50 ms | p99 ms | vs bare | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
        f"| bare validating endpoint, 1 record | {bare['rps']:.0f} | {bare['p50']:.2f} "
        f"| {bare['p99']:.2f} | 100 % | {bare['errors']:.0f} |",
        f"| `/predict`, 1 record, all metrics | {one['rps']:.0f} | {one['p50']:.2f} "
        f"| {one['p99']:.2f} | {100 * one['rps'] / bare['rps']:.0f} % | {one['errors']:.0f} |",
        f"| `/predict`, batch of 256 (-c8) | {batch['rps']:.0f} "
        f"(= {256 * batch['rps']:,.0f} rows/s) | {batch['p50']:.2f} | {batch['p99']:.2f} | – "
        f"| {batch['errors']:.0f} |",
        f"| `/predict`, 1 record, capture on (100 %) | {cap['rps']:.0f} | {cap['p50']:.2f} "
        f"| {cap['p99']:.2f} | {100 * cap['rps'] / bare['rps']:.0f} % "
        f"({100 * cap['rps'] / one['rps']:.0f} % of capture off) | {cap['errors']:.0f} |",
        f"| `/predict`, batch of 256, capture on (100 %) | {cap_batch['rps']:.0f} "
        f"(= {256 * cap_batch['rps']:,.0f} rows/s, {100 * cap_batch['rps'] / batch['rps']:.0f} % "
        f"of capture off) | {cap_batch['p50']:.2f} | {cap_batch['p99']:.2f} | – "
        f"| {cap_batch['errors']:.0f} |",
        f"| `/feedback`, 1 label | {fb1['rps']:.0f} | {fb1['p50']:.2f} | {fb1['p99']:.2f} "
        f"| {100 * fb1['rps'] / bare['rps']:.0f} % | {fb1['errors']:.0f} |",
        f"| `/feedback`, 100 labels (-c8) | {fb100['rps']:.0f} "
        f"(= {100 * fb100['rps']:,.0f} labels/s) | {fb100['p50']:.2f} | {fb100['p99']:.2f} | – "
        f"| {fb100['errors']:.0f} |",
    ]
    lines += [
        "",
        "| server CPU per request (master + worker, median) | capture off "
        "| capture on (100 %) | change |",
        "|---|---:|---:|---:|",
        f"| `/predict`, 1 record | {one['cpu_us']:.0f} µs | {cap['cpu_us']:.0f} µs "
        f"| {100 * (cap['cpu_us'] / one['cpu_us'] - 1):+.0f} % |",
        f"| `/predict`, batch of 256 | {batch['cpu_us']:.0f} µs | {cap_batch['cpu_us']:.0f} µs "
        f"| {100 * (cap_batch['cpu_us'] / batch['cpu_us'] - 1):+.0f} % |",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
