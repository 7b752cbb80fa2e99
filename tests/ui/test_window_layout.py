"""A layout saved by an older qs-gui (no banner row) must not displace the state banner or hide
Stop now: found by running ``./scripts/demo.sh`` with the layout of an earlier session, where
the banner ended up squeezed beside the toolbar. No server needed (the session never starts)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QSettings  # noqa: E402

from qs_gui.client import REManagerAPI  # noqa: E402
from qs_gui.core.session import Session  # noqa: E402
from qs_gui.ui.main_window import MainWindow  # noqa: E402


def window(qtbot, settings: QSettings | None) -> MainWindow:
    api = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9", zmq_info_addr="tcp://127.0.0.1:9")
    w = MainWindow(Session(api), settings=settings)
    qtbot.addWidget(w)
    return w


def assert_banner_row_first(w: MainWindow) -> None:
    w.show()
    w.resize(1000, 700)
    state, main = w.state_bar, w.main_toolbar
    assert state.isVisible() and main.isVisible()
    assert state.geometry().bottom() < main.geometry().top(), (state.geometry(),
                                                                main.geometry())
    assert state.width() >= w.width() - 8  # the whole width, not squeezed beside the toolbar


def test_a_layout_saved_without_the_banner_row_is_repaired(qtbot, tmp_path: Path) -> None:
    old = window(qtbot, None)
    old.removeToolBar(old.state_bar)  # what an older version saved: one toolbar row
    old.main_toolbar.hide()  # and the operator had hidden the toolbar
    settings = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    settings.setValue("window/state", old.saveState())
    settings.setValue("window/geometry", old.saveGeometry())
    assert_banner_row_first(window(qtbot, settings))


def test_a_layout_saved_by_this_version_keeps_the_banner_row(qtbot, tmp_path: Path) -> None:
    first = window(qtbot, None)
    first.show()
    settings = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    settings.setValue("window/state", first.saveState())
    settings.setValue("window/geometry", first.saveGeometry())
    assert_banner_row_first(window(qtbot, settings))
