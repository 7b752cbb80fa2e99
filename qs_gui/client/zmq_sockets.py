"""0MQ context and sockets that garbage collection can never hang on.

``zmq.Context.__del__`` destroys the context, and terminating a context blocks until every
socket of it is closed. A client dropped without ``close()`` inside a reference cycle is
collected together with its sockets and context, in no set order: when the context goes first it
no longer sees the sockets (their weak references are already cleared) and ``term()`` waits for
them forever, so the interpreter hangs (tests/integration/test_unclosed_client.py).

A :class:`SocketSet` holds the context and the sockets of one owner (a transport, a subscriber),
and a ``weakref.finalize`` on the owner closes them with linger 0 and destroys the context when
the owner is collected (or at interpreter exit). The finalizer, not only the owner, holds the
context and the sockets, so they are never part of the garbage the collector frees in arbitrary
order: the owner goes, its callback closes the sockets and then the context, and nothing blocks.
"""

from __future__ import annotations

import logging
import weakref

import zmq
import zmq.asyncio

logger = logging.getLogger(__name__)


def close_socket(sock: zmq.Socket) -> None:
    """Close with linger 0, never raising (also at collection time, from any thread)."""
    try:
        sock.close(linger=0)
    except Exception:  # e.g. the asyncio side failing on a loop being torn down
        try:
            zmq.Socket.close(sock, linger=0)
        except Exception:
            logger.debug("Could not close a 0MQ socket", exc_info=True)


class SocketSet:
    """The 0MQ context of ``owner`` (created on first use) and the sockets opened on it."""

    def __init__(self, owner: object) -> None:
        self.ctx: zmq.asyncio.Context | None = None
        self.sockets: set[zmq.asyncio.Socket] = set()
        # Bound to this set, not to the owner: the finalizer must not keep the owner alive.
        self._finalizer = weakref.finalize(owner, self._release)

    def socket(self, kind: int) -> zmq.asyncio.Socket:
        """A new socket of ``kind`` with linger 0 (RuntimeError once closed)."""
        sock = self._context().socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self.sockets.add(sock)
        return sock

    def _context(self) -> zmq.asyncio.Context:
        if not self._finalizer.alive:
            raise RuntimeError("this SocketSet is closed")
        if self.ctx is None:
            self.ctx = zmq.asyncio.Context()
            self.ctx.setsockopt(zmq.LINGER, 0)  # term() must never wait on a stuck socket
        return self.ctx

    def plain_socket(self, kind: int) -> zmq.Socket:
        """A new plain (blocking-API) socket of ``kind`` on the same context, linger 0: for a
        reader that the event loop watches through its ZMQ_FD (``subscriber.py``)."""
        sock = zmq.Socket(self._context(), kind)
        sock.setsockopt(zmq.LINGER, 0)
        self.sockets.add(sock)
        return sock

    def discard(self, sock: zmq.asyncio.Socket) -> None:
        """Close one socket (a REQ socket that missed its reply, say)."""
        self.sockets.discard(sock)
        close_socket(sock)

    def close(self) -> None:
        """Close every socket, then the context (once; never blocks)."""
        self._finalizer()

    def _release(self) -> None:
        for sock in list(self.sockets):
            close_socket(sock)
        self.sockets.clear()
        ctx, self.ctx = self.ctx, None
        if ctx is not None:
            try:
                ctx.destroy(linger=0)
            except Exception:
                logger.debug("Could not destroy a 0MQ context", exc_info=True)
