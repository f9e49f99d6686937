"""Where each stage reads and writes; one place, so stages and dvc.yaml agree."""

from pathlib import Path

PARAMS = Path("params.yaml")
RAW = Path("data/raw/dataset.parquet")
PROCESSED = Path("data/processed")
TRAIN = PROCESSED / "train.parquet"
VAL = PROCESSED / "val.parquet"
TEST = PROCESSED / "test.parquet"
SCHEMA = PROCESSED / "schema.json"
PREPROCESSOR = PROCESSED / "preprocessor.skops"
MODEL_DIR = Path("model")
MODEL = MODEL_DIR / "model.skops"
MODEL_CARD = MODEL_DIR / "model_card.json"
TRAIN_INFO = Path("reports/train_info.json")
DVCLIVE_DIR = Path("reports/train")
METRICS = Path("reports/metrics.json")
PLOTS = Path("reports/plots")
