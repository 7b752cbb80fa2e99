"""0MQ REQ transport: one request at a time, a timeout per request, a fresh socket after failure.

The RE Manager serves one REP socket serially, so requests are serialised behind a lock. A REQ
socket is unusable after a missed reply (the next send raises EFSM), so any failure, timeout or
cancellation closes it with linger 0 and the next request opens a new one. Sockets and the context
are created lazily inside the running loop, so a transport can be built before the loop starts.
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

logger = logging.getLogger(__name__)

ENCODINGS = ("json", "msgpack")


class TransportTimeout(Exception):
    """No reply in time, or the exchange failed; carries a plain-words reason."""


class Transport(Protocol):
    """What the API layer needs from a transport (a fake one is used in unit tests)."""

    async def request(self, method: str, params: Mapping[str, Any], *,
                      timeout: float | None = None) -> tuple[Any, bytes]: ...

    def decode(self, raw: bytes) -> Any: ...

    def close(self) -> None: ...


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
                return json.dumps(message, allow_nan=True).encode("utf-8")
            except TypeError as ex:
                raise TypeError(f"Request parameters are not serialisable: {ex}") from None
            except ValueError as ex:
                raise ValueError(f"Request parameters are not serialisable: {ex}") from None
        import msgpack

        try:
            return msgpack.packb(message)
        except (TypeError, ValueError) as ex:
            raise TypeError(f"Request parameters are not serialisable: {ex}") from None

    def decode(self, raw: bytes) -> Any:
        if self.encoding == "json":
            return json.loads(raw)
        import msgpack

        return msgpack.unpackb(raw)


class ZMQTransport:
    """REQ client for the RE Manager control socket."""

    def __init__(self, address: str, *, timeout_recv: float = 2.0, timeout_send: float = 0.5,
                 public_key: str | None = None, encoding: str = "json"):
        self.address = address
        self.timeout_recv = float(timeout_recv)
        self.timeout_send = float(timeout_send)
        self.public_key = validate_curve_key(public_key) if public_key else None
        self.codec = Codec(encoding)
        self._ctx: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self.sockets_created = 0  # observable by tests: a failure must produce a new socket
        #: (method, monotonic start) of the request awaiting its reply, for liveness checks
        self.in_flight: tuple[str, float] | None = None

    # -- socket lifecycle -------------------------------------------------------------------
    def _open_socket(self) -> zmq.asyncio.Socket:
        if self._ctx is None:
            self._ctx = zmq.asyncio.Context()
            self._ctx.setsockopt(zmq.LINGER, 0)  # term() must never wait on a stuck socket
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, int(self.timeout_send * 1000))
        if self.public_key:
            client_public, client_secret = zmq.curve_keypair()
            sock.curve_serverkey = self.public_key.encode("ascii")
            sock.curve_publickey = client_public
            sock.curve_secretkey = client_secret
        sock.connect(self.address)
        self.sockets_created += 1
        return sock

    def _drop_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        """Release the socket and the context; later requests raise ClientClosedError."""
        self._closed = True
        self._drop_socket()
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None

    @property
    def closed(self) -> bool:
        return self._closed

    # -- requests ---------------------------------------------------------------------------
    def decode(self, raw: bytes) -> Any:
        return self.codec.decode(raw)

    async def request(self, method: str, params: Mapping[str, Any], *,
                      timeout: float | None = None) -> tuple[Any, bytes]:
        """Send one request; return (decoded reply, raw reply bytes).

        Raises TransportTimeout on any communication failure, TypeError/ValueError for
        parameters that cannot be encoded (nothing is sent then).
        """
        if self._closed:
            raise ClientClosedError("The client is closed")
        data = self.codec.encode({"method": method, "params": dict(params)})
        timeout = self.timeout_recv if timeout is None else float(timeout)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._closed:
                raise ClientClosedError("The client is closed")
            if self._socket is None:
                self._socket = self._open_socket()
            sock = self._socket
            deadline = time.monotonic() + timeout
            self.in_flight = (method, time.monotonic())
            try:
                # One deadline for the whole exchange: a REQ send can block while the peer is
                # gone (SNDTIMEO does not apply to awaited sends).
                try:
                    await asyncio.wait_for(sock.send(data, copy=False), timeout)
                except asyncio.TimeoutError:
                    raise TransportTimeout(
                        f"could not send to {self.address} within {timeout:g} s") from None
                remaining = max(0.0, deadline - time.monotonic())
                if not await sock.poll(int(remaining * 1000), zmq.POLLIN):
                    raise TransportTimeout(f"no reply from {self.address} within {timeout:g} s")
                raw = await sock.recv(copy=True)
            except TransportTimeout:
                self._drop_socket()
                raise
            except zmq.ZMQError as ex:
                self._drop_socket()
                raise TransportTimeout(f"ZMQ communication error: {ex}") from ex
            except BaseException:
                # Cancelled mid-exchange: the REQ state machine is stuck, start afresh.
                self._drop_socket()
                raise
            finally:
                self.in_flight = None
        try:
            reply = self.codec.decode(raw)
        except Exception as ex:
            raise TransportTimeout(f"malformed reply to {method!r}: {ex}") from ex
        return reply, raw
