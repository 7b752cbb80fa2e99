"""The control-room overview: one tile per beamline, from status-only sessions. Qt-free.

Why it is built this way:

* **One tile, one ordinary session.** A tile is a :class:`~qs_gui.core.session.Session` built
  with ``fetch=TILE_FETCH``: the same connection supervision (push first, watchdog, offline
  within 2 s), the same Attention (operator state, failed-item alarm) and history policy as a
  full window, but it never reads the queue, plans or devices. Its only reads besides the status
  are the lock info (on ``lock_info_uid`` changes), the history while the history policy finds
  it affordable, and ``queue_get`` for the running plan's name when ``running_item_uid`` changes
  and the queue is short (``core/fetching``: the name is in no cheaper reply of RE Manager
  0.0.25). A document stream, when one is configured, may supply the name, progress and ETA
  instead (:meth:`TileModel.set_progress`).
* **No repaint storms.** :class:`TileModel` derives one frozen :class:`TileState` from the
  session and emits ``changed`` only when it differs from the last one; the 1 Hz status push
  that changes nothing emits nothing (the session already drops pushes whose fields did not
  change). The age of the last change is ``changed_at`` (a time), not a ticking number.
* **Alarms from the existing rules.** A failed item comes from Attention (``alarm_changed``), an
  unexpected pause and the environment closing from :class:`~qs_gui.core.notify_rules.NotifyRules`
  (only those two kinds enabled), going offline from the supervisor's connection state. Each
  raises the tile's :class:`TileAlarm` (latched: it stays until acknowledged, even once the
  condition is over), one ``notify`` (the alarm is a duck-typed ``Notice``: kind, title, text,
  level) and one :class:`OverviewLog` entry.
* **Independent tiles.** Every session is its own tasks and sockets on the one loop; nothing in
  a tile waits for another, so a dead or slow server delays nobody else's tile
  (tests/core/test_overview.py proves it with 24 fake beamlines).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .attention import Failure
from .clients import tile_session
from .events import Event
from .gates import Connection
from .history_items import outcome
from .notify_rules import Kind, Notice, NotifyRules
from .operator_state import OperatorState, StateKind
from .profiles import DEFAULT_COLOUR, Profile
from .progress import Progress
from .session import Session

__all__ = ["CONNECTION_WORDS", "NOT_READ", "AlarmKind", "LastOutcome", "LogEntry", "Overview",
           "OverviewLog", "StateKind", "TileAlarm", "TileEntry", "TileModel", "TileState",
           "is_alarm", "tile_session", "zmq_tile_session"]

#: connection -> the tile's word for it
CONNECTION_WORDS = {Connection.OFFLINE: "offline", Connection.CONNECTING: "connecting",
                    Connection.NO_STATUS: "connected", Connection.CONNECTED: "connected"}
_RUNNING = frozenset({"executing_queue", "starting_queue"})
_BUSY = _RUNNING | {"paused"}
_CLOSING = frozenset({"closing_environment", "destroying_environment"})
_OUTCOME_ROLES = {"completed": "ok", "stopped": "attention", "failed": "alarm",
                  "aborted": "alarm", "halted": "alarm"}
NOT_READ = "finished — result not read"


class AlarmKind(str, enum.Enum):
    FAILED = "failed"  #: a queue item failed, was aborted or halted (Attention)
    PAUSED = "paused"  #: paused, not at this client's request (NotifyRules)
    ENV_CLOSED = "env_closed"  #: the environment closed while the queue ran, or vanished
    OFFLINE = "offline"  #: the server stopped answering


@dataclass(frozen=True)
class TileAlarm:
    """A raised alarm in words. Also a ``Notice`` for ``ui/notifications.Notifier.notify``
    (kind, title, text, level); ``title`` names the beamline."""

    kind: AlarmKind
    title: str  #: "ID12: Queue stopped: scan failed"
    text: str  #: what happened, in plain words
    at: float  #: when it was raised (the model's clock: wall time by default)
    level: str = "error"  #: "error" or "warning" (a Messages/notice level)
    over: bool = False  #: the condition has ended (back online, resumed…); still unacknowledged
    uid: str = ""  #: the failed item's uid (FAILED)

    @property
    def role(self) -> str:
        """The colour role while unacknowledged ("alarm" red, "attention" amber)."""
        return "alarm" if self.level == "error" else "attention"


@dataclass(frozen=True)
class LastOutcome:
    """The last finished item as far as known."""

    kind: str  #: "none", "unread", or the exit status ("completed", "failed", …)
    text: str  #: "scan failed: motor out of limits" / "finished — result not read" / ""
    role: str = "off"  #: colour role: "ok", "attention", "alarm", "off"
    #: the history is not read (withheld or not yet): offer ``Session.load_history_now``
    can_read: bool = False
    reason: str = ""  #: why the history is not read automatically ("" when it is)


NO_OUTCOME = LastOutcome("none", "")


@dataclass(frozen=True)
class TileState:
    """Everything one tile shows (compare two with ``==``)."""

    name: str  #: the profile's name (the beamline)
    colour: str  #: the profile's colour band, #rrggbb
    connection: str  #: "offline", "connecting" or "connected"
    connection_detail: str
    state: OperatorState  #: kind, headline, detail, colour role, lock flag (operator words)
    environment: str  #: "open", "closed", "opening", "closing" or "unknown" (offline)
    running_name: str | None  #: the running plan's name, when known
    running_text: str  #: "" (nothing runs), the name, or "a plan (name not read)"
    running_uid: str
    queue_length: int | None  #: items_in_queue (the last known while offline)
    queue: str  #: "running", "stopping", "paused", "stopped" or "unknown" (offline)
    outcome: LastOutcome
    locked: bool
    lock_text: str  #: "" or "Environment and queue locked by alice: beam tuning"
    lock_user: str
    lock_note: str
    progress: float | None  #: 0..1 from the document stream (None: not configured/unknown)
    eta: float | None  #: seconds left, from the document stream
    changed_at: float | None  #: when the server's status last changed (the model's clock)
    alarm: TileAlarm | None  #: the latched alarm (None: none, or acknowledged and over)
    acknowledged: bool  #: the operator saw ``alarm`` (its condition still holds)

    @property
    def role(self) -> str:
        """The tile's colour role: the unacknowledged alarm's, else the operator state's."""
        if self.alarm is not None and not self.acknowledged:
            return self.alarm.role
        return self.state.role

    def since_change(self, now: float) -> float | None:
        """Seconds since the last change at ``now`` (same clock as ``changed_at``)."""
        return None if self.changed_at is None else max(0.0, now - self.changed_at)


