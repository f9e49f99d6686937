"""Serving benchmark: the real server against a bare validating endpoint, in one run.

Starts, one worker each, side by side:
  * bare — a FastAPI endpoint that validates the same request body (the schema built from
    the model card) and returns a constant: the framework's ceiling on this machine;
  * api  — `python -m api` with WORKERS=1: validation, inference, ids, all metrics on;
  * capture — the same with CAPTURE_ENABLED=true at 100 % sampling (Parquet to a temp folder).
and loads them with wrk in alternating runs (single record, 32 connections; median of
--rounds runs each), then with batches of 256 records. The api's Open Inference Protocol
endpoint (`/v2/models/{name}/infer`, one tensor per feature) takes the same rows in the same
rounds, alternating with /predict, so the V2/predict ratios come from one run. Last, /feedback
of the api server with 1 and with 100 labels per request (every id distinct, signed with the
key the server has, so each label is accepted).
`--also DIR` serves a second model bundle (e.g. a gradient-boosting one, trained on the same
data) as one more server in the same alternation, and adds its rows. (Another checkout's
server against this one: bench/compare.py.)
Prints markdown tables (req/s, p50, p99, ratio; rows/s for the batches, labels/s; server CPU
per request).

    python bench/serve.py [--duration 10] [--connections 32] [--model-dir model] [--also DIR]

wrk and the server share this machine's cores, so compare the ratio, not absolute numbers.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bodies import FEEDBACK_KEY, feedback_bodies, v2_body
from harness import free_port, log, measured, median, stop, wait_ready, wrk
from serve_table import table

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


def start(kind: str, port: int, model_dir: Path, log_file: Path) -> subprocess.Popen[bytes]:
    """One server: `bare`, or `python -m api` (`api`, `capture`)."""
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1"}
    env["MODEL_DIR"] = str(model_dir)
    env["FEEDBACK_KEY"] = FEEDBACK_KEY
    env["DRAIN_SECONDS"] = "0"  # stop at once (no SIGTERM drain between runs)
    if kind == "capture":
        env["CAPTURE_ENABLED"] = "true"
        env["CAPTURE_URL"] = tempfile.mkdtemp(prefix="bench-capture-")
        # Batches at full speed overflow the default buffer; a dropped row costs nothing.
        env["CAPTURE_BUFFER_ROWS"] = "2000000"
    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-prom-")
    env["PYTHONPATH"] = str(ROOT / "bench")  # gunicorn imports `serve:bare_app()` from here
    if kind == "bare":
        command = [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_conf"]
        command.append("serve:bare_app()")
    else:
        command = [sys.executable, "-m", "api"]
    with log_file.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=-2)
    wait_ready(f"http://127.0.0.1:{port}/ready", process)
    return process


def main_runs(args: Any, bodies: dict[str, str], tmp: Path) -> dict[str, Any]:
    """All servers up at once; wrk runs alternate between them so load drift hits all alike."""
    specs = {k: (k, args.model_dir) for k in ("bare", "api", "capture")}
    if args.also is not None:  # a second model, served by the same server code
        specs["also"] = ("api", args.also)
    ports = {k: free_port() for k in specs}
    servers = {
        k: start(kind, ports[k], model_dir, tmp / f"{k}.log")
        for k, (kind, model_dir) in specs.items()
    }
    servers["v2"] = servers["api"]
    urls = {k: f"http://127.0.0.1:{port}/predict" for k, port in ports.items()}
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['api']}/ready", timeout=5) as ready:
        sys.stderr.write(f"api backend: {json.loads(ready.read())['backend']}\n")
    urls["v2"] = f"http://127.0.0.1:{ports['api']}/v2/models/{bodies['model']}/infer"
    extra = ["also"] if "also" in specs else []
    singles = ["bare", "api", "v2", "capture", *extra]
    batches = [("batch", "api", "batch"), ("v2batch", "v2", "v2batch")]
    batches += [("capture-batch", "capture", "batch")]
    batches += [(f"{k}-batch", k, "batch") for k in extra]
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in [*singles, *(b[0] for b in batches)]}
    # Enough distinct ids that no label is refused as a duplicate (about 8,000 req/s at most).
    seconds = args.duration * args.rounds + 2
    feedback = {
        "fb1": (feedback_bodies(args.model_dir, 1, 8000 * seconds, tmp / "fb1"), args.connections),
        "fb100": (feedback_bodies(args.model_dir, 100, 300 * seconds, tmp / "fb100"), 8),
    }
    feedback_url = f"http://127.0.0.1:{ports['api']}/feedback"
    try:
        for kind in singles:  # warm-up
            wrk(urls[kind], bodies["v2one" if kind == "v2" else "one"], args.connections, 2, tmp)
        for _ in range(args.rounds):
            for kind in singles:
                body = bodies["v2one" if kind == "v2" else "one"]
                run = measured(
                    servers[kind], urls[kind], body, args.connections, args.duration, tmp
                )
                runs[kind].append(log(kind, run))
        for _ in range(args.rounds):
            for kind, url, body in batches:
                run = measured(servers[url], urls[url], bodies[body], 8, args.duration, tmp)
                runs[kind].append(log(kind, run))
        for _ in range(args.rounds):
            for kind, (lines, c) in feedback.items():
                run = measured(servers["api"], feedback_url, lines, c, args.duration, tmp)
                runs.setdefault(kind, []).append(log(kind, run))
        dropped = captured_rows(f"http://127.0.0.1:{ports['capture']}/metrics", "dropped")
    finally:
        for process in {id(p): p for p in servers.values()}.values():
            stop(process)
    keys = ("rps", "p50", "p99", "errors", "cpu_us")
    result = {k: {m: median(v, m) for m in keys} for k, v in runs.items() if v}
    return {**result, "capture-dropped": {"rows": dropped}}


def captured_rows(metrics_url: str, outcome: str) -> float:
    """Predicted rows the capture server counted with `outcome` (dropped: its buffer was full,
    so they cost it nothing; a fair comparison has none)."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    pattern = rf'^model_capture_rows_total{{[^}}]*outcome="{outcome}"[^}}]*}} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.M))


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
    sys.stdout.write("\n".join(table(args, result)) + "\n")


if __name__ == "__main__":
    main()
