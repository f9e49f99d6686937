"""Serving benchmark: the real server against a bare validating endpoint, in one run.

Starts, one worker each, side by side:
  * bare — a FastAPI endpoint that validates the same request body (the schema built from
    the model card) and returns a constant: the framework's ceiling on this machine;
  * api  — `python -m api` with WORKERS=1: validation, inference, all metrics on.
and loads them with wrk in alternating runs (single record, 32 connections; median of
--rounds runs each), then the api with batches of 256 records. The api's Open Inference
Protocol endpoint (`/v2/models/{name}/infer`, one tensor per feature) takes the same rows in
the same rounds, alternating with /predict, so the V2/predict ratios come from one run.
`--also DIR` serves a second model bundle (e.g. a gradient-boosting one, trained on the same
data) as a third server in the same alternation, and adds its rows.
Prints a markdown table (req/s, p50, p99, ratio; rows/s for the batch).

    python bench/serve.py [--duration 10] [--connections 32] [--model-dir model] [--also DIR]

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


def v2_body(card: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The same rows as an Open Inference Protocol request: one tensor per feature (columns
    that are not features, such as IDs, have no tensor)."""
    from api.v2.tensors import DECLARED

    inputs = [
        {
            "name": f.name,
            "shape": [len(records)],
            "datatype": DECLARED[f.kind],
            "data": [r.get(f.name) for r in records],
        }
        for f in card.features
    ]
    return {"inputs": inputs}


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


