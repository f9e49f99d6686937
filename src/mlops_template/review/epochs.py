"""The per-epoch training table, for the terminal (`python -m mlops_template.review.epochs`) and
for the merge-request report: one row per epoch, the known scores first in a fixed order.

python -m mlops_template.review.epochs [--info reports/train_info.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlops_template.core import io, paths
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError

COLUMNS = {
    "classification": [
        ("Training Accuracy", "train_accuracy"),
        ("Validation Accuracy", "val_accuracy"),
        ("Training Loss", "train_loss"),
        ("Validation Loss", "val_loss"),
    ],
    "regression": [
        ("Training RMSE", "train_rmse"),
        ("Validation RMSE", "val_rmse"),
        ("Training Loss (MSE)", "train_loss"),
        ("Validation Loss (MSE)", "val_loss"),
    ],
}


def table(history: list[dict[str, Any]], task: str) -> str:
    """A markdown table with one row per epoch (any score the task doesn't name comes last)."""
    if not history:
        return "No per-epoch history logged."
    named = [(title, key) for title, key in COLUMNS[task] if key in history[0]]
    known = {key for _, key in named}
    extra = sorted(k for k in history[0] if k != "epoch" and k not in known)
    columns = named + [(key.replace("_", " "), key) for key in extra]
    lines = [
        "| Epoch | " + " | ".join(title for title, _ in columns) + " |",
        "|---:|" + "---:|" * len(columns),
    ]
    for row in history:
        cells = " | ".join(f"{float(row[key]):.4f}" for _, key in columns)
        lines.append(f"| {row['epoch']} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Per-epoch training table of the last run.")
    parser.add_argument("--info", type=Path, default=paths.TRAIN_INFO)
    args = parser.parse_args()
    if not args.info.is_file():
        raise StageError(f"{args.info} not found; run the pipeline first (make train)")
    info = io.read_json(args.info)
    print(table(info["history"], info["task"]))


if __name__ == "__main__":
    run(main)
