"""One QAction per gate action: text, shortcut, icon, and the single place enabled state is set.

Every button, menu entry and context-menu entry for a server action is this QAction, so applying
the gates here greys out all of them at once and every tooltip carries the reason. A tooltip names
the action's shortcut, so the operator learns it where they point.

Labels name their target (issue 16): "Execute editor item" runs the editor's item, "Execute
selected" the selected queue row, "Execute again" the selected history row. None of the three
owns Ctrl+Enter: :attr:`ActionRegistry.execute_focused` holds it and runs the one the operator is
looking at (``ui/execute_focus.py`` says why).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QStyle, QWidget

from ..core.gates import Action, Gates
from .theme import set_standard_icon

SP = QStyle.StandardPixmap

#: action -> (text, tooltip, shortcut, standard icon)
SPECS: dict[Action, tuple[str, str, str, SP | None]] = {
    Action.EXECUTE_NOW: ("Execute editor item", "Run the item in the editor immediately, "
                         "outside the queue (Ctrl+Enter when the focus is not in the queue or "
                         "the history)", "", SP.SP_MediaPlay),
    Action.EXECUTE_SELECTED_QUEUE: ("Execute selected", "Run a copy of the selected queue item "
                                    "immediately; the queue is not changed (Ctrl+Enter while "
                                    "the queue has the focus)", "", SP.SP_MediaPlay),
    Action.EXECUTE_SELECTED_HISTORY: ("Execute again", "Run a copy of the selected history item "
                                      "immediately (Ctrl+Enter while the history has the "
                                      "focus)", "", SP.SP_MediaPlay),
    Action.QUEUE_ADD: ("Add to queue", "Add the item in the editor to the queue (after the "
                       "selection, else at the back)", "Ctrl+Shift+Return",
                       SP.SP_FileDialogNewFolder),
    Action.QUEUE_ADD_FROM_HISTORY: ("Re-queue", "Add copies of the selected history items to the "
                                    "back of the queue", "", SP.SP_ArrowBack),
    Action.QUEUE_EDIT: ("Edit", "Load the selected queue item into the editor", "", None),
    Action.ITEM_SAVE: ("Save", "Save the edited queue item (item_update)", "Ctrl+S", None),
    Action.QUEUE_DUPLICATE: ("Duplicate", "Insert a copy of the selected items after them",
                             "Ctrl+D", None),
    Action.QUEUE_REMOVE: ("Remove", "Remove the selected items from the queue", "Delete",
                          SP.SP_TrashIcon),
    Action.QUEUE_MOVE_UP: ("Move up", "Move the selected items up one row", "Alt+Up",
                           SP.SP_ArrowUp),
    Action.QUEUE_MOVE_TOP: ("Move to top", "Move the selected items to the front of the queue",
                            "Alt+Home", None),
    Action.QUEUE_MOVE_DOWN: ("Move down", "Move the selected items down one row", "Alt+Down",
                             SP.SP_ArrowDown),
    Action.QUEUE_MOVE_BOTTOM: ("Move to bottom", "Move the selected items to the back of the "
                               "queue", "Alt+End", None),
    Action.QUEUE_COPY: ("Copy", "Copy the selected items as JSON", "Ctrl+C", None),
    Action.QUEUE_PASTE: ("Paste", "Add items from JSON on the clipboard", "Ctrl+V", None),
    Action.QUEUE_CLEAR: ("Clear queue…", "Remove every item from the queue", "", None),
    Action.QUEUE_UNDO: ("Undo", "Undo the last remove, move or save of a queue item made in "
                        "this window", "Ctrl+Z", None),
    Action.QUEUE_START: ("Start queue", "Start executing the queue", "F5", SP.SP_MediaSeekForward),
    Action.QUEUE_STOP: ("Stop queue", "Stop the queue after the current item", "Shift+F5",
                        SP.SP_MediaStop),
    Action.QUEUE_STOP_CANCEL: ("Cancel stop", "Cancel the pending queue stop", "", None),
    Action.QUEUE_AUTOSTART: ("Autostart", "Start the queue automatically when items are added",
                             "", None),
    Action.QUEUE_MODE: ("Queue mode", "Loop / ignore failures", "", None),
    Action.HISTORY_CLEAR: ("Clear history…", "Clear the history, or keep only the newest items",
                           "", None),
    Action.HISTORY_EXPORT: ("Export…", "Export history items as JSON or YAML", "", None),
    Action.HISTORY_LOAD: ("Load history now", "Read the whole history from the RE Manager now, "
                          "even where it is too large to read automatically", "",
                          SP.SP_BrowserReload),
    Action.ENV_OPEN: ("Open environment", "Open the RE worker environment", "",
                      SP.SP_DialogOpenButton),
    Action.ENV_CLOSE: ("Close environment", "Close the RE worker environment", "",
                       SP.SP_DialogCloseButton),
    Action.ENV_DESTROY: ("Destroy environment…", "Kill the worker environment (last resort)", "",
                         SP.SP_BrowserStop),
    Action.ENV_UPDATE: ("Update environment", "Reload the startup scripts in the environment",
                        "", SP.SP_BrowserReload),
    Action.RE_PAUSE_DEFERRED: ("Pause", "Pause at the next checkpoint", "Ctrl+Space",
                               SP.SP_MediaPause),
    Action.RE_PAUSE_IMMEDIATE: ("Pause now", "Pause the running plan immediately; then resume, "
                                "stop, abort or halt it", "Ctrl+Shift+Space", SP.SP_MediaStop),
    Action.RE_RESUME: ("Resume", "Resume the paused plan", "F8", SP.SP_MediaPlay),
    Action.RE_STOP: ("Stop plan", "Stop the paused plan (marked successful)", "Shift+F8", None),
    Action.RE_ABORT: ("Abort…", "Abort the paused plan (marked failed)", "", None),
    Action.RE_HALT: ("Halt…", "Halt the paused plan without cleanup", "", None),
    Action.KERNEL_INTERRUPT: ("Interrupt kernel", "Send Ctrl-C to the IPython kernel", "", None),
    Action.LOCK: ("Lock", "Lock the environment and/or the queue with your key", "", None),
    Action.UNLOCK: ("Unlock", "Unlock with your key", "", None),
}

CHECKABLE = {Action.QUEUE_AUTOSTART}
#: shorter toolbar labels, so that the whole toolbar fits a 1280-pixel laptop screen (menus and
#: tooltips keep the full text)
TOOLBAR_TEXT = {Action.ENV_OPEN: "Open env", Action.ENV_CLOSE: "Close env",
                Action.RE_PAUSE_IMMEDIATE: "Stop now"}
#: second shortcuts: the keypad Enter next to the main Return
ALT_SHORTCUTS = {Action.QUEUE_ADD: "Ctrl+Shift+Enter"}
#: the follow-focus execute shortcut (main Return and keypad Enter)
EXECUTE_FOCUSED_KEYS = ("Ctrl+Return", "Ctrl+Enter")


def keys_text(qaction: QAction) -> str:
    """The action's shortcuts as the platform writes them ("Ctrl+Z")."""
    return ", ".join(k.toString(QKeySequence.NativeText) for k in qaction.shortcuts())


