"""The reference client's ``tests/test_api.py`` (0.0.13), run by ``conftest.py``."""

from bluesky_queueserver_api.tests.test_api import *  # noqa: F403
