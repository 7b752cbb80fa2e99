"""A minimal Qt-free event: the core announces changes, the Qt layer subscribes.

``core/`` must not import Qt, so instead of signals it uses these; ``ui/`` re-emits them as Qt
signals where a widget needs one. Handlers run synchronously in the emitting (event-loop) thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class Event:
    """A list of callbacks called with the emitted arguments."""

    def __init__(self, name: str = ""):
        self.name = name
        self._handlers: list[Callable[..., Any]] = []

    def connect(self, handler: Callable[..., Any]) -> None:
        self._handlers.append(handler)

    def disconnect(self, handler: Callable[..., Any] | None = None) -> None:
        if handler is None:
            self._handlers.clear()
        elif handler in self._handlers:
            self._handlers.remove(handler)

    def emit(self, *args: Any) -> None:
        for handler in list(self._handlers):
            try:
                handler(*args)
            except Exception:  # a broken view must not stop the session's loops
                logger.exception("Handler %r of event %r failed", handler, self.name)
