"""Where each stage reads and writes: the one place for these paths.

`dvc.yaml` must repeat them (DVC reads no Python); `tests/dvc/test_dvc_yaml.py` checks that its
deps and outs equal `INPUTS` and `OUTPUTS` here.
"""

from pathlib import Path

PARAMS = Path("params.yaml")
SOURCE_DIR = Path("data/source")  # where a user's own data file goes (a dep of `load`)
FEEDBACK_DIR = Path("data/feedback")  # labelled production rows (see docs/feedback.md)
FEEDBACK_TABLE = FEEDBACK_DIR / "labelled.parquet"  # DVC-tracked; read by `load` if present
FEEDBACK_SUMMARY = FEEDBACK_DIR / "summary.json"  # what the table holds (for the retrain MR)
RAW = Path("data/raw/dataset.parquet")
PROCESSED = Path("data/processed")
TRAIN = PROCESSED / "train.parquet"
VAL = PROCESSED / "val.parquet"
TEST = PROCESSED / "test.parquet"
SCHEMA = PROCESSED / "schema.json"
MODEL_DIR = Path("model")
MODEL = MODEL_DIR / "model.skops"
MODEL_CARD = MODEL_DIR / "model_card.json"
TRAIN_INFO = Path("reports/train_info.json")
DVCLIVE_DIR = Path("reports/train")
METRICS = Path("reports/metrics.json")
PLOTS = Path("reports/plots")
IMPORTANCE = Path("reports/importance.json")  # permutation importance on the test split
PER_CLASS = Path("reports/per_class.json")  # precision/recall/F1 per class ({} for regression)
PREDICTIONS = Path("reports/predictions.json")  # per-row test outputs, for the bootstrap

# The data (not code) each stage reads, and everything it writes, by stage name.
INPUTS: dict[str, tuple[Path, ...]] = {
    "load": (SOURCE_DIR, FEEDBACK_DIR),
    "preprocess": (RAW,),
    "train": (PROCESSED,),
    "evaluate": (TRAIN, TEST, MODEL, TRAIN_INFO),
}
OUTPUTS: dict[str, tuple[Path, ...]] = {
    "load": (RAW,),
    "preprocess": (TRAIN, VAL, TEST, SCHEMA),
    "train": (MODEL, TRAIN_INFO, DVCLIVE_DIR),
    "evaluate": (MODEL_CARD, PLOTS, METRICS, IMPORTANCE, PER_CLASS, PREDICTIONS),
}
