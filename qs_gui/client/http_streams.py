"""Status pushes and console output from bluesky-httpserver, read like the 0MQ info socket.

:class:`HTTPFeed` has the read side of :class:`~.monitor.InfoMonitor` (``start``, ``next``,
``drain``, async iteration, the ``received``/``malformed``/``oversized`` counters), so the
session and the reference monitors use either transport unchanged. Its messages come from
background readers:

* :func:`websocket_reader`: a gateway WebSocket (``/api/status/ws``, ``/api/info/ws``,
  ``/api/console_output/ws``). WebSockets accept only ``Authorization: ApiKey`` (not tokens), so
  a logged-in user connects with a short-lived API key made for the purpose and deleted once
  connected, as the reference does. The URL is ``wss://`` behind ``https://`` (the reference
  always builds ``ws://``, which never connects behind TLS).
* :func:`console_poll_reader`: ``GET /api/console_output_update`` every ``period``, sleeping
  on every path (the reference sleeps only after a success and spins on a 401).

Readers never end on an error: they note it in :attr:`HTTPFeed.error` and retry with back-off
until the feed is closed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from .monitor import CONSOLE_TOPIC, MAX_PAYLOAD_BYTES, STATUS_TOPIC, InfoMessage
from .wakeup import Wakeup

logger = logging.getLogger(__name__)

#: credentials in a handshake header
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie"})


def _redact_handshake(record: logging.LogRecord) -> bool:
    """websockets logs every handshake header at DEBUG (``> %s: %s``), the API key included."""
    args = record.args
    if (isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str)
            and args[0].lower() in _SECRET_HEADERS):
        record.args = (args[0], "***")
    return True


#: the WebSockets' logger (websockets' own would print the ``Authorization`` header)
ws_logger = logging.getLogger(__name__ + ".websocket")
ws_logger.addFilter(_redact_handshake)

RETRY_FIRST = 0.5  # seconds before the first reconnect; doubles up to RETRY_MAX
RETRY_MAX = 5.0
WS_MAX_FRAME = 64 << 20  # larger frames end the connection; MAX_PAYLOAD_BYTES are skipped


class StreamClient(Protocol):
    """What the readers need of the HTTP API."""

    def websocket_uri(self, path: str) -> str: ...

    def websocket_ssl(self) -> Any: ...

    async def websocket_credentials(self) -> tuple[dict[str, str], Callable[[], Awaitable[None]]]:
        """(headers, cleanup): the cleanup runs once the socket is open."""

    async def send_request(self, *, method: str, params: Any = None) -> Any: ...


Reader = Callable[["HTTPFeed"], Awaitable[None]]


class HTTPFeed:
    """Messages from background readers, buffered up to ``max_messages`` (oldest dropped)."""

    def __init__(self, readers: list[Reader], *, max_messages: int = 10000,
                 max_bytes: int = MAX_PAYLOAD_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._readers = list(readers)
        self._queue: collections.deque[InfoMessage] = collections.deque(maxlen=max_messages)
        self._wake: Wakeup | None = None
        self._tasks: list[asyncio.Task] = []
        self._closed = False
        self.received = 0
        self.malformed = 0
        self.oversized = 0
        self.backlog = False
        self.connected = 0  # readers currently connected (WebSockets) or polling successfully
        #: the last reader error in plain words, None once a reader works again
        self.error: str | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        """Start the readers (inside the running loop); idempotent."""
        if self._tasks or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._wake = Wakeup()
        self._tasks = [loop.create_task(reader(self)) for reader in self._readers]

    def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._wake is not None:
            self._wake.set()

    async def wait_closed(self) -> None:
        """After :meth:`close`: until the readers have ended, so that a WebSocket connect they
        were in is wound up inside the loop before the client's close returns."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- writing (readers) ------------------------------------------------------------------
    def put_raw(self, topic: str, frame: str | bytes) -> None:
        """One frame ``{"time", "msg"}`` as the gateway sends it; bad frames are counted."""
        self.received += 1
        if len(frame) > self.max_bytes:
            self.oversized += 1
            return
        try:
            payload = json.loads(frame)
            if not isinstance(payload, Mapping):
                raise ValueError("not an object")
        except ValueError:
            self.malformed += 1
            return
        self.put(topic, payload.get("time"), payload.get("msg"))

    def put(self, topic: str, stamp: Any, msg: Any) -> None:
        stamp = float(stamp) if isinstance(stamp, (int, float)) else 0.0
        self._queue.append(InfoMessage(topic=topic, time=stamp, msg=msg,
                                       received=time.monotonic()))
        if self._wake is not None:
            self._wake.set()

    # -- reading (the InfoMonitor interface) ------------------------------------------------
    async def next(self, timeout: float | None = None) -> InfoMessage | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            if self._queue:
                return self._queue.popleft()
            if self._wake is None:
                self.start()
            assert self._wake is not None
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            if not await self._wake.sleep(remaining):  # no await since the queue was empty
                return None
        return None

    def drain(self, limit: int = 10_000, budget: float | None = None) -> list[InfoMessage]:
        out = []
        while self._queue and len(out) < limit:
            out.append(self._queue.popleft())
        self.backlog = bool(self._queue)
        return out

    def __aiter__(self) -> AsyncIterator[InfoMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[InfoMessage]:
        while not self._closed:
            message = await self.next(timeout=None)
            if message is not None:
                yield message


def websocket_reader(client: StreamClient, path: str, topic: str) -> Reader:
    """A reader of one gateway WebSocket, reconnecting with back-off (see the module doc)."""

    async def read(feed: HTTPFeed) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        delay = RETRY_FIRST
        while not feed.closed:
            try:
                headers, cleanup = await client.websocket_credentials()
                uri = client.websocket_uri(path)
                async with connect(uri, additional_headers=headers, ssl=client.websocket_ssl(),
                                   max_size=WS_MAX_FRAME, open_timeout=10,
                                   ping_interval=20, logger=ws_logger) as ws:
                    feed.connected += 1
                    try:
                        feed.error = None
                        delay = RETRY_FIRST
                        await cleanup()
                        async for frame in ws:
                            feed.put_raw(topic, frame)
                    finally:
                        feed.connected -= 1
            except asyncio.CancelledError:
                raise
            except InvalidStatus as ex:
                code = ex.response.status_code
                feed.error = (f"the gateway refused the {path} WebSocket ({code}): "
                              + ("not allowed with these credentials" if code == 403 else
                                 "unexpected status"))
            except Exception as ex:
                feed.error = f"{path} WebSocket: {ex or type(ex).__name__}"
            if feed.closed:
                return
            logger.debug("WebSocket %s: %s; retrying in %.1f s", path, feed.error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    return read


def console_poll_reader(client: StreamClient, period: float) -> Reader:
    """A reader polling ``console_output_update`` (no backlog at start: the gateway gives the
    current uid first), sleeping ``period`` after every poll, failed ones included."""

    async def read(feed: HTTPFeed) -> None:
        uid = ""
        delay = period
        while not feed.closed:
            try:
                reply = await client.send_request(method="console_output_update",
                                                  params={"last_msg_uid": uid})
                uid = reply.get("last_msg_uid", uid) if isinstance(reply, Mapping) else uid
                for message in (reply.get("console_output_msgs") or []
                                if isinstance(reply, Mapping) else []):
                    if isinstance(message, Mapping):
                        feed.received += 1
                        feed.put(CONSOLE_TOPIC, message.get("time"), message.get("msg"))
                feed.error = None
                delay = period
            except asyncio.CancelledError:
                raise
            except Exception as ex:
                feed.error = f"console output: {ex}"
                delay = min(max(delay * 2, RETRY_FIRST), RETRY_MAX)
            await asyncio.sleep(delay)

    return read


STATUS_WS = "/api/status/ws"
INFO_WS = "/api/info/ws"
CONSOLE_WS = "/api/console_output/ws"


def info_feed(client: StreamClient, topics: tuple[str, ...]) -> HTTPFeed:
    """The session's feed: status over ``/api/status/ws``, console over its WebSocket."""
    readers = []
    if STATUS_TOPIC in topics:
        readers.append(websocket_reader(client, STATUS_WS, STATUS_TOPIC))
    if CONSOLE_TOPIC in topics:
        readers.append(websocket_reader(client, CONSOLE_WS, CONSOLE_TOPIC))
    return HTTPFeed(readers)
