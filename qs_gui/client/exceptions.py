"""Exceptions raised by :mod:`qs_gui.client`.

The hierarchy mirrors ``bluesky_queueserver_api`` so code written against the reference client
catches the same classes, and keeps three kinds of failure apart (as httpx does):

    Exception
     ├─ RequestParameterError        a bad argument detected before anything is sent
     ├─ RequestFailedError           the server replied ``success: False`` (.request, .response)
     ├─ HTTPError                    (HTTP transport; the reference derives these from httpx)
     │   ├─ HTTPRequestError         the HTTP request could not be made
     │   └─ HTTPStatusError          an error status (.request, .response)
     │       ├─ HTTPClientError      4xx
     │       └─ HTTPServerError      5xx
     ├─ OSError
     │   └─ TimeoutError
     │       ├─ RequestTimeoutError  no reply in time / communication failure (.request)
     │       ├─ WaitTimeoutError     a wait_* call timed out
     │       └─ WaitCancelError      a wait_* call was cancelled
     └─ RuntimeError
         ├─ ReadOnlyError            a mutating call on a read-only (monitor mode) client
         └─ ClientClosedError        a call after ``close()``

The HTTP classes derive from httpx's as the reference's do (``HTTPRequestError`` is an
``httpx.RequestError``, the status errors are ``httpx.HTTPStatusError``), so ``except`` clauses
written for the reference or for httpx catch them; ``.request``/``.response`` are the httpx
objects. The 0MQ client never raises them.

Caller bugs (unserialisable parameters, wrong argument types) raise ``TypeError``/``ValueError``
and never masquerade as timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class RequestParameterError(Exception):
    """An argument cannot be turned into a valid request."""


class RequestTimeoutError(TimeoutError):
    """No reply arrived in time, or the 0MQ exchange failed; the socket has been recreated."""

    def __init__(self, msg: Any, request: Mapping[str, Any] | None):
        self.request = request
        super().__init__(f"Request timeout: {msg}")


class RequestFailedError(Exception):
    """The server refused the request (``success`` is False)."""

    def __init__(self, request: Mapping[str, Any] | None, response: Any):
        msg = response.get("msg", "") if isinstance(response, Mapping) else str(response)
        self.request = request
        self.response = response
        super().__init__(f"Request failed: {msg or '(no error message)'}")


class HTTPError(httpx.HTTPError):
    """Base of qs-gui's HTTP errors; ``.request`` raises RuntimeError when unset, as httpx's."""

    def __init__(self, message: str, *, request: Any = None):
        Exception.__init__(self, message)
        self._request = request


class HTTPRequestError(HTTPError, httpx.RequestError):
    """The HTTP request could not be sent or answered (no status code)."""


class HTTPStatusError(HTTPError, httpx.HTTPStatusError):
    """The HTTP server answered with an error status."""

    def __init__(self, message: str, *, request: Any = None, response: Any = None):
        super().__init__(message, request=request)
        self.response = response


class HTTPClientError(HTTPStatusError):
    """A 4xx status."""


class HTTPServerError(HTTPStatusError):
    """A 5xx status."""


class WaitTimeoutError(TimeoutError):
    """A wait for a server condition timed out."""


class WaitCancelError(TimeoutError):
    """A wait for a server condition was cancelled."""


class ReadOnlyError(RuntimeError):
    """A mutating request was refused locally because the client is read-only."""


class ClientClosedError(RuntimeError):
    """The client was used after ``close()``."""