class ActionRegistry:
    """Creates the QActions and applies gates to them."""

    def __init__(self, parent: QWidget):
        self.actions: dict[Action, QAction] = {}
        for action, (text, tip, shortcut, icon) in SPECS.items():
            qaction = QAction(text, parent)
            qaction.setObjectName(f"action_{action.value}")
            if shortcut:
                keys = [QKeySequence(shortcut)]
                if action in ALT_SHORTCUTS:
                    keys.append(QKeySequence(ALT_SHORTCUTS[action]))
                qaction.setShortcuts(keys)
                tip = f"{tip} ({keys_text(qaction)})"
            qaction.setData(tip)
            qaction.setToolTip(tip)
            qaction.setStatusTip(tip)
            set_standard_icon(qaction, icon)  # themed: visible on a dark palette too
            qaction.setCheckable(action in CHECKABLE)
            if action in TOOLBAR_TEXT:
                qaction.setIconText(TOOLBAR_TEXT[action])
            self.actions[action] = qaction
        #: not server actions: the editor's Reset (always available) and the queue mode flags,
        #: which follow the QUEUE_MODE gate
        self.reset_action = QAction("Reset", parent, objectName="action_reset_item")
        self.reset_action.setToolTip("Discard changes in the editor")
        self.mode_actions = {name: QAction(text, parent, checkable=True,
                                           objectName=f"action_mode_{name}")
                             for name, text in (("loop", "Loop mode"),
                                                ("ignore_failures", "Ignore failures"))}
        #: Ctrl+Enter: runs whichever execute action the focus points at (not itself gated:
        #: the action it picks is, and a refusal says why in Messages)
        self.execute_focused = QAction("Execute focused item", parent,
                                       objectName="action_execute_focused")
        self.execute_focused.setShortcuts([QKeySequence(k) for k in EXECUTE_FOCUSED_KEYS])
        #: called with the gates after every apply (widgets that show more than one action)
        self.applied: list[Callable[[Gates], None]] = []

    def __getitem__(self, action: Action) -> QAction:
        return self.actions[action]

    def set_text(self, action: Action, text: str, tip: str) -> None:
        """Change a label that follows the state (Undo names what it undoes); the next
        :meth:`apply` puts the tooltip right."""
        qaction = self.actions[action]
        keys = keys_text(qaction)
        qaction.setText(text)
        qaction.setData(f"{tip} ({keys})" if keys else tip)

    def apply(self, gates: Gates) -> None:
        """Set enabled state and a tooltip that says why an action is disabled."""
        for action, qaction in self.actions.items():
            gate = gates[action]
            tip = qaction.data()
            text = qaction.text().rstrip("…")
            tooltip = tip if gate.enabled else f"{text} is unavailable: {gate.reason}"
            if qaction.isEnabled() != gate.enabled:
                qaction.setEnabled(gate.enabled)
            if qaction.toolTip() != tooltip:
                qaction.setToolTip(tooltip)
                qaction.setStatusTip(tooltip)
        mode_gate = gates[Action.QUEUE_MODE]
        for qaction in self.mode_actions.values():
            qaction.setEnabled(mode_gate.enabled)
            qaction.setToolTip(mode_gate.reason or qaction.text())
        for listener in self.applied:
            listener(gates)
