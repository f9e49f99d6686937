"""The merge-request report's "why" sections: the change against the target branch's model with
its bootstrap interval, per-class metrics, and the permutation importance as a bar chart.
(The reliability plot is one of dvc.yaml's plots, drawn with the others.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_template.core import config, io, paths
from mlops_template.core.markdown import escape
from mlops_template.review import gate

TOP = 15  # bars in the importance chart


def change_section(ref: str | None) -> str:
    """The headline metric's change against `ref`'s model, with the bootstrap interval."""
    title = "## Change against the target branch (bootstrap)"
    if ref is None:
        return f"{title}\n\nNo target branch to compare with."
    params = config.load().gate
    ci = gate.interval_from_ref(ref, params)
    if ci is None:
        return (
            f"{title}\n\nNo interval: `{ref}` has no {paths.PREDICTIONS} (per-row test outputs) "
            "yet, or it can't be compared with this branch's."
        )
    use = "uses it" if params.use_ci else "doesn't use it (`gate.use_ci: false`)"
    return (
        f"{title}\n\n{ci.text()}.\n\n"
        f"A change whose interval contains 0 is within the noise of the test split; the gate "
        f"{use}."
    )


def per_class_section() -> str:
    if not paths.PER_CLASS.is_file():
        return ""
    rows: dict[str, dict[str, Any]] = io.read_json(paths.PER_CLASS)
    if not rows:
        return ""  # regression
    lines = [
        "## Per class (test split)",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, s in rows.items():
        lines.append(
            f"| {escape(label)} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} "
            f"| {s['support']} |"
        )
    return "\n".join(lines)


def render_importance(doc: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = doc["features"][:TOP][::-1]  # most important at the top of the chart
    names = [
        row["feature"] if len(row["feature"]) <= 40 else row["feature"][:39] + "…" for row in top
    ]
    fig, axis = plt.subplots(figsize=(8, 0.35 * len(top) + 1.2))
    axis.barh(names, [r["mean"] for r in top], xerr=[r["std"] for r in top], color="#4c78a8")
    axis.axvline(0, color="grey", linewidth=1)
    axis.set(
        xlabel=f"drop in {doc['metric']} when shuffled ({doc['repeats']} repeats)",
        title="Permutation importance (test split)",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def importance_section(out_dir: Path) -> str:
    if not paths.IMPORTANCE.is_file():
        return ""
    doc = io.read_json(paths.IMPORTANCE)
    if not doc.get("features"):
        return ""
    render_importance(doc, out_dir / "importance.png")
    first = doc["features"][0]
    return (
        "## Permutation importance\n\n"
        f"How much {doc['metric']} drops on {doc['rows']} test rows when one feature's values are "
        f"shuffled; the most important: {escape(first['feature'])} "
        f"({first['mean']:+.4f} ± {first['std']:.4f}).\n\n"
        "![Permutation importance](./importance.png)"
    )


def sections(ref: str | None, out_dir: Path) -> list[str]:
    return [s for s in (change_section(ref), per_class_section(), importance_section(out_dir)) if s]
