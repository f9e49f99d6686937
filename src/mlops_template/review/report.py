"""Merge-request report: metrics and params diff, per-epoch table, plots as PNG, gate verdict.

    python -m mlops_template.review.report [--target-ref origin/main] [--out report/report.md]

Writes markdown plus PNG images next to it (the MR comment CML posts in CI; `make report`
previews it locally). Without a target ref (first commit, local preview) it shows the
current metrics and params instead of a diff.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops_template.core import config, io, markdown, paths
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.review import epochs, gate, why

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("report/report.md")


def dvc(*args: str) -> str:
    """Run a DVC command with this interpreter (`python -m dvc`) and return its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StageError(f"report: `dvc {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"epochs": 20}} → {"train.epochs": 20}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def number(value: Any) -> str:
    """A metric as DVC's tables show it (5 decimals); anything else as text, "-" if absent."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(round(value, 5)) if abs(value) >= 1e-5 or value == 0 else f"{value:.5g}"
    return str(value)


def metrics_section(ref: str | None) -> str:
    """DVC's metrics (diff) as a table; every cell escaped (names come from the branch)."""
    if ref is None:
        shown: dict[str, Any] = json.loads(dvc("metrics", "show", "--json")).get("", {})
        files = {p: flatten(d.get("data", {})) for p, d in shown.get("data", {}).items()}
        names = sorted({name for values in files.values() for name in values})
        rows = [[p, *(number(v.get(n)) for n in names)] for p, v in sorted(files.items())]
        return "## Metrics\n\n" + markdown.table(["Path", *names], rows)
    diff: dict[str, Any] = json.loads(dvc("metrics", "diff", "--json", "--all", ref))
    rows = [
        [p, name, number(v.get("old")), number(v.get("new")), number(v.get("diff"))]
        for p, values in sorted(diff.items())
        for name, v in sorted(values.items())
    ]
    table = markdown.table(["Path", "Metric", ref, "workspace", "Change"], rows)
    return f"## Metrics (vs {markdown.escape(ref)})\n\n" + table


def params_section(ref: str | None) -> str:
    if ref is not None:
        diff: dict[str, Any] = json.loads(dvc("params", "diff", "--json", ref))
        rows = [
            [p, name, number(v.get("old")), number(v.get("new"))]
            for p, values in sorted(diff.items())
            for name, v in sorted(values.items())
        ]
        if rows:
            table = markdown.table(["Path", "Param", ref, "workspace"], rows)
            return f"## Params changed (vs {markdown.escape(ref)})\n\n" + table
        return f"## Params\n\nNo parameter changes versus {markdown.escape(ref)}."
    rows = [[k, number(v)] for k, v in flatten(config.as_dict(config.load())).items()]
    return "## Params\n\n" + markdown.table(["Param", "Value"], rows)


def epochs_section() -> str:
    if not paths.TRAIN_INFO.is_file():
        return "## Training per epoch\n\nNo training run found (reports/train_info.json)."
    info = io.read_json(paths.TRAIN_INFO)
    return "## Training per epoch\n\n" + epochs.table(info.get("history", []), info["task"])


def gate_section(ref: str | None) -> str:
    params = config.load().gate
    metrics = io.read_json(paths.METRICS)
    baseline = gate.baseline_from_ref(ref) if ref is not None else None
    ci = gate.interval_from_ref(ref, params) if ref is not None and params.use_ci else None
    verdict = gate.check(metrics, params, baseline, ci)
    icon = "✅" if verdict.passed else "❌"
    return f"## Quality gate\n\n{icon} {markdown.escape(verdict.message, 500)}"


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "plot"


def vega_specs(ref: str | None) -> dict[str, dict[str, Any]]:
    """Title → vega-lite spec of every plot in dvc.yaml (both revisions when `ref` is given)."""
    args = ["plots", "diff", "--json", ref] if ref is not None else ["plots", "show", "--json"]
    data: dict[str, list[dict[str, Any]]] = json.loads(dvc(*args)).get("data", {})
    specs: dict[str, dict[str, Any]] = {}
    for title, renders in data.items():
        for render in renders:
            content = render.get("content")
            if render.get("type") == "vega" and isinstance(content, dict):
                specs[title] = content
    return specs


def render_vega(spec: dict[str, Any], path: Path) -> None:
    import vl_convert  # imported here: heavy, and only the report needs it

    io.write_bytes(path, vl_convert.vegalite_to_png(spec, scale=1.5))


def render_predictions(path: Path) -> bool:
    """Regression: predicted-vs-actual and residual scatter with matplotlib."""
    source = paths.PLOTS / "predictions.json"
    if not source.is_file():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = io.read_json(source)
    actual = [row["actual"] for row in rows]
    predicted = [row["predicted"] for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    left.scatter(actual, predicted, s=10)
    low, high = min(actual + predicted), max(actual + predicted)
    left.plot([low, high], [low, high], color="grey", linewidth=1)
    left.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
    right.scatter(predicted, [row["residual"] for row in rows], s=10)
    right.axhline(0, color="grey", linewidth=1)
    right.set(xlabel="predicted", ylabel="residual", title="Residuals")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plots_section(ref: str | None, out_dir: Path) -> str:
    """Render each plot to `out_dir/<slug>.png` and link it relative to the report."""
    lines = ["## Plots"]
    if ref is not None:
        lines.append(f"\nEach plot shows this branch (workspace) and {markdown.escape(ref)}.")
    for title, spec in vega_specs(ref).items():
        name = f"{slug(title)}.png"
        render_vega(spec, out_dir / name)
        text = markdown.escape(title)
        lines.append(f"\n### {text}\n\n![{text}](./{name})")
    if render_predictions(out_dir / "predictions.png"):
        lines.append("\n### Predictions\n\n![Predictions](./predictions.png)")
    return "\n".join(lines)


def build(ref: str | None, out: Path) -> str:
    """The whole report as markdown; writes the images into out's folder."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    title = f"# Model report for {markdown.escape(head or 'workspace')}"
    sections = [
        title + (f" vs {markdown.escape(ref)}" if ref is not None else ""),
        gate_section(ref),
        metrics_section(ref),
        params_section(ref),
        epochs_section(),
        *why.sections(ref, out.parent),
        plots_section(ref, out.parent),
    ]
    return "\n\n".join(sections) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-ref", help="git ref to compare with (e.g. origin/main)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not paths.METRICS.is_file():
        raise StageError(f"report: {paths.METRICS} not found; run the pipeline first (make train)")
    ref: str | None = args.target_ref or None
    if ref is not None and not ref_exists(ref):
        log.warning("report: ref %s not found; reporting without a comparison", ref)
        ref = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    io.write_bytes(args.out, build(ref, args.out).encode())
    log.info("report: wrote %s", args.out)


def ref_exists(ref: str) -> bool:
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


if __name__ == "__main__":
    run(main)
