"""Helpers for the HTTP client tests: request recording, normalisation, process lookup.

Nothing here fakes the server: every test talks to a real bluesky-httpserver in front of a real
RE Manager (the ``http_sandbox`` / ``http_multi_sandbox`` session fixtures of tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx

from tests.ui.qt_async import until

T = TypeVar("T")

#: keys whose values are times (differ between runs)
TIME_KEYS = frozenset({"time", "time_start", "time_stop", "time_str", "latest_activity",
                       "expiration_time", "latest_login"})
#: keys whose values are counters that keep growing across runs
COUNTER_KEYS = frozenset({"scan_ids"})
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: a time inside a message (RE Manager's lock refusals: "locked by ... at 12/07/2026 03:18:40")
TIME_IN_TEXT = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}")


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run one scenario in a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_until(predicate: Callable[[], Any], timeout: float,
                     what: str | Callable[[], str], interval: float = 0.05) -> Any:
    """Poll a (sync) predicate inside the loop until it is truthy; AssertionError on timeout
    (``what`` may be a callable, to describe the last state)."""
    return await until(predicate, timeout, interval, what)


async def wait_until_async(predicate: Callable[[], Awaitable[Any]], timeout: float, what: str,
                           interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def reload_gateway_status(uri: str, api_key: str) -> None:
    """Make the gateway re-read the status from RE Manager now (its own cache keeps a status
    for 0.4 s; state that changed behind its back, over 0MQ, would otherwise show late)."""
    reply = httpx.request("GET", f"{uri}/api/status", json={"reload": True},
                          headers={"Authorization": f"ApiKey {api_key}"}, timeout=10)
    reply.raise_for_status()


# -- request recording ---------------------------------------------------------------------------
def auth_kind(request: httpx.Request) -> str:
    """The kind of Authorization a request carries (never its secret)."""
    value = request.headers.get("authorization")
    if value is None:
        return "none"
    kind = value.split(" ", 1)[0]
    return kind if kind in ("ApiKey", "Bearer") else "other"


def _body(request: httpx.Request) -> Any:
    content = request.content
    if not content:
        return None
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        return {"<form>": sorted(k for k, _ in parse_qsl(content.decode()))}  # keys only
    try:
        return json.loads(content)
    except ValueError:
        return {"<raw>": len(content)}


@dataclass(frozen=True)
class Sent:
    """One HTTP request as it went on the wire (secrets reduced to their kind)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    auth: str
    content_type: str | None

    def brief(self) -> str:
        q = "?" + "&".join(f"{k}=…" for k, _ in self.query) if self.query else ""
        return f"{self.method} {self.path}{q} [{self.auth}]"


@dataclass
class RequestLog:
    """Every request an httpx client sends (event hook), and every response status."""

    sent: list[Sent] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    #: (path, status) of every response
    answered: list[tuple[str, int]] = field(default_factory=list)
    #: secrets seen in auth replies (tokens, API keys), for leak checks
    secrets: set[str] = field(default_factory=set)

    def attach(self, client: httpx.AsyncClient, *, collect_secrets: bool = False) -> RequestLog:
        client.event_hooks["request"].append(self._on_request)
        client.event_hooks["response"].append(self._on_response)
        self._collect = collect_secrets
        return self

    async def _on_request(self, request: httpx.Request) -> None:
        self.sent.append(Sent(
            method=request.method, path=request.url.path,
            query=tuple(parse_qsl(request.url.query.decode())), body=_body(request),
            auth=auth_kind(request), content_type=request.headers.get("content-type")))

    async def _on_response(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)
        self.answered.append((response.request.url.path, response.status_code))
        if getattr(self, "_collect", False) and response.request.url.path.startswith("/api/auth"):
            await response.aread()
            try:
                reply = response.json()
            except ValueError:
                return
            if isinstance(reply, dict):
                for key in ("access_token", "refresh_token", "secret"):
                    if isinstance(reply.get(key), str):
                        self.secrets.add(reply[key])

    def mark(self) -> int:
        return len(self.sent)

    def since(self, mark: int) -> list[Sent]:
        return self.sent[mark:]

    def paths_since(self, mark: int) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.since(mark)]


# -- normalisation -------------------------------------------------------------------------------
class Normaliser:
    """Makes the results of two runs comparable: UUIDs become ``<uid N>`` in order of first
    appearance (so relations between calls are kept), times and counters become placeholders,
    and the ever-changing ``*_uid`` fields of a status dict are dropped."""

    def __init__(self) -> None:
        self._uids: dict[str, str] = {}

    def uid(self, value: str) -> str:
        return self._uids.setdefault(value, f"<uid {len(self._uids)}>")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            is_status = "manager_state" in value and "plan_queue_uid" in value
            out = {}
            for key, v in value.items():
                if is_status and key.endswith("_uid") and key != "running_item_uid":
                    continue
                if key in TIME_KEYS:
                    out[key] = "<time>"
                elif key in COUNTER_KEYS:
                    out[key] = "<counter>"
                else:
                    out[self(key)] = self(v)
            return out
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        if isinstance(value, str) and UUID_RE.match(value):
            return self.uid(value)
        return value

    def text(self, message: str) -> str:
        return TIME_IN_TEXT.sub("<time>", message)

    def request(self, sent: Sent) -> tuple:
        return (sent.method, sent.path, tuple(sorted(sent.query)), self(sent.body), sent.auth,
                sent.content_type)


# -- processes and files -------------------------------------------------------------------------
def files_containing(root: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """Files under ``root`` holding any of ``needles`` (bytes comparison) -> which (by index)."""
    needles = [n for n in needles if n]
    hits: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found = [f"secret #{i} ({len(n)} chars)" for i, n in enumerate(needles)
                 if n.encode() in data]
        if found:
            hits[str(path.relative_to(root))] = found
    return hits