def start(kind: str, port: int, model_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1"}
    env["MODEL_DIR"] = str(model_dir)
    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-prom-")
    env["PYTHONPATH"] = str(ROOT / "bench")  # gunicorn imports `serve:bare_app()` from here
    if kind == "api":
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


def wrk(url: str, body: str, connections: int, duration: int, workdir: Path) -> dict[str, float]:
    """Run wrk with a POST body; requests/s, p50 and p99 in ms, and non-2xx count."""
    script = workdir / "post.lua"
    body_file = workdir / "body.json"
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
    requests = re.search(r"(\d+) requests in", out)
    assert rps is not None and requests is not None, out
    return {
        "rps": float(rps.group(1)),
        "requests": float(requests.group(1)),
        "p50": to_ms(latency["50"]) if "50" in latency else float("nan"),  # no answer at all
        "p99": to_ms(latency["99"]) if "99" in latency else float("nan"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def worker_cpu(process: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) of the server's worker processes so far (Linux /proc)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measured(process: subprocess.Popen[bytes], *args: Any) -> dict[str, float]:
    """A wrk run (`wrk(*args)`) and the server's CPU per request during it: steadier than
    req/s when other work shares the machine."""
    before = worker_cpu(process)
    run = wrk(*args)
    run["cpu_us"] = (worker_cpu(process) - before) / max(run["requests"], 1) * 1e6
    return run


def log(kind: str, run: dict[str, float]) -> dict[str, float]:
    """Each run on stderr as it ends: the spread behind the medians."""
    sys.stderr.write(f"{kind:5s} {run['rps']:8.0f} req/s  p99 {run['p99']:6.2f} ms\n")
    return run


def median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main_runs(args: Any, bodies: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Both servers up at once; wrk runs alternate bare/api so load drift hits both alike."""
    ports = {"bare": free_port(), "api": free_port()}
    dirs = {"bare": args.model_dir, "api": args.model_dir}
    if args.also is not None:  # a second model, served by the same server code
        ports["also"], dirs["also"] = free_port(), args.also
    servers = {
        k: start("bare" if k == "bare" else "api", port, dirs[k], tmp / f"{k}.log")
        for k, port in ports.items()
    }
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['api']}/ready", timeout=5) as ready:
        sys.stderr.write(f"api backend: {json.loads(ready.read())['backend']}\n")
    urls = {k: f"http://127.0.0.1:{port}/predict" for k, port in ports.items()}
    urls["v2"] = f"http://127.0.0.1:{ports['api']}/v2/models/{bodies['model']}/infer"
    singles = ["bare", "api", "v2", *(["also"] if "also" in servers else [])]
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in [*singles, "batch", "v2batch"]}
    batches = [("batch", "api", "batch"), ("v2batch", "v2", "v2batch")]
    if "also" in servers:
        runs["also-batch"] = []
        batches.append(("also-batch", "also", "batch"))
    try:
        for kind in singles:  # warm-up
            wrk(urls[kind], bodies["v2one" if kind == "v2" else "one"], args.connections, 2, tmp)
        for _ in range(args.rounds):
            for kind in singles:
                body = bodies["v2one" if kind == "v2" else "one"]
                server = servers["api" if kind == "v2" else kind]
                run = measured(server, urls[kind], body, args.connections, args.duration, tmp)
                runs[kind].append(log(kind, run))
        for _ in range(args.rounds):
            for kind, url, body in batches:
                server = servers["api" if url == "v2" else url]
                run = measured(server, urls[url], bodies[body], 8, args.duration, tmp)
                runs[kind].append(log(kind[:5], run))
    finally:
        for process in servers.values():
            stop(process)
    keys = ("rps", "p50", "p99", "errors", "cpu_us")
    return {k: {m: median(v, m) for m in keys} for k, v in runs.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per server")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model")
    parser.add_argument(
        "--records",
        type=Path,
        help="CSV of records to send (cycled; extra columns such as IDs are sent too); "
        "default: the model card's example record",
    )
    parser.add_argument("--also", type=Path, help="a second model bundle to serve alongside")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    from api.schemas import example_record
    from api.state import read_card

    card = read_card(args.model_dir)
    many = [example_record(card)] * 256
    if args.records is not None:
        import pandas as pd

        rows = json.loads(pd.read_csv(args.records).head(256).to_json(orient="records"))
        many = [rows[i % len(rows)] for i in range(256)]
    bodies = {
        "model": card.name,
        "one": json.dumps({"records": many[:1]}),
        "batch": json.dumps({"records": many}),
        "v2one": json.dumps(v2_body(card, many[:1])),
        "v2batch": json.dumps(v2_body(card, many)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = main_runs(args, bodies, Path(tmp))
    bare, one, batch = result["bare"], result["api"], result["batch"]
    v2, v2batch = result["v2"], result["v2batch"]
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
        f"| `/v2/models/{{name}}/infer`, 1 record, all metrics | {v2['rps']:.0f} | {v2['p50']:.2f} "
        f"| {v2['p99']:.2f} | {100 * v2['rps'] / bare['rps']:.0f} % | {v2['errors']:.0f} |",
        f"| `/v2/models/{{name}}/infer`, batch of 256 (-c8) | {v2batch['rps']:.0f} "
        f"(= {256 * v2batch['rps']:,.0f} rows/s) | {v2batch['p50']:.2f} | {v2batch['p99']:.2f} "
        f"| – | {v2batch['errors']:.0f} |",
        "",
        f"V2 / `/predict` (same run): 1 record {100 * v2['rps'] / one['rps']:.0f} % of the "
        f"req/s, batch of 256 {100 * v2batch['rps'] / batch['rps']:.0f} %. Server CPU per "
        f"request (median): 1 record {one['cpu_us']:.0f} µs `/predict`, {v2['cpu_us']:.0f} µs "
        f"V2; batch of 256 {batch['cpu_us']:.0f} µs `/predict`, {v2batch['cpu_us']:.0f} µs V2.",
    ]
    if args.also is not None:
        family, also, also_batch = read_card(args.also).model, result["also"], result["also-batch"]
        lines += [
            f"| `/predict`, 1 record, `{family}` model | {also['rps']:.0f} | {also['p50']:.2f} "
            f"| {also['p99']:.2f} | {100 * also['rps'] / bare['rps']:.0f} % "
            f"| {also['errors']:.0f} |",
            f"| `/predict`, batch of 256, `{family}` model | {also_batch['rps']:.0f} "
            f"(= {256 * also_batch['rps']:,.0f} rows/s) | {also_batch['p50']:.2f} "
            f"| {also_batch['p99']:.2f} | – | {also_batch['errors']:.0f} |",
        ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
