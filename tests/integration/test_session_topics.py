"""A status-only session (an overview tile) subscribes to status pushes, not console output."""

from __future__ import annotations

import asyncio

import pytest

from qs_gui.core.gates import Connection
from qs_gui.core.session import Session
from qs_gui.sandbox import Sandbox
from tests.helpers import ensure_env_open
from tests.ui.qt_async import until

from ._support import client_for, run

pytestmark = pytest.mark.server

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 3}}


def test_a_session_without_console_gets_statuses_but_no_console_text(sandbox: Sandbox):
    ensure_env_open(sandbox)

    async def scenario():
        full = Session(client_for(sandbox))
        tile = Session(client_for(sandbox), console=False)
        texts: dict[str, list[str]] = {"full": [], "tile": []}
        full.console_text.connect(lambda parts: texts["full"].extend(parts))
        tile.console_text.connect(lambda parts: texts["tile"].extend(parts))
        pushes = []
        tile.status_changed.connect(lambda status: pushes.append(status))
        try:
            await full.start()
            await tile.start()
            await until(lambda: full.connection is Connection.CONNECTED
                        and tile.connection is Connection.CONNECTED, 10)
            seen = len(pushes)
            reply = await asyncio.get_running_loop().run_in_executor(
                None, lambda: sandbox.request("queue_item_execute", {
                    "item": COUNT, "user": "t", "user_group": "primary"}))
            assert reply["success"], reply
            # the plan prints to the console; both sessions see its statuses
            await until(lambda: "".join(texts["full"]).count("count") > 0, 20,
                        message="console text in the full session")
            await until(lambda: len(pushes) > seen + 1, 10, message="status pushes")
            await until(lambda: tile.status and tile.status["manager_state"] == "idle", 20)
        finally:
            await full.stop()
            await tile.stop()
        return texts

    texts = run(scenario())
    assert texts["full"]
    assert texts["tile"] == []
