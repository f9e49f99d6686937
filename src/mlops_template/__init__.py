"""The training side of the GitLab MLOps template: `core`, `stages`, `review`, `ct`."""

from importlib.metadata import version

__version__ = version("mlops-template")  # pyproject.toml is the one place for it
