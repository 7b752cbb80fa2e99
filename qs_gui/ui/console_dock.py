"""Console output panel: RE Manager stdout shown the way a terminal would show it.

Why it is built this way:

* Fragments go into a :class:`~qs_gui.core.console_buffer.ConsoleBuffer` (the terminal
  semantics: ``\\r`` / ``ESC[A`` progress bars, colour codes, line caps), never straight into the
  widget.  On qasync every SUB message is already a timer event (client-api-semantics §14.1), so
  one repaint per message would starve the GUI during a burst.  A single-shot timer, armed by the
  first write after a repaint, applies the buffer's accumulated changes in one edit block at most
  every ~50 ms; the edit touches only the changed lines (dropped top lines, lines edited in place,
  new lines), not the whole document.
* Autoscroll follows the output only while the operator is at the bottom; scrolling up pauses it
  (and a button says so) so the text they are reading does not run away.
* The document mirrors the buffer line for line (line *i* is block *i*), which is what lets the
  search run on the buffer and select the match in the view.
"""

from __future__ import annotations

from PyQt5.QtCore import QEvent, QObject, Qt, QTimer
from PyQt5.QtGui import QFont, QFontDatabase, QFontInfo, QKeySequence, QTextCursor
from PyQt5.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QShortcut,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.console_buffer import ConsoleBuffer, ConsoleChanges
from qs_gui.ui.theme import role_colours, style_text

__all__ = ["MAX_LINES_RANGE", "ConsoleDock", "ConsoleWidget"]

#: Allowed values for the "max lines" setting (the spin box range).
MAX_LINES_RANGE = (100, 1_000_000)
FLUSH_INTERVAL_MS = 50


def _u16(text: str, col: int) -> int:
    """Qt positions count UTF-16 units; Python columns count code points."""
    return len(text[:col].encode("utf-16-le")) // 2


def _py_col(text: str, u16: int) -> int:
    return len(text.encode("utf-16-le")[: 2 * u16].decode("utf-16-le", errors="ignore"))


def _monospace_font() -> QFont:
    """Tables and progress bars only line up in a fixed-pitch font.

    The platform's "fixed" font is not always fixed (the offscreen platform answers with a
    proportional sans), so fall back to asking fontconfig for any monospace family.
    """
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    if not QFontInfo(font).fixedPitch():
        font = QFont("Monospace")
        font.setStyleHint(QFont.TypeWriter)
        font.setFixedPitch(True)
    return font


def _qt_safe(text: str) -> str:
    # U+2029 would become a block separator in the document and break "line i == block i".
    return text.replace("\u2029", " ")


