"""SUB-socket plumbing shared by the info-socket monitor and the document subscriber.

A :class:`Subscriber` owns one lazily created SUB socket (inside the running loop) and reads it
two ways: :meth:`Subscriber.next` awaits one well-formed item, :meth:`Subscriber.drain` takes
what is already queued through a plain (synchronous) shadow of the socket -- a non-blocking read
there costs ~5 µs, against 20-100 µs through zmq.asyncio's futures -- and can stop after a time
``budget`` so a consumer on the GUI thread hands the event loop back during a flood. Subclasses
only turn frames into items (:meth:`Subscriber.parse`); nothing raises for bad input.

ZMQ_MAXMSGSIZE (``max_message_size``) is off by default. Measured with libzmq 4.3.5: when a
publisher that the SUB *connected to* sends a message over the limit, libzmq treats it as a
protocol error and closes that connection for good (EVENT_DISCONNECTED, no reconnect in 30 s, not
one of ~2,900 later messages arrives); only a connecting PUB (SUB binds) reconnects. The RE
Manager's info socket and bluesky's proxy both bind their PUB, so one big message would end status
pushes or the live feed for the session. Payloads over ``max_bytes`` are instead skipped after
receipt, before decoding, and counted in ``oversized``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Generic, TypeVar

import zmq
import zmq.asyncio

from .zmq_sockets import SocketSet

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Subscriber(Generic[T]):
    """One SUB socket with ``received``/``malformed``/``oversized`` counters (see module doc)."""

    def __init__(self, address: str, *, subscriptions: Sequence[bytes], rcvhwm: int,
                 max_bytes: int, max_message_size: int = 0) -> None:  # fmt: skip
        self.address = address
        self.max_bytes = int(max_bytes)
        self._subscriptions = tuple(subscriptions)
        self._rcvhwm = rcvhwm
        self._max_message_size = int(max_message_size)
        self._zmq = SocketSet(self)  # closes the socket if this is dropped unclosed
        self._socket: zmq.asyncio.Socket | None = None
        self._sync: zmq.Socket | None = None  # shadow of _socket for non-blocking reads
        self._closed = False
        self.received = 0  # messages read from the socket, well-formed or not
        self.malformed = 0
        self.oversized = 0
        self.backlog = False  # the last drain stopped at its limit or budget, not when empty

    # -- hooks ----------------------------------------------------------------------------------
    def parse(self, frames: Sequence[bytes]) -> T | None:
        """One received message -> an item, or None (counted); must never raise."""
        raise NotImplementedError

    def _closed_error(self) -> Exception:
        return zmq.ZMQError(zmq.ENOTSOCK, f"the {type(self).__name__} is closed")

    def _copied(self, parts: list[zmq.Frame]) -> list[bytes | zmq.Frame]:
        """Frames as bytes, except those over ``max_bytes``: they stay in 0MQ's buffer (their
        size is all ``parse`` looks at), so a 50 MiB message costs no copy on the GUI thread."""
        return [p.bytes if len(p) <= self.max_bytes else p for p in parts]

    def _skip_oversized(self, size: int, what: str) -> bool:
        """True (and counted) if a ``size``-byte payload is over ``max_bytes``: not decoded."""
        if size <= self.max_bytes:
            return False
        self.oversized += 1
        logger.debug("Skipped a %d-byte %s", size, what)
        return True

    # -- socket ---------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _ensure_socket(self) -> zmq.asyncio.Socket:
        if self._closed:
            raise self._closed_error()
        if self._socket is None:
            sock = self._zmq.socket(zmq.SUB)
            sock.setsockopt(zmq.RCVHWM, self._rcvhwm)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            if self._max_message_size > 0:  # see the module doc before turning this on
                sock.setsockopt(zmq.MAXMSGSIZE, self._max_message_size)
            for prefix in self._subscriptions:
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
            sock.connect(self.address)
            self._socket = sock
            self._sync = zmq.Socket.shadow(sock.underlying)
        return self._socket

    def start(self) -> None:
        """Connect now, so messages published from this point on are received."""
        self._ensure_socket()

    def close(self) -> None:
        """Close the socket and context; a pending ``next`` ends with None or ZMQError."""
        self._closed = True
        self._sync = None
        self._socket = None
        self._zmq.close()

    # -- reading --------------------------------------------------------------------------------
    async def next(self, timeout: float | None = None) -> T | None:
        """The next well-formed item, or None if none arrived within ``timeout`` seconds (or the
        subscriber is closed)."""
        if self._closed:
            return None
        sock = self._ensure_socket()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            # What is queued is read through the plain shadow socket; only an empty socket
            # costs an awaited poll (one future instead of a poll and a recv future: an
            # overview's 24 idle tiles spent most of their CPU in that machinery).
            sync = self._sync
            while sync is not None:
                try:
                    frames = self._copied(sync.recv_multipart(flags=zmq.NOBLOCK, copy=False))
                except zmq.Again:
                    break
                self.received += 1
                item = self.parse(frames)
                if item is not None:
                    return item
            wait_ms = None
            if deadline is not None:
                # whole milliseconds, rounded up: zmq.asyncio's poll(0) with nothing queued
                # waits for the next message, not for nothing
                wait_ms = math.ceil((deadline - time.monotonic()) * 1000)
                if wait_ms <= 0:
                    return None
            if not await sock.poll(wait_ms, zmq.POLLIN):
                return None
        return None

    def drain(self, limit: int = 10_000, budget: float | None = None) -> list[T]:
        """Well-formed items already queued (at most ``limit`` messages read), without waiting;
        with ``budget`` (seconds) also stop once that much time has gone."""
        if self._closed:
            return []
        self._ensure_socket()
        sync = self._sync
        assert sync is not None
        out: list[T] = []
        deadline = None if budget is None else time.perf_counter() + budget
        self.backlog = True
        for reads in range(1, limit + 1):
            try:
                frames = self._copied(sync.recv_multipart(flags=zmq.NOBLOCK, copy=False))
            except zmq.Again:
                self.backlog = False
                break
            self.received += 1
            item = self.parse(frames)
            if item is not None:
                out.append(item)
            if deadline is not None and not reads % 32 and time.perf_counter() >= deadline:
                break
        return out
