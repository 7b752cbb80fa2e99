"""Fixtures for UI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qs_gui.sandbox import Sandbox
from tests.helpers import reset_around_test

from .qt_async import qloop  # noqa: F401 (fixture)


@pytest.fixture
def single(http_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The single-user (API key) gateway sandbox, reset around the test."""
    yield from reset_around_test(http_sandbox)


@pytest.fixture
def multi(http_multi_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The gateway sandbox with logins (admin, operator, observer), reset around the test."""
    yield from reset_around_test(http_multi_sandbox)
