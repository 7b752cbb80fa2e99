"""Shared fixtures: one real RE Manager per session (``sandbox``) and per-test state resets."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import logging  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from qs_gui.sandbox import Sandbox  # noqa: E402
from tests.helpers import (  # noqa: E402
    ensure_env_closed,
    ensure_env_open,
    reset_around_test,
)

log = logging.getLogger(__name__)


def _session_sandbox(what: str, **options: Any) -> Iterator[Sandbox]:
    t0 = time.monotonic()
    sb = Sandbox(publish_console=True, open_environment=False, **options)
    sb.start()
    log.info("session %s ready in %.2f s at %s", what, time.monotonic() - t0,
             sb.http_uri or sb.control_addr)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A real RE Manager for the whole session: console/status publishing ON, environment closed
    at start, private Redis, loopback ports. Stopped (no processes left) at session end."""
    yield from _session_sandbox("sandbox")


@pytest.fixture
def server_reset(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, idle, with empty queue and history, default queue mode and autostart
    off (worker environment untouched). Fails loudly if a test left the server locked."""
    yield from reset_around_test(sandbox)


@pytest.fixture
def env_open(server_reset: Sandbox) -> Iterator[Sandbox]:
    """``server_reset`` plus an open worker environment with the manager idle."""
    ensure_env_open(server_reset)
    yield server_reset


@pytest.fixture
def env_closed(server_reset: Sandbox) -> Iterator[Sandbox]:
    """``server_reset`` plus a closed worker environment with the manager idle."""
    ensure_env_closed(server_reset)
    yield server_reset


@pytest.fixture(scope="session")
def http_sandbox() -> Iterator[Sandbox]:
    """A real RE Manager behind bluesky-httpserver 0.0.14 in single-user mode for the whole
    session: ``http_uri``, ``http_api_key`` (``Authorization: ApiKey <key>``); environment closed
    at start. Stopped (no processes left) at session end."""
    yield from _session_sandbox("HTTP sandbox", http="single")


@pytest.fixture(scope="session")
def http_multi_sandbox() -> Iterator[Sandbox]:
    """As ``http_sandbox`` but multi-user: password provider ``http_provider`` ("toy") with
    ``http_users`` admin/operator/observer (name -> password), access tokens valid for 3 s."""
    yield from _session_sandbox("multi-user HTTP sandbox", http="multi",
                                http_access_token_max_age=3)
