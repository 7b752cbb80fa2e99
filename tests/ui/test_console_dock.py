"""ConsoleWidget: batched repaints, buffer/view agreement, autoscroll, search, clear, max lines."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PyQt5.QtCore import QPoint, Qt  # noqa: E402
from PyQt5.QtWidgets import (  # noqa: E402
    QApplication,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)
from pytestqt.qtbot import QtBot  # noqa: E402

from qs_gui.core.console_buffer import ConsoleChanges  # noqa: E402
from qs_gui.ui.console_dock import ConsoleDock, ConsoleWidget  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture
def console(qtbot: QtBot) -> ConsoleWidget:
    widget = ConsoleWidget(max_lines=10_000)
    qtbot.addWidget(widget)
    widget.resize(900, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def in_sync(widget: ConsoleWidget) -> bool:
    # U+2029 is shown as a space (it would split a block); everything else is verbatim.
    expected = "\n".join(widget.buffer.lines).replace("\u2029", " ")
    return widget.view.toPlainText() == expected


def count_applies(widget: ConsoleWidget, monkeypatch: pytest.MonkeyPatch) -> list[ConsoleChanges]:
    calls: list[ConsoleChanges] = []
    original = widget._apply_changes

    def counting(changes: ConsoleChanges) -> None:
        calls.append(changes)
        original(changes)

    monkeypatch.setattr(widget, "_apply_changes", counting)
    return calls


def scan_fragments(n_rows: int, start: int = 1) -> list[str]:
    """A bluesky LiveTable, fragmented the way QS_Console delivers it (row, then "\\n")."""
    out = ["\n\nTransient Scan ID: 1     Time: 2026-11-29 08:34:30", "\n"]
    out += ["+-----------+------------+------------+------------+", "\n"]
    out += ["|   seq_num |       time |       det1 |       det2 |", "\n"]
    out += ["+-----------+------------+------------+------------+", "\n"]
    for i in range(start, start + n_rows):
        out += [f"|{i:10d} | 08:34:{30 + i % 30:02d}.0 |      5.000 |      1.765 |", "\n"]
    return out


def add_lines(widget: ConsoleWidget, qtbot: QtBot, n: int, prefix: str = "line") -> None:
    for i in range(n):
        widget.append_fragment(f"{prefix} {i}")
        widget.append_fragment("\n")
    qtbot.waitUntil(lambda: in_sync(widget))


def test_burst_of_fragments_is_batched(
    console: ConsoleWidget, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_applies(console, monkeypatch)
    rows = scan_fragments(40)
    t0 = time.monotonic()
    for i in range(100_000):
        if i % 50 == 49:
            console.append_fragment(f"\r[{'#' * (i % 40):40s}] {i}")  # progress bar redraw
        else:
            console.append_fragment(rows[i % len(rows)])
        if i % 500 == 0:
            QApplication.processEvents()  # let the flush timer fire mid-burst, as on qasync
    qtbot.waitUntil(lambda: in_sync(console) and not console._timer.isActive())
    elapsed = time.monotonic() - t0
    assert 1 <= len(calls) < 50
    assert len(calls) <= elapsed / 0.05 + 2  # at most one repaint per timer period
    assert console.text() == console.buffer.text()
    assert console.view.document().blockCount() == len(console.buffer.lines)


def test_view_matches_buffer_after_timer(console: ConsoleWidget, qtbot: QtBot) -> None:
    for fragment in [*scan_fragments(5), "50% ", "\x1b[31mwarn\x1b[0m", "\r100%", "\n"]:
        console.append_fragment(fragment)
    assert console.view.toPlainText() == ""  # nothing is painted synchronously
    qtbot.waitUntil(lambda: in_sync(console))
    assert console.text() == console.buffer.text()
    assert console.text().endswith("|         5 | 08:34:35.0 |      5.000 |      1.765 |\n100%warn")
    console.append_fragment("\x1b[A\rrewritten")  # in-place edit of an earlier line
    qtbot.waitUntil(lambda: in_sync(console))
    assert "rewritten" in console.view.toPlainText()


def test_autoscroll_pauses_and_resumes(console: ConsoleWidget, qtbot: QtBot) -> None:
    bar = console.view.verticalScrollBar()
    paused = console.findChild(QPushButton, "consoleAutoscrollPaused")
    add_lines(console, qtbot, 300)
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    assert console.autoscroll and paused.isHidden()

    bar.setValue(20)  # the operator scrolls up
    assert not console.autoscroll and not paused.isHidden()
    add_lines(console, qtbot, 50, prefix="more")
    assert bar.value() == 20  # did not jump to the end

    bar.setValue(bar.maximum())  # the operator scrolls back to the bottom
    assert console.autoscroll and paused.isHidden()
    add_lines(console, qtbot, 50, prefix="again")
    assert bar.value() == bar.maximum()

    bar.setValue(0)
    qtbot.mouseClick(paused, Qt.LeftButton)  # "jump to end"
    assert console.autoscroll and bar.value() == bar.maximum() and paused.isHidden()


def test_paused_view_keeps_lines_while_top_is_trimmed(console: ConsoleWidget, qtbot: QtBot) -> None:
    console.set_max_lines(100)
    add_lines(console, qtbot, 100)
    bar = console.view.verticalScrollBar()
    bar.setValue(30)
    top_line = console.view.cursorForPosition(QPoint(2, 2)).block().text()
    add_lines(console, qtbot, 10, prefix="new")
    assert console.view.cursorForPosition(QPoint(2, 2)).block().text() == top_line
    assert not console.autoscroll


def test_search_finds_and_selects(console: ConsoleWidget, qtbot: QtBot) -> None:
    search = console.findChild(QLineEdit, "consoleSearch")
    no_match = console.findChild(QLabel, "consoleNoMatch")
    for fragment in [*scan_fragments(3), "Scan DET2 done", "\n"]:
        console.append_fragment(fragment)

    console.view.setFocus()
    qtbot.keyClick(console.view, Qt.Key_F, Qt.ControlModifier)
    assert QApplication.focusWidget() is search

    first_line, _col = console.buffer.find("det2", 0)
    qtbot.keyClicks(search, "det2")
    qtbot.keyClick(search, Qt.Key_Return)  # flushes pending output first, then searches
    cursor = console.view.textCursor()
    assert cursor.selectedText() == "det2" and cursor.blockNumber() == first_line
    assert len(console.view.extraSelections()) == 1  # highlighted

    qtbot.keyClick(search, Qt.Key_Return)
    assert console.view.textCursor().selectedText() == "DET2"  # case-insensitive, next match
    qtbot.keyClick(search, Qt.Key_Return)
    assert console.view.textCursor().blockNumber() == first_line  # wrapped around
    qtbot.keyClick(search, Qt.Key_Return, Qt.ShiftModifier)
    assert console.view.textCursor().selectedText() == "DET2"  # previous, wrapping back
    assert no_match.isHidden()

    search.setText("no such text")
    qtbot.keyClick(search, Qt.Key_Return)
    assert not no_match.isHidden()
    assert console.view.extraSelections() == []


def test_clear_empties_buffer_and_view(console: ConsoleWidget, qtbot: QtBot) -> None:
    add_lines(console, qtbot, 20)
    console.append_fragment("pending, not yet painted")
    qtbot.mouseClick(console.findChild(QPushButton, "consoleClear"), Qt.LeftButton)
    assert console.text() == "" and console.view.toPlainText() == ""
    assert len(console.buffer.lines) == 0
    add_lines(console, qtbot, 2, prefix="after")
    assert console.text() == "after 0\nafter 1"


def test_max_lines_applied(console: ConsoleWidget, qtbot: QtBot) -> None:
    spin = console.findChild(QSpinBox, "consoleMaxLines")
    add_lines(console, qtbot, 500)
    console.set_max_lines(100)
    assert console.max_lines() == 100 and spin.value() == 100
    assert in_sync(console)
    assert console.view.document().blockCount() == 101  # 100 lines + the trailing empty one
    assert console.text().splitlines()[0] == "line 400"

    spin.setValue(150)  # the spin box drives the same setter
    assert console.max_lines() == 150
    add_lines(console, qtbot, 300, prefix="more")
    assert len(console.text().splitlines()) == 150
    assert console.view.document().blockCount() == 151

    with pytest.raises(ValueError, match="max lines"):
        console.set_max_lines(50)


def test_random_streams_keep_view_in_sync(console: ConsoleWidget) -> None:
    """The Qt-side replay of the deltas (trim, in-place edits, appends) matches the buffer."""
    rng = random.Random(20261129)
    console.set_max_lines(100)
    tokens = ["row", "|  1 |", "\n", "\n", "\n", "\r", "\x1b[A", "\x1b[7A", "\x1b[B", "\x1b[K"]
    tokens += ["\x1b[31m", "\x1b", "[", "é😀", "a\u2029b"]
    for _ in range(4000):
        console.append_fragment("".join(rng.choice(tokens) for _ in range(rng.randint(1, 8))))
        if rng.random() < 0.1:
            console.flush()
            assert console.view.document().blockCount() == max(len(console.buffer.lines), 1)
            assert in_sync(console)
        if rng.random() < 0.002:
            console.clear()
    console.flush()
    assert in_sync(console)


def test_dock_wraps_console(qtbot: QtBot) -> None:
    dock = ConsoleDock(max_lines=2000)
    qtbot.addWidget(dock)
    assert dock.objectName() == "consoleDock" and dock.windowTitle() == "Console"
    assert dock.widget() is dock.console and dock.console.max_lines() == 2000


def test_screenshot(console: ConsoleWidget, qtbot: QtBot) -> None:
    log = "[I 2026-11-29 08:34:29,999 bluesky_queueserver.manager.worker] "
    fragments = [
        log + "Starting a plan 'count'.\n",
        *scan_fragments(8),
        "+-----------+------------+------------+------------+",
        "\n",
        "generator count ['9b11f486'] (scan num: 1)",
        "\n",
        "\x1b[32mdownloading\x1b[0m ",
    ]
    for pct in range(0, 101, 10):  # a progress bar redrawn in place with \r
        bar = "#" * (pct // 5)
        fragments += [f"\rdownloading [{bar:20s}] {pct:3d}%", "\x1b[K"]
    fragments += ["\n", log + "The plan was exited. Plan state: \x1b[1mcompleted\x1b[0m\n"]
    for fragment in fragments:
        console.append_fragment(fragment)
    qtbot.waitUntil(lambda: in_sync(console))
    assert "\x1b" not in console.view.toPlainText()
    assert console.view.fontInfo().fixedPitch()
    assert "downloading [####################] 100%" in console.text()
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "console_dock.png"
    assert console.grab().save(str(path))
    assert path.stat().st_size > 0