class ConsoleWidget(QWidget):
    """Read-only console view with search, clear, max-lines and paused-autoscroll controls."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        buffer: ConsoleBuffer | None = None,
        max_lines: int = 10_000,
    ) -> None:
        super().__init__(parent)
        self._buffer = buffer if buffer is not None else ConsoleBuffer(max_lines)
        self._check_max_lines(self._buffer.max_lines)
        self._doc_lines = 0  # buffer lines the document currently represents
        self._follow = True  # autoscroll
        self._applying = False  # our own scroll-bar changes are not the operator's

        self._search = QLineEdit(placeholderText="Find (Ctrl+F)", clearButtonEnabled=True)
        self._search.setObjectName("consoleSearch")
        self._search.setMaximumWidth(260)
        self._search.setToolTip("Enter: next match, Shift+Enter: previous match")
        self._search.installEventFilter(self)
        self._search.textEdited.connect(lambda _text: self._no_match.hide())
        self._no_match = QLabel("No match")
        self._no_match.setObjectName("consoleNoMatch")
        style_text(self._no_match, "alarm")
        self._no_match.hide()
        self._paused = QPushButton("Autoscroll paused \u2014 jump to end")
        self._paused.setObjectName("consoleAutoscrollPaused")
        self._paused.setFlat(True)
        style_text(self._paused, "attention")
        self._paused.clicked.connect(self.scroll_to_end)
        self._paused.hide()
        self._spin = QSpinBox(minimum=MAX_LINES_RANGE[0], maximum=MAX_LINES_RANGE[1])
        self._spin.setObjectName("consoleMaxLines")
        self._spin.setSingleStep(1000)
        self._spin.setGroupSeparatorShown(True)
        # Without this every keystroke would apply (typing "5000" trims to 500 on the way).
        self._spin.setKeyboardTracking(False)
        self._spin.setValue(self._buffer.max_lines)
        self._spin.setToolTip("Lines kept in the console; older lines are dropped")
        self._spin.valueChanged.connect(self.set_max_lines)
        clear_button = QPushButton("Clear")
        clear_button.setObjectName("consoleClear")
        clear_button.setToolTip("Clear the console (the server is not affected)")
        clear_button.clicked.connect(self.clear)

        self._view = QPlainTextEdit(readOnly=True)
        self._view.setObjectName("consoleText")
        self._view.setUndoRedoEnabled(False)  # an undo stack would keep every dropped line
        self._view.setLineWrapMode(QPlainTextEdit.NoWrap)
        self._view.setFont(_monospace_font())
        self._view.setMaximumBlockCount(self._buffer.max_lines + 1)
        bar = self._view.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

        tools = QHBoxLayout()
        tools.setContentsMargins(0, 0, 0, 0)
        tools.addWidget(self._search)
        tools.addWidget(self._no_match)
        tools.addStretch(1)
        tools.addWidget(self._paused)
        tools.addWidget(QLabel("Max lines:"))
        tools.addWidget(self._spin)
        tools.addWidget(clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(tools)
        layout.addWidget(self._view)

        shortcut = QShortcut(QKeySequence(QKeySequence.Find), self)
        shortcut.setContext(Qt.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self._focus_search)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self.flush()  # a pre-filled buffer renders through the same path as later updates

    # ------------------------------------------------------------------ public API

    @property
    def buffer(self) -> ConsoleBuffer:
        """The model; write to it only through :meth:`append_fragment` so repaints get armed."""
        return self._buffer

    @property
    def view(self) -> QPlainTextEdit:
        """The text view (read-only), e.g. for context menus or tests."""
        return self._view

    @property
    def autoscroll(self) -> bool:
        """True while the view follows new output (the operator is at the bottom)."""
        return self._follow

    def append_fragment(self, text: str) -> None:
        """Feed one ``QS_Console`` ``msg``; the view catches up on the next timer tick."""
        self._buffer.write(text)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Apply pending buffer changes to the view now (normally the timer does this)."""
        self._timer.stop()
        changes = self._buffer.take_changes()
        if not changes.is_empty:
            self._apply_changes(changes)

    def clear(self) -> None:
        """Empty the buffer and the view, and resume autoscroll."""
        self._buffer.clear()
        self._view.setExtraSelections([])
        self._no_match.hide()
        self.flush()
        self.scroll_to_end()

    def max_lines(self) -> int:
        """Lines kept (a trailing empty line is not counted)."""
        return self._buffer.max_lines

    def set_max_lines(self, n: int) -> None:
        """Change how many lines are kept; lowering it drops the oldest lines at once."""
        self._check_max_lines(n)
        self._buffer.max_lines = n
        self.flush()  # remove the dropped lines ourselves before Qt's block limit would
        self._view.setMaximumBlockCount(n + 1)
        if self._spin.value() != n:
            self._spin.blockSignals(True)
            self._spin.setValue(n)
            self._spin.blockSignals(False)

    def text(self) -> str:
        """Plain text of the buffer (reference ``text()`` rules; includes unflushed output)."""
        return self._buffer.text()

    def scroll_to_end(self) -> None:
        """Jump to the last line and resume autoscroll."""
        bar = self._view.verticalScrollBar()
        self._set_follow(True)
        self._scroll_quietly(bar.maximum())

    def find_next(self, backwards: bool = False) -> bool:
        """Select the next (previous) match of the search text, wrapping around; False if none."""
        pattern = self._search.text()
        self._no_match.hide()
        if not pattern:
            return False
        self.flush()  # the document must mirror the buffer for line/block numbers to agree
        cursor = self._view.textCursor()
        doc = self._view.document()
        anchor = cursor.selectionStart() if cursor.hasSelection() else cursor.position()
        block = doc.findBlock(anchor)
        line = max(block.blockNumber(), 0)
        col = _py_col(block.text(), anchor - block.position())
        if cursor.hasSelection() and not backwards:
            col += 1  # step past the current match
        buf = self._buffer
        found = buf.find(pattern, line, backwards, start_col=col)
        if found is None:  # wrap around
            start = len(buf.lines) - 1 if backwards else 0
            found = buf.find(pattern, start, backwards)
        if found is None:
            self._no_match.show()
            self._view.setExtraSelections([])
            return False
        self._select(found[0], found[1], len(pattern))
        return True

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _check_max_lines(n: int) -> None:
        low, high = MAX_LINES_RANGE
        if not low <= n <= high:
            raise ValueError(f"max lines must be between {low} and {high}, got {n}")

    def _apply_changes(self, changes: ConsoleChanges) -> None:
        """Replay one batch of buffer changes on the document (one edit block, one repaint)."""
        view = self._view
        bar = view.verticalScrollBar()
        old_value = bar.value()
        self._applying = True
        try:
            if changes.reset:
                view.setExtraSelections([])
                view.setPlainText(_qt_safe("\n".join(changes.appended)))
                self._doc_lines = len(changes.appended)
            else:
                self._edit_document(changes)
            if self._follow:
                bar.setValue(bar.maximum())
            elif not changes.reset:
                # Keep the lines the operator is reading in place while the top is trimmed.
                bar.setValue(max(old_value - changes.removed_top, 0))
        finally:
            self._applying = False

    def _edit_document(self, changes: ConsoleChanges) -> None:
        doc = self._view.document()
        cursor = QTextCursor(doc)
        cursor.beginEditBlock()
        removed = changes.removed_top
        if removed:
            cursor.setPosition(0)
            if removed >= self._doc_lines:
                cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
            else:
                end = doc.findBlockByNumber(removed).position()
                cursor.setPosition(end, QTextCursor.KeepAnchor)
            cursor.removeSelectedText()
            self._doc_lines = max(self._doc_lines - removed, 0)
        for index, text in changes.updated:
            block = doc.findBlockByNumber(index)
            cursor.setPosition(block.position())
            cursor.movePosition(QTextCursor.EndOfBlock, QTextCursor.KeepAnchor)
            cursor.insertText(_qt_safe(text))
        if changes.appended:
            cursor.movePosition(QTextCursor.End)
            joined = "\n".join(changes.appended)
            cursor.insertText(_qt_safe(("\n" + joined) if self._doc_lines else joined))
            self._doc_lines += len(changes.appended)
        cursor.endEditBlock()

    def _select(self, line: int, col: int, length: int) -> None:
        block = self._view.document().findBlockByNumber(line)
        text = block.text()
        start = block.position() + _u16(text, col)
        cursor = QTextCursor(block)
        cursor.setPosition(start)
        cursor.setPosition(block.position() + _u16(text, col + length), QTextCursor.KeepAnchor)
        highlight = QTextEdit.ExtraSelection()
        highlight.cursor = cursor
        bg, fg = role_colours("attention")  # readable on light and dark consoles alike
        highlight.format.setBackground(bg)
        highlight.format.setForeground(fg)
        self._view.setExtraSelections([highlight])
        self._view.setTextCursor(cursor)  # scrolls to it; pauses autoscroll if above the end

    def _set_follow(self, follow: bool) -> None:
        self._follow = follow
        self._paused.setVisible(not follow)

    def _on_scrolled(self, value: int) -> None:
        if not self._applying:
            self._set_follow(value >= self._view.verticalScrollBar().maximum())

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        # Layout can finish after _apply_changes (e.g. on first show); keep following.
        if self._follow:
            self._scroll_quietly(maximum)

    def _scroll_quietly(self, value: int) -> None:
        """Scroll without it counting as the operator's scroll (re-entrant: may run nested)."""
        was_applying, self._applying = self._applying, True
        try:
            self._view.verticalScrollBar().setValue(value)
        finally:
            self._applying = was_applying

    def _focus_search(self) -> None:
        self._search.setFocus(Qt.ShortcutFocusReason)
        self._search.selectAll()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Enter / Shift+Enter in the search field find the next / previous match."""
        if (
            obj is self._search
            and event.type() == QEvent.KeyPress  # PyQt hands us a QKeyEvent then
            and event.key() in (Qt.Key_Return, Qt.Key_Enter)
        ):
            self.find_next(backwards=bool(event.modifiers() & Qt.ShiftModifier))
            return True
        return super().eventFilter(obj, event)


class ConsoleDock(QDockWidget):
    """Dockable "Console" panel around a :class:`ConsoleWidget` (``.console``)."""

    def __init__(self, parent: QWidget | None = None, *, max_lines: int = 10_000) -> None:
        super().__init__("Console", parent)
        self.setObjectName("consoleDock")
        self.console = ConsoleWidget(self, max_lines=max_lines)
        self.setWidget(self.console)
