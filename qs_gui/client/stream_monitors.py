"""``console_monitor`` and ``system_info_monitor``: the reference client's info-socket monitors.

Same methods and semantics as ``bluesky_queueserver_api``'s ``ConsoleMonitor_ZMQ_Async`` and
``SystemInfoMonitor_ZMQ_Async``: ``enable()`` starts a reader that puts each message
(``{"time", "msg"}``) into a buffer of ``max_msgs`` (new messages are dropped while it is full;
0 keeps none) and ``next_msg(timeout)`` takes them out (RequestTimeoutError when none comes);
``disable()`` lets the reader end within one ``poll_timeout``, so a quick ``disable()`` +
``enable()`` continues with the same buffer, while ``enable()`` after the reader ended starts
afresh with empty buffers; ``disable_wait()`` waits for the end. The console monitor also renders
the text (:mod:`.console_text`).

Built on a message *source*: over 0MQ an :class:`~.monitor.InfoMonitor` (a SUB socket), over HTTP
a WebSocket or a poll of the gateway (:mod:`.http_streams`). Nothing is created before first use,
the source exists only while enabled (started inside ``enable()``, so nothing published after it
returns is missed), and it is closed when the reader ends or the client closes.
Not copied from the reference: a message dropped from a full buffer still reaches the text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from .console_text import ConsoleText
from .exceptions import RequestTimeoutError
from .monitor import CONSOLE_TOPIC, STATUS_TOPIC, InfoMessage


class MessageSource(Protocol):
    """What a monitor reads: the 0MQ :class:`~.monitor.InfoMonitor` or an HTTP stream."""

    def start(self) -> None:
        """Begin receiving now (messages from this point on are not missed)."""

    async def next(self, timeout: float | None = None) -> InfoMessage | None:
        """The next message, or None when none came within ``timeout``."""

    def close(self) -> None: ...


class StreamMonitor:
    """One info-socket topic as a buffer of messages (see the module doc)."""

    topic = ""

    def __init__(self, *, source: Callable[[], MessageSource], poll_timeout: float = 1.0,
                 max_msgs: int = 10000) -> None:
        self._new_source = source
        self._poll_timeout = float(poll_timeout)
        self._msg_queue_max = max(int(max_msgs), 0)
        # The name is the reference's: its test suite puts messages here directly.
        self._msg_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._msg_queue_max)
        self._enabled = False
        self._task: asyncio.Task | None = None
        self._subscriber: MessageSource | None = None

    @property
    def enabled(self) -> bool:
        return self._enabled

    def _running(self) -> bool:
        return self._task is not None and not self._task.done()

    def enable(self) -> None:
        """Start monitoring (inside the running loop); buffers are emptied unless the reader
        of a recent ``disable()`` is still running."""
        if self._enabled:
            return
        loop = asyncio.get_running_loop()
        self._enabled = True
        if self._running():
            return
        self.clear()
        subscriber = self._new_source()
        subscriber.start()
        self._subscriber = subscriber
        self._task = loop.create_task(self._receive(subscriber))

    def disable(self) -> None:
        """Stop monitoring; the reader ends within ``poll_timeout``."""
        self._enabled = False

    async def disable_wait(self, *, timeout: float = 2) -> None:
        """``disable()`` and wait for the reader to end (asyncio.TimeoutError after
        ``timeout``)."""
        self.disable()
        if self._running():
            await asyncio.wait_for(asyncio.shield(self._task), timeout)

    def clear(self) -> None:
        """Drop the buffered messages."""
        while True:
            try:
                self._msg_queue.get_nowait()
            except asyncio.QueueEmpty:
                return

    async def next_msg(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; without ``timeout`` only one already buffered. Raises
        RequestTimeoutError when there is none."""
        try:
            if timeout:
                return await asyncio.wait_for(self._msg_queue.get(), timeout)
            return self._msg_queue.get_nowait()
        except (asyncio.QueueEmpty, asyncio.TimeoutError):
            raise RequestTimeoutError(f"No message was received (timeout={timeout})",
                                      request={}) from None

    def close(self) -> None:
        """End monitoring now and release the socket (the client is closing)."""
        self._enabled = False
        if self._task is not None:
            self._task.cancel()
        if self._subscriber is not None:
            self._subscriber.close()
            self._subscriber = None

    async def _receive(self, subscriber: MessageSource) -> None:
        try:
            while self._enabled:
                message = await subscriber.next(timeout=self._poll_timeout)
                if message is not None and self._enabled:
                    self._deliver({"time": message.time, "msg": message.msg})
        finally:
            subscriber.close()
            if self._subscriber is subscriber:
                self._subscriber = None

    def _deliver(self, message: dict[str, Any]) -> None:
        if self._msg_queue_max:
            try:
                self._msg_queue.put_nowait(message)
            except asyncio.QueueFull:
                pass  # the reference's rule: new messages are dropped while the buffer is full


