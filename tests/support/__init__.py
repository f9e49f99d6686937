"""Helpers the test folders share (import them as `tests.support.<module>`):

`shell` runs commands (`sh`, the venv on PATH, git identities, `require_tool`), `repo` makes
throw-away git repositories from this checkout, `pipeline` runs the DVC stages, `net` finds free
ports and polls HTTP, `processes` starts and stops servers, `monitoring` runs Prometheus and
Alertmanager with the committed config, `recorder` is a local HTTP stand-in, `traffic` makes
/predict records, `api` wraps FastAPI's TestClient, and `fixtures` holds the pytest fixtures
(registered by tests/conftest.py).
"""
