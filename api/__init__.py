"""The model server: FastAPI app serving the model bundle in `MODEL_DIR` (see README.md#serving)."""
