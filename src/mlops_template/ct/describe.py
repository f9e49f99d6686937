"""The merge request's title and description: why it ran, what changed, how the model compares."""

from __future__ import annotations

from mlops_template.core.card import MODEL_NAME
from mlops_template.core.config import LOWER_IS_BETTER
from mlops_template.core.markdown import escape
from mlops_template.ct.compare import Comparison
from mlops_template.ct.payload import Reason

MAX_CHARS = 900_000  # GitLab caps descriptions at 1,048,576 characters


def title(reason: Reason, version: str) -> str:
    drifted = ", ".join(sorted(reason.drifted))
    quality = "; ".join(
        f"quality: {a.metric} {a.value:.3f}" if a.value is not None else f"quality: {a.metric}"
        for a in reason.quality[:1]
    )
    if reason.source == "schedule":
        why = "scheduled"
    elif drifted and quality:
        why = f"{quality}; drift in {drifted}"
    elif drifted:
        why = f"drift in {drifted}"
    elif quality:
        why = quality
    else:
        why = reason.headline()
    return f"Retrain model ({why}): {version}"[:255]


def why(reason: Reason, pipeline_url: str) -> list[str]:
    lines = ["## Why this retraining ran", ""]
    started = f"Started by **{reason.headline()}**"
    lines.append(f"{started} in pipeline {pipeline_url}." if pipeline_url else f"{started}.")
    quality = [a for a in reason.alerts if a.quality]
    if quality:
        lines += [
            "",
            "Reason: **quality** — the live quality from the labels sent to `/feedback` "
            "fell past its floor (`monitor` in params.yaml).",
            "",
            "| alert | status | model version | metric | live | floor | since |",
            "|---|---|---|---|---:|---:|---|",
        ]
        for a in quality:
            live = f"{a.value:.4f}" if a.value is not None else "—"
            floor = f"{a.floor:g}" if a.floor is not None else "—"
            cells = [a.name, a.status, a.version or "—", a.metric, live, floor, a.starts_at]
            lines.append("| " + " | ".join(escape(c) for c in cells) + " |")
    drift = [a for a in reason.alerts if not a.quality]
    if drift:
        lines += [
            "",
            "| alert | status | feature | PSI (live) | since | summary |",
            "|---|---|---|---:|---|---|",
        ]
        for a in drift:
            psi = f"{a.psi:.4f}" if a.psi is not None else "—"
            cells = [a.name, a.status, a.feature or "—", psi, a.starts_at, a.summary]
            lines.append("| " + " | ".join(cells) + " |")
    drifted = reason.drifted
    if drifted:
        worst = ", ".join(
            f"`{k}` (PSI {v:.3f})" if v is not None else f"`{k}`"
            for k, v in sorted(drifted.items(), key=lambda kv: -(kv[1] or 0.0))
        )
        lines += ["", f"Drifted: {worst}."]
    return lines


def comparison(result: Comparison, metric: str) -> list[str]:
    lines = ["## Retrained model vs production", ""]
    if not result.prod:
        lines.append(f"{result.method.capitalize()}; retrained metrics only.")
        lines += ["", "| metric | retrained |", "|---|---:|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in sorted(result.new.items())]
        return lines
    lines.append(f"Production: `{result.prod_ref}` — {result.method}.")
    lines += ["", "| metric | production | retrained | change |", "|---|---:|---:|---:|"]
    for name in sorted(set(result.new) | set(result.prod)):
        new, old = result.new.get(name), result.prod.get(name)
        if new is None or old is None:
            lines.append(f"| {name} | {old if old is not None else '—'} | {new or '—'} | |")
            continue
        better = (new < old) if name in LOWER_IS_BETTER else (new > old)
        mark = " ✅" if better and name == metric else ""
        bold = "**" if name == metric else ""
        lines.append(f"| {bold}{name}{bold} | {old:.4f} | {new:.4f} | {new - old:+.4f}{mark} |")
    return lines


def description(
    reason: Reason,
    result: Comparison,
    *,
    metric: str,
    gate: str,
    data_note: str,
    changed: list[str],
    drift_md: str,
    report_md: str,
    pipeline_url: str,
    production_md: str = "",
) -> str:
    lines = why(reason, pipeline_url)
    lines += ["", *comparison(result, metric), "", f"Quality gate: `{gate}`", ""]
    lines += ["## Data and files", "", f"Data: {data_note}.", ""]
    lines += [f"- `{path}`" for path in changed] or ["- (no file changed)"]
    if production_md:
        lines += ["", "## Production data (captured, labelled via /feedback)", "", production_md]
    if drift_md:
        lines += [
            "",
            "## Refreshed data vs the production model's training reference",
            "",
            drift_md,
        ]
    if report_md:
        lines += ["", "## Report", "", report_md]
    lines += [
        "",
        "---",
        "Opened by the retrain job (`python -m mlops_template.ct.retrain`). Review the numbers, "
        "then merge: the register job versions the model; promote it with "
        f"`gto assign {MODEL_NAME} --stage prod`.",
    ]
    text = "\n".join(lines) + "\n"
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "\n\n(truncated)\n"
