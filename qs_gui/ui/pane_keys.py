"""Moving between the window's panes from the keyboard: F6 / Shift+F6 and Ctrl+1…5.

Why: an operator composing a scan, then checking the queue, then reading an error must not
have to Tab through every control on the way (Phoebus and most IDEs use F6 for "next pane").

=========  =====================  ==========================================================
key        pane                   where the keyboard lands
=========  =====================  ==========================================================
Ctrl+1     Item editor            the plan name box (type to search, Enter goes to the fields)
Ctrl+2     Queue                  the queue table
Ctrl+3     History                the history table
Ctrl+4     Messages               the message list (errors land there)
Ctrl+5     Console                the console output
F6         next pane              in the order above, wrapping round
Shift+F6   previous pane
=========  =====================  ==========================================================

Tab itself is kept out of what cannot be seen: a widget in a dock tabified behind another one
(the Messages list behind the Console) is skipped, and Tab into a pane that orders its own
stops (the editor: ``focus_stops()``) lands on its first stop (Shift+Tab: its last), not on
whichever of its widgets happens to follow in Qt's creation-order chain.

A pane in a dock that is closed is shown, one tabified behind another dock is raised, so the
key always leads somewhere visible. Panes the window does not have (monitor mode has no editor)
are skipped. The shortcuts are application-wide, so they also work from a floating dock, but
do nothing while a modal dialog is open. Installing the keys also installs the focus ring
(:mod:`qs_gui.ui.focus_ring`: 2 px, palette highlight colour), so it is clear which pane, and
which field in it, has the keyboard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PyQt5.QtCore import QEvent, QObject, Qt, QTimer
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QApplication, QDockWidget, QMainWindow, QShortcut, QWidget

from .focus_ring import install_focus_ring

__all__ = ["Pane", "PaneKeys", "TabGuard", "install_pane_keys"]

@dataclass
class Pane:
    """One pane: its name, the widget that holds it, and where the keyboard goes in it."""

    name: str
    root: QWidget
    target: Callable[[], QWidget | None]

    def contains(self, widget: QWidget | None) -> bool:
        return widget is not None and (widget is self.root or self.root.isAncestorOf(widget))


def _dock_of(widget: QWidget) -> QDockWidget | None:
    w: QWidget | None = widget
    while w is not None and not isinstance(w, QDockWidget):
        w = w.parentWidget()
    return w


def _unseen(w: QWidget) -> bool:
    """In a dock that cannot be seen (tabified behind another). A field scrolled out of its
    scroll area is not unseen: the scroll area brings it into view when it takes the focus."""
    dock = _dock_of(w)
    return dock is not None and not dock.isFloating() and dock.visibleRegion().isEmpty()


def _can_take(w: QWidget) -> bool:
    return (w.isVisible() and w.isEnabled() and w.focusProxy() is None
            and bool(w.focusPolicy() & Qt.TabFocus) and not _unseen(w))


class TabGuard(QObject):
    """Application event filter: keeps Tab out of unseen widgets and into a pane's order."""

    def __init__(self, window: QMainWindow, panes: list[Pane]):
        super().__init__(window)
        self.window = window
        self.panes = panes
        self._last: QWidget | None = None  # the focus before the one arriving
        self._busy = False
        app = QApplication.instance()
        app.focusChanged.connect(self._focus_changed)
        app.installEventFilter(self)  # Qt drops it when this object is deleted

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        self._last = new

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() != QEvent.FocusIn or self._busy or not isinstance(watched, QWidget):
            return False
        reason = event.reason()
        if reason not in (Qt.TabFocusReason, Qt.BacktabFocusReason):
            return False
        if watched.window() is not self.window:
            return False
        forward = reason == Qt.TabFocusReason
        target = self._redirect(watched, forward)
        if target is not None and target is not watched:
            QTimer.singleShot(0, lambda: self._move(target, reason))
        return False

    def _redirect(self, widget: QWidget, forward: bool) -> QWidget | None:
        """Where Tab should have gone instead of ``widget`` (None: it is right)."""
        came_from = self._last
        for pane in self.panes:
            stops_of = getattr(pane.root, "focus_stops", None)
            if stops_of is None or not pane.contains(widget) or pane.contains(came_from):
                continue
            stops = [w for w in stops_of() if _can_take(w)]
            if stops:
                return stops[0] if forward else stops[-1]
        if _unseen(widget):
            w = widget
            for _ in range(2000):
                w = w.nextInFocusChain() if forward else w.previousInFocusChain()
                if w is widget:
                    return None
                if _can_take(w):
                    return w
        return None

    def _move(self, target: QWidget, reason: Qt.FocusReason) -> None:
        self._busy = True
        try:
            target.setFocus(reason)
        finally:
            self._busy = False


