"""Fixtures of the HTTP client tests: the session gateways (tests/conftest.py) brought into a
known state per test, and clients on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qs_gui.sandbox import Sandbox
from tests.helpers import ServerLockedError, check_not_locked, ensure_env_closed, reset_server


def _reset(sb: Sandbox) -> Iterator[Sandbox]:
    try:
        reset_server(sb)
    except ServerLockedError as ex:
        pytest.fail(f"a previous test left the server locked. {ex}")
    yield sb
    try:
        check_not_locked(sb)
    except ServerLockedError as ex:
        pytest.fail(f"this test left the server locked. {ex}")


@pytest.fixture
def http_reset(http_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The single-user gateway's manager idle, queue and history empty, autostart off
    (environment untouched)."""
    yield from _reset(http_sandbox)


@pytest.fixture
def http_env_closed(http_reset: Sandbox) -> Iterator[Sandbox]:
    ensure_env_closed(http_reset)
    yield http_reset


@pytest.fixture
def http_multi_reset(http_multi_sandbox: Sandbox) -> Iterator[Sandbox]:
    """As ``http_reset``, on the multi-user gateway."""
    yield from _reset(http_multi_sandbox)
