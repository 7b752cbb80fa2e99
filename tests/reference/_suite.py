"""Loading the reference client's own test suite (``bluesky_queueserver_api/tests``, 0.0.13).

Its ``common.py`` imports ``bluesky_httpserver.tests.conftest`` for the HTTP server fixtures
(``fastapi_server``, ``fastapi_server_fs``: bluesky-httpserver under uvicorn on port 60610,
started through pytest-xprocess), and that module imports ``xprocess`` at load time.

With an HTTP face selected, those real fixtures run (pytest-xprocess is then required; the
runner's conftest gives them a private ``xprocess`` fixture and keeps the gateway on loopback).
With only 0MQ faces, no HTTP server is needed: when pytest-xprocess is absent a stand-in module
satisfies the import, and the two fixtures are replaced by inert ones *before* the test modules
import them from ``common`` (test bodies are untouched; only the HTTP fixtures they receive
differ, and the 0MQ cases never use them).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def _stand_in_for_xprocess() -> None:
    if importlib.util.find_spec("xprocess") is not None:
        return
    module = types.ModuleType("xprocess")

    class ProcessStarter:
        """Never started: the fixtures that would use it are replaced (module doc)."""

    module.ProcessStarter = ProcessStarter  # type: ignore[attr-defined]
    sys.modules["xprocess"] = module


@pytest.fixture(scope="module")
def fastapi_server() -> Iterator[None]:
    """No HTTP server: the selected cases talk 0MQ only."""
    yield


@pytest.fixture
def fastapi_server_fs() -> Iterator[Callable[..., None]]:
    """No HTTP server; starting one means an HTTP case slipped into the selection."""

    def start(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("HTTP cases are not part of this selection (tests/reference)")

    yield start


def load_common(*, http: bool) -> types.ModuleType:
    """Import the suite's ``common``; without ``http``, with the HTTP fixtures replaced."""
    if http:
        if importlib.util.find_spec("xprocess") is None:
            raise RuntimeError("the HTTP faces of the reference suite need pytest-xprocess "
                               "(the 'test' extra), or set QS_GUI_REFERENCE_FACES=zmq-async,"
                               "zmq-sync")
    else:
        _stand_in_for_xprocess()
    with warnings.catch_warnings():  # pydantic/sqlalchemy deprecations inside bluesky_httpserver
        warnings.simplefilter("ignore")
        common = importlib.import_module("bluesky_queueserver_api.tests.common")
    if not http:
        common.fastapi_server = fastapi_server
        common.fastapi_server_fs = fastapi_server_fs
    return common
