"""Subscriber to the RE Manager info socket: status pushes (QS_Info) and console (QS_Console).

One SUB socket for both topics. 0MQ reconnects a SUB socket by itself, so the monitor survives
server restarts without any help. Nothing is buffered here beyond 0MQ's own high-water mark: the
consumer's ``async for`` pulls messages at its own pace, and malformed messages are counted and
skipped rather than ending the stream.
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
                 encoding: str = "json", rcvhwm: int = 10000):
        self.address = address
        self.topics = tuple(topics)
        self._codec = Codec(encoding)
        self._rcvhwm = rcvhwm
        self._ctx: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._closed = False
        self.received = 0
        self.malformed = 0

    def _ensure_socket(self) -> zmq.asyncio.Socket:
        if self._socket is None:
            self._ctx = zmq.asyncio.Context()
            self._ctx.setsockopt(zmq.LINGER, 0)
            sock = self._ctx.socket(zmq.SUB)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, self._rcvhwm)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            for topic in self.topics:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
            sock.connect(self.address)
            self._socket = sock
        return self._socket

    def start(self) -> None:
        """Connect now, so messages published from this point on are received."""
        self._ensure_socket()

    def _parse(self, frames: list[bytes]) -> InfoMessage | None:
        try:
            topic = frames[0].decode("ascii")
            payload = self._codec.decode(frames[1])
            if not isinstance(payload, Mapping) or topic not in self.topics:
                raise ValueError("unexpected payload")
            stamp = payload.get("time", 0.0)
            return InfoMessage(topic=topic, time=float(stamp) if isinstance(stamp, (int, float))
                               else 0.0, msg=payload.get("msg"), received=time.monotonic())
        except Exception as ex:  # malformed frames are skipped, never fatal
            self.malformed += 1
            logger.debug("Skipped a malformed info message: %s", ex)
            return None

    async def next(self, timeout: float | None = None) -> InfoMessage | None:
        """The next well-formed message, or None if none arrived within ``timeout`` seconds."""
        sock = self._ensure_socket()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            poll_ms = None if remaining is None else int(remaining * 1000)
            if not await sock.poll(poll_ms, zmq.POLLIN):
                return None
            frames = await sock.recv_multipart()
            self.received += 1
            if len(frames) == 2:
                message = self._parse(frames)
                if message is not None:
                    return message
            else:
                self.malformed += 1
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return None

    def drain(self, limit: int = 10000) -> list[InfoMessage]:
        """Everything already queued (up to ``limit``) without waiting; for batched consumers."""
        sock = self._ensure_socket()
        out: list[InfoMessage] = []
        while len(out) < limit:
            pending = sock.recv_multipart(flags=zmq.NOBLOCK)  # a Future, already resolved
            try:
                frames = pending.result() if isinstance(pending, asyncio.Future) else pending
            except zmq.Again:
                break
            self.received += 1
            message = self._parse(frames) if len(frames) == 2 else None
            if message is None:
                if len(frames) != 2:
                    self.malformed += 1
                continue
            out.append(message)
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
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None
