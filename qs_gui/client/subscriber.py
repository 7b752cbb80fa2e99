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

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Generic, TypeVar

import zmq

from .zmq_sockets import SocketSet

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _resolve(future: asyncio.Future, value: bool) -> None:
    if not future.done():
        future.set_result(value)


def _wake_subscriber(ref: weakref.ref, loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """The loop's reader callback; holds the subscriber weakly (dropped unclosed, it goes)."""
    subscriber = ref()
    if subscriber is None:
        loop.remove_reader(fd)
        return
    subscriber._on_readable()


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
        self._socket: zmq.Socket | None = None  # a plain socket: the loop watches its FD
        self._sync: zmq.Socket | None = None  # the same socket (the name the readers use)
        self._fd: int | None = None
        self._reader_loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future | None = None
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

    def _ensure_socket(self) -> zmq.Socket:
        if self._closed:
            raise self._closed_error()
        if self._socket is None:
            sock = self._zmq.plain_socket(zmq.SUB)
            sock.setsockopt(zmq.RCVHWM, self._rcvhwm)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            if self._max_message_size > 0:  # see the module doc before turning this on
                sock.setsockopt(zmq.MAXMSGSIZE, self._max_message_size)
            for prefix in self._subscriptions:
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
            sock.connect(self.address)
            self._socket = self._sync = sock
            self._fd = sock.getsockopt(zmq.FD)
        return self._socket

    def start(self) -> None:
        """Connect now, so messages published from this point on are received."""
        self._ensure_socket()

    def close(self) -> None:
        """Close the socket and context; a pending ``next`` ends with None."""
        self._closed = True
        self._forget_reader()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(False)
        self._sync = None
        self._socket = None
        self._zmq.close()

    # -- waiting --------------------------------------------------------------------------------
    async def _readable(self, deadline: float | None) -> bool:
        """Wait until a message may be queued (True) or ``deadline`` passes (False).

        The loop watches the socket's ZMQ_FD itself (one reader for the socket's life): it
        signals "check ZMQ_EVENTS" (edge-triggered), so the future is armed before EVENTS is
        read and nothing that arrives in between is missed. Cheaper than zmq.asyncio's poll
        future, whose machinery ran ~10 loop callbacks per status push (an overview with 24
        idle tiles spent most of its CPU there)."""
        loop = asyncio.get_running_loop()
        sock = self._sync
        if sock is None:
            return False
        if self._reader_loop is not loop:
            self._forget_reader()
            loop.add_reader(self._fd, _wake_subscriber, weakref.ref(self), loop, self._fd)
            self._reader_loop = loop
        self._waiter = waiter = loop.create_future()
        timer = None
        try:
            if sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                return True
            if deadline is not None:
                delay = deadline - time.monotonic()
                if delay <= 0:
                    return False
                timer = loop.call_later(delay, _resolve, waiter, False)
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if self._waiter is waiter:
                self._waiter = None

    def _on_readable(self) -> None:
        sock = self._sync
        if sock is None:
            return
        try:
            ready = sock.getsockopt(zmq.EVENTS) & zmq.POLLIN  # also re-arms the FD's signal
        except zmq.ZMQError:
            return
        if ready and self._waiter is not None:
            _resolve(self._waiter, True)

    def _forget_reader(self) -> None:
        loop, self._reader_loop = self._reader_loop, None
        if loop is not None and not loop.is_closed() and self._fd is not None:
            try:
                loop.remove_reader(self._fd)
            except (ValueError, OSError, RuntimeError):  # already gone with its loop
                pass

    # -- reading --------------------------------------------------------------------------------
    async def next(self, timeout: float | None = None) -> T | None:
        """The next well-formed item, or None if none arrived within ``timeout`` seconds (or the
        subscriber is closed)."""
        if self._closed:
            return None
        self._ensure_socket()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
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
            if not await self._readable(deadline):
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
