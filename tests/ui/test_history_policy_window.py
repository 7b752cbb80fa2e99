"""The window over the history policy, against a real RE Manager: a withheld history is explained
in the History pane (what a read would cost, how old the shown history is), Load now reads it
after a confirmation, Keep only the newest trims it through ``history_clear``, an Execute now
whose result waits for such a read says so, and a busy server is a detail, not a lost contact.

A real 100,000-item history makes every test here slow (a manager restart to seed it, seconds per
read): the policy is given a per-item cost of 3 s instead, so that the real server's one-item
history is "too large to read automatically" and every rule of the policy applies unchanged.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtWidgets import QPushButton  # noqa: E402

from qs_gui.client import REManagerAPI  # noqa: E402
from qs_gui.core.gates import Action, Connection  # noqa: E402
from qs_gui.core.history_policy import HistoryPolicy  # noqa: E402
from qs_gui.core.session import Session  # noqa: E402
from qs_gui.ui.main_window import MainWindow  # noqa: E402

from .qt_async import run, until  # noqa: E402
from .test_main_window_server import COUNT, started  # noqa: E402

pytestmark = pytest.mark.server

SECONDS_PER_ITEM = 3.0  # one item "costs" more than the 2 s safety limit


class Prompts:
    """The operator's answers, recorded (no modal dialog in a test)."""

    def __init__(self, answer: bool, keep: int | None = None) -> None:
        self.answer, self.keep = answer, keep
        self.asked: list[tuple[str, str]] = []

    def confirm(self, title: str, text: str, *, destructive: bool = False) -> bool:
        self.asked.append((title, text))
        return self.answer

    def confirm_typed(self, title: str, text: str, word: str) -> bool:
        return self.answer

    def keep_newest(self, total: int) -> int | None:
        self.asked.append(("keep_newest", str(total)))
        return self.keep


def make_window(qtbot, sandbox) -> tuple[MainWindow, REManagerAPI]:
    api = REManagerAPI(zmq_control_addr=sandbox.control_addr, zmq_info_addr=sandbox.info_addr)
    api.user, api.user_group = "gui-tester", "primary"
    policy = HistoryPolicy(seconds_per_item=SECONDS_PER_ITEM)
    window = MainWindow(Session(api, history_policy=policy))
    qtbot.addWidget(window)
    window.show()
    return window, api


def test_withheld_history_load_now_and_keep_newest(qtbot, qloop, env_open):
    sandbox = env_open
    window, api = make_window(qtbot, sandbox)
    notice = window.history_view.notice
    sent: list[str] = []  # every request the window's client got a reply to, in order
    api.reply_observers.append(lambda method, _seconds: sent.append(method))

    def button(text: str) -> QPushButton:
        return next(b for b in notice.findChildren(QPushButton) if b.text() == text)

    async def body():
        await started(window)
        assert not notice.isVisible()  # an empty history costs nothing: read as usual
        await window.session.execute_now(COUNT)
        executed = sent.index("queue_item_execute")
        # finished by the status at once; the result waits for a read the operator must allow
        await until(lambda: "the result waits for a history read you must allow"
                    in window.execution_label.text(), 30, message="ended, result withheld")
        assert window.execution_label.text().startswith("… count finished")
        assert any("the result waits for a history read you must allow" in m
                   for m in window.messages.messages("info"))
        assert notice.isVisible() and notice.title.text() == "History not read automatically"
        assert notice.reason.text().startswith("The history has 1 item; reading it blocks the "
                                               "RE Manager for about 3 s")
        assert "watchdog restarts it after 5 s" in notice.reason.text()
        assert notice.age.text().startswith("Shown as read ")
        assert "changed once since" in notice.age.text()
        assert window.history_view.model.rowCount() == 0
        assert "history_get" not in sent[executed:]  # never by itself
        load = button("Load now…")
        assert load.isVisible() and load.isEnabled()

        window.commands.prompts = declined = Prompts(False)
        load.click()
        assert declined.asked[0][0] == "Load history now"
        assert "answers no one" in declined.asked[0][1]
        assert "history_get" not in sent[executed:]

        window.commands.prompts = Prompts(True)
        load.click()
        await until(lambda: window.history_view.model.rowCount() == 1, 20, message="loaded")
        await until(lambda: window.execution_label.text().startswith("✔ count: completed"), 10,
                    message="result shown")
        await until(lambda: not notice.isVisible(), 10, message="notice gone after the read")

        # Keep only the newest: a second item makes it withheld again, then keep 0 of 2
        await window.session.execute_now(COUNT)
        await until(lambda: notice.isVisible(), 30, message="withheld again")
        keep = button("Keep only the newest…")
        assert keep.isEnabled()
        window.commands.prompts = trimmer = Prompts(True, keep=0)
        keep.click()
        assert trimmer.asked == [("keep_newest", "2")]  # the server's count, not the rows shown
        await until(lambda: sandbox.request("status")["items_in_history"] == 0, 20,
                    message="history cleared on the server")
        await until(lambda: not notice.isVisible(), 10, message="an empty history is current")

    run(qloop, body(), 120)
    run(qloop, window.session.stop())


def test_a_busy_server_is_a_detail_not_a_lost_contact(qtbot, qloop, server_reset):
    window, _api = make_window(qtbot, server_reset)
    s = window.session

    async def body():
        await started(window)
        before = (window.indicator.state(), window.indicator.text())
        text = "RE Manager is serving the 100,000-item history (3.4 s so far)"
        s.state.server_busy = text
        s.server_busy_changed.emit(text)
        assert window.server_busy_label.isVisible() and window.server_busy_label.text() == text
        assert (window.indicator.state(), window.indicator.text()) == before
        assert window.indicator.state() is Connection.CONNECTED
        assert text in window.indicator.toolTip()
        s.state.server_busy = None
        s.server_busy_changed.emit(None)
        assert not window.server_busy_label.isVisible()
        assert text not in window.indicator.toolTip()
        assert window.registry[Action.HISTORY_LOAD].isEnabled() is False  # empty history

    run(qloop, body(), 30)
    run(qloop, window.session.stop())
