"""Operator actions -> core operations. One handler per action; each runs as a task on the loop.

Handlers re-check the gate before sending (a shortcut can fire between a status change and the
next gate refresh), confirm destructive actions, collect plain arguments from the views and call
one :class:`~qs_gui.core.operations.Operations` method, which reports every failure in plain
words and returns a typed Outcome. Nothing here talks to the client.

Commands gets narrow collaborators, not the window: the gate source, the selection views, the
editor, the lock form, the prompts and a clipboard.

Queue edits made here (remove, move by buttons, shortcuts or drag and drop, Save of an edited
item) are recorded in :attr:`Commands.undo_stack` once the server accepted them, from the queue as
it was before, and stated in Messages with how to undo them; Undo (Ctrl+Z) puts things back
through the same operations (``core/undo.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from PyQt5.QtWidgets import QApplication

from ..core.events import Event
from ..core.formatting import count
from ..core.gates import Action, Gates
from ..core.item_helpers import clean_item, items_to_clipboard_text, parse_clipboard_items
from ..core.operations import Operations, Position
from ..core.outcome import Outcome
from ..core.session_state import SessionState
from ..core.undo import UndoEntry, UndoStack
from .actions import ActionRegistry

logger = logging.getLogger(__name__)


class Prompts(Protocol):
    """Questions to the operator (dialogs in the window, stubs in tests)."""

    def confirm(self, title: str, text: str, *, destructive: bool = False) -> bool: ...

    def confirm_typed(self, title: str, text: str, word: str) -> bool: ...

    def keep_newest(self, total: int) -> int | None: ...


class Clipboard(Protocol):
    def text(self) -> str: ...

    def setText(self, text: str) -> None: ...  # noqa: N802 (Qt name)


class Commands:
    """Connects the QActions to the core operations."""

    def __init__(self, ops: Operations, state: SessionState, messages: Event,
                 registry: ActionRegistry, gates: Callable[[], Gates], *, queue_view: Any,
                 history_view: Any, editor: Any, lock_panel: Any, prompts: Prompts,
                 show_editor: Callable[[], None], changed: Callable[[], None],
                 load_history: Callable[[], None] = lambda: None,
                 history_withheld: Callable[[], str | None] = lambda: None,
                 clipboard: Callable[[], Clipboard] = QApplication.clipboard) -> None:  # fmt: skip
        self.ops = ops
        self.state = state
        self.messages = messages
        self.registry = registry
        self._gates = gates  # refreshes and returns the gates of this moment
        self.queue_view = queue_view
        self.history_view = history_view
        self.editor = editor
        self.lock_panel = lock_panel
        self.prompts = prompts
        self._show_editor = show_editor
        self._changed = changed  # something the gates depend on changed (e.g. editing ended)
        self._load_history = load_history  # the session's Load now (core/history_policy)
        self._history_withheld = history_withheld  # why it is not read automatically, or None
        self._clipboard = clipboard
        self._tasks: set[asyncio.Task] = set()
        self._connections: list[tuple[Any, Callable]] = []
        self._handlers: dict[Action, Callable[[], Awaitable[Any] | None]] = {}
        self.undo_stack = UndoStack()
        self._connect()
        self._undo_changed()

    # -- plumbing ---------------------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            ex = task.exception()
            logger.error("Command failed", exc_info=ex)
            self.messages.emit("error", f"Internal error: {ex!r}")

    def close(self) -> None:
        """Disconnect every handler and cancel the commands still running (window closed)."""
        for signal, handler in self._connections:
            try:
                signal.disconnect(handler)
            except (TypeError, RuntimeError):  # already gone with its widget
                pass
        self._connections.clear()
        for task in list(self._tasks):
            task.cancel()

    def pending(self) -> int:
        """Commands still running (tests check that closing cancels them)."""
        return sum(not t.done() for t in self._tasks)

    def _on(self, signal: Any, handler: Callable) -> None:
        signal.connect(handler)
        self._connections.append((signal, handler))

    def _allowed(self, action: Action, what: str | None = None) -> bool:
        gate = self._gates()[action]
        if not gate.enabled:
            self.messages.emit("warning", f"{what or action.label} not sent: {gate.reason}")
        return gate.enabled

    def _bind(self, action: Action, handler: Callable[[], Awaitable[Any] | None]) -> None:
        self._handlers[action] = handler
        self._on(self.registry[action].triggered, lambda *_args: self.fire(action))

    def fire(self, action: Action, via: str = "") -> None:
        """Run ``action`` as if its QAction was triggered: gate first, then its handler.
        ``via`` names a shortcut that picked it (Ctrl+Enter), for the refusal message."""
        text = self.registry[action].text().rstrip("…")
        if self._allowed(action, f"{via}: {text}" if via else None):
            result = self._handlers[action]()
            if result is not None:
                self.spawn(result)

    def _connect(self) -> None:
        a, ops = Action, self.ops
        self._bind(a.EXECUTE_NOW, self.execute_now)
        self._bind(a.EXECUTE_SELECTED_QUEUE, lambda: self._execute_copy(
            self.queue_view.selected_items(), a.EXECUTE_SELECTED_QUEUE))
        self._bind(a.EXECUTE_SELECTED_HISTORY, lambda: self._execute_copy(
            self.history_view.selected_items(), a.EXECUTE_SELECTED_HISTORY))
        self._bind(a.QUEUE_ADD, self.add_from_editor)
        self._bind(a.QUEUE_ADD_FROM_HISTORY, self.requeue_history)
        self._bind(a.QUEUE_EDIT, self.edit_selected)
        self._bind(a.ITEM_SAVE, self.save_edited)
        self._bind(a.QUEUE_DUPLICATE, self.duplicate)
        self._bind(a.QUEUE_REMOVE, self.remove)
        self._bind(a.QUEUE_UNDO, self.undo)
        self._bind(a.QUEUE_MOVE_UP, lambda: self.move("up"))
        self._bind(a.QUEUE_MOVE_DOWN, lambda: self.move("down"))
        self._bind(a.QUEUE_MOVE_TOP, lambda: self.move("top"))
        self._bind(a.QUEUE_MOVE_BOTTOM, lambda: self.move("bottom"))
        self._bind(a.QUEUE_COPY, self.copy)
        self._bind(a.QUEUE_PASTE, self.paste)
        self._bind(a.QUEUE_CLEAR, self.clear_queue)
        self._bind(a.QUEUE_START, ops.queue_start)
        self._bind(a.QUEUE_STOP, ops.queue_stop)
        self._bind(a.QUEUE_STOP_CANCEL, ops.queue_stop_cancel)
        self._bind(a.QUEUE_AUTOSTART, lambda: ops.queue_autostart(
            self.registry[a.QUEUE_AUTOSTART].isChecked()))
        self._bind(a.HISTORY_CLEAR, self.clear_history)
        self._bind(a.HISTORY_EXPORT, self.history_view.export_dialog)
        self._bind(a.HISTORY_LOAD, self.load_history)
        self._bind(a.ENV_OPEN, ops.environment_open)
        self._bind(a.ENV_CLOSE, self.close_environment)
        self._bind(a.ENV_UPDATE, ops.environment_update)
        self._bind(a.ENV_DESTROY, self.destroy_environment)
        self._bind(a.RE_PAUSE_DEFERRED, lambda: ops.re_pause(immediate=False))
        self._bind(a.RE_PAUSE_IMMEDIATE, lambda: ops.re_pause(immediate=True))
        self._bind(a.RE_RESUME, ops.re_resume)
        self._bind(a.RE_STOP, ops.re_stop)
        self._bind(a.RE_ABORT, lambda: self._confirmed(
            "Abort", "Abort the paused plan? It is marked as failed.", ops.re_abort))
        self._bind(a.RE_HALT, lambda: self._confirmed(
            "Halt", "Halt the paused plan without running its cleanup?", ops.re_halt))
        self._bind(a.KERNEL_INTERRUPT, ops.kernel_interrupt)
        self._bind(a.LOCK, self.lock)
        self._bind(a.UNLOCK, self.unlock)
        self._on(self.registry.reset_action.triggered, self.editor.reset)
        for name, qaction in self.registry.mode_actions.items():
            self._on(qaction.triggered, lambda checked, n=name: self.set_mode(n, checked))
        self._on(self.queue_view.move_requested, self.move_dropped)
        self._on(self.queue_view.edit_requested, lambda item: self.edit_selected())
        self._on(self.editor.save_as_new_requested, self.save_as_new)
        self._on(self.lock_panel.key_changed, self.set_lock_key)

    def set_lock_key(self, key: str) -> None:
        """The operator typed or generated a key: core keeps it in memory and sends it."""
        self.ops.set_lock_key(key or None)
        self._changed()

    # -- handlers ---------------------------------------------------------------------------
    def _editor_refusal(self, outcome: Outcome) -> None:
        """Show the server's validation refusal next to the form, too; after a success the
        editor's item was sent, so leaving it asks no "Discard changes?"."""
        if outcome.ok:
            self.editor.mark_sent()
        if outcome.refused:
            self.editor.show_server_error(outcome.error)

    def _editing_done(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.editor.clear_editing()
            self._changed()
        self._editor_refusal(outcome)

    def execute_now(self) -> Awaitable[Any] | None:
        item = self.editor.current_item()
        if item is None:
            self.messages.emit("error", "Execute now not sent: "
                                        f"{self.editor.current_error() or 'no item'}")
            return None

        async def run() -> None:
            self._editor_refusal(await self.ops.execute(item))

        return run()

    def _execute_copy(self, items: list[dict], action: Action) -> Awaitable[Any] | None:
        if len(items) != 1:
            return None
        return self.ops.execute(clean_item(items[0]), action=action)

    def _position(self) -> Position:
        uids = self.queue_view.selected_uids()
        return {"after_uid": uids[-1]} if uids else {"pos": "back"}

    def add_from_editor(self) -> Awaitable[Any] | None:
        item = self.editor.current_item()
        if item is None:
            return None
        where = self._position()

        async def run() -> None:
            self._editor_refusal(await self.ops.add(item, where))

        return run()

    def save_as_new(self, item: dict) -> None:
        if not self._allowed(Action.QUEUE_ADD):
            return
        uid = self.editor.editing_uid
        where = ({"after_uid": uid} if uid in {i.get("item_uid") for i in self.state.queue}
                 else {"pos": "back"})

        async def add() -> None:
            self._editing_done(await self.ops.add(
                item, where, what=f"Save {item.get('name')} as new", done="Added as a new item."))

        self.spawn(add())

    def requeue_history(self) -> Awaitable[Any]:
        items = [clean_item(i) for i in self.history_view.selected_items()]
        return self.ops.add_batch(items, {"pos": "back"}, what="Re-queue",
                                  done=f"Re-queued {count(len(items), 'item')}.")

    def duplicate(self) -> Awaitable[Any]:
        items = [clean_item(i) for i in self.queue_view.selected_items()]
        return self.ops.add_batch(items, self._position(), action=Action.QUEUE_DUPLICATE,
                                  what="Duplicate")

    def edit_selected(self) -> None:
        items = self.queue_view.selected_items()
        if len(items) != 1:
            return
        if self.editor.is_dirty() and not self.prompts.confirm(
                "Discard changes?", "The editor has unsaved changes. Discard them and load the "
                "selected item?", destructive=True):
            return
        self.editor.load_item(items[0], editing_uid=items[0].get("item_uid"))
        self._show_editor()
        self._changed()

    def save_edited(self) -> Awaitable[Any] | None:
        editor = self.editor
        item, uid = editor.current_item(), editor.editing_uid
        if item is None or not uid:
            return None
        queue = self.state.queue
        previous = next((i for i in queue if i.get("item_uid") == uid), None)
        if queue and uid not in {i.get("item_uid") for i in queue}:
            self.messages.emit("error", "Save not sent: the edited item is no longer in the "
                                        "queue (removed or started elsewhere). Use Add to queue "
                                        "to keep your changes.")
            return None
        if editor.edit_state == "changed" and not self.prompts.confirm(
                "Overwrite a newer version?",
                f"{item.get('name')} was changed in the queue by someone else after you opened "
                f"it. Saving replaces their change with yours.\n\nOverwrite it?",
                destructive=True):
            self.messages.emit("warning", "Save not sent: the item was changed in the queue "
                                          "after you opened it, and you chose to keep that "
                                          "change. Your edits are still in the editor (Save as "
                                          "new adds them as a new item).")
            return None

        async def save() -> None:
            outcome = await self.ops.update(item, uid)
            if outcome.ok and previous is not None:
                self._recorded(self.undo_stack.record_edit(previous, uid),
                               "Ctrl+Z restores the previous version.")
            self._editing_done(outcome)

        return save()

    # -- undoable queue edits ----------------------------------------------------------------
    def _undo_changed(self) -> None:
        """The Undo action names what it undoes; the gates learn whether there is anything."""
        entry = self.undo_stack.peek()
        tip = (f"Undo the last queue edit made in this window: {entry.done[0].lower()}"
               f"{entry.done[1:]}" if entry else
               "Undo the last remove, move or save of a queue item made in this window")
        self.registry.set_text(Action.QUEUE_UNDO, self.undo_stack.label(), tip)
        self._changed()

    def _recorded(self, entry: UndoEntry | None, how: str) -> None:
        """An accepted edit: say what happened and how to undo it."""
        if entry is None:
            return
        self.messages.emit("info", f"{entry.done}. {how}")
        self._undo_changed()

    def remove(self) -> Awaitable[Any] | None:
        uids = self.queue_view.selected_uids()
        if not uids:
            return None
        before = list(self.state.queue)  # recorded once the server removed them

        async def run() -> None:
            if (await self.ops.remove(uids)).ok:
                them = "it" if len(uids) == 1 else "them"
                self._recorded(self.undo_stack.record_remove(before, uids),
                               f"Ctrl+Z puts {them} back.")

        return run()

    def undo(self) -> Awaitable[Any] | None:
        stack = self.undo_stack
        if not stack.can_undo:
            return None

        async def run() -> None:
            self._changed()  # the gates see stack.busy once undo() below has set it
            try:
                result = await stack.undo(self.ops, self.state.queue)
            finally:
                self._undo_changed()
            if result.ok:
                if not result.announced:
                    self.messages.emit("info", result.message + ".")
            else:
                self.messages.emit("error" if result.outcome else "warning", result.message)

        return run()

    def move(self, where: str) -> Awaitable[Any] | None:
        uids = self.queue_view.selected_uids()
        queue = [i.get("item_uid") for i in self.state.queue]
        if not uids or not all(u in queue for u in uids):
            return None
        rows = sorted(queue.index(u) for u in uids)
        if where == "top":
            target: dict[str, Any] = {"pos_dest": "front"}
        elif where == "bottom":
            target = {"pos_dest": "back"}
        elif where == "up":
            target = {"before_uid": queue[rows[0] - 1]} if rows[0] > 0 else {"pos_dest": "front"}
        else:
            target = ({"after_uid": queue[rows[-1] + 1]} if rows[-1] + 1 < len(queue)
                      else {"pos_dest": "back"})
        action = {"top": Action.QUEUE_MOVE_TOP, "bottom": Action.QUEUE_MOVE_BOTTOM,
                  "up": Action.QUEUE_MOVE_UP, "down": Action.QUEUE_MOVE_DOWN}[where]
        return self._move([queue[r] for r in rows], target, action, f"Move {where}")

    async def _move(self, uids: list[str], target: Position, action: Action, what: str) -> None:
        before = list(self.state.queue)
        if (await self.ops.move(uids, target, action=action, what=what)).ok:
            them = "it" if len(uids) == 1 else "them"
            self._recorded(self.undo_stack.record_move(before, uids), f"Ctrl+Z moves {them} back.")

    def move_dropped(self, uids: list, before_uid: Any, after_uid: Any) -> None:
        if not self._allowed(Action.QUEUE_MOVE_UP) and not self._allowed(Action.QUEUE_MOVE_DOWN):
            return
        target = {"before_uid": before_uid} if before_uid else {"after_uid": after_uid}
        self.spawn(self._move(list(uids), target, Action.QUEUE_MOVE_UP, "Move (drag and drop)"))

    def copy(self) -> None:
        items = self.queue_view.selected_items() or self.history_view.selected_items()
        if items:
            self._clipboard().setText(items_to_clipboard_text(items))
            self.messages.emit("info", f"Copied {count(len(items), 'item')} as JSON.")

    def paste(self) -> Awaitable[Any] | None:
        try:
            items = parse_clipboard_items(self._clipboard().text())
        except ValueError as ex:
            self.messages.emit("error", f"Paste not sent: {ex}")
            return None
        return self.ops.add_batch(items, self._position(), action=Action.QUEUE_PASTE,
                                  what="Paste items", done=f"Pasted {count(len(items), 'item')}.")

    def clear_queue(self) -> Awaitable[Any] | None:
        n = len(self.state.queue)
        question = ("Remove the only item from the queue?" if n == 1 else
                    f"Remove all {n} items from the queue?")
        if not self.prompts.confirm("Clear queue", question, destructive=True):
            return None

        async def run() -> None:
            if (await self.ops.clear_queue()).ok:  # the recorded edits refer to a queue now gone
                self.undo_stack.clear()
                self._undo_changed()

        return run()

    def set_mode(self, name: str, enabled: bool) -> None:
        if self._allowed(Action.QUEUE_MODE):
            self.spawn(self.ops.queue_mode(name, enabled))

    def clear_history(self) -> Awaitable[Any] | None:
        # a history too large to read automatically is known by its count only
        on_server = (self.state.status or {}).get("items_in_history")
        total = max(len(self.state.history), on_server if isinstance(on_server, int) else 0)
        keep = self.prompts.keep_newest(total)
        if keep is None:
            return None
        return self.ops.history_clear(keep_newest=keep)

    def load_history(self) -> None:
        """Read the whole history now. Where it is too large to be read automatically, the
        operator is told what it costs the server first (and may keep only the newest instead)."""
        withheld = self._history_withheld()
        if withheld:
            if not self.prompts.confirm(
                    "Load history now", f"{withheld[0].upper()}{withheld[1:]}.\n\nWhile it "
                    "sends the history the RE Manager answers no one: this window, the other "
                    "consoles and its own status updates all wait.\n\nRead the whole history "
                    "now?", destructive=True):
                self.messages.emit("info", "Load history cancelled: nothing was sent.")
                return
            self.messages.emit("info", f"Reading the whole history now, as you chose "
                                       f"({withheld}).")
        self._load_history()

    def close_environment(self) -> Awaitable[Any] | None:
        if not self.prompts.confirm(
                "Close environment", "Close the worker environment?\n\nNo plan can run until it "
                "is opened again, which reruns the startup code and can take a while. Devices "
                "and variables created in the environment are lost.", destructive=True):
            self.messages.emit("info", "Close environment cancelled: nothing was sent.")
            return None
        return self.ops.environment_close()

    def destroy_environment(self) -> Awaitable[Any] | None:
        if not self.prompts.confirm_typed(
                "Destroy environment", "Destroying kills the worker process and any running "
                "plan. Type 'destroy' to confirm.", "destroy"):
            return None
        return self.ops.environment_destroy()

    def _confirmed(self, title: str, question: str,
                   call: Callable[[], Awaitable[Any]]) -> Awaitable[Any] | None:
        if not self.prompts.confirm(title, question, destructive=True):
            return None
        return call()

    def lock(self) -> Awaitable[Any] | None:
        panel = self.lock_panel
        problem = panel.validate_lock_request()
        if problem:
            self.messages.emit("error", f"Lock not sent: {problem}")
            return None
        request = panel.lock_request()
        return self.ops.lock(panel.key(), environment=request["environment"],
                             queue=request["queue"], note=request["note"])

    def unlock(self) -> Awaitable[Any] | None:
        key = self.lock_panel.key() or self.ops.lock_key
        if not key:
            return None
        return self.ops.unlock(key)
