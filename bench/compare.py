"""Serving, this checkout against another one, in one run: is a change faster or slower?

    git archive main | tar -x -C /tmp/main-src       # the baseline: a clean export, any ref
    python bench/compare.py /tmp/main-src [--rounds 9] [--duration 5] [--model-dir model]

Starts three servers, one worker each: the bare validating endpoint of bench/serve.py, the
baseline's `python -m api` and this checkout's (each with its own `src/` and `api/` on
PYTHONPATH, this interpreter). Each round runs wrk against all three in a rotating order (one
record, 32 connections), then batches of 256 rows (8 connections) against both servers, so a
machine that speeds up or slows down hits all of them alike. Prints the median of the per-round
ratios: each server's single-record req/s to the bare endpoint's, and this checkout's batch
rows/s to the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from serve import free_port, start, stop, wait_ready  # bench/serve.py

ROOT = Path(__file__).resolve().parents[1]


def serve_checkout(
    checkout: Path, port: int, model_dir: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "MODEL_DIR": str(model_dir),
        "DRAIN_SECONDS": "0",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-prom-"),
        "PYTHONPATH": f"{checkout / 'src'}{os.pathsep}{checkout}",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"], cwd=checkout, env=env, stdout=out, stderr=-2
        )
    wait_ready(f"http://127.0.0.1:{port}/ready", process)
    return process


def rps(url: str, body: str, connections: int, seconds: int, workdir: Path) -> float:
    """wrk's requests/s for POSTs of `body` (nan if wrk reports none)."""
    body_file, script = workdir / "body.json", workdir / "post.lua"
    body_file.write_text(body)
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "r"); wrk.body = f:read("*a"); f:close()\n'
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if found is None or errors is not None:
        sys.stderr.write(f"wrk against {url}: {out}\n")
        return float("nan")
    return float(found.group(1))


def median(values: list[float]) -> float:
    return float(statistics.median(v for v in values if v == v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="a checkout (or export) to compare with")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model")
    args = parser.parse_args()
    from api.schemas import example_record
    from api.state import read_card

    record = example_record(read_card(args.model_dir))
    one, batch = json.dumps({"records": [record]}), json.dumps({"records": [record] * 256})
    os.environ["MODEL_DIR"] = str(args.model_dir)  # the bare endpoint's card
    runs: dict[str, list[float]] = {k: [] for k in ("bare", "base", "this", "bbase", "bthis")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ports = {k: free_port() for k in ("bare", "base", "this")}
        servers = {
            "bare": start("bare", ports["bare"], args.model_dir, work / "bare.log"),
            "base": serve_checkout(args.baseline, ports["base"], args.model_dir, work / "b.log"),
            "this": serve_checkout(ROOT, ports["this"], args.model_dir, work / "this.log"),
        }
        url = {k: f"http://127.0.0.1:{port}/predict" for k, port in ports.items()}
        try:
            for kind in ("bare", "base", "this"):  # warm-up
                rps(url[kind], one, 32, 2, work)
            orders = [("bare", "base", "this"), ("this", "bare", "base"), ("base", "this", "bare")]
            for n in range(args.rounds):
                for kind in orders[n % 3]:
                    runs[kind].append(rps(url[kind], one, 32, args.duration, work))
                for kind in ("base", "this") if n % 2 == 0 else ("this", "base"):
                    runs[f"b{kind}"].append(256 * rps(url[kind], batch, 8, args.duration, work))
                last = {k: round(v[-1]) for k, v in runs.items() if v[-1] == v[-1]}
                sys.stderr.write(f"round {n + 1}: {last}\n")
        finally:
            for process in servers.values():
                stop(process)

    def ratio(a: str, b: str) -> float:
        return median([x / y for x, y in zip(runs[a], runs[b])])

    sys.stdout.write(
        f"| 1 worker each; {args.rounds} interleaved rounds of {args.duration} s | baseline "
        "| this checkout |\n|---|---:|---:|\n"
        f"| 1 record, req/s (median) | {median(runs['base']):.0f} | {median(runs['this']):.0f} |\n"
        f"| 1 record, vs the bare endpoint (median of per-round ratios) | "
        f"{100 * ratio('base', 'bare'):.0f} % | {100 * ratio('this', 'bare'):.0f} % |\n"
        f"| batch of 256, rows/s (median) | {median(runs['bbase']):,.0f} "
        f"| {median(runs['bthis']):,.0f} |\n"
        f"| batch rows/s, this / baseline (median of per-round ratios) | 100 % "
        f"| {100 * ratio('bthis', 'bbase'):.0f} % |\n"
    )


if __name__ == "__main__":
    main()