class SystemInfoMonitor(StreamMonitor):
    """``RM.system_info_monitor``: status pushes (``QS_Info``), ``msg["msg"]["status"]``."""

    topic = STATUS_TOPIC


class ConsoleMonitor(StreamMonitor):
    """``RM.console_monitor``: console output (``QS_Console``), also rendered as text."""

    topic = CONSOLE_TOPIC

    def __init__(self, *, source: Callable[[], MessageSource], poll_timeout: float = 1.0,
                 max_msgs: int = 10000, max_lines: int = 1000) -> None:
        super().__init__(source=source, poll_timeout=poll_timeout, max_msgs=max_msgs)
        self._text = ConsoleText(max_lines)

    def clear(self) -> None:
        """Drop the buffered messages and the text."""
        super().clear()
        self._text.clear()

    def _deliver(self, message: dict[str, Any]) -> None:
        super()._deliver(message)
        if isinstance(message["msg"], str):
            self._text.add(message["msg"])

    @property
    def text_uid(self) -> str:
        """Changes whenever the text may have changed: re-read ``text()`` only then."""
        return self._text.uid

    @property
    def text_max_lines(self) -> int:
        return self._text.max_lines

    @text_max_lines.setter
    def text_max_lines(self, max_lines: int) -> None:
        self._text.max_lines = max_lines

    async def text(self, nlines: int | None = None) -> str:
        """The last ``nlines`` lines of console text (all kept lines if None)."""
        return self._text.text(nlines)


class ClientMonitors:
    """The monitors a client hands out: ``console_monitor`` and ``system_info_monitor`` (the
    reference's, created on first use) and ``info_monitor()`` (qs-gui's own: both topics as an
    async iterator); all closed with the client. Subclasses say where messages come from."""

    def _source(self, topic: str) -> MessageSource:
        """A new source of one topic's messages for a reference monitor."""
        raise NotImplementedError

    def _new_info_monitor(self, topics: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def _init_monitors(self, *, console: dict[str, Any], system_info: dict[str, Any]) -> None:
        self._monitor_args = {"console": console, "system_info": system_info}
        self._console_monitor: ConsoleMonitor | None = None
        self._system_info_monitor: SystemInfoMonitor | None = None
        self._monitors: list[Any] = []

    @property
    def console_monitor(self) -> ConsoleMonitor:
        """Console output: ``enable()``, ``next_msg()``, ``text()``, ... (idle until enabled)."""
        if self._console_monitor is None:
            self._console_monitor = ConsoleMonitor(
                source=lambda: self._source(CONSOLE_TOPIC), **self._monitor_args["console"])
        return self._console_monitor

    @property
    def system_info_monitor(self) -> SystemInfoMonitor:
        """Status pushes: ``enable()``, ``next_msg()``, ... (idle until enabled)."""
        if self._system_info_monitor is None:
            self._system_info_monitor = SystemInfoMonitor(
                source=lambda: self._source(STATUS_TOPIC), **self._monitor_args["system_info"])
        return self._system_info_monitor

    def info_monitor(self, *, topics: tuple[str, ...] = (STATUS_TOPIC, CONSOLE_TOPIC)) -> Any:
        """A feed of status pushes and console output (``start``, ``next``, ``drain``, async
        iteration; see :class:`~.monitor.InfoMonitor`); closed with the API."""
        monitor = self._new_info_monitor(tuple(topics))
        self._monitors.append(monitor)
        return monitor

    def _close_monitors(self) -> None:
        for monitor in self._monitors:
            monitor.close()
        self._monitors.clear()
        for stream in (self._console_monitor, self._system_info_monitor):
            if stream is not None:
                stream.close()
