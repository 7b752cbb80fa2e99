"""Every server operation the window offers, as one core method each.

Each takes plain arguments, runs one request through the session's :class:`CommandRunner`
(in-flight marking, plain-words errors, reconciliation after a lost reply) and returns an
:class:`~qs_gui.core.outcome.Outcome`. The lock key lives here, in memory only: it is handed to
the client, which sends it with every request that needs it. The UI never touches the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..client import REManagerAPI
from .command_runner import CommandRunner
from .gates import Action
from .outcome import Outcome

#: where an added item goes: {"pos": "back"} / {"pos": "front"} / {"after_uid": …} /
#: {"before_uid": …}; for moves {"pos_dest": "front"|"back"} / {"before_uid": …} / {"after_uid": …}
Position = Mapping[str, Any]
BACK: Position = {"pos": "back"}


class Operations:
    """The operator's commands against one RE Manager (see the module docstring)."""

    def __init__(self, api: REManagerAPI, runner: CommandRunner, *,
                 on_request: Callable[[str], None] | None = None) -> None:
        self._api = api
        self._runner = runner
        #: told of queue_stop / re_stop / re_abort / re_halt before they are sent, so that the
        #: queue's end is reported as requested (core/attention.py)
        self._on_request = on_request or (lambda _request: None)

    # -- the lock key -------------------------------------------------------------------------
    @property
    def lock_key(self) -> str | None:
        return self._api.lock_key

    @property
    def lock_key_set(self) -> bool:
        return bool(self._api.lock_key)

    def set_lock_key(self, key: str | None) -> None:
        """Keep ``key`` in memory; it is sent with every lockable request from now on."""
        self._api.lock_key = key or None
        if key:
            self._api.enable_locked_api = True

    # -- running items --------------------------------------------------------------------------
    async def execute(self, item: Mapping[str, Any], *,
                      action: Action = Action.EXECUTE_NOW) -> Outcome:
        """Execute now (``item_execute``); followed to its outcome by the tracker."""
        return await self._runner.execute_now(item, action=action.value)

    # -- the queue ------------------------------------------------------------------------------
    async def add(self, item: Mapping[str, Any], where: Position = BACK, *,
                  action: Action = Action.QUEUE_ADD, what: str | None = None,
                  done: str | None = None) -> Outcome:
        name = item.get("name")
        return await self._run(action, what or f"Add {name} to the queue",
                               lambda: self._api.item_add(dict(item), **where),
                               done or f"Added {name} to the queue.")

    async def add_batch(self, items: Sequence[Mapping[str, Any]], where: Position = BACK, *,
                        action: Action = Action.QUEUE_ADD_FROM_HISTORY, what: str = "Add items",
                        done: str | None = None) -> Outcome:
        batch = [dict(i) for i in items]
        return await self._run(action, what, lambda: self._api.item_add_batch(batch, **where),
                               done)

    async def update(self, item: Mapping[str, Any], uid: str) -> Outcome:
        """Replace the queue item ``uid`` with ``item`` (``item_update``)."""
        return await self._run(Action.QUEUE_EDIT, f"Save {item.get('name')}",
                               lambda: self._api.item_update({**item, "item_uid": uid}),
                               "Saved the queue item.")

    async def remove(self, uids: Sequence[str]) -> Outcome:
        return await self._run(Action.QUEUE_REMOVE, "Remove items",
                               lambda: self._api.item_remove_batch(uids=list(uids)))

    async def move(self, uids: Sequence[str], target: Position, *,
                   action: Action = Action.QUEUE_MOVE_UP, what: str = "Move") -> Outcome:
        return await self._run(action, what,
                               lambda: self._api.item_move_batch(uids=list(uids), **target))

    async def clear_queue(self) -> Outcome:
        return await self._run(Action.QUEUE_CLEAR, "Clear queue", self._api.queue_clear,
                               "The queue was cleared.")

    async def queue_start(self) -> Outcome:
        return await self._run(Action.QUEUE_START, "Start queue", self._api.queue_start)

    async def queue_stop(self) -> Outcome:
        self._on_request("queue_stop")
        return await self._run(Action.QUEUE_STOP, "Stop queue", self._api.queue_stop,
                               "The queue will stop after this item.")

    async def queue_stop_cancel(self) -> Outcome:
        return await self._run(Action.QUEUE_STOP_CANCEL, "Cancel queue stop",
                               self._api.queue_stop_cancel)

    async def queue_autostart(self, enable: bool) -> Outcome:
        return await self._run(Action.QUEUE_AUTOSTART, "Autostart",
                               lambda: self._api.queue_autostart(enable))

    async def queue_mode(self, name: str, enabled: bool) -> Outcome:
        """Set one queue mode flag ("loop" or "ignore_failures")."""
        return await self._run(Action.QUEUE_MODE, "Queue mode",
                               lambda: self._api.queue_mode_set(**{name: enabled}))

    # -- the history ----------------------------------------------------------------------------
    async def history_clear(self, keep_newest: int = 0) -> Outcome:
        """Clear the history, or keep only its newest ``keep_newest`` items."""
        size = keep_newest if keep_newest > 0 else None
        return await self._run(Action.HISTORY_CLEAR, "Clear history",
                               lambda: self._api.history_clear(size=size), "History cleared.")

    # -- environment and Run Engine -------------------------------------------------------------
    async def environment_open(self) -> Outcome:
        return await self._run(Action.ENV_OPEN, "Open environment", self._api.environment_open,
                               "Opening the worker environment…")

    async def environment_close(self) -> Outcome:
        return await self._run(Action.ENV_CLOSE, "Close environment",
                               self._api.environment_close, "Closing the worker environment…")

    async def environment_update(self) -> Outcome:
        return await self._run(Action.ENV_UPDATE, "Update environment",
                               self._api.environment_update)

    async def environment_destroy(self) -> Outcome:
        return await self._run(Action.ENV_DESTROY, "Destroy environment",
                               self._api.environment_destroy, "Destroying the environment…")

    async def re_pause(self, immediate: bool = False) -> Outcome:
        if immediate:
            return await self._run(Action.RE_PAUSE_IMMEDIATE, "Pause now",
                                   lambda: self._api.re_pause("immediate"))
        return await self._run(Action.RE_PAUSE_DEFERRED, "Pause",
                               lambda: self._api.re_pause("deferred"))

    async def re_resume(self) -> Outcome:
        return await self._run(Action.RE_RESUME, "Resume", self._api.re_resume)

    async def re_stop(self) -> Outcome:
        self._on_request("re_stop")
        return await self._run(Action.RE_STOP, "Stop plan", self._api.re_stop)

    async def re_abort(self) -> Outcome:
        self._on_request("re_abort")
        return await self._run(Action.RE_ABORT, "Abort", self._api.re_abort)

    async def re_halt(self) -> Outcome:
        self._on_request("re_halt")
        return await self._run(Action.RE_HALT, "Halt", self._api.re_halt)

    async def kernel_interrupt(self) -> Outcome:
        return await self._run(Action.KERNEL_INTERRUPT, "Interrupt kernel",
                               self._api.kernel_interrupt)

    # -- locks ----------------------------------------------------------------------------------
    async def lock(self, key: str, *, environment: bool, queue: bool,
                   note: str | None = None) -> Outcome:
        """Lock with ``key`` (which becomes the session's key, so our own requests pass)."""
        self.set_lock_key(key)
        return await self._run(Action.LOCK, "Lock", lambda: self._api.lock(
            key, environment=environment, queue=queue, note=note or None), "Locked.")

    async def unlock(self, key: str | None = None) -> Outcome:
        """Unlock with ``key``, else with the session's key."""
        key = key or self._api.lock_key
        return await self._run(Action.UNLOCK, "Unlock", lambda: self._api.unlock(key),
                               "Unlocked.")

    async def _run(self, action: Action, what: str, call: Any, done: str | None = None) -> Outcome:
        return await self._runner.run(action.value, call, what, done=done)
