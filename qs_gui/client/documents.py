"""Subscriber to a bluesky 0MQ document stream, and a pump that hands documents over in batches.

bluesky's ``Publisher`` (``bluesky/callbacks/zmq.py``) sends every document as ONE frame,
``prefix + b" " + name + b" " + payload``, to the IN port of a ``bluesky.callbacks.zmq.Proxy``
(console script ``bluesky-0MQ-proxy``: a SUB -> PUB forwarder); subscribers connect to the proxy's
OUT port. The prefix may be empty (then the frame starts with a space) and never contains a space.
The payload is whatever the publisher's ``serializer`` produced: ``pickle.dumps`` by default, so a
stream can carry pickles. Unpickling network data runs arbitrary code, which is why pickle is
refused (and counted) unless the caller opts in with ``allow_pickle=True``.

Payload formats are told apart by their first byte: JSON objects start with ``{``; msgpack maps
with 0x80-0x8f, 0xde or 0xdf; pickles of protocol 2+ with 0x80 followed by the protocol number,
which a msgpack document (a non-empty map) can never look like.

Nothing here blocks or raises for bad input: a frame that cannot be split, decoded, or is not a
mapping is counted in ``malformed`` and skipped, so a noisy or hostile stream cannot end the feed.
Payloads over ``max_bytes`` are skipped before decoding (``oversized``). 0MQ's own cap
(``max_message_size`` -> ZMQ_MAXMSGSIZE) is off by default: it would drop the connection to the
proxy *for good* after one large document (measured, see :mod:`.subscriber`, which also holds
the socket plumbing: lazy creation, ``next``, and ``drain`` within a time ``budget``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import zmq

from .subscriber import Subscriber

logger = logging.getLogger(__name__)

Document = tuple[str, dict[str, Any]]
DECODERS = ("json", "msgpack")
MAX_PAYLOAD_BYTES = 32 << 20  # a document over this is skipped (event pages of fly scans fit)
MAX_MESSAGE_SIZE = 0  # ZMQ_MAXMSGSIZE off: exceeding it disconnects for good (subscriber.py)
_NAME_RE = re.compile(rb"[a-z][a-z_]{0,31}\Z")  # bluesky document names: start, event_page, ...
_MSGPACK_MAP = frozenset(range(0x81, 0x90)) | {0xDE, 0xDF}
_WHITESPACE = b" \t\r\n"


class PickleRefused(ValueError):
    """A pickle payload arrived while pickle is disabled (counted in ``refused``)."""


def classify(payload: bytes) -> str | None:
    """The payload's format from its first bytes: "json", "msgpack", "pickle" or None."""
    if not payload:
        return None
    first = payload[0]
    if first == 0x80 and len(payload) > 1 and 2 <= payload[1] <= 5:
        return "pickle"
    if first in _MSGPACK_MAP or payload == b"\x80":
        return "msgpack"
    if payload.lstrip(_WHITESPACE)[:1] == b"{":
        return "json"
    return None


