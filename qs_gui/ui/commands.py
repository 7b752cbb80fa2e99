"""Operator actions -> requests. One handler per action; each runs as a task on the qasync loop.

Handlers re-check the gate before sending (a shortcut can fire between a status change and the
next gate refresh), confirm destructive actions, and go through ``Session.run`` so every failure is
reported in plain words and the action is marked busy while its request is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from PyQt5.QtWidgets import QAction, QApplication

from ..core.gates import Action, Gates
from .dialogs import ask_keep_newest, confirm, confirm_typed
from .queue_view import items_to_clipboard_text, parse_clipboard_items

if TYPE_CHECKING:
    from .main_window import MainWindow

logger = logging.getLogger(__name__)

ITEM_KEYS = ("item_type", "name", "args", "kwargs", "meta")


def clean_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A copy fit to send as a new item: no uid, result, user or properties."""
    return {k: item[k] for k in ITEM_KEYS if k in item and item[k] not in (None, [], {})}


class Commands:
    """Connects the QActions to the session."""

    def __init__(self, window: MainWindow):
        self.w = window
        self.session = window.session
        self.api = window.session.api
        self._tasks: set[asyncio.Task] = set()
        self.save_action = QAction("Save", window)
        self.save_action.setObjectName("action_save_item")
        self.save_action.setToolTip("Save the edited queue item (item_update)")
        self.reset_action = QAction("Reset", window)
        self.reset_action.setObjectName("action_reset_item")
        self.reset_action.setToolTip("Discard changes in the editor")
        self.mode_actions = {name: QAction(text, window) for name, text in
                             (("loop", "Loop mode"), ("ignore_failures", "Ignore failures"))}
        for qaction in self.mode_actions.values():
            qaction.setCheckable(True)
        self._connect()

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
            self.session.message.emit("error", f"Internal error: {ex!r}")

    def _allowed(self, action: Action) -> bool:
        self.w.refresh_gates()
        gate = self.w.gates[action]
        if not gate.enabled:
            self.session.message.emit("warning", f"{action.label} not sent: {gate.reason}")
        return gate.enabled

    def _bind(self, action: Action, handler: Callable[[], Awaitable[Any] | None]) -> None:
        def triggered(*_args: Any) -> None:
            if self._allowed(action):
                result = handler()
                if result is not None:
                    self.spawn(result)

        self.w.registry[action].triggered.connect(triggered)

    def _send(self, action: Action, what: str, call: Callable[[], Awaitable[Any]],
              done: str | None = None) -> Awaitable[Any]:
        return self.session.run(action.value, call, what, done=done)

    def _connect(self) -> None:
        a, api = Action, self.api
        self._bind(a.EXECUTE_NOW, self.execute_now)
        self._bind(a.EXECUTE_SELECTED_QUEUE, lambda: self._execute_copy(
            self.w.queue_view.selected_items(), a.EXECUTE_SELECTED_QUEUE))
        self._bind(a.EXECUTE_SELECTED_HISTORY, lambda: self._execute_copy(
            self.w.history_view.selected_items(), a.EXECUTE_SELECTED_HISTORY))
        self._bind(a.QUEUE_ADD, self.add_from_entry)
        self._bind(a.QUEUE_ADD_FROM_HISTORY, self.requeue_history)
        self._bind(a.QUEUE_EDIT, self.edit_selected)
        self._bind(a.QUEUE_DUPLICATE, self.duplicate)
        self._bind(a.QUEUE_REMOVE, lambda: self._send(
            a.QUEUE_REMOVE, "Remove items",
            lambda: api.item_remove_batch(uids=self.w.queue_view.selected_uids())))
        self._bind(a.QUEUE_MOVE_UP, lambda: self.move("up"))
        self._bind(a.QUEUE_MOVE_DOWN, lambda: self.move("down"))
        self._bind(a.QUEUE_MOVE_TOP, lambda: self.move("top"))
        self._bind(a.QUEUE_MOVE_BOTTOM, lambda: self.move("bottom"))
        self._bind(a.QUEUE_COPY, self.copy)
        self._bind(a.QUEUE_PASTE, self.paste)
        self._bind(a.QUEUE_CLEAR, self.clear_queue)
        self._bind(a.QUEUE_START, lambda: self._send(a.QUEUE_START, "Start queue",
                                                     api.queue_start))
        self._bind(a.QUEUE_STOP, lambda: self._send(a.QUEUE_STOP, "Stop queue", api.queue_stop,
                                                    "The queue will stop after this item."))
        self._bind(a.QUEUE_STOP_CANCEL, lambda: self._send(
            a.QUEUE_STOP_CANCEL, "Cancel queue stop", api.queue_stop_cancel))
        self._bind(a.QUEUE_AUTOSTART, self.toggle_autostart)
        self._bind(a.HISTORY_CLEAR, self.clear_history)
        self._bind(a.HISTORY_EXPORT, self.w.history_view.export_dialog)
        self._bind(a.ENV_OPEN, lambda: self._send(a.ENV_OPEN, "Open environment",
                                                  api.environment_open,
                                                  "Opening the worker environment…"))
        self._bind(a.ENV_CLOSE, lambda: self._send(a.ENV_CLOSE, "Close environment",
                                                   api.environment_close,
                                                   "Closing the worker environment…"))
        self._bind(a.ENV_UPDATE, lambda: self._send(a.ENV_UPDATE, "Update environment",
                                                    api.environment_update))
        self._bind(a.ENV_DESTROY, self.destroy_environment)
        self._bind(a.RE_PAUSE_DEFERRED, lambda: self._send(
            a.RE_PAUSE_DEFERRED, "Pause", lambda: api.re_pause("deferred")))
        self._bind(a.RE_PAUSE_IMMEDIATE, lambda: self._send(
            a.RE_PAUSE_IMMEDIATE, "Pause now", lambda: api.re_pause("immediate")))
        self._bind(a.RE_RESUME, lambda: self._send(a.RE_RESUME, "Resume", api.re_resume))
        self._bind(a.RE_STOP, lambda: self._send(a.RE_STOP, "Stop plan", api.re_stop))
        self._bind(a.RE_ABORT, lambda: self._confirmed_send(
            a.RE_ABORT, "Abort", "Abort the paused plan? It is marked as failed.", api.re_abort))
        self._bind(a.RE_HALT, lambda: self._confirmed_send(
            a.RE_HALT, "Halt", "Halt the paused plan without running its cleanup?", api.re_halt))
        self._bind(a.KERNEL_INTERRUPT, lambda: self._send(
            a.KERNEL_INTERRUPT, "Interrupt kernel", api.kernel_interrupt))
        self._bind(a.LOCK, self.lock)
        self._bind(a.UNLOCK, self.unlock)
        self.save_action.triggered.connect(self.save_edited)
        self.reset_action.triggered.connect(self.w.entry.reset)
        for name, qaction in self.mode_actions.items():
            qaction.triggered.connect(lambda checked, n=name: self.set_mode(n, checked))
        self.w.queue_view.move_requested.connect(self.move_dropped)
        self.w.queue_view.edit_requested.connect(lambda item: self.edit_selected())
        self.w.entry.save_as_new_requested.connect(self.save_as_new)

    def apply_local_gates(self, gates: Gates) -> None:
        """Actions that are not server actions follow the gates they depend on."""
        editing = bool(self.w.entry.editing_uid)
        save_ok = gates[Action.QUEUE_EDIT].enabled or (
            editing and gates[Action.QUEUE_ADD].enabled)
        self.save_action.setEnabled(editing and save_ok and self.w.entry.current_error() is None
                                    and self.w.entry.edit_state != "vanished")
        self.save_action.setVisible(editing)
        mode_gate = gates[Action.QUEUE_MODE]
        for qaction in self.mode_actions.values():
            qaction.setEnabled(mode_gate.enabled)
            qaction.setToolTip(mode_gate.reason or qaction.text())

    def sync_modes(self, status: Mapping[str, Any]) -> None:
        mode = status.get("plan_queue_mode") or {}
        for name, qaction in self.mode_actions.items():
            qaction.setChecked(bool(mode.get(name)))
        self.w.registry[Action.QUEUE_AUTOSTART].setChecked(
            bool(status.get("queue_autostart_enabled")))

    def set_lock_key(self, key: str) -> None:
        """Keep the key in memory in the client only; it is sent with every lockable request."""
        self.api.lock_key = key or None
        if key:
            self.api.enable_locked_api = True
        self.w.schedule_gates()

    # -- handlers ---------------------------------------------------------------------------
    def _editor_refusal(self, outcome: Any) -> None:
        """Show the server's validation refusal next to the form, too."""
        if not outcome.ok and not outcome.timed_out and "refused by the server" in outcome.error:
            self.w.entry.show_server_error(outcome.error)

    def execute_now(self) -> Awaitable[Any] | None:
        item = self.w.entry.current_item()
        if item is None:
            self.session.message.emit("error", "Execute now not sent: "
                                      f"{self.w.entry.current_error() or 'no item'}")
            return None

        async def run() -> None:
            self._editor_refusal(await self.session.execute_now(item))

        return run()

    def _execute_copy(self, items: list[dict], action: Action) -> Awaitable[Any] | None:
        if len(items) != 1:
            return None
        return self.session.execute_now(clean_item(items[0]), action=action.value)

    def _position(self) -> dict[str, Any]:
        uids = self.w.queue_view.selected_uids()
        return {"after_uid": uids[-1]} if uids else {"pos": "back"}

    def add_from_entry(self) -> Awaitable[Any] | None:
        item = self.w.entry.current_item()
        if item is None:
            return None
        name, where = item.get("name"), self._position()

        async def run() -> None:
            self._editor_refusal(await self._send(
                Action.QUEUE_ADD, f"Add {name} to the queue",
                lambda: self.api.item_add(item, **where), f"Added {name} to the queue."))

        return run()

    def save_as_new(self, item: dict) -> None:
        if not self._allowed(Action.QUEUE_ADD):
            return
        uid = self.w.entry.editing_uid
        where = ({"after_uid": uid} if uid in {i.get("item_uid") for i in self.session.queue}
                 else {"pos": "back"})

        async def add() -> None:
            outcome = await self._send(Action.QUEUE_ADD, f"Save {item.get('name')} as new",
                                       lambda: self.api.item_add(item, **where),
                                       "Added as a new item.")
            if outcome.ok:
                self.w.entry.clear_editing()
                self.w.schedule_gates()
            self._editor_refusal(outcome)

        self.spawn(add())

    def requeue_history(self) -> Awaitable[Any]:
        items = [clean_item(i) for i in self.w.history_view.selected_items()]
        return self._send(Action.QUEUE_ADD_FROM_HISTORY, "Re-queue",
                          lambda: self.api.item_add_batch(items, pos="back"),
                          f"Re-queued {len(items)} item(s).")

    def duplicate(self) -> Awaitable[Any]:
        items = [clean_item(i) for i in self.w.queue_view.selected_items()]
        return self._send(Action.QUEUE_DUPLICATE, "Duplicate",
                          lambda: self.api.item_add_batch(items, **self._position()))

    def edit_selected(self) -> None:
        items = self.w.queue_view.selected_items()
        if len(items) != 1:
            return
        entry = self.w.entry
        if entry.is_dirty() and not confirm(
                self.w, "Discard changes?", "The editor has unsaved changes. Discard them and "
                "load the selected item?", destructive=True):
            return
        entry.load_item(items[0], editing_uid=items[0].get("item_uid"))
        self.w.entry_dock.raise_()
        self.w.schedule_gates()

    def save_edited(self) -> Awaitable[Any] | None:
        entry = self.w.entry
        item, uid = entry.current_item(), entry.editing_uid
        if item is None or not uid:
            return None
        if self.session.queue and uid not in {i.get("item_uid") for i in self.session.queue}:
            self.session.message.emit("error", "Save not sent: the edited item is no longer in "
                                      "the queue (removed or started elsewhere). Use Add to "
                                      "queue to keep your changes.")
            return None
        if entry.edit_state == "changed" and not confirm(
                self.w, "Overwrite a newer version?",
                f"{item.get('name')} was changed in the queue by someone else after you opened "
                f"it. Saving replaces their change with yours.\n\nOverwrite it?",
                destructive=True):
            self.session.message.emit("warning", "Save not sent: the item was changed in the "
                                      "queue after you opened it, and you chose to keep that "
                                      "change. Your edits are still in the editor (Save as new "
                                      "adds them as a new item).")
            return None

        async def save() -> None:
            outcome = await self._send(Action.QUEUE_EDIT, f"Save {item.get('name')}",
                                       lambda: self.api.item_update({**item, "item_uid": uid}),
                                       "Saved the queue item.")
            if outcome.ok:
                entry.clear_editing()
                self.w.schedule_gates()
            self._editor_refusal(outcome)

        return self.spawn(save())

    def move(self, where: str) -> Awaitable[Any] | None:
        uids = self.w.queue_view.selected_uids()
        queue = [i.get("item_uid") for i in self.session.queue]
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
        ordered = [queue[r] for r in rows]
        action = {"top": Action.QUEUE_MOVE_TOP, "bottom": Action.QUEUE_MOVE_BOTTOM,
                  "up": Action.QUEUE_MOVE_UP, "down": Action.QUEUE_MOVE_DOWN}[where]
        return self._send(action, f"Move {where}",
                          lambda: self.api.item_move_batch(uids=ordered, **target))

    def move_dropped(self, uids: list, before_uid: Any, after_uid: Any) -> None:
        if not self._allowed(Action.QUEUE_MOVE_UP) and not self._allowed(Action.QUEUE_MOVE_DOWN):
            return
        target = {"before_uid": before_uid} if before_uid else {"after_uid": after_uid}
        self.spawn(self._send(Action.QUEUE_MOVE_UP, "Move (drag and drop)",
                              lambda: self.api.item_move_batch(uids=list(uids), **target)))

    def copy(self) -> None:
        items = self.w.queue_view.selected_items() or self.w.history_view.selected_items()
        if items:
            QApplication.clipboard().setText(items_to_clipboard_text(items))
            self.session.message.emit("info", f"Copied {len(items)} item(s) as JSON.")

    def paste(self) -> Awaitable[Any] | None:
        try:
            items = parse_clipboard_items(QApplication.clipboard().text())
        except ValueError as ex:
            self.session.message.emit("error", f"Paste not sent: {ex}")
            return None
        return self._send(Action.QUEUE_PASTE, "Paste items",
                          lambda: self.api.item_add_batch(items, **self._position()),
                          f"Pasted {len(items)} item(s).")

    def clear_queue(self) -> Awaitable[Any] | None:
        n = len(self.session.queue)
        if not confirm(self.w, "Clear queue", f"Remove all {n} items from the queue?",
                       destructive=True):
            return None
        return self._send(Action.QUEUE_CLEAR, "Clear queue", self.api.queue_clear,
                          "The queue was cleared.")

    def toggle_autostart(self) -> Awaitable[Any]:
        enable = self.w.registry[Action.QUEUE_AUTOSTART].isChecked()
        return self._send(Action.QUEUE_AUTOSTART, "Autostart",
                          lambda: self.api.queue_autostart(enable))

    def set_mode(self, name: str, enabled: bool) -> None:
        if self._allowed(Action.QUEUE_MODE):
            self.spawn(self._send(Action.QUEUE_MODE, "Queue mode",
                                  lambda: self.api.queue_mode_set(**{name: enabled})))

    def clear_history(self) -> Awaitable[Any] | None:
        keep = ask_keep_newest(self.w, len(self.session.history))
        if keep is None:
            return None
        size = keep if keep > 0 else None
        return self._send(Action.HISTORY_CLEAR, "Clear history",
                          lambda: self.api.history_clear(size=size), "History cleared.")

    def destroy_environment(self) -> Awaitable[Any] | None:
        if not confirm_typed(self.w, "Destroy environment",
                             "Destroying kills the worker process and any running plan. "
                             "Type 'destroy' to confirm.", "destroy"):
            return None
        return self._send(Action.ENV_DESTROY, "Destroy environment",
                          self.api.environment_destroy, "Destroying the environment…")

    def _confirmed_send(self, action: Action, what: str, question: str,
                        call: Callable[[], Awaitable[Any]]) -> Awaitable[Any] | None:
        if not confirm(self.w, what, question, destructive=True):
            return None
        return self._send(action, what, call)

    def lock(self) -> Awaitable[Any] | None:
        panel = self.w.lock_panel
        problem = panel.validate_lock_request()
        if problem:
            self.session.message.emit("error", f"Lock not sent: {problem}")
            return None
        request, key = panel.lock_request(), panel.key()
        self.set_lock_key(key)
        return self._send(Action.LOCK, "Lock", lambda: self.api.lock(
            key, environment=request.get("environment"), queue=request.get("queue"),
            note=request.get("note") or None), "Locked.")

    def unlock(self) -> Awaitable[Any] | None:
        key = self.w.lock_panel.key() or self.api.lock_key
        if not key:
            return None
        return self._send(Action.UNLOCK, "Unlock", lambda: self.api.unlock(key), "Unlocked.")
