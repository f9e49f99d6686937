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
data) as a fourth server in the same alternation, and adds its rows.
Prints markdown tables (req/s, p50, p99, ratio; rows/s for the batches, labels/s; server CPU
per request).

    python bench/serve.py [--duration 10] [--connections 32] [--model-dir model] [--also DIR]

wrk and the server share this machine's cores, so compare the ratio, not absolute numbers.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import free_port, log, measured, median, stop, wait_ready, wrk

ROOT = Path(__file__).resolve().parents[1]
FEEDBACK_KEY = "bench-feedback-key-0123456789abcdefghij"  # pragma: allowlist secret


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


def v2_body(card: Any, record: dict[str, Any], rows: int) -> dict[str, Any]:
    """The same rows as an Open Inference Protocol request: one tensor per feature."""
    from api.v2.tensors import DECLARED

    inputs = [
        {
            "name": f.name,
            "shape": [rows],
            "datatype": DECLARED[f.kind],
            "data": [record[f.name]] * rows,
        }
        for f in card.features
    ]
    return {"inputs": inputs}


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


def start(kind: str, port: int, model_dir: Path, log_file: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1"}
    env["MODEL_DIR"] = str(model_dir)
    env["FEEDBACK_KEY"] = FEEDBACK_KEY
    if kind == "capture":
        env["CAPTURE_ENABLED"] = "true"
        env["CAPTURE_URL"] = tempfile.mkdtemp(prefix="bench-capture-")
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
    dirs = {"bare": args.model_dir, "api": args.model_dir, "capture": args.model_dir}
    if args.also is not None:  # a second model, served by the same server code
        dirs["also"] = args.also
    ports = {k: free_port() for k in dirs}
    servers = {
        k: start(k if k in ("bare", "capture") else "api", ports[k], dirs[k], tmp / f"{k}.log")
        for k in dirs
    }
    servers["v2"] = servers["api"]
    urls = {k: f"http://127.0.0.1:{port}/predict" for k, port in ports.items()}
    urls["v2"] = f"http://127.0.0.1:{ports['api']}/v2/models/{bodies['model']}/infer"
    singles = ["bare", "api", "v2", "capture", *(["also"] if "also" in dirs else [])]
    batches = [("batch", "api", "batch"), ("v2batch", "v2", "v2batch")]
    batches.append(("capture-batch", "capture", "batch"))
    if "also" in dirs:
        batches.append(("also-batch", "also", "batch"))
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
    finally:
        for process in {id(p): p for p in servers.values()}.values():
            stop(process)
    keys = ("rps", "p50", "p99", "errors", "cpu_us")
    return {k: {m: median(v, m) for m in keys} for k, v in runs.items() if v}


def row(name: str, r: dict[str, float], per: int = 1, unit: str = "rows", ratio: str = "–") -> str:
    """One table row: req/s (and rows/s for a batch), p50, p99, the ratio column, non-2xx."""
    rate = f"{r['rps']:.0f}" + (f" (= {per * r['rps']:,.0f} {unit}/s)" if per > 1 else "")
    return f"| {name} | {rate} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} | {r['errors']:.0f} |"


def table(args: Any, result: dict[str, Any]) -> list[str]:
    bare, one, batch = result["bare"], result["api"], result["batch"]
    v2, v2batch = result["v2"], result["v2batch"]
    cap, cap_batch = result["capture"], result["capture-batch"]

    def vs_bare(r: dict[str, float]) -> str:
        return f"{100 * r['rps'] / bare['rps']:.0f} %"

    lines = [
        f"| 1 worker each; wrk -t1 -c{args.connections}; median of {args.rounds} alternating "
        f"{args.duration} s runs | req/s | p50 ms | p99 ms | vs bare | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
        row("bare validating endpoint, 1 record", bare, ratio="100 %"),
        row("`/predict`, 1 record, all metrics", one, ratio=vs_bare(one)),
        row("`/predict`, batch of 256 (-c8)", batch, 256),
        row("`/v2/models/{name}/infer`, 1 record, all metrics", v2, ratio=vs_bare(v2)),
        row("`/v2/models/{name}/infer`, batch of 256 (-c8)", v2batch, 256),
        row(
            "`/predict`, 1 record, capture on (100 %)",
            cap,
            ratio=f"{vs_bare(cap)} ({100 * cap['rps'] / one['rps']:.0f} % of capture off)",
        ),
        row(
            "`/predict`, batch of 256, capture on (100 %)",
            cap_batch,
            256,
            ratio=f"{100 * cap_batch['rps'] / batch['rps']:.0f} % of capture off",
        ),
        row("`/feedback`, 1 label", result["fb1"], ratio=vs_bare(result["fb1"])),
        row("`/feedback`, 100 labels (-c8)", result["fb100"], 100, "labels"),
    ]
    if args.also is not None:
        from api.state import read_card

        family, also = read_card(args.also).model, result["also"]
        lines += [
            row(f"`/predict`, 1 record, `{family}` model", also, ratio=vs_bare(also)),
            row(f"`/predict`, batch of 256, `{family}` model", result["also-batch"], 256),
        ]
    cpu = [("`/predict`, 1 record", "api"), ("`/v2/models/{name}/infer`, 1 record", "v2")]
    cpu += [("`/predict`, batch of 256", "batch"), ("`/v2/models/{name}/infer`, batch", "v2batch")]
    cpu += [("`/predict`, 1 record, capture on", "capture")]
    cpu += [("`/predict`, batch of 256, capture on", "capture-batch")]
    cpu += [("`/feedback`, 1 label", "fb1"), ("`/feedback`, 100 labels", "fb100")]
    lines += ["", "| server CPU per request (worker, median) | µs |", "|---|---:|"]
    lines += [f"| {name} | {result[key]['cpu_us']:.0f} |" for name, key in cpu]
    lines += [
        "",
        f"V2 / `/predict` (same run): 1 record {100 * v2['rps'] / one['rps']:.0f} % of the req/s, "
        f"batch of 256 {100 * v2batch['rps'] / batch['rps']:.0f} %. Capture on / off: 1 record "
        f"{100 * cap['rps'] / one['rps']:.0f} % of the req/s "
        f"({100 * (cap['cpu_us'] / one['cpu_us'] - 1):+.0f} % CPU per request), batch of 256 "
        f"{100 * cap_batch['rps'] / batch['rps']:.0f} % "
        f"({100 * (cap_batch['cpu_us'] / batch['cpu_us'] - 1):+.0f} % CPU per request).",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per server")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model")
    parser.add_argument("--also", type=Path, help="a second model bundle to serve alongside")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    from api.schemas import example_record
    from api.state import read_card

    card = read_card(args.model_dir)
    record = example_record(card)
    bodies = {
        "model": card.name,
        "one": json.dumps({"records": [record]}),
        "batch": json.dumps({"records": [record] * 256}),
        "v2one": json.dumps(v2_body(card, record, 1)),
        "v2batch": json.dumps(v2_body(card, record, 256)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = main_runs(args, bodies, Path(tmp))
    sys.stdout.write("\n".join(table(args, result)) + "\n")


if __name__ == "__main__":
    main()
