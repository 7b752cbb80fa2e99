"""The reference client's ``tests/test_api_fs.py`` (0.0.13), run by ``conftest.py``."""

from bluesky_queueserver_api.tests.test_api_fs import *  # noqa: F403
