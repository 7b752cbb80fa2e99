"""``REManagerAPI``, blocking: the asyncio client for scripts, notebooks and threads.

The reference's threaded classes (``bluesky_queueserver_api.zmq.REManagerAPI`` and
``...http.REManagerAPI``) as a face over the asyncio ones, with no second implementation::

    from qs_gui.client.sync import REManagerAPI, BPlan

    RM = REManagerAPI()  # 0MQ; REManagerAPI(http_server_uri=...) or protocol="HTTP" for HTTP
    RM.item_execute(BPlan("count", ["det1"], num=10, delay=1))
    RM.wait_for_idle()
    RM.close()

How: each client owns a private event loop running in a daemon thread, and the asyncio client
(:class:`qs_gui.client.REManagerAPI`, or :class:`qs_gui.client.http.REManagerAPI`) is built and
used only inside it. The face is generated from the asyncio class when this module loads (HTTP:
on first use): every public coroutine method becomes a blocking call with the same signature and
docstring, every plain method and property setter/getter runs in the loop thread, and the class
attributes (``Protocols``, ``RequestFailedError``, ...) are the asyncio class's. An object handed
out that has coroutine methods of its own (``console_monitor``, ``system_info_monitor``, ...)
gets a face of the same kind, so ``RM.console_monitor.next_msg(timeout=2)`` blocks too.

Any number of threads may call one client at once (the calls are coroutines of the one loop).
A ``WaitMonitor`` passed to ``wait_for_*`` can be cancelled from any thread. Ctrl-C during a
blocking call cancels that call. A call from the loop thread itself (inside a ``wait_for_condition``
condition, say) cannot block on the loop and raises RuntimeError.

``close()`` closes the asyncio client, cancels what is left in the loop and ends the thread; a
client that is dropped or still open at interpreter exit is closed the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import getpass
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from . import api
from .exceptions import ClientClosedError
from .items import BFunc, BInst, BItem, BPlan
from .protocols import Protocols
from .waiting import WaitMonitor

__all__ = ["BFunc", "BInst", "BItem", "BPlan", "Protocols", "REManagerAPI", "WaitMonitor",
           "protocol_class"]

logger = logging.getLogger(__name__)

#: how long close() waits for the asyncio client's close and for the thread to end
CLOSE_TIMEOUT = 10.0


class _LoopGone(Exception):
    """The loop ended before it could run the call."""


class _Loop:
    """An event loop running in a daemon thread; runs coroutines and calls for other threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self.closed = False
        self._faces: dict[int, tuple[Any, _Face]] = {}  # id(target) -> (target, its face)
        self.thread = threading.Thread(target=self._main, name="qs-gui REManagerAPI loop",
                                       daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                _drain(self.loop)
            finally:
                self.loop.close()
                self._faces.clear()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def _await(self, coro: Coroutine, *, raw: bool = False) -> Any:
        """Run ``coro`` in the loop and block for its result (its face unless ``raw``);
        _LoopGone if the loop is."""
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise _LoopGone from None
        try:
            result = future.result()
        except concurrent.futures.CancelledError:
            if self.closed:  # cancelled by the loop's end, not by the caller
                raise _LoopGone from None
            raise
        except BaseException:
            future.cancel()  # Ctrl-C (or any interruption) cancels the coroutine too
            raise
        return result if raw else self.face(result)

    def run(self, function: Callable[..., Coroutine], *args: Any, **kwargs: Any) -> Any:
        """``await function(*args, **kwargs)`` in the loop; block until it is done."""
        if self.in_loop_thread():
            raise RuntimeError("a blocking call from the client's own loop thread (a condition "
                               "or a callback) would wait for itself forever")
        if self.closed:
            raise ClientClosedError("The client is closed")
        try:
            return self._await(function(*args, **kwargs))  # arguments are bound here
        except _LoopGone:
            raise ClientClosedError("The client was closed during the call") from None

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` in the loop thread (directly once the loop is gone:
        properties and plain methods still answer after ``close()``)."""
        if not self.in_loop_thread() and self.thread.is_alive():
            async def in_loop() -> Any:
                return function(*args, **kwargs)

            try:
                return self._await(in_loop())
            except _LoopGone:
                pass
        return self.face(function(*args, **kwargs))

    def face(self, value: Any) -> Any:
        """``value``, or the blocking face of it when it has coroutine methods."""
        face_class = _face_class(type(value))
        if face_class is None:
            return value
        with self._lock:
            known = self._faces.get(id(value))
            if known is None or known[0] is not value:
                known = (value, face_class(self, value))
                self._faces[id(value)] = known
            return known[1]

    def shutdown(self, target: Any) -> None:
        """Close ``target`` (the asyncio client) in the loop, then end the loop and thread."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        loop = self.loop
        if not self.thread.is_alive():
            return
        if self.in_loop_thread():  # the collector ran the finalizer here: no blocking
            task = loop.create_task(target.close())
            task.add_done_callback(lambda _: loop.stop())
            return
        try:
            asyncio.run_coroutine_threadsafe(target.close(), loop).result(CLOSE_TIMEOUT)
        except Exception:
            logger.warning("Closing the asyncio client failed", exc_info=True)
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # already closed
            pass
        self.thread.join(CLOSE_TIMEOUT)


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is left in the stopped loop (no "Task was destroyed" warnings)."""
    for _ in range(5):
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not tasks:
            break
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())


# -- faces: generated from the asyncio classes ------------------------------------------------

class _Face:
    """The blocking face of one loop-bound object (``_target``), used through ``_loop``."""

    _loop: _Loop
    _target: Any

    def __init__(self, loop: _Loop, target: Any) -> None:
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        """Anything not generated (private attributes, say) is read in the loop too."""
        if name.startswith("__") or name in ("_loop", "_target"):
            raise AttributeError(name)
        loop = self._loop
        value = loop.call(getattr, self._target, name)
        if inspect.iscoroutinefunction(value):
            return functools.wraps(value)(functools.partial(loop.run, value))
        if inspect.ismethod(value) or inspect.isbuiltin(value):
            return functools.wraps(value)(functools.partial(loop.call, value))
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(inspect.getattr_static(type(self), name, None), property):
            object.__setattr__(self, name, value)  # its setter runs in the loop
        else:
            self._loop.call(setattr, self._target, name, value)

    def __dir__(self) -> list[str]:
        names = set(super().__dir__()) | set(dir(self._target))
        return sorted(n for n in names
                      if not isinstance(inspect.getattr_static(type(self), n, None), _Absent))

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"


def _blocking(function: Callable[..., Coroutine]) -> Callable[..., Any]:
    @functools.wraps(function)
    def method(self: _Face, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(function, self._target, *args, **kwargs)
    return method


def _in_loop(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def method(self: _Face, *args: Any, **kwargs: Any) -> Any:
        return self._loop.call(function, self._target, *args, **kwargs)
    return method


def _property(name: str, prop: property) -> property:
    def fget(self: _Face) -> Any:
        return self._loop.call(getattr, self._target, name)

    def fset(self: _Face, value: Any) -> None:
        self._loop.call(setattr, self._target, name, value)

    return property(fget, fset if prop.fset is not None else None, doc=prop.__doc__)


class _Absent:
    """A name of the base face that the asyncio class of a subclass does not have."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        raise AttributeError(self.name)


def _public_members(cls: type) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is not object:
            members.update((n, v) for n, v in vars(klass).items() if not n.startswith("_"))
    return members


def _members(target_cls: type) -> dict[str, Any]:
    """The generated body of the face of ``target_cls``."""
    body: dict[str, Any] = {}
    for name, member in _public_members(target_cls).items():
        if isinstance(member, (staticmethod, classmethod)):
            body[name] = member
        elif inspect.iscoroutinefunction(member):
            body[name] = _blocking(member)
        elif isinstance(member, property):
            body[name] = _property(name, member)
        elif inspect.isfunction(member):
            body[name] = _in_loop(member)
        elif isinstance(member, type) or not callable(member):
            body[name] = member  # exception classes, enums, constants
    return body


@functools.cache
def _face_class(target_cls: type) -> type[_Face] | None:
    """The blocking face class of ``target_cls``; None for a class without coroutine methods
    (data: returned as it is)."""
    members = _public_members(target_cls)
    if not any(inspect.iscoroutinefunction(m) for m in members.values()):
        return None
    body = _members(target_cls)
    body.update(__module__=__name__, __doc__=target_cls.__doc__)
    return type(f"Blocking{target_cls.__name__}", (_Face,), body)


# -- the client ------------------------------------------------------------------------------

def _wants_http(protocol: Any, kwargs: dict[str, Any]) -> bool:
    if protocol is None:
        return "http_server_uri" in kwargs or "http_auth_provider" in kwargs
    name = getattr(protocol, "value", protocol)  # ours, the reference's enum, or a string
    return Protocols(str(name).upper()) is Protocols.HTTP


def _shutdown(loop: _Loop, target: Any) -> None:
    loop.shutdown(target)


class REManagerAPI(_Face):
    """Blocking RE Manager client: the methods of :class:`qs_gui.client.REManagerAPI` (0MQ,
    keyword arguments as its constructor's) or, with ``http_server_uri=`` or
    ``protocol="HTTP"``, of ``qs_gui.client.http.REManagerAPI`` (bluesky-httpserver), as plain
    calls that return the reply (see the module doc)::

        RM = REManagerAPI()
        RM.item_execute(BPlan("count", ["det1"], num=10, delay=1))
        RM.close()
    """

    _target_class: type = api.REManagerAPI

    def __new__(cls, *, protocol: Any = None, **kwargs: Any) -> REManagerAPI:
        if cls is REManagerAPI and _wants_http(protocol, kwargs):
            cls = _http_face()
        return super().__new__(cls)

    def __init__(self, *, protocol: Any = None, **kwargs: Any) -> None:
        loop = _Loop()
        target_cls = type(self)._target_class

        async def build() -> Any:  # inside the loop: the client binds to it
            return target_cls(**kwargs)

        try:
            target = loop._await(build(), raw=True)
        except BaseException:
            loop.shutdown(_Nothing())
            raise
        super().__init__(loop, target)
        # closes the client when this face is collected or at interpreter exit
        object.__setattr__(self, "_finalizer", weakref.finalize(self, _shutdown, loop, target))

    def close(self) -> None:
        """Close the client (sockets, monitors), then end its loop thread. Idempotent."""
        self._finalizer()

    def __enter__(self) -> REManagerAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{__name__}.REManagerAPI over {self._target!r}>"


class _Nothing:
    async def close(self) -> None:
        pass


for _name, _member in _members(api.REManagerAPI).items():
    if _name != "close":
        setattr(REManagerAPI, _name, _member)
del _name, _member


def _prompting(login: Callable[..., Coroutine]) -> Callable[..., Any]:
    """``login`` that asks at the terminal for a username or password not given (as the
    reference does) in the calling thread: the loop goes on serving the client's other
    calls, and Ctrl-C at the prompt works."""

    @functools.wraps(login)
    def method(self: _Face, username: str | None = None, *, password: str | None = None,
               provider: str | None = None) -> Any:
        if username is None:
            username = input("Username: ")
        if password is None:
            password = getpass.getpass()
        return self._loop.run(login, self._target, username, password=password,
                              provider=provider)

    return method


@functools.cache
def _http_face() -> type[REManagerAPI]:
    """The face of the HTTP client, made on first use (it imports httpx)."""
    from . import http

    target_cls = http.REManagerAPI
    body = {name: _Absent() for name in _members(api.REManagerAPI) if name != "close"}
    body.update({n: m for n, m in _members(target_cls).items() if n != "close"})
    body["login"] = _prompting(target_cls.login)
    body.update(__module__=__name__, __doc__=REManagerAPI.__doc__, _target_class=target_cls,
                __qualname__="REManagerAPI")
    return type("REManagerAPI", (REManagerAPI,), body)


def protocol_class(protocol: Any) -> type[REManagerAPI]:
    """The face class of ``protocol`` ("ZMQ" or "HTTP", either ``Protocols`` enum): a subclass
    of :class:`REManagerAPI` whose class attributes and methods are that protocol's (what
    ``REManagerAPI(protocol=...)`` instantiates)."""
    return _http_face() if _wants_http(protocol, {}) else REManagerAPI
