"""Render a Grafana dashboard's panels as one PNG, from a live Prometheus, with matplotlib.

Grafana itself isn't needed (nor available on every machine): each panel's PromQL is sent
to Prometheus' query_range API and drawn as a time series (stat and table panels show the
last value). Used for the rendering in README.md#monitoring.

    python monitoring/grafana/render_panels.py --prometheus http://localhost:9090 \
        --minutes 15 --out docs/img/monitoring-dashboard.png
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DASHBOARD = Path(__file__).parent / "dashboards" / "model-service.json"


def query_range(prometheus: str, expr: str, start: float, end: float, step: float) -> Any:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=30) as r:
        body = json.loads(r.read())
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r}: {body}")
    return body["data"]["result"]


def legend(fmt: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text.strip() or ", ".join(f"{k}={v}" for k, v in labels.items() if k != "__name__")


def draw(ax: Any, panel: dict[str, Any], prometheus: str, start: float, end: float) -> None:
    ax.set_title(panel["title"], fontsize=9)
    ax.tick_params(labelsize=7)
    step = max((end - start) / 240, 1.0)
    series = []
    for target in panel.get("targets", []):
        for result in query_range(prometheus, target["expr"], start, end, step):
            points = [(float(t) - end, float(v)) for t, v in result["values"]]
            points = [(t, v) for t, v in points if math.isfinite(v)]
            if points:
                series.append((legend(target.get("legendFormat", ""), result["metric"]), points))
    if not series:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    if panel["type"] in ("stat", "table"):
        ax.axis("off")
        lines = [f"{name}: {points[-1][1]:.4g}" for name, points in series]
        ax.text(0.02, 0.5, "\n".join(lines[:6]), va="center", transform=ax.transAxes, fontsize=8)
        return
    many = len(series) > 8
    for name, points in series:
        ax.plot([p[0] / 60 for p in points], [p[1] for p in points], lw=1, label=name)
    for step_ in panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", []):
        if step_.get("value") is not None:
            ax.axhline(step_["value"], color=step_["color"], lw=0.8, ls="--")
    ax.set_xlabel("minutes before end", fontsize=7)
    unit = panel["fieldConfig"]["defaults"].get("unit", "")
    if unit and unit != "short":
        ax.set_ylabel(unit, fontsize=7)
    if not many:
        ax.legend(fontsize=6, loc="upper left")


def render(prometheus: str, dashboard: Path, minutes: float, out: Path, columns: int = 4) -> None:
    panels = json.loads(dashboard.read_text())["panels"]
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.9 * rows))
    end = time.time()
    start = end - minutes * 60
    flat = list(axes.flat)
    for ax, panel in zip(flat, panels):
        draw(ax, panel, prometheus, start, end)
    for ax in flat[len(panels) :]:
        ax.axis("off")
    title = json.loads(dashboard.read_text())["title"]
    fig.suptitle(f"{title} (rendered from Prometheus query_range, not Grafana)", fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://localhost:9090")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    render(args.prometheus.rstrip("/"), args.dashboard, args.minutes, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
