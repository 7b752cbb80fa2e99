"""Running one operator command: one request, every failure in plain words, reconciled after a
lost reply (``core/reconcile.py``) and never sent twice."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..client import REManagerAPI
from ..client.exceptions import HTTPError, ReadOnlyError, RequestFailedError, RequestTimeoutError
from . import reconcile as reconcile_module
from .access import Problem, classify
from .gates import Connection
from .outcome import Outcome, OutcomeKind
from .replies import as_mapping, checked_items, server_message
from .session_state import SessionEvents, SessionState
from .tracking import ExecutionTracker

if TYPE_CHECKING:  # a type only: the supervisor is handed in, never imported at run time
    from .connection import ConnectionSupervisor

logger = logging.getLogger(__name__)

RECONCILE_ATTEMPTS = 3  # failed checks while connected before the outcome is declared unknown


class CommandRunner:
    """``run`` / ``execute_now`` and the reconciliation behind them."""

    def __init__(self, api: REManagerAPI, state: SessionState, events: SessionEvents,
                 tracker: ExecutionTracker, health: ConnectionSupervisor) -> None:  # fmt: skip
        self._api = api
        self.state = state
        self.events = events
        self.tracker = tracker
        self.health = health
        self._reconciling: set[asyncio.Task] = set()

    def tasks(self) -> list[asyncio.Task]:
        return list(self._reconciling)

    def stopped(self) -> None:
        self._reconciling.clear()

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
        s, message = self.state, self.events.message
        if action in s.in_flight:
            return Outcome(OutcomeKind.NOT_SENT, error=f"{what} is already in progress")
        s.in_flight.add(action)
        self.events.busy_changed.emit()
        before = reconcile_module.Snapshot(s.queue, s.running_item, s.history)
        keep_busy = False
        try:
            result = await call()
            self.health.control_ok()
        except RequestFailedError as ex:
            self.health.control_ok()
            error = f"{what} refused by the server: {server_message(ex)}"
            message.emit("error", error)
            return Outcome(OutcomeKind.REFUSED, error=error)
        except RequestTimeoutError as ex:
            self.health.control_timeout()
            request = ex.request if isinstance(ex.request, Mapping) else {}
            if reconcile and request.get("method") in reconcile_module.RECONCILABLE_METHODS:
                outcome = await self._reconcile_now(action, request, before, what)
                keep_busy = outcome.reconciled is None
                return outcome if outcome.reconciled is not None else Outcome(
                    OutcomeKind.UNKNOWN, error=outcome.error, timed_out=True,
                    reconciled=reconcile_module.UNKNOWN)
            error = f"{what}: no reply from the RE Manager ({ex})"
            message.emit("error", error)
            return Outcome(OutcomeKind.UNKNOWN, error=error, timed_out=True)
        except HTTPError as ex:
            kind, words = classify(ex) or (Problem.REFUSED, str(ex))
            request = getattr(ex, "qs_request", None) or {}
            # 408 (the gateway's 2 s wait for RE Manager ran out) and a broken exchange may
            # both have been applied: reconciled exactly as a lost 0MQ reply, never re-sent.
            if kind in (Problem.GATEWAY_TIMEOUT, Problem.UNREACHABLE) and reconcile and (
                    request.get("method") in reconcile_module.RECONCILABLE_METHODS):
                message.emit("warning", f"{what}: {words}. Checking what happened…")
                outcome = await self._reconcile_now(action, request, before, what)
                keep_busy = outcome.reconciled is None
                return outcome if outcome.reconciled is not None else Outcome(
                    OutcomeKind.UNKNOWN, error=outcome.error, timed_out=True,
                    reconciled=reconcile_module.UNKNOWN)
            if kind is Problem.LOGIN:
                self.health.login_refused(words)
            error = f"{what} failed: {words}"
            message.emit("error", error)
            unknown = kind in (Problem.GATEWAY_TIMEOUT, Problem.UNREACHABLE)
            return Outcome(OutcomeKind.UNKNOWN if unknown else OutcomeKind.REFUSED, error=error,
                           timed_out=unknown)
        except ReadOnlyError as ex:
            error = f"{what} not sent: {ex}"
            message.emit("error", error)
            return Outcome(OutcomeKind.READ_ONLY, error=error)
        except (TypeError, ValueError, RuntimeError) as ex:
            error = f"{what} not sent: {ex}"
            message.emit("error", error)
            return Outcome(OutcomeKind.NOT_SENT, error=error)
        finally:
            if not keep_busy:
                s.in_flight.discard(action)
            self.events.busy_changed.emit()
            if not self.health.use_monitor:
                self.health.poll_soon()
        if done:
            message.emit("info", done)
        return Outcome(OutcomeKind.DONE, result=result)

    async def execute_now(self, item: Mapping[str, Any], action: str = "execute_now") -> Outcome:
        """Execute one item now; follow it to its outcome; reconcile after a lost reply."""
        name = item.get("name", "item")
        outcome = await self.run(action, lambda: self._api.item_execute(dict(item)),
                                 f"Execute now ({name})")
        if outcome.ok and outcome.reconciled is None:
            started = outcome.result.get("item", {}) if isinstance(outcome.result, Mapping) else {}
            started = started if isinstance(started, Mapping) else {}
            self.tracker.started(started)
            uid = started.get("item_uid")
            self.events.message.emit("info", f"Started {name} (uid "
                                             f"{uid[:8] if isinstance(uid, str) else '?'}).")
        return outcome

    # -- after a lost reply -----------------------------------------------------------------
    async def _server_state(self, method: str) -> reconcile_module.ServerState:
        """The queue (and, when it matters, the history) as the server has it now."""
        reply = as_mapping(await self._api.queue_get(reload=True), "queue_get")
        queue = checked_items(reply, "items")
        running = reply.get("running_item") or {}
        history = None
        # A history too large to read automatically is not read here either: the verdict then
        # says the history could not be checked (the operator may load it and look).
        if method in reconcile_module.NEEDS_HISTORY and not self.health.policy.too_costly():
            history = checked_items(
                as_mapping(await self._api.history_get(reload=True), "history_get"), "items")
        return reconcile_module.ServerState(
            queue, running if isinstance(running, Mapping) else {}, history)

    async def _reconcile_now(self, action: str, request: Mapping[str, Any],
                             before: reconcile_module.Snapshot, what: str) -> Outcome:
        """Decide now if the server can be asked; else hand over to a background check and
        return an Outcome with ``reconciled`` None (the caller keeps ``action`` busy)."""
        try:
            after = await self._server_state(request.get("method"))
            self.health.control_ok()
        except asyncio.CancelledError:
            raise
        except Exception as ex:  # unreachable or nonsense: ask again when it is back
            logger.debug("reconcile fetch failed: %s", ex)
            if isinstance(ex, RequestTimeoutError):
                self.health.control_timeout()
            text = (f"{what}: no reply from the RE Manager, and it cannot be asked what "
                    f"happened yet. {reconcile_module.NOT_RESENT} qs-gui will check as soon as "
                    f"the connection returns.")
            self.events.message.emit("warning", text)
            task = asyncio.ensure_future(self._reconcile_later(action, request, before, what))
            self._reconciling.add(task)
            task.add_done_callback(self._reconciling.discard)
            return Outcome(OutcomeKind.UNKNOWN, error=text, timed_out=True)
        return self._conclude(request, before, after, what)

    async def _reconcile_later(self, action: str, request: Mapping[str, Any],
                               before: reconcile_module.Snapshot, what: str) -> None:
        """Wait for the server, then check; ``action`` stays in flight meanwhile."""
        deadline = time.monotonic() + self.health.timing.reconcile_give_up
        attempts = 0  # failed checks while connected: a server that answers pushes but not us
        try:
            while time.monotonic() < deadline and attempts < RECONCILE_ATTEMPTS:
                if not await self.health.wait_connected(deadline - time.monotonic()):
                    break
                try:
                    after = await self._server_state(request.get("method"))
                except asyncio.CancelledError:
                    raise
                except Exception as ex:
                    logger.debug("reconcile fetch failed again: %s", ex)
                    if self.state.connection is Connection.CONNECTED:
                        attempts += 1
                    if isinstance(ex, RequestTimeoutError):
                        self.health.control_timeout()
                    await asyncio.sleep(self.health.timing.backoff[-1])
                    continue
                self._conclude(request, before, after, what)
                return
            self.events.message.emit(
                "error", f"{what}: the RE Manager could not be asked what happened, so whether "
                         f"the request took effect is unknown. {reconcile_module.NOT_RESENT} "
                         f"Check the queue and history before sending it again.")
        finally:
            self.state.in_flight.discard(action)
            self.events.busy_changed.emit()

    def _conclude(self, request: Mapping[str, Any], before: reconcile_module.Snapshot,
                  after: reconcile_module.ServerState, what: str) -> Outcome:
        verdict = reconcile_module.decide(request, before, after, what)
        level = {"applied": "warning", "not_applied": "warning"}.get(verdict.verdict, "error")
        self.events.message.emit(level, verdict.message)
        if request.get("method") == "queue_item_execute" and verdict.applied and verdict.item:
            self._follow(verdict.item)
        if verdict.applied:
            reply = {"success": True, "msg": verdict.message, "reconciled": True}
            if verdict.item is not None:
                reply["item"] = dict(verdict.item)
            if verdict.items:
                reply["items"] = [dict(i) for i in verdict.items]
            return Outcome(OutcomeKind.DONE, result=reply, timed_out=True,
                           reconciled=verdict.verdict)
        kind = (OutcomeKind.NOT_APPLIED if verdict.verdict == reconcile_module.NOT_APPLIED
                else OutcomeKind.UNKNOWN)
        return Outcome(kind, error=verdict.message, timed_out=True, reconciled=verdict.verdict)

    def _follow(self, item: Mapping[str, Any]) -> None:
        """Track an executed item found by reconciliation (running, or already in history)."""
        self.tracker.started(item)
        if isinstance(item.get("result"), Mapping):
            self.tracker.on_history([item])
        elif self.state.status is not None:
            self.tracker.on_status(self.state.status)
