"""Subscriber to the RE Manager info socket: status pushes (QS_Info) and console (QS_Console).

One SUB socket for both topics. 0MQ reconnects a SUB socket by itself, so the monitor survives
server restarts without any help. Nothing is buffered here beyond 0MQ's own high-water mark: the
consumer's ``async for`` pulls messages at its own pace, and malformed messages are counted and
skipped rather than ending the stream.

Hardening against floods and garbage (tests/reliability); the socket side is in
:mod:`.subscriber`:

* :meth:`InfoMonitor.drain` reads what is already queued without waiting, within a time budget.
* Payloads over ``max_bytes`` (default 1 MiB; a status is ~1.5 KB) are skipped before decoding
  and counted in ``oversized``. ZMQ_MAXMSGSIZE is NOT set: libzmq 4.3.5 drops the connection to
  the (binding) publisher of an over-limit message for good, so one 50 MiB console message would
  end status pushes for the session (tests/client/test_monitor.py proves they keep coming).
* Any bytes at all are either a well-formed message or counted in ``malformed``: nothing raises.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from .subscriber import Subscriber
from .transport import Codec

logger = logging.getLogger(__name__)

STATUS_TOPIC = "QS_Info"
CONSOLE_TOPIC = "QS_Console"
MAX_PAYLOAD_BYTES = 1 << 20  # skipped (and counted) above this
MAX_MESSAGE_SIZE = 0  # ZMQ_MAXMSGSIZE off: exceeding it disconnects for good (subscriber.py)


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


class InfoMonitor(Subscriber[InfoMessage]):
    """Async iterator over info-socket messages.

    >>> async for message in monitor:   # doctest: +SKIP
    ...     if message.status: ...
    """

    def __init__(self, address: str, *, topics: tuple[str, ...] = (STATUS_TOPIC, CONSOLE_TOPIC),
                 encoding: str = "json", rcvhwm: int = 10000,
                 max_bytes: int = MAX_PAYLOAD_BYTES,
                 max_message_size: int = MAX_MESSAGE_SIZE) -> None:  # fmt: skip
        self.topics = tuple(topics)
        self._topic_bytes = {t.encode("ascii"): t for t in self.topics}
        super().__init__(address, subscriptions=list(self._topic_bytes), rcvhwm=rcvhwm,
                         max_bytes=max_bytes, max_message_size=max_message_size)  # fmt: skip
        self._codec = Codec(encoding)

    def parse(self, frames: Sequence[bytes]) -> InfoMessage | None:
        """A well-formed message, or None (counted as malformed or oversized); never raises."""
        try:
            if len(frames) != 2:
                raise ValueError(f"{len(frames)} frames")
            topic = self._topic_bytes.get(bytes(frames[0]))
            if topic is None:
                raise ValueError("unexpected topic")
            if self._skip_oversized(len(frames[1]), f"{topic} message"):
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

    _parse = parse  # the name tests/reliability/test_fuzz.py uses

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
