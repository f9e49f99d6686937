"""Container numbers: image size, start-to-ready, resident memory per worker at rest and under load.

    python bench/container.py [--image TAG] [--build] [--runs 3] [--load-seconds 10] [--json F]

`--build` runs docker/build-local.sh first (podman, local Debian base standing in for
python:3.11-slim). Start-to-ready is the wall time from `podman run` to the first 200 from
/ready (median of --runs cold starts). RSS is read from /proc of the container's processes
(the gunicorn master and its workers) as root on the host, at rest after one request and at
the end of a closed-loop load of single-record /predict calls from 4 client threads.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = Path(os.environ.get("PODMAN_STATE_DIR", ROOT / "build" / "podman"))
log = logging.getLogger("bench.container")


def env() -> dict[str, str]:
    return {
        **os.environ,
        "CONTAINERS_CONF": str(STATE_DIR / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(STATE_DIR / "storage.conf"),
    }


def podman(*args: str) -> str:
    result = subprocess.run(["podman", *args], env=env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def status(url: str, body: bytes | None = None, timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def start(image: str, port: int) -> tuple[str, float]:
    """Run the image; seconds from `podman run` to the first 200 from /ready."""
    began = time.perf_counter()
    name = podman("run", "--detach", "--publish", f"127.0.0.1:{port}:8000", image)
    while status(f"http://127.0.0.1:{port}/ready", timeout=0.5) != 200:
        if time.perf_counter() - began > 120:
            raise RuntimeError(f"not ready after 120 s:\n{podman('logs', name)}")
        time.sleep(0.02)
    return name, time.perf_counter() - began


def stop(name: str) -> None:
    podman("stop", "--time", "20", name)
    podman("rm", "--force", name)


def rss_mib(name: str) -> dict[str, float]:
    """VmRSS of the gunicorn master and each worker (children of the container's pid 1)."""
    master = int(podman("inspect", "--format", "{{.State.Pid}}", name))
    out = {"master": _rss(master)}
    for n, pid in enumerate(sorted(_children(master))):
        out[f"worker{n + 1}"] = _rss(pid)
    return out


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids.extend(int(k) for k in text)
    return kids


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def example_body(card: dict[str, Any]) -> bytes:
    reference = card["drift_reference"]["features"]
    record = {}
    for f in card["features"]:
        ref = reference[f["name"]]
        if ref["kind"] == "numeric":
            record[f["name"]] = ref["edges"][len(ref["edges"]) // 2]
        else:
            record[f["name"]] = ref["categories"][0]
    return json.dumps({"records": [record]}).encode()


def load(url: str, body: bytes, seconds: float, threads: int = 4) -> int:
    """Closed-loop load; returns the number of successful requests."""
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            if status(f"{url}/predict", body) == 200:
                done[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/mlops-template-api:local")
    parser.add_argument("--build", action="store_true", help="run docker/build-local.sh first")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.build:
        began = time.perf_counter()
        subprocess.run(
            [str(ROOT / "docker" / "build-local.sh")],
            env={**env(), "IMAGE": args.image},
            check=True,
        )
        log.info("build: %.1f s", time.perf_counter() - began)
    size_mb = int(podman("image", "inspect", "--format", "{{.Size}}", args.image)) / 1e6
    card_json = podman(
        "run", "--rm", "--entrypoint", "cat", args.image, "/app/model/model_card.json"
    )
    card = json.loads(card_json)

    starts = []
    for _ in range(args.runs):
        name, seconds = start(args.image, args.port)
        starts.append(seconds)
        stop(name)

    name, _ = start(args.image, args.port)
    url = f"http://127.0.0.1:{args.port}"
    body = example_body(card)
    try:
        status(f"{url}/predict", body)
        time.sleep(1)
        rest = rss_mib(name)
        result: dict[str, Any] = {}
        sampler_out: list[dict[str, float]] = []
        sampler = threading.Thread(
            target=lambda: (time.sleep(args.load_seconds * 0.8), sampler_out.append(rss_mib(name)))
        )
        sampler.start()
        requests = load(url, body, args.load_seconds)
        sampler.join()
        loaded = sampler_out[0]
    finally:
        stop(name)

    result = {
        "image": args.image,
        "image_size_mb": round(size_mb, 1),
        "start_to_ready_s": {
            "median": round(statistics.median(starts), 2),
            "runs": [round(s, 2) for s in starts],
        },
        "rss_mib_at_rest": rest,
        "rss_mib_under_load": loaded,
        "load": {
            "seconds": args.load_seconds,
            "client_threads": 4,
            "requests": requests,
            "req_per_s": round(requests / args.load_seconds, 1),
        },
        "cpus": os.cpu_count(),
        # Other work on the machine skews the timings: the 1-minute load average at the end.
        "loadavg_1m": os.getloadavg()[0],
    }
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
