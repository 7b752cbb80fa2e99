"""Fixtures for UI tests."""

from .qt_async import qloop  # noqa: F401 (fixture)
