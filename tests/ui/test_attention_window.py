"""Issue 16 points 1–2 against a real RE Manager: the failed queue item alarm, the state banner,
the window title and the Messages badge."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qs_gui.core.gates import Action  # noqa: E402
from qs_gui.core.operator_state import StateKind  # noqa: E402

from .qt_async import run, until  # noqa: E402
from .test_main_window_server import make_window, save_shot, server_queue, started  # noqa: E402

pytestmark = pytest.mark.server

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 2}}
#: fails at run time: scan's *args need (motor, start, stop)
BAD_SCAN = {"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1],
            "kwargs": {"num": 5}}


def add(sandbox, item: dict) -> None:
    reply = sandbox.request("queue_item_add", {"item": item, "user": "seed",
                                               "user_group": "primary"})
    assert reply["success"], reply


def kind(window) -> StateKind:
    return window.banner.state().kind


def test_a_failed_queue_item_raises_an_alarm_until_acknowledged(qtbot, qloop, env_open):
    sandbox = env_open
    for item in (COUNT, BAD_SCAN, COUNT):
        add(sandbox, item)
    window = make_window(qtbot, sandbox)

    async def scenario():
        await started(window)
        await until(lambda: kind(window) is StateKind.IDLE, 10, message="idle banner")
        assert window.windowTitle().startswith("Idle — ")
        window.console.raise_()  # another dock on top of Messages
        assert sandbox.request("queue_start")["success"]
        await until(lambda: kind(window) is StateKind.FAILED, 30,
                    message=lambda: f"failed banner, is {window.banner.state()}")
        alarm = window.session.alarm
        await until(lambda: window.session.alarm.detail_read, 10, message="detail read")
        alarm = window.session.alarm
        assert alarm.name == "scan" and alarm.queue_item
        errors = window.messages.messages("error")
        assert any("Queue stopped: scan failed" in m for m in errors), errors
        assert any("Wrong number of positional arguments" in m for m in errors), errors
        assert window.banner.headline.text() == "Queue stopped: scan failed"
        assert "Wrong number" in window.banner.detail.text()
        assert window.windowTitle().startswith("Queue stopped: scan failed")
        assert window.banner.ack_button.isVisible()
        # the requeued copy (a new uid) is the one marked
        queue = server_queue(sandbox)
        assert queue[0]["name"] == "scan" and queue[0]["item_uid"] != alarm.uid
        await until(lambda: window.session.alarm.requeued_uid == queue[0]["item_uid"], 10,
                    message="requeued item marked")
        assert window.queue_view.model.failed_uid() == queue[0]["item_uid"]
        # the Messages tab shows the unread errors while the console is on top
        assert "error" in window.messages_dock.windowTitle()
        # a status push does not clear it: only the operator does
        assert sandbox.request("queue_item_add", {"item": COUNT, "user": "seed",
                                                  "user_group": "primary"})["success"]
        await until(lambda: len(window.queue_view.selected_uids()) == 0 and
                    window.session.status["items_in_queue"] == 3, 10)
        assert kind(window) is StateKind.FAILED
        save_shot(window, "banner_failed.png")
        window.banner.ack_button.click()
        await until(lambda: kind(window) is StateKind.IDLE, 5, message="idle after acknowledge")
        assert window.session.alarm is None and window.queue_view.model.failed_uid() is None
        window.messages_dock.raise_()
        await until(lambda: window.messages_dock.windowTitle() == "Messages", 5,
                    message="badge cleared once read")

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_the_banner_names_each_state_in_operator_words(qtbot, qloop, env_closed):
    sandbox = env_closed
    window = make_window(qtbot, sandbox)
    long_count = {"item_type": "plan", "name": "count", "args": [["det1"]],
                  "kwargs": {"num": 100, "delay": 0.1}}

    async def scenario():
        await started(window)
        await until(lambda: kind(window) is StateKind.ENV_CLOSED, 10, message="closed banner")
        assert window.banner.headline.text() == "Environment closed"
        assert window.banner.state().role == "off"  # never a green "idle" when closed
        save_shot(window, "banner_env_closed.png")
        assert sandbox.request("environment_open")["success"]
        await until(lambda: kind(window) is StateKind.ENV_OPENING, 10, message="opening")
        assert window.banner.headline.text().startswith("Opening environment")
        await until(lambda: "(1 s)" in window.banner.headline.text()
                    or kind(window) is StateKind.IDLE, 10, message="elapsed time advances")
        await until(lambda: kind(window) is StateKind.IDLE, 60, message="idle")
        save_shot(window, "banner_idle.png")

        # Execute now is shown as such, not as the queue running
        reply = sandbox.request("queue_item_execute", {"item": long_count, "user": "seed",
                                                       "user_group": "primary"})
        assert reply["success"], reply
        await until(lambda: kind(window) is StateKind.RUNNING_EXECUTE_NOW, 10,
                    message=lambda: f"execute-now banner, is {window.banner.state()}")
        assert "(Execute now)" in window.banner.headline.text()
        assert "executing_queue" not in window.banner.headline.text()
        await until(lambda: window.session.status.get("re_state") == "running", 10,
                    message="the Run Engine runs the plan")
        stop_now = window.registry[Action.RE_PAUSE_IMMEDIATE]
        await until(stop_now.isEnabled, 5, message="Stop now offered while it runs")
        save_shot(window, "banner_running.png")
        reply = sandbox.request("re_pause", {"option": "immediate"})
        assert reply["success"], reply
        await until(lambda: kind(window) is StateKind.PAUSED, 10, message="paused banner")
        assert window.banner.state().role == "attention"
        assert window.windowTitle().startswith("Paused")
        await until(window.registry[Action.RE_RESUME].isEnabled, 5, message="Resume offered")
        save_shot(window, "banner_paused.png")
        assert sandbox.request("re_stop")["success"]
        await until(lambda: kind(window) is StateKind.IDLE, 20, message="idle after stop")

        assert sandbox.request("lock", {"user": "alice", "lock_key": "k-16", "queue": True,
                                        "environment": True, "note": "alignment"})["success"]
        try:
            await until(lambda: window.banner.lock_badge.isVisible(), 5, message="LOCKED badge")
            assert kind(window) is StateKind.IDLE  # a lock is a flag, not a state
            assert window.queue_view._badges["locked"].isVisible()
            assert "LOCKED" in window.windowTitle()
            save_shot(window, "banner_locked.png")
        finally:
            assert sandbox.request("unlock", {"lock_key": "k-16"})["success"]
        await until(lambda: not window.banner.lock_badge.isVisible(), 5, message="unlocked")

    run(qloop, scenario())
    run(qloop, window.session.stop())
