"""What the serving benchmarks share: ports, readiness, wrk runs and the server's CPU per request.

`bench/serve.py` imports it from this folder (run as `python bench/serve.py`).
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


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
    requests, p50 and p99 in ms, and non-2xx count."""
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
    sys.stderr.write(
        f"{kind:8s} {run['rps']:8.0f} req/s  p99 {run['p99']:6.2f} ms"
        f"  cpu {run['cpu_us']:7.1f} us/req\n"
    )
    return run


def median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))
