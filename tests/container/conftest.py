"""The API image, built once per session for every container test (podman_image.py)."""

from tests.container.podman_image import image  # noqa: F401  (registers the fixture)
