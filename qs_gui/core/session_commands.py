"""Operator commands: one request each, every failure in plain words, reconciled after a lost
reply (``core/reconcile.py``) and never sent twice. A mixin of ``Session``, whose connection
state and events it uses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client.exceptions import ReadOnlyError, RequestFailedError, RequestTimeoutError
from . import reconcile as reconcile_module
from .gates import Connection
from .replies import as_mapping, checked_items, server_message

logger = logging.getLogger(__name__)

RECONCILE_ATTEMPTS = 3  # failed checks while connected before the outcome is declared unknown


@dataclass(frozen=True)
class Outcome:
    """Result of one operator command."""

    ok: bool
    result: Any = None
    error: str = ""
    timed_out: bool = False
    #: after a lost reply: "applied", "not_applied" or "unknown" (see core/reconcile.py);
    #: ``ok`` is True when the server's state shows the request took effect
    reconciled: str | None = None


class SessionCommands:
    """``run`` / ``execute_now`` and the reconciliation behind them (mixed into Session)."""

    # -- commands ---------------------------------------------------------------------------
    async def run(self, action: str, call: Callable[[], Awaitable[Any]], what: str,
                  *, done: str | None = None, reconcile: bool = True) -> Outcome:
        """Send one operator command; every failure becomes a plain-words message.

        ``action`` is marked in flight for the gates while the request is out, so a second
        click cannot send it again. When the reply to a queue-changing request is lost
        (``reconcile``, on by default; see ``core/reconcile.RECONCILABLE_METHODS``), the request
        is not sent again: the server's state is fetched and the operator told whether it took
        effect. If the server cannot be asked, ``action`` stays in flight until it can (or
        ``Timing.reconcile_give_up`` passes), so the same request cannot be sent twice.
        """
        if action in self.in_flight:
            return Outcome(False, error=f"{what} is already in progress")
        self.in_flight.add(action)
        self.busy_changed.emit()
        before = reconcile_module.Snapshot(self.queue, self.running_item, self.history)
        keep_busy = False
        try:
            result = await call()
            self._control_ok()
        except RequestFailedError as ex:
            self._control_ok()
            error = f"{what} refused by the server: {server_message(ex)}"
            self.message.emit("error", error)
            return Outcome(False, error=error)
        except RequestTimeoutError as ex:
            self._control_timeout()
            request = ex.request if isinstance(ex.request, Mapping) else {}
            if reconcile and request.get("method") in reconcile_module.RECONCILABLE_METHODS:
                outcome = await self._reconcile_now(action, request, before, what)
                keep_busy = outcome.reconciled is None
                if outcome.reconciled is not None:
                    return outcome
                return Outcome(False, error=outcome.error, timed_out=True,
                               reconciled=reconcile_module.UNKNOWN)
            error = f"{what}: no reply from the RE Manager ({ex})"
            self.message.emit("error", error)
            return Outcome(False, error=error, timed_out=True)
        except (ReadOnlyError, TypeError, ValueError, RuntimeError) as ex:
            error = f"{what} not sent: {ex}"
            self.message.emit("error", error)
            return Outcome(False, error=error)
        finally:
            if not keep_busy:
                self.in_flight.discard(action)
            self.busy_changed.emit()
            if not self.use_monitor:
                self.poll_soon()
        if done:
            self.message.emit("info", done)
        return Outcome(True, result=result)

    async def _server_state(self, method: str) -> reconcile_module.ServerState:
        """The queue (and, when it matters, the history) as the server has it now."""
        reply = as_mapping(await self.api.queue_get(reload=True), "queue_get")
        queue = checked_items(reply, "items")
        running = reply.get("running_item") or {}
        history = None
        if method in reconcile_module.NEEDS_HISTORY:
            history = checked_items(
                as_mapping(await self.api.history_get(reload=True), "history_get"), "items")
        return reconcile_module.ServerState(
            queue, running if isinstance(running, Mapping) else {}, history)

    async def _reconcile_now(self, action: str, request: Mapping[str, Any],
                             before: reconcile_module.Snapshot, what: str) -> Outcome:
        """Decide now if the server can be asked; else hand over to a background check and
        return an Outcome with ``reconciled`` None (the caller keeps ``action`` busy)."""
        try:
            after = await self._server_state(request.get("method"))
            self._control_ok()
        except asyncio.CancelledError:
            raise
        except Exception as ex:  # unreachable or nonsense: ask again when it is back
            logger.debug("reconcile fetch failed: %s", ex)
            if isinstance(ex, RequestTimeoutError):
                self._control_timeout()
            text = (f"{what}: no reply from the RE Manager, and it cannot be asked what "
                    f"happened yet. {reconcile_module.NOT_RESENT} qs-gui will check as soon as "
                    f"the connection returns.")
            self.message.emit("warning", text)
            task = asyncio.ensure_future(self._reconcile_later(action, request, before, what))
            self._reconciling.add(task)
            task.add_done_callback(self._reconciling.discard)
            return Outcome(False, error=text, timed_out=True)
        return self._conclude(request, before, after, what)

    async def _reconcile_later(self, action: str, request: Mapping[str, Any],
                               before: reconcile_module.Snapshot, what: str) -> None:
        """Wait for the server, then check; ``action`` stays in flight meanwhile."""
        if self._reconnected is None:
            self._reconnected = asyncio.Event()
        deadline = time.monotonic() + self.timing.reconcile_give_up
        attempts = 0  # failed checks while connected: a server that answers pushes but not us
        try:
            while time.monotonic() < deadline and attempts < RECONCILE_ATTEMPTS:
                if self.connection is not Connection.CONNECTED:
                    self._reconnected.clear()
                    try:
                        await asyncio.wait_for(self._reconnected.wait(),
                                               max(0.0, deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                try:
                    after = await self._server_state(request.get("method"))
                except asyncio.CancelledError:
                    raise
                except Exception as ex:
                    logger.debug("reconcile fetch failed again: %s", ex)
                    if self.connection is Connection.CONNECTED:
                        attempts += 1
                    if isinstance(ex, RequestTimeoutError):
                        self._control_timeout()
                    await asyncio.sleep(self.timing.backoff[-1])
                    continue
                self._conclude(request, before, after, what)
                return
            self.message.emit("error", f"{what}: the RE Manager could not be asked what "
                                       f"happened, so whether the request took effect is "
                                       f"unknown. {reconcile_module.NOT_RESENT} Check the queue "
                                       f"and history before sending it again.")
        finally:
            self.in_flight.discard(action)
            self.busy_changed.emit()

    def _conclude(self, request: Mapping[str, Any], before: reconcile_module.Snapshot,
                  after: reconcile_module.ServerState, what: str) -> Outcome:
        verdict = reconcile_module.decide(request, before, after, what)
        level = {"applied": "warning", "not_applied": "warning"}.get(verdict.verdict, "error")
        self.message.emit(level, verdict.message)
        if request.get("method") == "queue_item_execute" and verdict.applied and verdict.item:
            self._follow(verdict.item)
        if verdict.applied:
            reply = {"success": True, "msg": verdict.message, "reconciled": True}
            if verdict.item is not None:
                reply["item"] = dict(verdict.item)
            if verdict.items:
                reply["items"] = [dict(i) for i in verdict.items]
            return Outcome(True, result=reply, timed_out=True, reconciled=verdict.verdict)
        return Outcome(False, error=verdict.message, timed_out=True, reconciled=verdict.verdict)

    def _follow(self, item: Mapping[str, Any]) -> None:
        """Track an executed item found by reconciliation (running, or already in history)."""
        self.tracker.started(item)
        if isinstance(item.get("result"), Mapping):
            self.tracker.on_history([item])
        elif self.status is not None:
            self.tracker.on_status(self.status)

    async def execute_now(self, item: Mapping[str, Any], action: str = "execute_now") -> Outcome:
        """Execute one item now; follow it to its outcome; reconcile after a lost reply."""
        name = item.get("name", "item")
        outcome = await self.run(action, lambda: self.api.item_execute(dict(item)),
                                 f"Execute now ({name})")
        if outcome.ok and outcome.reconciled is None:
            started = outcome.result.get("item", {}) if isinstance(outcome.result, Mapping) else {}
            started = started if isinstance(started, Mapping) else {}
            self.tracker.started(started)
            uid = started.get("item_uid")
            self.message.emit("info", f"Started {name} (uid "
                                      f"{uid[:8] if isinstance(uid, str) else '?'}).")
        return outcome
