"""The model server: FastAPI app serving the model bundle in `MODEL_DIR` (see docs/serving.md)."""
