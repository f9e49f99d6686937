"""Training, evaluation and monitoring code of the GitLab MLOps template."""

__version__ = "0.1.0"
