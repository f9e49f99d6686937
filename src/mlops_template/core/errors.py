"""The errors every part raises: each message names the file, key or column and the reason."""


class StageError(ValueError):
    """A stage or command can't go on; the message names the file, column and reason."""


class ConfigError(ValueError):
    """params.yaml is missing, malformed or holds an invalid value."""


class ModelLoadError(RuntimeError):
    """The model file is missing, corrupt, tampered with or holds untrusted types."""


class CardError(StageError):
    """The model card is missing, unreadable, invalid or newer than this code."""