class PaneKeys(QObject):
    """The pane shortcuts of one main window (see the module docstring)."""

    def __init__(self, window: QMainWindow, panes: list[Pane]):
        super().__init__(window)
        self.setObjectName("paneKeys")
        self.window = window
        self.panes = panes
        self.shortcuts: list[QShortcut] = []
        for i, pane in enumerate(panes, 1):
            self._key(f"Ctrl+{i}", lambda p=pane: self.focus(p), f"Go to the {pane.name}")
        self.tab_guard = TabGuard(window, panes)
        self._key("F6", lambda: self.cycle(1), "Next pane")
        self._key("Shift+F6", lambda: self.cycle(-1), "Previous pane")

    def _key(self, keys: str, slot: Callable[[], None], what: str) -> None:
        shortcut = QShortcut(QKeySequence(keys), self.window)
        shortcut.setContext(Qt.ApplicationShortcut)
        shortcut.setWhatsThis(what)
        shortcut.activated.connect(slot)
        self.shortcuts.append(shortcut)

    def current(self) -> Pane | None:
        """The pane that holds the keyboard focus, if any."""
        focus = QApplication.focusWidget()
        return next((p for p in self.panes if p.contains(focus)), None)

    def focus(self, pane: Pane) -> bool:
        """Show and raise ``pane`` and put the keyboard in it; False when it cannot take it."""
        if QApplication.activeModalWidget() is not None:
            return False
        dock = _dock_of(pane.root)
        if dock is not None:
            if dock.isHidden():
                dock.show()
            dock.raise_()
        found = pane.target()  # not `or`: an empty list widget is falsy in PyQt
        target = found if found is not None else pane.root
        if not target.isEnabled() or not pane.root.isVisibleTo(pane.root.window()):
            return False
        target.window().activateWindow()
        target.setFocus(Qt.ShortcutFocusReason)
        if not target.isVisible():  # a dock just shown is laid out later: focus it then
            QTimer.singleShot(0, lambda: target.setFocus(Qt.ShortcutFocusReason))
        return True

    def cycle(self, step: int) -> None:
        """F6 / Shift+F6: the next (previous) pane that can take the keyboard."""
        if not self.panes:
            return
        current = self.current()
        start = self.panes.index(current) if current is not None else (-1 if step > 0 else 0)
        for k in range(1, len(self.panes) + 1):
            if self.focus(self.panes[(start + step * k) % len(self.panes)]):
                return


def install_pane_keys(window: QMainWindow) -> PaneKeys:
    """Add the pane shortcuts to the main window (one call at the end of its constructor)."""
    panes: list[Pane] = []
    editor = getattr(window, "entry", None)
    if (editor is not None and getattr(window, "entry_dock", None) is not None
            and not getattr(window, "monitor_mode", False)):  # fmt: skip
        picker = getattr(editor, "picker", None)
        panes.append(Pane("item editor", editor,
                          lambda: picker.name_combo if picker is not None else editor))
    for name, attr in (("queue", "queue_view"), ("history", "history_view")):
        view = getattr(window, attr, None)
        if view is not None:
            panes.append(Pane(name, view, lambda v=view: getattr(v, "table", v)))
    messages = getattr(window, "messages", None)
    if messages is not None:
        panes.append(Pane("messages", messages, lambda: getattr(messages, "list", messages)))
    console = getattr(window, "console", None)
    if console is not None:
        inner = getattr(console, "console", console)
        panes.append(Pane("console", console, lambda: getattr(inner, "_view", inner)))
    keys = PaneKeys(window, panes)
    window.pane_keys = keys  # type: ignore[attr-defined]
    install_focus_ring()
    return keys