@dataclass(frozen=True)
class LogEntry:
    at: float  #: wall time
    beamline: str
    text: str
    level: str = "info"  #: "info", "warning" or "error"


class OverviewLog:
    """The overview's event log: time, beamline, words (the newest last, bounded)."""

    def __init__(self, max_entries: int = 2000) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=max_entries)
        self.added = Event("overview_log_added")  #: (LogEntry)

    def add(self, at: float, beamline: str, text: str, level: str = "info") -> LogEntry:
        entry = LogEntry(at, beamline, text, level)
        self.entries.append(entry)
        self.added.emit(entry)
        return entry

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)


def _environment(status: Mapping[str, Any] | None) -> str:
    if not isinstance(status, Mapping):
        return "unknown"
    state = status.get("manager_state")
    if state == "creating_environment":
        return "opening"
    if state in _CLOSING or status.get("worker_environment_state") == "closing":
        return "closing"
    return "open" if status.get("worker_environment_exists") is True else "closed"


def _queue(status: Mapping[str, Any] | None) -> str:
    if not isinstance(status, Mapping):
        return "stopped"
    state = status.get("manager_state")
    if state == "paused":
        return "paused"
    if state in _RUNNING:
        return "stopping" if status.get("queue_stop_pending") is True else "running"
    return "stopped"


def _lock(status: Mapping[str, Any] | None, info: Mapping[str, Any] | None
          ) -> tuple[bool, str, str, str]:  # fmt: skip
    """(locked, text, user, note): the status flags say whether; ``lock_info`` says who."""
    flags = status.get("lock") if isinstance(status, Mapping) else None
    source = flags if isinstance(flags, Mapping) else info if isinstance(info, Mapping) else {}
    env, queue = source.get("environment") is True, source.get("queue") is True
    if not (env or queue):
        return False, "", "", ""
    text = "Environment and queue locked" if env and queue else (
        "Environment locked" if env else "Queue locked")
    user = note = ""
    if isinstance(info, Mapping) and (info.get("environment") or info.get("queue")):
        user = info.get("user") if isinstance(info.get("user"), str) else ""
        note = info.get("note") if isinstance(info.get("note"), str) else ""
        text += f" by {user}" if user else ""
        text += f": {note}" if note else ""
    return True, text, user, note


