"""Subscriber to the RE Manager info socket: status pushes (QS_Info) and console (QS_Console).

One SUB socket for both topics. 0MQ reconnects a SUB socket by itself, so the monitor survives
server restarts without any help. Nothing is buffered here beyond 0MQ's own high-water mark: the
consumer's ``async for`` pulls messages at its own pace, and malformed messages are counted and
skipped rather than ending the stream.

Hardening against floods and garbage (tests/reliability):

* :meth:`InfoMonitor.drain` reads what is already queued through a plain (synchronous) shadow of
  the socket: a non-blocking read there costs ~5 µs, against 20-100 µs through zmq.asyncio's
  futures, and an optional time ``budget`` bounds how long one call may keep the event loop.
* Payloads over ``max_bytes`` (default 1 MiB; a status is ~1.5 KB) are skipped before decoding
  and counted in ``oversized``; 0MQ itself drops the connection to a publisher that sends a
  message over ``max_message_size`` (then reconnects), so a hostile or broken publisher cannot
  make the GUI allocate or decode tens of MB per message.
* Any bytes at all are either a well-formed message or counted in ``malformed``: nothing raises.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio

from .transport import Codec

logger = logging.getLogger(__name__)

STATUS_TOPIC = "QS_Info"
CONSOLE_TOPIC = "QS_Console"
MAX_PAYLOAD_BYTES = 1 << 20  # skipped (and counted) above this
MAX_MESSAGE_SIZE = 16 << 20  # 0MQ disconnects a publisher that sends more than this at once


@dataclass(frozen=True)
class InfoMessage:
    """One message from the info socket."""

    topic: str
    time: float  # the server's timestamp
    msg: Any  # QS_Info: {"status": {...}}; QS_Console: str
    received: float  # local monotonic time of arrival

    @property
    def status(self) -> dict[str, Any] | None:
        """The status dict carried by a QS_Info message, else None."""
        if self.topic == STATUS_TOPIC and isinstance(self.msg, Mapping):
            status = self.msg.get("status")
            if isinstance(status, Mapping):
                return dict(status)
        return None

    @property
    def text(self) -> str | None:
        """The console fragment carried by a QS_Console message, else None."""
        if self.topic == CONSOLE_TOPIC and isinstance(self.msg, str):
            return self.msg
        return None


class InfoMonitor:
    """Async iterator over info-socket messages.

    >>> async for message in monitor:   # doctest: +SKIP
    ...     if message.status: ...
    """

    def __init__(self, address: str, *, topics: tuple[str, ...] = (STATUS_TOPIC, CONSOLE_TOPIC),
                 encoding: str = "json", rcvhwm: int = 10000,
                 max_bytes: int = MAX_PAYLOAD_BYTES, max_message_size: int = MAX_MESSAGE_SIZE):
        self.address = address
        self.topics = tuple(topics)
        self._topic_bytes = {t.encode("ascii"): t for t in self.topics}
        self._codec = Codec(encoding)
        self._rcvhwm = rcvhwm
        self.max_bytes = int(max_bytes)
        self._max_message_size = int(max_message_size)
        self._ctx: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._sync: zmq.Socket | None = None  # shadow of _socket for non-blocking reads
        self._closed = False
        self.received = 0
        self.malformed = 0
        self.oversized = 0

    def _ensure_socket(self) -> zmq.asyncio.Socket:
        if self._closed:
            raise zmq.ZMQError(zmq.ENOTSOCK, "the monitor is closed")
        if self._socket is None:
            self._ctx = zmq.asyncio.Context()
            self._ctx.setsockopt(zmq.LINGER, 0)
            sock = self._ctx.socket(zmq.SUB)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, self._rcvhwm)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            if self._max_message_size > 0:
                sock.setsockopt(zmq.MAXMSGSIZE, self._max_message_size)
            for topic in self.topics:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
            sock.connect(self.address)
            self._socket = sock
            self._sync = zmq.Socket.shadow(sock.underlying)
        return self._socket

    def start(self) -> None:
        """Connect now, so messages published from this point on are received."""
        self._ensure_socket()

    def _parse(self, frames: list[bytes]) -> InfoMessage | None:
        """A well-formed message, or None (counted as malformed or oversized); never raises."""
        self.received += 1
        try:
            if len(frames) != 2:
                raise ValueError(f"{len(frames)} frames")
            topic = self._topic_bytes.get(bytes(frames[0]))
            if topic is None:
                raise ValueError("unexpected topic")
            if len(frames[1]) > self.max_bytes:
                self.oversized += 1
                logger.debug("Skipped a %d-byte %s message", len(frames[1]), topic)
                return None
            payload = self._codec.decode(frames[1])
            if not isinstance(payload, Mapping):
                raise ValueError("unexpected payload")
            stamp = payload.get("time", 0.0)
            stamp = float(stamp) if isinstance(stamp, (int, float)) else 0.0
            return InfoMessage(topic=topic, time=stamp, msg=payload.get("msg"),
                               received=time.monotonic())
        except Exception as ex:  # malformed frames are skipped, never fatal
            self.malformed += 1
            logger.debug("Skipped a malformed info message: %s", ex)
            return None

    async def next(self, timeout: float | None = None) -> InfoMessage | None:
        """The next well-formed message, or None if none arrived within ``timeout`` seconds
        (or the monitor is closed)."""
        if self._closed:
            return None
        sock = self._ensure_socket()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            poll_ms = None if remaining is None else int(remaining * 1000)
            if not await sock.poll(poll_ms, zmq.POLLIN):
                return None
            message = self._parse(await sock.recv_multipart())
            if message is not None:
                return message
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return None

    def drain(self, limit: int = 10000, budget: float | None = None) -> list[InfoMessage]:
        """Well-formed messages already queued (up to ``limit``), without waiting.

        With ``budget`` (seconds) it also stops once that much time has gone, so a consumer on
        the GUI thread can hand control back to the event loop during a flood.
        """
        if self._closed:
            return []
        self._ensure_socket()
        sync = self._sync
        out: list[InfoMessage] = []
        deadline = None if budget is None else time.perf_counter() + budget
        reads = 0
        while len(out) < limit:
            try:
                frames = sync.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            message = self._parse(frames)
            if message is not None:
                out.append(message)
            reads += 1
            if deadline is not None and not reads % 32 and time.perf_counter() >= deadline:
                break
        return out

    def __aiter__(self) -> AsyncIterator[InfoMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[InfoMessage]:
        while not self._closed:
            try:
                message = await self.next(timeout=None)
            except (asyncio.CancelledError, zmq.ZMQError):
                if self._closed:
                    return
                raise
            if message is not None:
                yield message

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the socket and context; a running iteration ends."""
        self._closed = True
        self._sync = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None
