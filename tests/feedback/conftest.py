"""Fixtures of the feedback tests: the api tests' apps and bundles, and a shared key."""

from __future__ import annotations

from tests.api.conftest import client, client_for, mixed_dir, regression_dir  # noqa: F401

KEY = "feedback-key-for-tests-0123456789abcdef"  # pragma: allowlist secret
from tests.ct.conftest import ct_dvc_cache, gitlab_standin  # noqa: E402,F401
