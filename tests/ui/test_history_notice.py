"""The History pane's notice without a server: hidden while current, amber with its buttons when
a read is withheld, grey without buttons when reads are only spaced out; the buttons follow
their QActions (the gates decide)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtWidgets import QAction, QPushButton  # noqa: E402

from qs_gui.core.history_policy import Staleness  # noqa: E402
from qs_gui.ui.history_notice import HistoryNotice  # noqa: E402


def test_notice_states_and_buttons(qtbot) -> None:
    notice = HistoryNotice()
    qtbot.addWidget(notice)
    notice.show()
    ages = [Staleness(2, 30.0, 100_000)]
    notice.set_staleness_source(lambda: ages[-1])
    load = QAction("Load history now", notice)
    triggered: list[bool] = []
    load.triggered.connect(lambda *_: triggered.append(True))
    button = notice.add_button(load, "Load now…")
    notice.show_policy(None, "")
    assert not notice.isVisible()

    notice.show_policy("the history has 100,000 items; reading it blocks the RE Manager for "
                       "about 6 s, and its watchdog restarts it after 5 s", "")
    assert notice.isVisible() and button.isVisible()
    assert notice.title.text() == "History not read automatically"
    assert notice.reason.text().startswith("The history has 100,000 items;")
    assert notice.age.text() == "Shown as read 30 s ago; it changed 2 times since."
    load.setEnabled(False)
    load.setToolTip("The history is empty.")
    assert not button.isEnabled() and button.toolTip() == "The history is empty."
    load.setEnabled(True)
    button.click()
    assert triggered == [True]
    ages.append(Staleness(3, 45.0, 100_000))
    notice._show_age()  # the timer's tick: the age is read again, not kept
    assert notice.age.text() == "Shown as read 45 s ago; it changed 3 times since."

    notice.show_policy(None, "the history has 25,000 items; each read costs the RE Manager "
                       "about 1.5 s, so it is read at most every 30 s (next in 12 s)")
    assert notice.isVisible() and notice.title.text() == "History refreshes are spaced out"
    assert not any(b.isVisible() for b in notice.findChildren(QPushButton))
    notice.show_policy(None, "")
    assert not notice.isVisible()
