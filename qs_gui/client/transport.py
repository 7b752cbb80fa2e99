"""0MQ REQ transport: a timeout per request, a fresh socket after failure, two lanes.

A REQ socket carries one request at a time, so each socket's requests are serialised behind a
lock. A REQ socket is unusable after a missed reply (the next send raises EFSM), so any failure,
timeout or cancellation closes it with linger 0 and the next request opens a new one. Sockets and
the context are created lazily inside the running loop, so a transport can be built before the
loop starts.

Two lanes: bulk reads (``queue_get``, ``history_get``, the plan and device lists) are serialised
on one lock, everything else on another, and each exchange borrows an idle REQ socket from a
small pool (a second socket is opened only when both lanes are busy at once). The RE Manager
serves its REP socket serially, so an urgent request (Execute now, pause, abort) sent while the
server is busy with a 100,000-item ``history_get`` still waits for the server, but no longer for
the client: it is already queued in the server when the bulk request finishes, instead of
waiting on the client's lock until the reply is received and decoded. While a bulk request is
in flight, the main lane's deadline is extended by the time the server spends on it (the wait
is the server's, not a lost reply), and :attr:`ZMQTransport.in_flight` reports the bulk request,
so a liveness watchdog waits for it instead of concluding that the server is dead.

Replies above :data:`~qs_gui.client.jsonstream.SMALL` are decoded with
:func:`~qs_gui.client.jsonstream.loads_async`, which yields to the loop every few milliseconds;
a reply of megabytes to a request whose answer is a few KB (``status``) is refused unread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

import zmq
import zmq.asyncio
import zmq.utils.z85

from .exceptions import ClientClosedError
from .jsonstream import SMALL, Reuse, loads_async
from .zmq_sockets import SocketSet

logger = logging.getLogger(__name__)

ENCODINGS = ("json", "msgpack")

#: read-only requests whose replies scale with the queue/history/plan/device counts
BULK_METHODS = frozenset({
    "queue_get", "history_get", "plans_allowed", "devices_allowed", "plans_existing",
    "devices_existing",
})

#: replies that are a few KB by nature (status, locks, one-line results): a reply much larger is
#: not what the protocol promises and is refused unread, instead of decoding it on the loop
SMALL_REPLY_METHODS = frozenset({
    "status", "ping", "lock", "unlock", "lock_info", "queue_start", "queue_stop",
    "queue_stop_cancel", "queue_clear", "queue_autostart", "queue_mode_set", "environment_open",
    "environment_close", "environment_destroy", "re_pause", "re_resume", "re_stop", "re_abort",
    "re_halt", "kernel_interrupt", "task_status", "history_clear", "permissions_reload",
})
SMALL_REPLY_LIMIT = 1 << 20


class TransportTimeout(Exception):
    """No reply in time, or the exchange failed; carries a plain-words reason."""


class Transport(Protocol):
    """Everything the API layer and the session use of a transport, and nothing else.

    :class:`ZMQTransport` implements it for the RE Manager's control socket; an HTTP transport
    (bluesky-httpserver) implements the same contract, and so does the fake in the unit tests.
    A transport sends one request and returns the decoded reply with its raw bytes; it never
    retries (a lost reply may have been applied) and reports every failure to communicate as
    :class:`TransportTimeout`.
    """

    #: the default reply timeout (seconds); the session derives its poll timeouts from it
    timeout_recv: float
    #: whether ``request``/``decode_async`` accept ``reuse`` (items of an earlier, unchanged
    #: reply are reused instead of decoded again)
    supports_reuse: bool

    @property
    def in_flight(self) -> tuple[str, float] | None:
        """(method, monotonic start) of a request awaiting its reply, None when idle: the
        session judges liveness from it instead of queueing a poll behind a slow request."""

    @property
    def closed(self) -> bool: ...

    async def request(self, method: str, params: Mapping[str, Any], *,
                      timeout: float | None = None,
                      reuse: Reuse | None = None) -> tuple[Any, bytes | memoryview]:
        """(decoded reply, raw bytes); TransportTimeout on any communication failure,
        TypeError/ValueError for parameters that cannot be encoded (nothing sent then)."""

    def decode(self, raw: bytes) -> Any:
        """Decode a reply kept as raw bytes (the reply cache), at once."""

    async def decode_async(self, raw: bytes, reuse: Reuse | None = None) -> Any:
        """Decode a possibly huge reply without blocking the event loop for long."""

    def close(self) -> None:
        """Close the connection at once (linger 0); later requests fail."""


def validate_curve_key(key: str) -> str:
    """Raise ValueError unless ``key`` is a 40-character z85 CURVE key."""
    try:
        if not isinstance(key, str) or len(key) != 40:
            raise ValueError
        zmq.utils.z85.decode(key.encode("ascii"))
    except Exception:
        raise ValueError(
            "Invalid CURVE key: the key must be a 40 byte z85 encoded string"
        ) from None
    return key


class Codec:
    """Encode/decode messages; encoding errors are caller bugs and raise TypeError/ValueError."""

    def __init__(self, encoding: str = "json"):
        if encoding not in ENCODINGS:
            raise ValueError(f"Unsupported encoding {encoding!r}: use one of {ENCODINGS}")
        self.encoding = encoding
        if encoding == "msgpack":
            try:
                import msgpack  # noqa: F401
            except ImportError as ex:
                raise ValueError("msgpack encoding needs the 'msgpack' package") from ex

    def encode(self, message: Any) -> bytes:
        if self.encoding == "json":
            try:
                # NaN/Infinity are not JSON, and inf (e.g. delay=inf) would reach a plan.
                return json.dumps(message, allow_nan=False).encode("utf-8")
            except TypeError as ex:
                raise TypeError(f"Request parameters are not serialisable: {ex}") from None
            except ValueError as ex:
                why = ("a number is NaN or infinite" if "Out of range float" in str(ex)
                       else str(ex))
                raise ValueError(f"Request parameters are not serialisable: {why}") from None
        import msgpack

        try:
            return msgpack.packb(message)
        except (TypeError, ValueError) as ex:
            raise TypeError(f"Request parameters are not serialisable: {ex}") from None

    def decode(self, raw: bytes | memoryview) -> Any:
        if self.encoding == "json":
            return json.loads(raw if isinstance(raw, bytes) else bytes(raw))
        import msgpack

        return msgpack.unpackb(raw)

    async def decode_async(self, raw: bytes, reuse: Reuse | None = None) -> Any:
        """Like :meth:`decode`, yielding to the loop while a big JSON reply is parsed (and
        handing back unchanged items of the previous reply with ``reuse``)."""
        if self.encoding == "json" and (len(raw) > SMALL or reuse is not None):
            return await loads_async(raw, freeze=True, reuse=reuse)
        return self.decode(raw)


class _Lane:
    """A queue of exchanges (one at a time) and the one in flight."""

    __slots__ = ("name", "lock", "in_flight", "last_done")

    def __init__(self, name: str):
        self.name = name
        self.lock: asyncio.Lock | None = None
        self.in_flight: tuple[str, float] | None = None  # (method, monotonic send time)
        self.last_done = 0.0  # monotonic time the last exchange ended


class ZMQTransport:
    """REQ client for the RE Manager control socket (a main lane and a bulk lane)."""

    def __init__(self, address: str, *, timeout_recv: float = 2.0, timeout_send: float = 0.5,
                 public_key: str | None = None, encoding: str = "json",
                 bulk_lane: bool = True):
        self.address = address
        self.timeout_recv = float(timeout_recv)
        self.timeout_send = float(timeout_send)
        self.public_key = validate_curve_key(public_key) if public_key else None
        self.codec = Codec(encoding)
        self.bulk_lane = bool(bulk_lane)
        self._zmq = SocketSet(self)  # closes the sockets if this is dropped unclosed
        self._main = _Lane("main")
        self._bulk = _Lane("bulk") if self.bulk_lane else self._main
        self._idle: list[zmq.asyncio.Socket] = []  # connected REQ sockets not in use
        self._busy: set[zmq.asyncio.Socket] = set()
        self._closed = False
        #: method -> seconds from send to the reply's arrival (before decoding) of its last
        #: exchange: the server's share of a bulk read, without this client's decode time
        self.last_exchange: dict[str, float] = {}
        self.sockets_created = 0  # observable by tests: a failure must produce a new socket

    @property
    def in_flight(self) -> tuple[str, float] | None:
        """(method, start) of a request awaiting its reply, for liveness checks.

        A bulk request in flight is reported first (the server may legitimately need seconds
        for it). A main-lane request that was queued in the server behind a bulk request is
        reported as started when the bulk one finished: before that the server was busy."""
        bulk, main = self._bulk.in_flight, self._main.in_flight
        if bulk is not None:
            return bulk
        if main is not None and self._bulk is not self._main:
            method, sent = main
            return method, max(sent, self._bulk.last_done)
        return main

    # -- socket lifecycle -------------------------------------------------------------------
    def _open_socket(self) -> zmq.asyncio.Socket:
        sock = self._zmq.socket(zmq.REQ)
        sock.setsockopt(zmq.SNDTIMEO, int(self.timeout_send * 1000))
        if self.public_key:
            client_public, client_secret = zmq.curve_keypair()
            sock.curve_serverkey = self.public_key.encode("ascii")
            sock.curve_publickey = client_public
            sock.curve_secretkey = client_secret
        sock.connect(self.address)
        self.sockets_created += 1
        return sock

    def _take_socket(self) -> zmq.asyncio.Socket:
        sock = self._idle.pop() if self._idle else self._open_socket()
        self._busy.add(sock)
        return sock

    def _give_back(self, sock: zmq.asyncio.Socket, healthy: bool) -> None:
        self._busy.discard(sock)
        if healthy and not self._closed:
            self._idle.append(sock)
        else:  # a REQ socket that missed its reply is stuck: never reuse it
            self._zmq.discard(sock)

    def close(self) -> None:
        """Release the sockets and the context; later requests raise ClientClosedError."""
        self._closed = True
        self._idle.clear()
        self._busy.clear()
        self._zmq.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- requests ---------------------------------------------------------------------------
    def decode(self, raw: bytes) -> Any:
        return self.codec.decode(raw)

    #: ``request`` and ``decode_async`` accept ``reuse=`` (see jsonstream.Reuse)
    supports_reuse = True

    async def decode_async(self, raw: bytes, reuse: Reuse | None = None) -> Any:
        """Decode a (possibly huge) reply without blocking the loop for long."""
        return await self.codec.decode_async(raw, reuse)

    def _server_busy_until(self, lane: _Lane, sent: float) -> float | None:
        """When the main lane's request waits behind a bulk request the server was already
        serving: now, while that bulk request is in flight; or the time its reply came."""
        bulk = self._bulk
        if lane is bulk or bulk is self._main:
            return None
        if bulk.in_flight is not None and bulk.in_flight[1] <= sent:
            return time.monotonic()
        if bulk.last_done >= sent:
            return bulk.last_done
        return None

    async def request(self, method: str, params: Mapping[str, Any], *,
                      timeout: float | None = None,
                      reuse: Reuse | None = None) -> tuple[Any, bytes | memoryview]:
        """Send one request; return (decoded reply, raw reply bytes).

        Raises TransportTimeout on any communication failure, TypeError/ValueError for
        parameters that cannot be encoded (nothing is sent then).
        """
        if self._closed:
            raise ClientClosedError("The client is closed")
        data = self.codec.encode({"method": method, "params": dict(params)})
        timeout = self.timeout_recv if timeout is None else float(timeout)
        lane = self._bulk if method in BULK_METHODS else self._main
        if lane.lock is None:
            lane.lock = asyncio.Lock()
        async with lane.lock:
            if self._closed:
                raise ClientClosedError("The client is closed")
            sock = self._take_socket()
            healthy = False
            sent = time.monotonic()
            deadline = sent + timeout
            lane.in_flight = (method, sent)
            try:
                # One deadline for the whole exchange: a REQ send can block while the peer is
                # gone (SNDTIMEO does not apply to awaited sends).
                try:
                    await asyncio.wait_for(sock.send(data, copy=False), timeout)
                except asyncio.TimeoutError:
                    raise TransportTimeout(
                        f"could not send to {self.address} within {timeout:g} s "
                        "(timeout occurred)") from None
                while True:
                    remaining = max(0.0, deadline - time.monotonic())
                    if await sock.poll(int(remaining * 1000), zmq.POLLIN):
                        break
                    busy = self._server_busy_until(lane, sent)
                    if busy is None or busy + timeout <= time.monotonic():
                        raise TransportTimeout(
                            f"no reply from {self.address} within {timeout:g} s (timeout occurred)")
                    deadline = busy + timeout  # the server was serving our bulk request
                frame = await sock.recv(copy=False)  # sized before it is copied
                self.last_exchange[method] = time.monotonic() - sent
                healthy = True
            except zmq.ZMQError as ex:
                raise TransportTimeout(f"ZMQ communication error: {ex}") from ex
            finally:
                # Any failure (timeout, error, cancellation mid-exchange) leaves the REQ state
                # machine stuck: that socket is closed and the next exchange opens a new one.
                self._give_back(sock, healthy)
                lane.in_flight = None
                lane.last_done = time.monotonic()
        if len(frame) > SMALL_REPLY_LIMIT and method in SMALL_REPLY_METHODS:
            raise TransportTimeout(f"malformed reply to {method!r}: {len(frame) / 2**20:.1f} "
                                   f"MB, where a few KB are expected (refused unread)")
        # A big reply is parsed straight from the frame's buffer: a copy of a 40 MB history
        # is ~35 ms of page faults and memcpy with the loop blocked, and 40 MB more at the peak.
        raw = frame.buffer if len(frame) > SMALL else frame.bytes
        del frame
        try:
            if lane is self._bulk or reuse is not None or len(raw) > SMALL:
                reply = await self.codec.decode_async(raw, reuse)
            else:
                reply = self.codec.decode(raw)
        except Exception as ex:
            raise TransportTimeout(f"malformed reply to {method!r}: {ex}") from ex
        return reply, raw