def _last_outcome(history: Sequence[Mapping[str, Any]], status: Mapping[str, Any] | None,
                  withheld: str | None, waiting: str) -> LastOutcome:  # fmt: skip
    """From the history's newest entry while the history is read as it changes (a read about
    to happen keeps the last outcome meanwhile, so the tile does not flicker); "finished —
    result not read" while the history is withheld or its reads are coalesced (``waiting``),
    or not read yet."""
    on_server = status.get("items_in_history") if isinstance(status, Mapping) else None
    if withheld or waiting:
        return LastOutcome("unread", NOT_READ, "off", can_read=True, reason=withheld or waiting)
    if history:
        entry = history[-1]
        result = outcome(entry)
        status_word = result.get("exit_status")
        kind = status_word if isinstance(status_word, str) and status_word else "unknown"
        name = entry.get("name")
        name = name if isinstance(name, str) and name else "the item"
        text = f"{name} {kind}"
        msg = result.get("msg")
        if kind != "completed" and isinstance(msg, str) and msg.strip():
            text += f": {msg.strip().splitlines()[0]}"
        return LastOutcome(kind, text, _OUTCOME_ROLES.get(kind, "attention"))
    if isinstance(on_server, int) and on_server > 0:
        return LastOutcome("unread", NOT_READ, "off")  # the first read is on its way
    return NO_OUTCOME