class DocumentSubscriber(Subscriber[Document]):
    """Async reader of ``(name, doc)`` pairs from a bluesky 0MQ proxy's OUT address.

    ``prefix``: only frames from publishers with this prefix (empty: all publishers, like
    bluesky's ``RemoteDispatcher``). ``decoders``: the payload formats accepted (auto-detected per
    message). Counters: ``received`` frames, ``malformed`` (skipped), ``refused`` (pickles while
    pickle is disabled). The socket is created lazily, inside the running loop.
    """

    def __init__(self, address: str, *, prefix: bytes = b"",
                 decoders: Sequence[str] = DECODERS, allow_pickle: bool = False,
                 rcvhwm: int = 100_000, max_bytes: int = MAX_PAYLOAD_BYTES,
                 max_message_size: int = MAX_MESSAGE_SIZE) -> None:  # fmt: skip
        if isinstance(prefix, str) or b" " in prefix:
            raise ValueError("prefix must be bytes without b' '")
        unknown = [d for d in decoders if d not in DECODERS]
        if unknown or not decoders:
            raise ValueError(f"decoders must be a non-empty subset of {DECODERS}, not {unknown}")
        # A deep pipe: a 1 kHz burst waits in 0MQ while the GUI paints, instead of being dropped
        # at the proxy's PUB (whose high-water mark we cannot configure).
        super().__init__(address, subscriptions=[prefix + b" " if prefix else b""],
                         rcvhwm=rcvhwm, max_bytes=max_bytes,
                         max_message_size=max_message_size)  # fmt: skip
        self.prefix = bytes(prefix)
        self.decoders = tuple(decoders)
        self._allow_pickle = bool(allow_pickle)
        if self._allow_pickle:
            logger.warning("Pickle payloads are ENABLED for %s: unpickling runs arbitrary code; "
                           "only use this with a trusted document stream.", address)  # fmt: skip
        self._msgpack_unpackb: Callable[..., Any] | None = None
        if "msgpack" in self.decoders:
            try:
                import msgpack
            except ImportError:
                logger.warning("msgpack is not installed: msgpack documents will be skipped")
            else:
                self._msgpack_unpackb = msgpack.unpackb
        self.refused = 0

    @property
    def pickle_enabled(self) -> bool:
        """True if pickle payloads are unpickled (the UI shows this as a warning)."""
        return self._allow_pickle

    def _closed_error(self) -> Exception:
        return RuntimeError("the DocumentSubscriber is closed")

    # -- decoding -------------------------------------------------------------------------------
    def _decode_payload(self, payload: bytes) -> Any:
        kind = classify(payload)
        if kind == "pickle":
            if not self._allow_pickle:
                raise PickleRefused("pickle payload refused (allow_pickle is off)")
            return pickle.loads(payload)  # opted in explicitly; warned at construction
        if kind == "json" and "json" in self.decoders:
            return json.loads(payload)
        if kind == "msgpack" and self._msgpack_unpackb is not None:
            return self._msgpack_unpackb(payload, raw=False, strict_map_key=False)
        raise ValueError(f"unrecognised payload (first bytes {payload[:8]!r})")

    def parse(self, frames: Sequence[bytes]) -> Document | None:
        """One received message -> ``(name, doc)``; None (and counted) if unusable."""
        try:
            if len(frames) != 1:
                raise ValueError(f"{len(frames)} frames, expected 1")
            if self._skip_oversized(len(frames[0]), "document frame"):
                return None
            prefix, name, payload = bytes(frames[0]).split(b" ", 2)
            if self.prefix and prefix != self.prefix:
                return None  # another publisher's documents: not ours, not malformed
            if not _NAME_RE.match(name):
                raise ValueError(f"bad document name {name[:40]!r}")
            doc = self._decode_payload(payload)
            if not isinstance(doc, Mapping):
                raise ValueError(f"payload is a {type(doc).__name__}, not a mapping")
            return name.decode("ascii"), dict(doc)
        except PickleRefused as ex:
            self.refused += 1
            logger.debug("Refused a document: %s", ex)
        # Untrusted bytes: any decoder error (json, msgpack's own classes, recursion limits,
        # and, only when enabled, arbitrary unpickling errors) means "skip this frame".
        except Exception as ex:
            self.malformed += 1
            logger.debug("Skipped a malformed document frame: %s", ex)
        return None

    def stats(self) -> dict[str, int]:
        return {"received": self.received, "malformed": self.malformed, "refused": self.refused,
                "oversized": self.oversized}  # fmt: skip


class DocumentPump:
    """Reads a DocumentSubscriber on the running asyncio loop and hands over batches.

    Awaiting one message at a time costs a full event-loop turn per message (on qasync that is a
    Qt timer event each, ~4,000 msg/s at best), so after the first document of a burst the pump
    sleeps ``interval`` seconds and then drains everything queued meanwhile: the consumer sees at
    most ~1/interval batches per second whatever the rate. ``batch_limit`` (documents) and
    ``budget`` (seconds of reading and decoding) bound one loop turn; a bigger backlog is delivered
    over several turns, with the event loop (painting, the heartbeat, requests) running between.
    """

    def __init__(self, subscriber: DocumentSubscriber,
                 callback: Callable[[list[Document]], object], *,
                 interval: float = 0.02, batch_limit: int = 1000,
                 budget: float = 0.008) -> None:  # fmt: skip
        self.subscriber = subscriber
        self.callback = callback
        self.interval = interval
        self.batch_limit = batch_limit
        self.budget = budget
        self.batches = 0
        self.documents = 0
        self.callback_errors = 0
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task:
        """Start pumping on the running loop (idempotent); returns the task."""
        if not self.running:
            self.subscriber.start()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="DocumentPump")
        assert self._task is not None
        return self._task

    async def stop(self) -> None:
        """Cancel the pump and wait for it; the subscriber stays open (the owner closes it)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _deliver(self, batch: list[Document]) -> None:
        self.batches += 1
        self.documents += len(batch)
        try:
            self.callback(batch)
        # The consumer is UI code; one failing batch must not end the live feed for the shift.
        except Exception:
            self.callback_errors += 1
            logger.exception("Document batch callback failed (%d documents)", len(batch))

    async def _run(self) -> None:
        sub = self.subscriber
        while not sub.closed:
            try:
                first = await sub.next(timeout=None)
            except zmq.ZMQError:
                if sub.closed:
                    return
                raise
            if first is None:
                continue
            if self.interval > 0:
                await asyncio.sleep(self.interval)  # let the burst accumulate in 0MQ
            if sub.closed:
                return
            self._deliver([first, *sub.drain(self.batch_limit - 1, self.budget)])
            while sub.backlog and not sub.closed:
                await asyncio.sleep(0)  # let Qt paint between chunks of a backlog
                batch = sub.drain(self.batch_limit, self.budget)
                if batch:
                    self._deliver(batch)
