"""Everything a session knows about its server, initialised in one place, and its events.

The session's parts (connection supervision, fetching, commands, execution tracking) all read and
write this one object instead of each other's attributes; views read it through ``Session``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .access import Principal
from .events import Event
from .gates import Connection


@dataclass
class SessionState:
    """The latest server state as the session has it."""

    address: str  #: the control address (shown in titles and messages)
    connection: Connection = Connection.CONNECTING
    connection_detail: str = ""
    status: dict[str, Any] | None = None
    queue: list[dict] = field(default_factory=list)
    running_item: dict = field(default_factory=dict)
    #: plain dicts, or read-only compact entries (``core/history_items``) from the Fetcher
    history: list[Mapping[str, Any]] = field(default_factory=list)
    plans_allowed: dict[str, Any] = field(default_factory=dict)
    devices_allowed: dict[str, Any] = field(default_factory=dict)
    lock_info: dict[str, Any] | None = None
    #: Action values with a request in flight (the gates disable their group meanwhile)
    in_flight: set[str] = field(default_factory=set)
    pushes_received: int = 0
    polls_sent: int = 0
    malformed_replies: int = 0  #: replies/pushes refused or repaired (see sanitize_status)
    #: who is logged in over HTTP and their scopes (None over 0MQ, or not known yet)
    principal: Principal | None = None
    #: over HTTP: the credentials were refused (401), a new login is needed
    login_needed: str | None = None
    #: the server is slow but there (a large read being served, ours or another client's):
    #: what it is busy with, in plain words; None when it answers promptly. Never an error.
    server_busy: str | None = None
    #: why the history is not read automatically (too costly for the server), or None
    history_withheld: str | None = None

    def __post_init__(self) -> None:
        if not self.connection_detail:
            self.connection_detail = f"Connecting to {self.address}"


class SessionEvents:
    """What views subscribe to (the Qt layer re-emits them as signals where needed)."""

    def __init__(self) -> None:
        self.connection_changed = Event("connection_changed")  #: (Connection, detail)
        self.status_changed = Event("status_changed")  #: (status)
        self.queue_changed = Event("queue_changed")  #: (items, running_item)
        self.history_changed = Event("history_changed")  #: (items)
        self.plans_changed = Event("plans_changed")
        self.devices_changed = Event("devices_changed")
        self.lock_info_changed = Event("lock_info_changed")
        self.console_text = Event("console_text")  #: list[str] of fragments, batched
        self.message = Event("message")  #: (level, text): "info" | "warning" | "error"
        self.busy_changed = Event("busy_changed")
        self.principal_changed = Event("principal_changed")  #: (Principal | None)
        #: (reason): over HTTP the credentials were refused; the window asks for a login
        self.login_required = Event("login_required")
        #: (text | None): ``SessionState.server_busy`` changed
        self.server_busy_changed = Event("server_busy_changed")
        #: (): the history policy's state changed (withheld / deferred / staleness); read
        #: ``Session.history_status``
        self.history_policy_changed = Event("history_policy_changed")

    def all(self) -> list[Event]:
        return [v for v in vars(self).values() if isinstance(v, Event)]