class TileModel:
    """One beamline's tile, derived from a (status-only) session; see the module docstring.

    Events: ``changed(TileState)`` when what the tile shows changed; ``notify(TileAlarm)`` once
    per raised alarm; ``logged(text, level)`` for the overview log (alarms, acknowledgements,
    back online, a requested environment close).
    """

    def __init__(self, session: Session, profile: Profile | None = None, *,
                 clock: Callable[[], float] = time.time,
                 rules: NotifyRules | None = None) -> None:  # fmt: skip
        self.session = session
        self.profile = profile
        self.name = profile.name if profile is not None else session.address
        self.colour = profile.colour if profile is not None else DEFAULT_COLOUR
        self.clock = clock
        self.changed = Event("tile_changed")  #: (TileState)
        self.notify = Event("tile_notify")  #: (TileAlarm): one desktop notification
        self.logged = Event("tile_logged")  #: (text, level)
        # the existing rules, only the two kinds a tile alarms on (the failure is Attention's)
        self.rules = rules or NotifyRules(
            enabled=(Kind.UNEXPECTED_PAUSE, Kind.ENVIRONMENT_CLOSED),
            stop_reason=session.attention.watch.stop_reason)
        self.alarm: TileAlarm | None = None
        self.acknowledged = False
        self.progress: Progress | None = None
        self._changed_at: float | None = None
        self._was_running = False  # the queue ran at the last status not closing the env
        self._was_connected = False
        self._acknowledging = False
        self._flush_pending = False
        self.emitted = 0  #: ``changed`` emissions (diagnostics, benchmarks)
        self._links: list[tuple[Event, Callable[..., Any]]] = [
            (session.connection_changed, self._on_connection),
            (session.status_changed, self._on_status),
            (session.alarm_changed, self._on_failure),
            (session.operator_state_changed, self._update),
            (session.lock_info_changed, self._update),
            (session.history_changed, self._update),
            (session.history_policy_changed, self._update),
            (session.queue_changed, self._update),
            (session.fetcher.running_skipped_changed, self._update),
        ]
        for event, handler in self._links:
            event.connect(handler)
        if session.status is not None:
            self.rules.on_status(session.status)
        self.state = self._derive()

    def close(self) -> None:
        """Let go of the session's events (the session may outlive the tile)."""
        for event, handler in self._links:
            event.disconnect(handler)
        self._links = []

    # -- what the operator does -------------------------------------------------------------
    def acknowledge(self) -> None:
        """The operator saw the alarm: it clears (or, while its condition holds, turns quiet).
        The session's failure is acknowledged too, also when a later alarm (offline, say)
        took the tile's place: the tile is acknowledged as a whole."""
        if self.alarm is None or self.acknowledged:
            return
        alarm = self.alarm
        self._log(f"Acknowledged: {_headline(alarm)}.", "info")
        if self.session.alarm is not None:
            self._acknowledging = True
            try:
                self.session.acknowledge_alarm()
            finally:
                self._acknowledging = False
        if alarm.over or alarm.kind is AlarmKind.FAILED:
            self.alarm, self.acknowledged = None, False
        else:
            self.acknowledged = True
        self._update()

    def set_progress(self, progress: Progress | None) -> None:
        """The running plan's progress from a document stream (None: none or not configured);
        its ``plan_name`` names the running plan when ``queue_get`` was not read."""
        self.progress = progress
        self._update()

    def seconds_since_change(self, now: float | None = None) -> float | None:
        return self.state.since_change(self.clock() if now is None else now)

    # -- inputs -----------------------------------------------------------------------------
    def _on_connection(self, connection: Connection, detail: str = "") -> None:
        connected = connection in (Connection.CONNECTED, Connection.NO_STATUS)
        if connection is Connection.OFFLINE and self._was_connected:
            self._raise(AlarmKind.OFFLINE, "Offline", f"Lost contact with the RE Manager: "
                                                      f"{detail or 'no reply'}.", "error")
        elif connected and not self._was_connected and self.alarm is not None \
                and self.alarm.kind is AlarmKind.OFFLINE:
            self._log("Back online.", "info")
            self._condition_over(AlarmKind.OFFLINE, f"back at {_clock_text(self.clock())}")
        if connection is Connection.OFFLINE or connected:
            self._was_connected = connected
        self._update()

    def _on_status(self, status: Mapping[str, Any]) -> None:
        self._changed_at = self.clock()
        was_running = self._was_running
        state = status.get("manager_state")
        if state not in _CLOSING:
            self._was_running = state in _BUSY
        for notice in self.rules.on_status(status):
            self._on_notice(notice, was_running)
        if state != "paused" and status.get("re_state") != "paused":
            self._condition_over(AlarmKind.PAUSED, "resumed or stopped")
        if status.get("worker_environment_exists") is True:
            self._condition_over(AlarmKind.ENV_CLOSED, "open again")
        self._update()

    def _on_notice(self, notice: Notice, was_running: bool) -> None:
        if notice.kind is Kind.UNEXPECTED_PAUSE:
            self._raise(AlarmKind.PAUSED, notice.title, notice.text, "warning")
        elif notice.kind is Kind.ENVIRONMENT_CLOSED:
            if was_running or notice.level != "info":
                text = notice.text
                if was_running:
                    text = "The environment closed while the queue was running. " + text
                self._raise(AlarmKind.ENV_CLOSED, notice.title, text, "error")
            else:  # closed on request while nothing ran: a fact for the log, not an alarm
                self._log(f"{notice.title}: {notice.text}", notice.level)

    def _on_failure(self, failure: Failure | None) -> None:
        current = self.alarm
        if failure is None:
            if self._acknowledging:
                return
            if current is not None and current.kind is AlarmKind.FAILED:
                self._log("The failure alarm was withdrawn: the history says the item "
                          "completed.", "info")
                self.alarm, self.acknowledged = None, False
            self._update()
            return
        if not failure.queue_item:
            return  # an Execute now of this client: a tile never executes anything
        if current is not None and current.kind is AlarmKind.FAILED and current.uid == failure.uid:
            # the history brought the detail: new words, no second notification
            self.alarm = replace(current, title=f"{self.name}: {failure.title}",
                                 text=failure.text, level=failure.level)
            if (failure.title, failure.text) != (_headline(current), current.text):
                self._log(f"{failure.title}. {failure.text}", failure.level)
            self._update()
            return
        self._raise(AlarmKind.FAILED, failure.title, failure.text, failure.level,
                    uid=failure.uid)

    # -- alarms -----------------------------------------------------------------------------
    def _raise(self, kind: AlarmKind, title: str, text: str, level: str, *,
               uid: str = "") -> None:  # fmt: skip
        alarm = TileAlarm(kind, f"{self.name}: {title}", text, self.clock(), level, uid=uid)
        self.alarm, self.acknowledged = alarm, False
        self._log(f"{title}. {text}", level)
        self.notify.emit(alarm)
        self._update()

    def _condition_over(self, kind: AlarmKind, words: str) -> None:
        alarm = self.alarm
        if alarm is None or alarm.kind is not kind or alarm.over:
            return
        if self.acknowledged:  # seen and now over: nothing left to show
            self.alarm, self.acknowledged = None, False
        else:
            self.alarm = replace(alarm, over=True, text=f"{alarm.text} (Now {words}.)")

    def _log(self, text: str, level: str) -> None:
        self.logged.emit(text, level)

    # -- the state --------------------------------------------------------------------------
    def _update(self, *_args: Any) -> None:
        """Derive again soon: one status change reaches the tile through several events
        (Attention's state, then the status itself); they are folded into one ``changed``."""
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a plain unit test): at once
            self.flush()
            return
        self._flush_pending = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Derive the state now; emit ``changed`` if it differs from the last one."""
        self._flush_pending = False
        state = self._derive()
        if state != self.state:
            self.state = state
            self.emitted += 1
            self.changed.emit(state)

    def _derive(self) -> TileState:
        s = self.session
        status = s.status
        connection = s.connection
        running_uid = status.get("running_item_uid") if isinstance(status, Mapping) else None
        running_uid = running_uid if isinstance(running_uid, str) else ""
        busy = isinstance(status, Mapping) and status.get("manager_state") in _BUSY
        name: str | None = None
        text = ""
        if running_uid and busy:
            item = s.running_item
            progress = self.progress
            if isinstance(item, Mapping) and item.get("item_uid") == running_uid \
                    and isinstance(item.get("name"), str):
                name = item["name"]
            elif progress is not None and not progress.done and progress.plan_name:
                name = progress.plan_name
            if name:
                text = name
            elif s.running_name_skipped:
                text = "a plan (name not read)"
            else:
                text = "a plan"
        count = status.get("items_in_queue") if isinstance(status, Mapping) else None
        offline = connection is Connection.OFFLINE
        if offline:  # the last status is not the server's state now
            name, text = None, ""
        locked, lock_text, user, note = _lock(status, s.lock_info)
        progress = self.progress if running_uid and self.progress is not None \
            and not self.progress.done else None  # fmt: skip
        return TileState(
            name=self.name, colour=self.colour,
            connection=CONNECTION_WORDS.get(connection, "offline"),
            connection_detail=s.connection_detail, state=s.operator_state,
            environment="unknown" if offline else _environment(status),
            running_name=name, running_text=text, running_uid="" if offline else running_uid,
            queue_length=count if isinstance(count, int) else None,
            queue="unknown" if offline else _queue(status),
            outcome=_last_outcome(s.history, status, s.history_withheld, s.history_note),
            locked=locked, lock_text=lock_text, lock_user=user, lock_note=note,
            progress=progress.fraction if progress is not None else None,
            eta=progress.eta if progress is not None else None,
            changed_at=self._changed_at, alarm=self.alarm, acknowledged=self.acknowledged)


#: an :class:`Overview`'s ``session_factory``: the status-only, read-only session of a profile,
#: 0MQ or HTTP (``core/clients``, the one builder every room uses); the old name is kept
zmq_tile_session = tile_session


def _headline(alarm: TileAlarm) -> str:
    return alarm.title.split(": ", 1)[-1]


def _clock_text(at: float) -> str:
    try:
        return time.strftime("%H:%M:%S", time.localtime(at))
    except (OverflowError, OSError, ValueError):
        return f"{at:.0f}"


@dataclass(frozen=True)
class TileEntry:
    """A tile's place in the overview, as plain data the UI persists (QSettings)."""

    name: str
    hidden: bool = False
    pinned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "hidden": self.hidden, "pinned": self.pinned}

    @classmethod
    def from_dict(cls, data: Any) -> TileEntry | None:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            return None
        return cls(data["name"], data.get("hidden") is True, data.get("pinned") is True)


