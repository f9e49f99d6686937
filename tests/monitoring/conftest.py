"""Fixtures for monitoring tests: real API, Prometheus, Alertmanager and an HTTP stand-in.

They live in monitoring_stack.py so other test folders can import them too.
"""

from monitoring_stack import (  # noqa: F401  (fixtures are registered by importing them)
    http_recorder,
    start_alertmanager,
    start_api,
    start_prometheus,
)
