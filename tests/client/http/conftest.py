"""Fixtures of the HTTP client tests: the session gateways (tests/conftest.py) brought into a
known state per test, and clients on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qs_gui.sandbox import Sandbox
from tests.helpers import ensure_env_closed, reset_around_test


@pytest.fixture
def http_reset(http_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The single-user gateway's manager idle, queue and history empty, autostart off
    (environment untouched)."""
    yield from reset_around_test(http_sandbox)


@pytest.fixture
def http_env_closed(http_reset: Sandbox) -> Iterator[Sandbox]:
    ensure_env_closed(http_reset)
    yield http_reset


@pytest.fixture
def http_multi_reset(http_multi_sandbox: Sandbox) -> Iterator[Sandbox]:
    """As ``http_reset``, on the multi-user gateway."""
    yield from reset_around_test(http_multi_sandbox)
