"""The two message strips around the form: the editing banner and the server's refusal.

* :class:`EditBanner` says which queue item is being edited and whether the server's copy has
  changed since it was loaded (offering Reload) or has left the queue (Save is then unavailable).
  Several clients share one queue, so the editor must say when its copy went stale.
* :class:`ServerErrorBox` shows the server's validation message next to the form, selectable,
  until the next edit; the main window calls :meth:`ItemEditor.show_server_error`.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QPalette
from PyQt5.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.ui.theme import css, role_colours, role_text, theme_manager

from .style import blend, mono_font

__all__ = ["EditBanner", "ServerErrorBox"]

#: state -> (role, how much of the role's colour is mixed into the window background). The
#: palette's own text stays on top, so the strip reads on light and dark palettes.
_STYLES = {
    "editing": ("attention", 0.18),
    "changed": ("attention", 0.4),
    "vanished": ("alarm", 0.25),
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class EditBanner(QFrame):
    """Hidden unless editing; states "editing", "changed" (with Reload) and "vanished"."""

    reload_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("editingBanner")
        self.label = QLabel(objectName="editingBannerText", wordWrap=True)
        self.label.setTextFormat(Qt.RichText)
        self.reload_button = QPushButton("Reload", objectName="reloadButton")
        self.reload_button.setToolTip("Load the server's current version of the item "
                                      "(your unsaved changes are lost; you are asked first)")
        self.reload_button.clicked.connect(self.reload_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reload_button)
        self.state = ""
        self.set_state("", "", "")
        theme_manager().connect_recolour(self, self._recolour)

    def set_state(self, state: str, name: str, uid: str) -> None:
        """state: "" (not editing), "editing", "changed" or "vanished"."""
        self.state = state
        self.setVisible(bool(state))
        if not state:
            return
        head = f"Editing queue item <b>{_escape(name)}</b> ({_escape(uid[:8])})"
        text = {
            "editing": head,
            "changed": f"{head}<br>⚠ This item was changed on the server since you loaded it.",
            "vanished": f"{head}<br>⚠ This item is no longer in the queue; Save is unavailable "
                        "— use Add to queue or Save as new.",
        }[state]  # fmt: skip
        self.label.setText(text)
        self.setToolTip(f"Queue item uid {uid}")
        self.reload_button.setVisible(state == "changed")
        self._recolour()

    def _recolour(self) -> None:
        """The strip's colours for the current state and palette (again on a theme change)."""
        if not self.state:
            return
        role, amount = _STYLES[self.state]
        mark = role_colours(role)[0]
        palette = QApplication.palette()  # not self.palette(): that lags on a theme change
        bg = blend(palette.color(QPalette.Window), mark, amount)
        fg = palette.color(QPalette.WindowText)
        self.setStyleSheet(
            f"QFrame#editingBanner {{ background: {css(bg)}; border: 1px solid {css(mark)};"
            f" border-radius: 3px; }} QLabel {{ color: {css(fg)}; background: transparent; }}")

    def text(self) -> str:
        return self.label.text() if self.state else ""


class ServerErrorBox(QFrame):
    """The server's refusal, verbatim and selectable, with a close button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("serverErrorBox")
        self.title = QLabel("<b>The server refused the item:</b>", objectName="serverErrorTitle")
        self.text = QPlainTextEdit(objectName="serverError", readOnly=True)
        self.text.setFont(mono_font())
        self.text.setMaximumHeight(self.text.fontMetrics().lineSpacing() * 4 + 10)
        self.text.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        close = QToolButton(objectName="closeServerError", text="✕", toolTip="Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.clear)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self._recolour()
        theme_manager().connect_recolour(self, self._recolour)
        self.hide()

    def _recolour(self) -> None:
        self.setStyleSheet(f"QFrame#serverErrorBox {{ border: 1px solid {css(role_text('alarm'))};"
                           " border-radius: 3px; }")

    def show_message(self, message: str) -> None:
        self.text.setPlainText(message)
        self.setVisible(bool(message))

    def message(self) -> str:
        return "" if self.isHidden() else self.text.toPlainText()

    def clear(self) -> None:
        self.text.clear()
        self.hide()
