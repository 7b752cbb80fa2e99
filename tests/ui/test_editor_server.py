"""ItemEditor against the REAL RE Manager (session sandbox, sim profile): what the editor builds
is accepted by ``queue_item_add``, one count runs end to end via ``queue_item_execute``, server
refusals are shown, the editing banner follows the real queue, and in the window a mistyped
scan motor waits for "Accept warnings" while a missing stop is never sent."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from qs_gui.core.gates import Action
from qs_gui.sandbox import Sandbox
from tests.core.schema_support import sim_plans
from tests.helpers import wait_for

from .editor_support import USER, fill_required, make_editor, type_into
from .qt_async import run, until
from .test_main_window_server import make_window, started

pytestmark = pytest.mark.server


def _add(sandbox: Sandbox, item: dict) -> dict:
    return sandbox.request("queue_item_add", {"item": item, **USER})


def test_server_snapshot_is_current(server_reset: Sandbox) -> None:
    """tests/data holds the same plans/devices the harness server reports."""
    reply = server_reset.request("plans_allowed", {"user_group": "primary"})
    assert reply["plans_allowed"] == sim_plans()


def test_default_filled_items_are_accepted_by_the_server(qtbot: QtBot,
                                                         server_reset: Sandbox) -> None:
    editor = make_editor(qtbot)
    accepted, skipped = [], []
    try:
        for name in sorted(sim_plans()):
            editor.picker.choose(name)
            if not fill_required(qtbot, editor):
                skipped.append(name)  # a required parameter without a typed widget
                continue
            item = editor.current_item()
            assert item is not None, (name, editor.current_error())
            reply = _add(server_reset, item)
            assert reply["success"], (name, item, reply["msg"])
            assert {k: reply["item"].get(k) for k in item} == item
            accepted.append(name)
    finally:
        server_reset.request("queue_clear")
    print(f"accepted {len(accepted)}; needed a literal: {skipped}")
    assert sorted(skipped) == ["marked_up_count", "ramp_plan", "scan_nd"]
    assert len(accepted) == len(sim_plans()) - 3


def test_count_executes_end_to_end(qtbot: QtBot, env_open: Sandbox) -> None:
    editor = make_editor(qtbot)
    editor.picker.choose("count")
    editor.form.rows["detectors"].typed.check("det1")
    type_into(qtbot, editor.form.rows["num"].typed, "2")
    item = editor.current_item()
    assert item == {"item_type": "plan", "name": "count", "args": [["det1"]],
                    "kwargs": {"num": 2}}  # fmt: skip
    t0 = time.monotonic()
    reply = env_open.request("queue_item_execute", {"item": item, **USER})
    assert reply["success"], reply["msg"]
    uid = reply["item"]["item_uid"]

    def finished() -> dict | None:
        history = env_open.request("history_get")["items"]
        return next((h for h in history if h.get("item_uid") == uid), None)

    done = wait_for(finished, 30, interval=0.1, message="count in history")
    assert done["result"]["exit_status"] == "completed", done["result"]
    assert env_open.request("status")["items_in_queue"] == 0  # never queued
    print(f"count executed and in history after {time.monotonic() - t0:.2f} s")


def test_server_refusals_are_shown(qtbot: QtBot, env_closed: Sandbox) -> None:
    editor = make_editor(qtbot)
    editor.load_item({"item_type": "plan", "name": "count", "args": [["det1"]],
                      "kwargs": {"num": 3}})  # fmt: skip
    reply = env_closed.request("queue_item_execute", {"item": editor.current_item(), **USER})
    assert not reply["success"]
    editor.show_server_error(reply["msg"])
    assert editor.server_error.message() == (
        "Failed to start execution of the item: RE Worker environment does not exist.")
    # a real pydantic refusal (built by hand: the editor itself cannot produce it)
    bad = _add(env_closed, {"item_type": "plan", "name": "count", "args": [["det1"]],
                            "kwargs": {"num": "abc"}})  # fmt: skip
    assert not bad["success"]
    editor.show_server_error(bad["msg"])
    assert editor.form.rows["num"].error.text().startswith(
        "num: server says: Input should be a valid integer")
    type_into(qtbot, editor.form.rows["num"].typed, "4")
    editor.current_item()
    assert editor.server_error.isHidden() and editor.form.rows["num"].error.isHidden()


def test_banner_follows_the_real_queue(qtbot: QtBot, server_reset: Sandbox) -> None:
    editor = make_editor(qtbot)
    added = _add(server_reset, {"item_type": "plan", "name": "count", "args": [["det1"]],
                                "kwargs": {"num": 3}})["item"]  # fmt: skip
    try:
        queue = server_reset.request("queue_get")["items"]
        editor.load_item(queue[0], editing_uid=added["item_uid"])
        editor.notify_queue(server_reset.request("queue_get")["items"])
        assert editor.edit_state == "editing"
        other = {**queue[0], "kwargs": {"num": 7}}  # another client edits the item
        assert server_reset.request("queue_item_update", {"item": other, **USER})["success"]
        editor.notify_queue(server_reset.request("queue_get")["items"])
        assert editor.edit_state == "changed" and not editor.banner.reload_button.isHidden()
        editor.banner.reload_button.click()
        assert editor.current_item()["kwargs"] == {"num": 7}
        assert editor.edit_state == "editing" and not editor.is_dirty()
        server_reset.request("queue_item_remove", {"uid": added["item_uid"]})
        editor.notify_queue(server_reset.request("queue_get")["items"])
        assert editor.edit_state == "vanished"
        assert "no longer in the queue" in editor.banner.text()
    finally:
        server_reset.request("queue_clear")


def test_scan_motor_warning_and_missing_stop_in_the_window(qtbot: QtBot, qloop: Any,
                                                           env_open: Sandbox) -> None:
    """A mistyped ``motr`` is flagged and not sent until the operator accepts the warning;
    ``[motor, -1]`` (a missing stop) is an error and never reaches the server."""
    window = make_window(qtbot, env_open)
    editor = window.entry
    add = window.registry[Action.QUEUE_ADD]

    def queue() -> list[dict]:
        return env_open.request("queue_get")["items"]

    async def scenario() -> None:
        await started(window)
        await until(lambda: editor.state.devices is not None, 10, message="devices")
        editor.load_item({"item_type": "plan", "name": "scan",
                          "args": [["det1"], "motr", -1, 1], "kwargs": {"num": 5}})
        await until(lambda: not add.isEnabled() and "Accept warnings" in add.toolTip(), 5,
                    message=lambda: f"Add disabled with the reason: {add.toolTip()!r}")
        assert "unknown device 'motr' (did you mean 'motor'?)" in add.toolTip()
        assert not editor.warning_box.isHidden()
        window.commands.fire(Action.QUEUE_ADD)  # as a click or shortcut would
        assert window.commands.add_from_editor() is None  # no item to send
        assert queue() == []
        editor.accept_warnings_box.click()
        await until(add.isEnabled, 5, message="Add enabled once accepted")
        window.commands.fire(Action.QUEUE_ADD)
        await until(lambda: len(queue()) == 1, 10, message="added after accepting")
        assert queue()[0]["args"] == [["det1"], "motr", -1, 1]
        env_open.request("queue_clear")
        # the missing stop: an error, whatever is accepted, never sent
        editor.load_item({"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1],
                          "kwargs": {"num": 5}})  # fmt: skip
        await until(lambda: not add.isEnabled() and "missing stop" in add.toolTip(), 5,
                    message=lambda: f"Add disabled with the reason: {add.toolTip()!r}")
        assert editor.current_item() is None
        execute = window.registry[Action.EXECUTE_NOW]
        assert not execute.isEnabled() and "missing stop" in execute.toolTip()
        window.commands.fire(Action.QUEUE_ADD)
        window.commands.fire(Action.EXECUTE_NOW)
        assert window.commands.execute_now() is None
        assert not window.session.in_flight  # nothing was sent, so nothing is awaited
        assert queue() == []
        assert env_open.request("status")["items_in_history"] == 0

    try:
        run(qloop, scenario())
    finally:
        run(qloop, window.session.stop())
        env_open.request("queue_clear")
