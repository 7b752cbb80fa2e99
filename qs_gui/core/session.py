"""The live view of one RE Manager: one object the window holds, composed of parts with one job
each over one :class:`~qs_gui.core.session_state.SessionState`:

* :class:`~qs_gui.core.connection.ConnectionSupervisor` — push-first status, the watchdog poll,
  the control channel's health (``core/connection.py``);
* :class:`~qs_gui.core.fetching.Fetcher` — queue, history, plans, devices and lock info, read
  when their ``*_uid`` changes (``core/fetching.py``);
* :class:`~qs_gui.core.command_runner.CommandRunner` — one request per command, plain-words
  errors, reconciliation after a lost reply (``core/command_runner.py``), behind
  :class:`~qs_gui.core.operations.Operations`, the only way views reach the server;
* :class:`~qs_gui.core.tracking.ExecutionTracker` — Execute now followed to its outcome.

Everything runs as tasks on the asyncio (qasync) loop; nothing here blocks or knows about Qt.
The client object stays inside: views get state, events and ``ops``, never the client.

Robustness (tests/reliability, docs/reliability.md): a lost reply is never re-sent (queue
changes are reconciled from the server's state, waiting for it while it is unreachable); whatever
the server sends is checked before it reaches a view; polls adapt to a slow server; info-socket
floods are read in time-boxed batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..client import Protocols, REManagerAPI
from ..client.exceptions import HTTPError, RequestFailedError, RequestParameterError
from .access import Principal, Problem, classify, detail, login_name, principal_from
from .attention import Attention, Failure
from .command_runner import CommandRunner
from .connection import BULK_METHODS, ConnectionSupervisor, Timing
from .fetching import ALL_FETCH, TILE_FETCH, UID_KEYS, Fetcher
from .gates import Connection
from .history_policy import HistoryPolicy, Staleness
from .operations import Operations
from .operator_state import OperatorState
from .outcome import Outcome, OutcomeKind
from .replies import STATUS_TYPES, MalformedReply, sanitize_status
from .session_state import SessionEvents, SessionState
from .tracking import ExecutionTracker

__all__ = ["ALL_FETCH", "BULK_METHODS", "STATUS_TYPES", "TILE_FETCH", "UID_KEYS",
           "MalformedReply", "Outcome", "OutcomeKind", "Session", "Timing", "sanitize_status"]


class Session:
    """Owns the client's background work and the latest server state (see module docstring)."""

    def __init__(self, api: REManagerAPI, *, use_monitor: bool = True, console: bool = True,
                 timing: Timing | None = None, history_policy: HistoryPolicy | None = None,
                 fetch: frozenset[str] = ALL_FETCH) -> None:  # fmt: skip
        """``fetch``: what is read besides the status (``core/fetching``); ``TILE_FETCH`` makes
        a status-only session for an overview tile (lock info, the history under its policy,
        the running item's name while the queue is small; never the queue, plans or
        devices)."""
        self._api = api
        self.state = SessionState(address=api.server_address)
        self.events = SessionEvents()
        self.tracker = ExecutionTracker()
        self.history_policy = history_policy or HistoryPolicy()
        self.supervisor = ConnectionSupervisor(
            api, self.state, self.events, self.tracker, timing=timing or Timing(),
            use_monitor=use_monitor, console=console,
            on_verified_status=self._on_verified_status,
            on_control_lost=lambda: self.fetcher.cancel_pending(),
            policy=self.history_policy)
        self.fetcher = Fetcher(api, self.state, self.events, self.tracker, self.supervisor,
                               self.history_policy, fetch=fetch)
        self.runner = CommandRunner(api, self.state, self.events, self.tracker, self.supervisor)
        self.attention = Attention(self.state, self.events, self.tracker)
        self.attention.queue_wanted.connect(self.fetcher.read_queue_front)
        self.ops = Operations(api, self.runner, on_request=self.attention.expect)
        e = self.events  # the events as attributes: session.status_changed.connect(…)
        self.connection_changed, self.status_changed = e.connection_changed, e.status_changed
        self.queue_changed, self.history_changed = e.queue_changed, e.history_changed
        self.plans_changed, self.devices_changed = e.plans_changed, e.devices_changed
        self.lock_info_changed, self.console_text = e.lock_info_changed, e.console_text
        self.message, self.busy_changed = e.message, e.busy_changed
        self.principal_changed, self.login_required = e.principal_changed, e.login_required
        self.server_busy_changed = e.server_busy_changed  #: (text | None)
        self.history_policy_changed = e.history_policy_changed  #: ()
        self.operator_state_changed = self.attention.changed  #: (OperatorState)
        self.alarm_changed = self.attention.alarm_changed  #: (Failure | None)
        self._principal_task: asyncio.Task | None = None
        self._login_name: str | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the watchdog and (if enabled) the info-socket subscriber."""
        self.supervisor.start()

    async def stop(self) -> None:
        """Cancel every task and close the client."""
        tasks = self.supervisor.tasks() + self.fetcher.tasks() + self.runner.tasks()
        if self._principal_task is not None:
            tasks.append(self._principal_task)
        self.supervisor.running = False
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.supervisor.stopped()
        self.fetcher.stopped()
        self.runner.stopped()
        await self._api.close()

    # -- identity (HTTP) ---------------------------------------------------------------------
    @property
    def protocol(self) -> str:
        """"ZMQ" or "HTTP"."""
        return str(getattr(self._api.protocol, "value", self._api.protocol))

    @property
    def auth_method(self) -> str:
        """"api_key", "token" or "none" over HTTP; "" over 0MQ (no identity)."""
        if self.protocol != Protocols.HTTP:
            return ""
        method = self._api.auth_method
        return str(getattr(method, "value", method)).lower()

    @property
    def principal(self) -> Principal | None:
        return self.state.principal

    @property
    def scopes(self) -> frozenset[str] | None:
        """What the gates allow: None over 0MQ; over HTTP the user's scopes (none until they
        are known, so nothing is offered that the gateway may refuse)."""
        if self.protocol != Protocols.HTTP:
            return None
        principal = self.state.principal
        return principal.scopes if principal is not None else frozenset()

    async def login(self, username: str, password: str, provider: str) -> str | None:
        """Log in over HTTP; None on success, else the reason in plain words. The password
        goes to the gateway and is not kept."""
        provider = provider.strip()
        if provider and "/" not in provider.strip("/"):
            provider = f"{provider}/token"  # the provider's name; its password route is /token
        try:
            await self._api.login(username, password=password, provider=provider)
        except RequestParameterError as ex:
            return str(ex)
        except HTTPError as ex:
            kind, words = classify(ex) or (Problem.REFUSED, str(ex))
            if kind in (Problem.LOGIN, Problem.REFUSED):
                words = detail(ex)  # the gateway's words: "Incorrect username or password"
            return f"Login failed: {words}"
        except RequestFailedError as ex:
            return f"Login failed: {ex}"
        except Exception as ex:  # a timeout or a closed client: say it in the dialog
            return f"Login failed: {ex}"
        self._login_name = username.strip()
        self.supervisor.login_renewed()
        self._schedule_principal()
        return None

    def _on_verified_status(self, status: dict, reconnected: bool) -> None:
        if self.protocol == Protocols.HTTP and (reconnected or self.state.principal is None):
            self._schedule_principal()
        self.fetcher.on_status(status, reconnected)

    def _schedule_principal(self) -> None:
        if self._principal_task is None or self._principal_task.done():
            self._principal_task = asyncio.ensure_future(self._load_principal())

    async def _load_principal(self) -> None:
        """Who is logged in and their scopes (``api_scopes``; ``whoami`` for the name)."""
        api = self._api
        try:
            reply = await api.api_scopes()
            roles = reply.get("roles") or [] if isinstance(reply, dict) else []
            method = self.auth_method
            if "unauthenticated_single_user" in roles:
                name = "single-user API key"  # whoami answers 500 in this mode: not asked
            else:
                name = login_name(await api.whoami()) or self._login_name or "unknown user"
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            problem = classify(ex)
            if problem and problem[0] is Problem.LOGIN:
                self.supervisor.login_refused(problem[1])
            words = problem[1] if problem else str(ex)
            self.events.message.emit("warning", f"Could not read your permissions: {words}. "
                                                "Actions stay disabled until they are known.")
            return
        principal = principal_from(reply, name=name, method=method)
        if principal != self.state.principal:
            self.state.principal = principal
            self.events.principal_changed.emit(principal)

    def poll_soon(self) -> None:
        """Ask the watchdog for a status poll now (after a command, for servers without push)."""
        self.supervisor.poll_soon()

    # -- commands -----------------------------------------------------------------------------
    async def run(self, action: str, call: Callable[[], Awaitable[Any]], what: str,
                  *, done: str | None = None, reconcile: bool = True) -> Outcome:
        """One command through the runner (see :meth:`CommandRunner.run`)."""
        return await self.runner.run(action, call, what, done=done, reconcile=reconcile)

    async def execute_now(self, item: Mapping[str, Any], action: str = "execute_now") -> Outcome:
        return await self.runner.execute_now(item, action=action)

    # -- the history policy ---------------------------------------------------------------------
    def load_history_now(self) -> None:
        """Read the history now, whatever it costs the server: the operator's explicit choice
        (the window confirms it when ``history_withheld`` is set)."""
        self.fetcher.load_history_now()

    @property
    def history_withheld(self) -> str | None:
        """Why the history is not read automatically (None: it is), e.g. "the history has
        100,000 items; reading it blocks the RE Manager for about 6 s, and its watchdog
        restarts it after 5 s"."""
        return self.state.history_withheld

    @property
    def history_note(self) -> str:
        """Why the shown history may be behind (coalesced or withheld); "" when it is not."""
        return self.fetcher.history_note

    @property
    def history_staleness(self) -> Staleness:
        """Changes not read yet and the time since the shown history was read."""
        return self.history_policy.staleness

    @property
    def fetch(self) -> frozenset[str]:
        """The categories this session reads (``TILE_FETCH`` for a status-only tile)."""
        return self.fetcher.fetch

    @property
    def running_name_skipped(self) -> str | None:
        """Why the running item's name is not read (a status-only session and a long queue);
        None when it is read or nothing runs."""
        return self.fetcher.running_skipped

    @property
    def server_busy(self) -> str | None:
        """What the (slow, but there) server is busy with; None when it answers promptly."""
        return self.state.server_busy

    # -- what the views read ------------------------------------------------------------------
    @property
    def operator_state(self) -> OperatorState:
        """What the banner shows (core/attention.py)."""
        return self.attention.current

    @property
    def alarm(self) -> Failure | None:
        """The failure the operator has not acknowledged yet."""
        return self.attention.failure

    def acknowledge_alarm(self) -> None:
        self.attention.acknowledge()

    @property
    def address(self) -> str:
        return self.state.address

    @property
    def use_monitor(self) -> bool:
        return self.supervisor.use_monitor

    @property
    def timing(self) -> Timing:
        return self.supervisor.timing

    @property
    def request_timeout(self) -> float:
        return self.supervisor.request_timeout

    @property
    def poll_timeout(self) -> float:
        return self.supervisor.poll_timeout

    @property
    def connection(self) -> Connection:
        return self.state.connection

    @property
    def connection_detail(self) -> str:
        return self.state.connection_detail

    @property
    def status(self) -> dict[str, Any] | None:
        return self.state.status

    @property
    def queue(self) -> list[dict]:
        return self.state.queue

    @property
    def running_item(self) -> dict:
        return self.state.running_item

    @property
    def history(self) -> list[dict]:
        return self.state.history

    @property
    def plans_allowed(self) -> dict[str, Any]:
        return self.state.plans_allowed

    @property
    def devices_allowed(self) -> dict[str, Any]:
        return self.state.devices_allowed

    @property
    def lock_info(self) -> dict[str, Any] | None:
        return self.state.lock_info

    @property
    def in_flight(self) -> set[str]:
        return self.state.in_flight

    @property
    def pushes_received(self) -> int:
        return self.state.pushes_received

    @property
    def polls_sent(self) -> int:
        return self.state.polls_sent

    @property
    def malformed_replies(self) -> int:
        return self.state.malformed_replies
