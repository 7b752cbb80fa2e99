"""Help ▸ Keyboard shortcuts and Help ▸ About: built from the live objects, so they cannot lie.

Why it is built this way:

* The shortcut table is read from the ActionRegistry's QActions (whose shortcuts come from
  ``actions.SPECS``): a shortcut added or changed there shows up here with no second list to
  forget. Only shortcuts that are not registry actions (console search, quit, this dialog) are
  listed by hand in ``EXTRA_SHORTCUTS``.
* An action whose shortcut only works inside one view (``Qt.WidgetWithChildrenShortcut``, e.g.
  Delete in the queue) says so; otherwise an operator presses Delete in the console and wonders.
* About is what a bug report needs: qs-gui, Qt (compiled and running), PyQt, Python, and the
  server's version (``status["msg"]``) with the address; one click copies it all as text.
* Both dialogs are non-modal and delete themselves on close, so they never block the event loop
  that keeps status pushes flowing.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from typing import Any

from PyQt5.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, Qt, QTimer, qVersion
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QAction,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from .actions import SPECS, ActionRegistry
from .resources import app_icon

__all__ = ["EXTRA_SHORTCUTS", "HELP_SHORTCUT", "AboutDialog", "ShortcutsDialog", "about_rows",
           "install_help_menu", "shortcut_rows", "show_about", "show_shortcuts"]

HELP_SHORTCUT = "F1"
_NATIVE = QKeySequence.NativeText
_SCOPED = {Qt.WidgetWithChildrenShortcut: "in the queue", Qt.WidgetShortcut: "in its view"}

#: (keys, what, where) for shortcuts that are not ActionRegistry actions; a QKeySequence
#: standard key is resolved when listed (it needs the running application's platform theme)
EXTRA_SHORTCUTS: tuple[tuple[str | QKeySequence.StandardKey, str, str], ...] = (
    (HELP_SHORTCUT, "Keyboard shortcuts", "this list"),
    (QKeySequence.Find, "Find in the console", "in the console"),
    ("Enter / Shift+Enter", "Next / previous match", "in the console search field"),
    ("Enter", "Edit the current queue item", "in the queue"),
    ("Ctrl+Enter", "Execute the focused item", "the selected queue or history row, else the "
                                               "editor's item"),
    ("Ctrl+1 … Ctrl+5", "Go to a pane", "editor, queue, history, Messages, console"),
    ("F6 / Shift+F6", "Next / previous pane", ""),
    ("Alt+Insert / Alt+Delete", "Add / remove a motor row", "in a scan's motor rows"),
    ("Ctrl+Q", "Quit qs-gui", ""),
)


def shortcut_rows(registry: ActionRegistry) -> list[tuple[str, str, str, str]]:
    """(keys, action, what it does, where) for every registry action with a shortcut, in
    SPECS order, then the extra shortcuts."""
    rows = []
    for action in SPECS:
        qaction = registry[action]
        keys = qaction.shortcut().toString(_NATIVE)
        if not keys:
            continue
        where = _SCOPED.get(qaction.shortcutContext(), "")
        rows.append((keys, qaction.text().rstrip("…"), str(qaction.data() or ""), where))
    for keys, what, where in EXTRA_SHORTCUTS:
        text = keys if isinstance(keys, str) else QKeySequence(keys).toString(_NATIVE)
        rows.append((text, what, "", where))
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of every keyboard shortcut."""

    def __init__(self, registry: ActionRegistry, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts — qs-gui")
        rows = shortcut_rows(registry)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Shortcut", "Action", "What it does"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)  # a reference, not a picker
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)  # long descriptions wrap instead of scrolling sideways
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        for row, (keys, text, tip, where) in enumerate(rows):
            detail = f"{tip} ({where})" if tip and where else tip or (f"({where})" if where
                                                                     else "")
            for col, value in enumerate((keys, text, detail)):
                cell = QTableWidgetItem(value)
                if col == 0:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                cell.setToolTip(detail or text)
                self.table.setItem(row, col, cell)
        header = self.table.horizontalHeader()
        self.table.resizeColumnsToContents()
        self._natural_width = sum(self.table.columnWidth(c) for c in range(3))
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        # Re-wrap the descriptions once a resize has settled: doing it on every sectionResized
        # fights the vertical scroll bar appearing and disappearing as the rows change height.
        self._rewrap = QTimer(self, singleShot=True, interval=0)
        self._rewrap.timeout.connect(self.table.resizeRowsToContents)
        header.sectionResized.connect(lambda *_a: self._rewrap.start())
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.rejected.connect(self.close)
        buttons.button(QDialogButtonBox.Close).setFocus()
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self._fit_to_contents()

    def _fit_to_contents(self) -> None:
        """Big enough to show every row and full descriptions, but never beyond the screen."""
        table = self.table
        screen = (self.screen() or QApplication.primaryScreen()).availableGeometry()
        chrome = table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth() + 40
        width = min(self._natural_width + chrome, int(screen.width() * 0.9))
        fixed = table.columnWidth(0) + table.columnWidth(1)
        table.setColumnWidth(2, max(200, width - chrome - fixed))
        table.resizeRowsToContents()  # wrap the descriptions at that width
        height = (table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth() + 70
                  + sum(table.rowHeight(r) for r in range(table.rowCount())))
        self.resize(width, min(height, int(screen.height() * 0.9)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._rewrap.start()

    def texts(self) -> list[tuple[str, str, str]]:
        """The table as text (tests, copy)."""
        return [tuple(self.table.item(r, c).text() for c in range(3))  # type: ignore[misc]
                for r in range(self.table.rowCount())]


def about_rows(server_status: Mapping[str, Any] | None, address: str) -> list[tuple[str, str]]:
    """(label, value) lines of the About dialog; a missing status says "not connected"."""
    server = "not connected"
    if isinstance(server_status, Mapping):
        msg = server_status.get("msg")
        server = msg if isinstance(msg, str) and msg else "connected (version not reported)"
    return [
        ("qs-gui", __version__),
        ("RE Manager", server),
        ("Address", address or "—"),
        ("Qt", f"{qVersion()} (built with {QT_VERSION_STR})"),
        ("PyQt", PYQT_VERSION_STR),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Platform", f"{platform.system()} {platform.release()} {platform.machine()}".strip()),
    ]


class AboutDialog(QDialog):
    """Versions of everything involved, with a Copy button for bug reports."""

    def __init__(self, server_status: Mapping[str, Any] | None, address: str,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About qs-gui")
        self.rows = about_rows(server_status, address)
        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignTop | Qt.AlignHCenter)
        title = QLabel("<b style='font-size:15pt'>qs-gui</b><br>"
                       "Desktop client for the Bluesky Queue Server (RE Manager)", self)
        title.setObjectName("aboutTitle")
        title.setWordWrap(True)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignRight)
        self.value_labels: dict[str, QLabel] = {}
        for label, value in self.rows:
            field = QLabel(value, self)
            field.setObjectName(f"about_{label.replace(' ', '_')}")
            field.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.value_labels[label] = field
            form.addRow(f"{label}:", field)
        copy = QPushButton("Copy", self)
        copy.setObjectName("aboutCopy")
        copy.setToolTip("Copy these versions to the clipboard (for a bug report)")
        copy.clicked.connect(self.copy_to_clipboard)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.addButton(copy, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.close)
        text_column = QVBoxLayout()
        text_column.addWidget(title)
        text_column.addSpacing(8)
        text_column.addLayout(form)
        text_column.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addSpacing(12)
        top.addLayout(text_column, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.rows)

    def copy_to_clipboard(self) -> None:
        QApplication.clipboard().setText(self.text())


def _show(dialog: QDialog) -> QDialog:
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def show_shortcuts(parent: QWidget | None, registry: ActionRegistry) -> ShortcutsDialog:
    """Open the shortcut reference (non-modal); returns the dialog."""
    return _show(ShortcutsDialog(registry, parent))  # type: ignore[return-value]


def show_about(parent: QWidget | None, server_status: Mapping[str, Any] | None,
               address: str) -> AboutDialog:
    """Open the About dialog (non-modal); ``server_status`` is the latest status or None."""
    return _show(AboutDialog(server_status, address, parent))  # type: ignore[return-value]


def install_help_menu(window: QMainWindow, registry: ActionRegistry, *,
                      server_status: Callable[[], Mapping[str, Any] | None],
                      address: Callable[[], str]) -> QMenu:
    """Add "&Help" with Keyboard shortcuts (F1) and About to ``window``'s menu bar.

    The status and address are read when About opens, so it shows the server as it is then.
    """
    menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("&Keyboard shortcuts", window)
    shortcuts.setObjectName("action_help_shortcuts")
    shortcuts.setShortcut(QKeySequence(HELP_SHORTCUT))
    shortcuts.triggered.connect(lambda: show_shortcuts(window, registry))
    about = QAction("&About qs-gui", window)
    about.setObjectName("action_help_about")
    about.setMenuRole(QAction.AboutRole)
    about.triggered.connect(lambda: show_about(window, server_status(), address()))
    menu.addAction(shortcuts)
    menu.addSeparator()
    menu.addAction(about)
    return menu
