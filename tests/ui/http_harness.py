"""Main windows over bluesky-httpserver (qs_gui.client.http) for the HTTP GUI tests.

The same Pattern A as tests/ui/test_main_window_server.py (a qasync loop driven by the test),
only the 0MQ client swapped for the HTTP one. ``TransportSpy`` records every exchange the
client's HTTP transport puts on the wire (verb, path, method name).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qs_gui.client.http import REManagerAPI as HTTPManagerAPI
from qs_gui.core.gates import Connection
from qs_gui.core.session import Session
from qs_gui.ui.main_window import MainWindow

from .qt_async import until

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
         "kwargs": {"num": 3, "delay": 0.1}}
#: screenshots are written only when this names a directory (a manual run under Xvfb)
SHOTS = os.environ.get("QS_GUI_SCREENSHOTS")


def provider(sandbox: Any) -> str:
    """The login endpoint of the sandbox's password provider. ``sandbox.http_provider`` is the
    provider's name ("toy"); ``REManagerAPI.login`` wants the endpoint path below
    ``/api/auth/provider`` ("toy/token", as the reference client): "toy" alone is a 404."""
    return f"{sandbox.http_provider}/token"


def make_http_window(qtbot, sandbox: Any, *, api_key: str | None = None,
                     login_user: str | None = None) -> MainWindow:
    api = HTTPManagerAPI(http_server_uri=sandbox.http_uri)
    if api_key is not None:
        api.set_authorization_key(api_key=api_key)
    window = MainWindow(Session(api))
    if sandbox.http_provider:
        window.configure_login(login_user or "", [provider(sandbox)])
    qtbot.addWidget(window)
    window.show()
    return window


async def login(window: MainWindow, sandbox: Any, user: str) -> None:
    error = await window.session.login(user, sandbox.http_users[user], provider(sandbox))
    assert error is None, error


async def started(window: MainWindow, *, timeout: float = 15) -> MainWindow:
    await window.session.start()
    await until(lambda: window.session.connection is Connection.CONNECTED, timeout,
                message=lambda: f"connected (now {window.session.connection}: "
                                f"{window.session.connection_detail})")
    await until(lambda: window.session.principal is not None, timeout, message="principal")
    await until(lambda: window.session.plans_allowed, timeout, message="plans loaded")
    return window


def save_shot(widget: Any, name: str) -> None:
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(Path(SHOTS) / name)), name


class TransportSpy:
    """Wraps ``api.transport.exchange`` to record (verb, path, name) of every HTTP request."""

    def __init__(self, api: Any) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        #: (name, HTTP status or exception class name) of every answered or failed request
        self.outcomes: list[tuple[str | None, Any]] = []
        transport = api.transport
        original = transport.exchange

        async def exchange(verb, path, *args, **kwargs):
            name = kwargs.get("name")
            self.sent.append((verb, path, name))
            try:
                result = await original(verb, path, *args, **kwargs)
            except Exception as ex:
                response = getattr(ex, "response", None)
                code = getattr(response, "status_code", None)
                self.outcomes.append((name, code if code is not None else type(ex).__name__))
                raise
            self.outcomes.append((name, 200))
            return result

        transport.exchange = exchange

    def names(self) -> set[str]:
        return {name or f"{verb} {path}" for verb, path, name in self.sent}

    def outcome(self, name: str) -> list[Any]:
        return [result for n, result in self.outcomes if n == name]

    def clear(self) -> None:
        self.sent.clear()
        self.outcomes.clear()
