"""The merge request's title and description: why it ran, what changed, how the model compares.

Alert names, features and summaries come from the trigger payload, metric names and feature
names from data: all of it goes through `markdown.escape` (or `markdown.table`), so a payload
can't mention people, run quick actions or break the description's tables.
"""

from __future__ import annotations

from mlops_template.core import markdown
from mlops_template.core.card import MODEL_NAME
from mlops_template.core.config import LOWER_IS_BETTER
from mlops_template.ct.compare import Comparison
from mlops_template.ct.payload import Reason

MAX_CHARS = 900_000  # GitLab caps descriptions at 1,048,576 characters
MAX_ALERTS = 50  # alert rows in the description (a payload can hold thousands)


def title(reason: Reason, version: str) -> str:
    drifted = markdown.listing(sorted(reason.drifted), limit=5)
    quality = "; ".join(
        f"quality: {markdown.escape(a.metric, 40)}"
        + (f" {a.value:.3f}" if a.value is not None else "")
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
        why = markdown.escape(reason.headline())
    return f"Retrain model ({why}): {markdown.escape(version, 40)}"[:255]


def why(reason: Reason, pipeline_url: str) -> list[str]:
    lines = ["## Why this retraining ran", ""]
    started = f"Started by **{markdown.escape(reason.headline())}**"
    url = markdown.escape(pipeline_url, 500)
    lines.append(f"{started} in pipeline {url}." if pipeline_url else f"{started}.")
    quality = [a for a in reason.alerts if a.quality]
    if quality:
        lines += [
            "",
            "Reason: **quality** — the live quality from the labels sent to `/feedback` "
            "fell past its floor (`monitor` in params.yaml).",
            "",
        ]
        header = ["alert", "status", "model version", "metric", "live", "floor", "since"]
        rows = [
            [
                a.name,
                a.status,
                a.version or "—",
                a.metric,
                f"{a.value:.4f}" if a.value is not None else "—",
                f"{a.floor:g}" if a.floor is not None else "—",
                a.starts_at,
            ]
            for a in quality
        ]
        lines += [markdown.table(header, rows, align="llllrrl", limit=MAX_ALERTS)]
    drift = [a for a in reason.alerts if not a.quality]
    if drift:
        header = ["alert", "status", "feature", "PSI (live)", "since", "summary"]
        rows = [
            [
                a.name,
                a.status,
                a.feature or "—",
                f"{a.psi:.4f}" if a.psi is not None else "—",
                a.starts_at,
                a.summary,
            ]
            for a in drift
        ]
        lines += ["", markdown.table(header, rows, align="lllrll", limit=MAX_ALERTS)]
    drifted = reason.drifted
    if drifted:
        worst = markdown.listing(
            f"{k} (PSI {v:.3f})" if v is not None else k
            for k, v in sorted(drifted.items(), key=lambda kv: -(kv[1] or 0.0))
        )
        lines += ["", f"Drifted: {worst}."]
    return lines


def comparison(result: Comparison, metric: str) -> list[str]:
    lines = ["## Retrained model vs production", ""]
    if not result.prod:
        lines.append(f"{markdown.escape(result.method.capitalize())}; retrained metrics only.")
        rows = [[k, f"{v:.4f}"] for k, v in sorted(result.new.items())]
        lines += ["", markdown.table(["metric", "retrained"], rows, align="lr")]
        return lines
    prod_ref, method = markdown.escape(result.prod_ref or ""), markdown.escape(result.method)
    lines.append(f"Production: {prod_ref} — {method}.")
    lines += ["", "| metric | production | retrained | change |", "|---|---:|---:|---:|"]
    for name in sorted(set(result.new) | set(result.prod))[: markdown.MAX_ROWS]:
        new, old = result.new.get(name), result.prod.get(name)
        shown = markdown.escape(name)
        if new is None or old is None:
            cells = [markdown.escape(x if x is not None else "—") for x in (old, new)]
            lines.append(f"| {shown} | {cells[0]} | {cells[1]} | |")
            continue
        better = (new < old) if name in LOWER_IS_BETTER else (new > old)
        mark = " ✅" if better and name == metric else ""
        bold = "**" if name == metric else ""
        lines.append(f"| {bold}{shown}{bold} | {old:.4f} | {new:.4f} | {new - old:+.4f}{mark} |")
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
    lines += ["", *comparison(result, metric), "", f"Quality gate: {markdown.escape(gate, 500)}"]
    lines += ["", "## Data and files", "", f"Data: {data_note}.", ""]
    shown = [f"- {markdown.escape(path)}" for path in changed[: markdown.MAX_ROWS]]
    if len(changed) > markdown.MAX_ROWS:
        shown.append(f"- and {len(changed) - markdown.MAX_ROWS} more")
    lines += shown or ["- (no file changed)"]
    if production_md:  # made by mlops_template.ct.feedback_data (its text escaped there)
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
