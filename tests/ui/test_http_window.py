"""The main window over bluesky-httpserver: logins, scopes, gates, restarts and the 408.

A real gateway in front of a real RE Manager (the ``http_sandbox``/``http_multi_sandbox``
session fixtures); the server is checked over its own 0MQ socket (``sandbox.request``).
Screenshots: ``QS_GUI_SCREENSHOTS=dir`` (a run under Xvfb with QT_QPA_PLATFORM=xcb).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QDialog, QMessageBox, QToolButton  # noqa: E402

from qs_gui.client.api import READ_ONLY_METHODS  # noqa: E402
from qs_gui.core.gates import Action, Connection  # noqa: E402
from qs_gui.sandbox import Sandbox  # noqa: E402
from qs_gui.ui import dialogs as dialogs_module  # noqa: E402
from tests.helpers import (  # noqa: E402
    ensure_env_closed,
    ensure_env_open,
)

from .editor_support import type_into  # noqa: E402
from .http_harness import (  # noqa: E402
    COUNT,
    TransportSpy,
    login,
    make_http_window,
    save_shot,
    started,
)
from .qt_async import run, until  # noqa: E402

pytestmark = pytest.mark.server

#: what an observer's client may put on the wire: reads, its own identity/session, and the
#: short-lived API key of its WebSocket streams (scope user:apikeys, which observers have)
OBSERVER_MAY_SEND = READ_ONLY_METHODS | {"api_scopes", "whoami", "session_refresh",
                                         "console_output", "console_output_uid",
                                         "apikey_new", "apikey_delete"}


def action(window, name: Action):
    return window.registry[name]


def history(sb: Sandbox) -> list[dict]:
    return sb.request("history_get")["items"]


def queue(sb: Sandbox) -> list[dict]:
    return sb.request("queue_get")["items"]


class AlwaysYes:
    def confirm(self, *_args, **_kwargs) -> bool:
        return True

    def confirm_typed(self, *_args) -> bool:
        return True

    def keep_newest(self, _total: int) -> int:
        return 0


# -- 1. operator ----------------------------------------------------------------------------
def test_operator_executes_now_and_the_item_carries_their_name(qtbot, qloop, multi):
    sb = multi
    ensure_env_open(sb)
    window = make_http_window(qtbot, sb, login_user="operator")

    async def scenario():
        await login(window, sb, "operator")  # before the session starts
        await started(window)
        await until(lambda: "operator" in window.user_label.text(), 5,
                    message=lambda: f"user label, now {window.user_label.text()!r}")
        assert window.user_label.isVisible()
        assert "write:execute" in window.session.scopes
        window.entry.load_item(COUNT, editing_uid=None)
        execute = action(window, Action.EXECUTE_NOW)
        await until(lambda: execute.isEnabled(), 10,
                    message=lambda: f"Execute now enabled ({execute.toolTip()!r})")
        save_shot(window, "http-operator.png")
        before = len(history(sb))
        button = window.findChild(QToolButton, "executeNowButton")
        assert button is not None and button.isEnabled()
        qtbot.mouseClick(button, Qt.LeftButton)
        await until(lambda: window.session.tracker.last and window.session.tracker.last.finished,
                    40, message="execution finished")
        assert window.session.tracker.last.state == "completed", window.session.tracker.last
        items = history(sb)
        assert len(items) == before + 1
        stored = items[-1]
        assert stored["name"] == "count" and stored["result"]["exit_status"] == "completed"
        # The gateway stamps the item with the logged-in user's display name.
        assert stored["user"] == window.session.principal.name, (stored["user"],
                                                                 window.session.principal)
        assert "operator" in stored["user"].lower()
        assert queue(sb) == []  # executed, never queued
        await until(lambda: "completed" in window.execution_label.text(), 5)
        await until(lambda: window.history_view.model.rowCount() == before + 1, 10)

    try:
        run(qloop, scenario(), 90)
    finally:
        run(qloop, window.session.stop())


# -- 2. observer ----------------------------------------------------------------------------
GATED_FOR_OBSERVER = {
    Action.EXECUTE_NOW: "needs write:execute", Action.QUEUE_ADD: "needs write:queue:edit",
    Action.ENV_OPEN: "needs write:manager:control",
    Action.ENV_CLOSE: "needs write:manager:control", Action.LOCK: "needs write:lock",
}


def test_observer_sees_disabled_actions_with_reasons_and_sends_no_writes(
        qtbot, qloop, multi, monkeypatch):
    sb = multi
    ensure_env_closed(sb)
    monkeypatch.setattr(dialogs_module, "run_dialog", lambda *a, **k: QMessageBox.Yes)
    window = make_http_window(qtbot, sb, login_user="observer")
    spy = TransportSpy(window.session._api)
    sb.request("queue_item_add", {"item": COUNT, "user": "seed", "user_group": "primary"})

    async def scenario():
        await started_after_login(window, sb, "observer")
        await until(lambda: "observer" in window.user_label.text(), 5)
        await until(lambda: window.session.queue, 10, message="queue loaded")
        window.entry.load_item(COUNT, editing_uid=None)
        await until(lambda: window.entry.current_error() is None, 5, message="entry valid")
        await until(lambda: "num" in (window.entry.form.rows if window.entry.form else {}), 5,
                    message="form built")
        window.refresh_gates()
        for act, words in GATED_FOR_OBSERVER.items():
            qaction = action(window, act)
            assert not qaction.isEnabled(), act
            assert words in window.gates.reason(act), (act, window.gates.reason(act))
            assert words in qaction.toolTip(), (act, qaction.toolTip())
        assert "needs write:execute" in window.reason_label.text()
        await until(lambda: window.entry.form.rows["num"].typed.isVisible(), 5,
                    message="the form's fields shown")
        save_shot(window, "http-observer.png")

        # Every action forced on (as if a button were enabled by mistake): the commands check
        # the gate again and send nothing the scopes forbid.
        window.queue_view.select_uids([window.session.queue[0]["item_uid"]])
        window.lock_panel.key_edit.setText("k1")
        window.commands.prompts = AlwaysYes()
        window.entry.confirm = lambda *a: True
        spy.clear()
        for act in Action:
            if act is Action.HISTORY_EXPORT:  # a file dialog; a read anyway
                continue
            qaction = window.registry[act]
            qaction.setEnabled(True)
            qaction.trigger()
            await asyncio.sleep(0.02)
        await until(lambda: not window.session.in_flight and window.commands.pending() == 0, 10,
                    message="commands settled")
        refused = [m for m in window.messages.messages() if "not sent" in m]
        return spy.names(), refused

    try:
        sent, refused = run(qloop, scenario(), 90)
    finally:
        run(qloop, window.session.stop())
    assert sent <= OBSERVER_MAY_SEND, sent - OBSERVER_MAY_SEND
    assert any("needs write:execute" in m for m in refused), refused
    status = sb.request("status")
    assert not status["worker_environment_exists"]
    assert len(queue(sb)) == 1 and status["items_in_history"] == 0
    assert not sb.request("lock_info")["lock_info"]["environment"]


async def started_after_login(window, sb, user: str):
    """The session starts with no credentials (the gateway refuses the status), then the user
    logs in and the window connects by itself."""
    await window.session.start()
    await until(lambda: window.session.connection is Connection.OFFLINE
                and window.session.connection_detail, 15,
                message=lambda: f"refused without a login ({window.session.connection_detail})")
    dialog = getattr(window, "login_dialog", None)
    if dialog is not None and dialog.isVisible():  # offered by the window: logged in below
        dialog.reject()
    await login(window, sb, user)
    await until(lambda: window.session.connection is Connection.CONNECTED, 15,
                message="connected after login")
    await until(lambda: window.session.principal is not None, 15, message="principal")
    await until(lambda: window.session.plans_allowed, 15, message="plans loaded")


# -- 3. single-user API key -----------------------------------------------------------------
def test_single_user_key_execute_now_gated_by_environment(qtbot, qloop, single):
    sb = single
    ensure_env_closed(sb)
    window = make_http_window(qtbot, sb, api_key=sb.http_api_key)

    async def scenario():
        await started(window)
        assert "single-user" in window.user_label.text()
        window.entry.load_item(COUNT, editing_uid=None)
        execute = action(window, Action.EXECUTE_NOW)
        await until(lambda: window.entry.current_error() is None, 5, message="entry valid")
        window.refresh_gates()
        assert not execute.isEnabled()
        assert "environment" in window.gates.reason(Action.EXECUTE_NOW).lower()
        assert "environment" in window.reason_label.text().lower()
        assert sb.request("environment_open")["success"]
        await until(lambda: execute.isEnabled(), 60,
                    message=lambda: f"enabled once open ({execute.toolTip()!r})")
        assert window.reason_label.text() == ""

    try:
        run(qloop, scenario(), 90)
    finally:
        run(qloop, window.session.stop())


# -- 4. gateway restart ---------------------------------------------------------------------
def test_gateway_restart_goes_offline_and_comes_back(qtbot, qloop, single):
    sb = single
    window = make_http_window(qtbot, sb, api_key=sb.http_api_key)
    seen: dict[str, str] = {}

    async def scenario():
        await started(window)
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        await loop.run_in_executor(None, sb.kill_gateway)
        await until(lambda: window.session.connection is Connection.OFFLINE, 30,
                    message=lambda: f"offline (now {window.session.connection})")
        seen["detail"] = window.session.connection_detail
        seen["indicator"] = window.indicator.text()
        seen["tooltip"] = window.indicator.toolTip()
        seen["reason"] = window.gates.reason(Action.QUEUE_ADD)
        offline_after = time.monotonic() - t0
        await loop.run_in_executor(None, sb.restart_gateway)
        t1 = time.monotonic()
        await until(lambda: window.session.connection is Connection.CONNECTED, 30,
                    message=lambda: f"connected again (now {window.session.connection}: "
                                    f"{window.session.connection_detail})")
        return offline_after, time.monotonic() - t1

    try:
        offline_after, back_after = run(qloop, scenario(), 120)
    finally:
        run(qloop, window.session.stop())
    print(f"offline after {offline_after:.2f} s, connected {back_after:.2f} s after the restart;"
          f" {seen}")
    plain = " ".join(seen.values()).lower()
    assert "traceback" not in plain and "exception" not in plain, seen
    assert seen["detail"] and "http" in seen["detail"].lower(), seen
    assert seen["reason"], seen


# -- 5. a 408 while adding ------------------------------------------------------------------
def manager_process(sb: Sandbox) -> psutil.Process:
    """The RE Manager: the child of the watchdog process (``sandbox.pid``)."""
    children = [c for c in psutil.Process(sb.pid).children() if c.is_running()]
    assert len(children) == 1, [(c.pid, c.cmdline()[:2]) for c in children]  # env closed
    return children[0]


def test_408_while_adding_is_reported_and_reconciled_never_resent(qtbot, qloop, single):
    sb = single
    ensure_env_closed(sb)  # no worker: the watchdog's one child is the manager
    window = make_http_window(qtbot, sb, api_key=sb.http_api_key)
    manager = manager_process(sb)
    spy = TransportSpy(window.session._api)
    timings: dict[str, float] = {}

    async def scenario():
        await started(window)
        window.entry.load_item({**COUNT, "kwargs": {"num": 408}}, editing_uid=None)
        add = action(window, Action.QUEUE_ADD)
        await until(lambda: add.isEnabled(), 10, message="Add to queue enabled")
        spy.clear()
        manager.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            add.trigger()
            # The gateway gives up on RE Manager after 2 s (408); the manager wakes before 4 s.
            await until(lambda: 408 in spy.outcome("queue_item_add")
                        or time.monotonic() - stopped_at > 3.5, 5, message="408")
        finally:
            manager.send_signal(signal.SIGCONT)
            timings["stopped_for"] = time.monotonic() - stopped_at
        await until(lambda: any("NOT sent again" in m for m in window.messages.messages()), 30,
                    message=lambda: f"reconciled; messages {window.messages.messages()}")
        await until(lambda: not window.session.in_flight, 30, message="add no longer busy")
        await until(lambda: window.session.connection is Connection.CONNECTED, 30)

    try:
        run(qloop, scenario(), 90)
    finally:
        if manager.is_running() and manager.status() == psutil.STATUS_STOPPED:
            manager.send_signal(signal.SIGCONT)
        messages = window.messages.messages()
        run(qloop, window.session.stop())
    print(f"manager stopped for {timings.get('stopped_for', 0):.2f} s; messages: {messages}")
    assert timings["stopped_for"] < 4.0
    assert spy.outcome("queue_item_add") == [408], spy.outcomes
    # In plain words: first the 408 itself (the gateway gave up waiting for RE Manager), then,
    # after the check, what the server did and that nothing was re-sent.
    about = [m for m in messages if m.startswith("Add count to the queue:")]
    assert about and "did not hear back from the RE Manager in time (408)" in about[0], about
    assert all("NOT sent again" in m for m in about[1:]) and len(about) >= 2, about
    assert "Traceback" not in " ".join(messages)
    assert "the server did add count" in about[-1], about
    adds = [n for n in (name for _v, _p, name in spy.sent) if n == "queue_item_add"]
    assert len(adds) == 1, spy.sent
    items = [i for i in queue(sb) if i.get("kwargs", {}).get("num") == 408]
    assert len(items) == 1, queue(sb)


# -- 6. the login dialog --------------------------------------------------------------------
def test_login_dialog_wrong_password_then_right_keeps_editor_text(qtbot, qloop, multi):
    sb = multi
    window = make_http_window(qtbot, sb, login_user="operator")
    state: dict = {}

    async def scenario():
        await login(window, sb, "operator")
        await started(window)
        window.entry.load_item(COUNT, editing_uid=None)
        await until(lambda: "num" in (window.entry.form.rows if window.entry.form else {}), 5,
                    message="form built")
        type_into(qtbot, window.entry.form.rows["num"].typed, "17")
        state["typed"] = window.entry.text_state()
        state["draft"] = window.entry.draft_item()
        assert state["draft"]["kwargs"]["num"] == 17, state["draft"]
        # What the window does when the gateway ends the session (login_required).
        window._on_login_required("the refresh token has expired")
        dialog = window.login_dialog
        assert dialog.isVisible() and "nothing you typed is lost" in dialog.reason_label.text()
        assert dialog.user_edit.text() == "operator"
        qtbot.keyClicks(dialog.password_edit, "not-the-password")
        qtbot.mouseClick(dialog.ok_button, Qt.LeftButton)
        await until(lambda: dialog.error_label.isVisible() and not dialog.busy, 15,
                    message="error shown")
        assert "Incorrect username or password" in dialog.error_label.text(), \
            dialog.error_label.text()
        assert dialog.isVisible() and dialog.result() != QDialog.Accepted
        assert dialog.password_edit.text() == ""
        save_shot(dialog, "http-login.png")
        qtbot.keyClicks(dialog.password_edit, sb.http_users["operator"])
        qtbot.mouseClick(dialog.ok_button, Qt.LeftButton)
        await until(lambda: not dialog.isVisible(), 15,
                    message=lambda: f"accepted ({dialog.error_label.text()!r})")
        assert dialog.result() == QDialog.Accepted
        await until(lambda: window.session.connection is Connection.CONNECTED, 15)
        await until(lambda: "operator" in window.user_label.text(), 15,
                    message=lambda: f"user label {window.user_label.text()!r}")
        assert any("Logged in as operator" in m for m in window.messages.messages())
        assert window.entry.text_state() == state["typed"]
        assert window.entry.draft_item() == state["draft"]

    try:
        run(qloop, scenario(), 90)
    finally:
        run(qloop, window.session.stop())