class Overview:
    """N tiles: their sessions, order, hidden and pinned flags, the log and the alarms.

    ``session_factory(profile)`` builds the status-only session for a profile (the app knows
    how to build a client from a profile; tests hand in fakes). Events: ``tile_changed(name,
    TileState)``, ``notify(TileAlarm)`` (one per raised alarm, for the desktop notifier),
    ``layout_changed()`` (order, hidden or pinned changed, or a tile was added/removed).
    """

    def __init__(self, session_factory: Callable[[Profile], Session], *,
                 clock: Callable[[], float] = time.time,
                 log: OverviewLog | None = None) -> None:  # fmt: skip
        self._factory = session_factory
        self.clock = clock
        self.log = log or OverviewLog()
        self.tiles: dict[str, TileModel] = {}
        self.entries: list[TileEntry] = []
        self.tile_changed = Event("overview_tile_changed")  #: (name, TileState)
        self.notify = Event("overview_notify")  #: (TileAlarm)
        self.layout_changed = Event("overview_layout_changed")  #: ()
        self._started = False

    # -- tiles ------------------------------------------------------------------------------
    def add(self, profile: Profile) -> TileModel:
        """A tile for ``profile`` (at the end, unless a restored layout placed it); its
        session starts at once when the overview runs."""
        if profile.name in self.tiles:
            return self.tiles[profile.name]
        session = self._factory(profile)
        tile = TileModel(session, profile, clock=self.clock)
        name = profile.name
        tile.changed.connect(lambda state: self.tile_changed.emit(name, state))
        tile.notify.connect(self.notify.emit)
        tile.logged.connect(lambda text, level: self.log.add(self.clock(), name, text, level))
        self.tiles[name] = tile
        if not any(e.name == name for e in self.entries):
            self.entries.append(TileEntry(name))
        if self._started:
            asyncio.ensure_future(session.start())
        self.layout_changed.emit()
        return tile

    async def remove(self, name: str) -> None:
        tile = self.tiles.pop(name, None)
        self.entries = [e for e in self.entries if e.name != name]
        if tile is not None:
            tile.close()
            await tile.session.stop()
        self.layout_changed.emit()

    async def start(self) -> None:
        """Start every tile's session: each is its own tasks on the loop."""
        self._started = True
        await asyncio.gather(*(tile.session.start() for tile in self.tiles.values()))

    async def stop(self) -> None:
        """Stop every session (together: a dead server's close never waits for another)."""
        self._started = False
        tiles = list(self.tiles.values())
        for tile in tiles:
            tile.close()
        await asyncio.gather(*(t.session.stop() for t in tiles), return_exceptions=True)

    def tile(self, name: str) -> TileModel:
        return self.tiles[name]

    # -- alarms -----------------------------------------------------------------------------
    def acknowledge(self, name: str) -> None:
        self.tiles[name].acknowledge()

    def acknowledge_all(self) -> None:
        for tile in self.tiles.values():
            tile.acknowledge()

    @property
    def alarms(self) -> list[tuple[str, TileAlarm]]:
        """Unacknowledged alarms, the newest first."""
        found = [(n, t.alarm) for n, t in self.tiles.items()
                 if t.alarm is not None and not t.acknowledged]
        return sorted(found, key=lambda pair: -pair[1].at)

    # -- layout (plain data the UI persists) -------------------------------------------------
    def visible(self) -> list[str]:
        """Names in display order: pinned tiles first, each group in the saved order; hidden
        tiles left out."""
        shown = [e for e in self.entries if not e.hidden]
        return [e.name for e in shown if e.pinned] + [e.name for e in shown if not e.pinned]

    def _entry(self, name: str) -> int:
        for i, entry in enumerate(self.entries):
            if entry.name == name:
                return i
        raise KeyError(name)

    def move(self, name: str, index: int) -> None:
        entry = self.entries.pop(self._entry(name))
        self.entries.insert(max(0, min(index, len(self.entries))), entry)
        self.layout_changed.emit()

    def set_hidden(self, name: str, hidden: bool) -> None:
        i = self._entry(name)
        self.entries[i] = replace(self.entries[i], hidden=bool(hidden))
        self.layout_changed.emit()

    def set_pinned(self, name: str, pinned: bool) -> None:
        i = self._entry(name)
        self.entries[i] = replace(self.entries[i], pinned=bool(pinned))
        self.layout_changed.emit()

    def layout(self) -> list[dict[str, Any]]:
        """The order and flags as JSON-ready data (for ``AppSettings``/QSettings)."""
        return [e.to_dict() for e in self.entries]

    def restore_layout(self, data: Iterable[Any]) -> None:
        """Order and flags saved by :meth:`layout`; unknown names are kept (their profile may
        come back), tiles not in ``data`` go at the end."""
        restored: list[TileEntry] = []
        seen: set[str] = set()
        for item in data if isinstance(data, Iterable) else ():
            entry = TileEntry.from_dict(item)
            if entry is not None and entry.name not in seen:
                seen.add(entry.name)
                restored.append(entry)
        restored += [e for e in self.entries if e.name not in seen]
        self.entries = restored
        self.layout_changed.emit()

    # -- helpers for tests and the benchmark -------------------------------------------------
    def states(self) -> dict[str, TileState]:
        return {name: tile.state for name, tile in self.tiles.items()}


def is_alarm(state: TileState) -> bool:
    """The tile demands attention: an unacknowledged alarm."""
    return state.alarm is not None and not state.acknowledged

