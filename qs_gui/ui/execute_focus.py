"""Ctrl+Enter runs the item the operator is looking at: one dispatcher for the shortcut.

The rule: focus in the queue view → the selected queue item ("Execute selected"); focus in the
history view → the selected history item ("Execute again"); focus anywhere else → the editor's
item ("Execute editor item"). Focus in the queue or the history *without* a usable selection does
**not** fall back to the editor: the operator is looking at the list, so running the editor's item
would be the motion nobody is looking at; the refusal says "Select a queue item to execute." in
Messages instead.

Why follow focus rather than confirm when editor and selection differ: the focus is where the
operator's eyes and last click are, so it answers "which item?" without a question. A
confirmation would appear on every Ctrl+Enter in a queue with a selection, i.e. most of the time,
and operators learn to press Enter through such dialogs, which removes the safety it was meant to
add and slows the fast path. The target is never hidden: the status bar and the shortcut's
tooltip always say which item Ctrl+Enter will run now, and the three actions carry their own
labels ("Execute editor item" / "Execute selected" / "Execute again").

The dispatcher only picks the action; sending goes through ``Commands.fire`` and so through that
action's gate (a refusal says why), exactly as if its button were clicked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QApplication, QWidget

from ..core.gates import Action
from .actions import ActionRegistry, keys_text

__all__ = ["ExecuteFocus"]


def _inside(widget: QWidget | None, container: QWidget) -> bool:
    return widget is not None and (widget is container or container.isAncestorOf(widget))


class ExecuteFocus(QObject):
    """Routes :attr:`ActionRegistry.execute_focused` (Ctrl+Enter) to the focused target.

    ``fire(action, via)`` sends through the action's gate (``Commands.fire``); ``hint_changed``
    carries the sentence for the status bar whenever focus, selection or editor change.
    """

    hint_changed = pyqtSignal(str)

    def __init__(self, registry: ActionRegistry, *, queue_view: Any, history_view: Any,
                 editor: Any, fire: Callable[[Action, str], None],
                 focus: Callable[[], QWidget | None] = QApplication.focusWidget,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.registry = registry
        self.queue_view = queue_view
        self.history_view = history_view
        self.editor = editor
        self._fire = fire
        self._focus = focus
        self.hint = ""
        self.action = registry.execute_focused
        self.action.triggered.connect(self.trigger)
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self.update_hint)
        queue_view.selection_changed.connect(self.update_hint)
        history_view.selection_changed.connect(self.update_hint)
        editor.changed.connect(self.update_hint)
        self.update_hint()

    def target(self) -> Action:
        """The execute action Ctrl+Enter runs now (see the module docstring)."""
        focus = self._focus()
        if _inside(focus, self.queue_view):
            return Action.EXECUTE_SELECTED_QUEUE
        if _inside(focus, self.history_view):
            return Action.EXECUTE_SELECTED_HISTORY
        return Action.EXECUTE_NOW

    def describe(self, action: Action | None = None) -> str:
        """Which item Ctrl+Enter runs, in the operator's words."""
        action = self.target() if action is None else action
        keys = keys_text(self.action).split(",")[0] or "Ctrl+Enter"
        if action is Action.EXECUTE_SELECTED_QUEUE:
            items = self.queue_view.selected_items()
            if len(items) != 1:
                return f"{keys}: select one queue item to run it"
            rows = self.queue_view.selected_queue_rows()
            where = f" (position {rows[0] + 1})" if rows else ""
            return f"{keys} runs the selected queue item {items[0].get('name', '?')}{where}"
        if action is Action.EXECUTE_SELECTED_HISTORY:
            items = self.history_view.selected_items()
            if len(items) != 1:
                return f"{keys}: select one history item to run it again"
            return f"{keys} runs the history item {items[0].get('name', '?')} again"
        item = self.editor.current_item()
        if item is None:
            return f"{keys}: the editor's item is not ready"
        return f"{keys} runs the editor's item {item.get('name', '?')}"

    def update_hint(self, *_args: Any) -> None:
        try:
            hint = self.describe()
        except RuntimeError:  # focus moves while the window is being deleted: nothing to show
            return
        if hint != self.hint:
            self.hint = hint
            self.action.setToolTip(hint)
            self.action.setStatusTip(hint)
            self.hint_changed.emit(hint)

    def trigger(self, *_args: Any) -> None:
        action = self.target()
        self._fire(action, keys_text(self.action).split(",")[0] or "Ctrl+Enter")
