"""HTTP transport to bluesky-httpserver: the same contract as the 0MQ one, on one httpx client.

The gateway forwards each route to RE Manager over 0MQ and returns RE Manager's reply as the
body, so the method names of the 0MQ protocol map one to one onto routes (:data:`ROUTES`), and a
reply decodes to the same dict. Every request carries a JSON body, GETs included: routes such as
``GET /api/task/status`` read their parameters from it.

What differs from 0MQ, and how it is handled here (reference/http-protocol.md):

* Failures are HTTP-shaped: a status >= 400 raises :class:`HTTPClientError` /
  :class:`HTTPServerError` with the gateway's ``detail`` (or its plain-text body: a proxy's HTML
  404 or the gateway's CSRF 403 are not JSON), a connection failure :class:`HTTPRequestError`, a
  timeout :class:`TransportTimeout` (the API turns it into ``RequestTimeoutError``).
* After a 500 the keep-alive connection it came on is dead: the next request on it fails with an
  empty ``ReadError``. A read (idempotent) that fails to connect or read is retried once; a
  mutating request never is, since it may have been applied.
* A 408 means the gateway did not hear back from RE Manager within its fixed 2 s: the request
  may have been applied. It stays an ``HTTPClientError`` (as in the reference) and callers that
  change state reconcile, exactly as after a lost 0MQ reply (:func:`is_gateway_timeout`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .exceptions import (
    ClientClosedError,
    HTTPClientError,
    HTTPError,
    HTTPRequestError,
    HTTPServerError,
)
from .jsonstream import SMALL, Reuse
from .transport import BULK_METHODS, SMALL_REPLY_LIMIT, SMALL_REPLY_METHODS, Codec, TransportTimeout

#: RE Manager method -> (HTTP method, route); the reference client's map (0.0.13), plus the
#: gateway's authentication routes that its API methods use by name
ROUTES: dict[str, tuple[str, str]] = {
    "ping": ("GET", "/api/ping"),
    "status": ("GET", "/api/status"),
    "config_get": ("GET", "/api/config/get"),
    "queue_start": ("POST", "/api/queue/start"),
    "queue_stop": ("POST", "/api/queue/stop"),
    "queue_stop_cancel": ("POST", "/api/queue/stop/cancel"),
    "queue_get": ("GET", "/api/queue/get"),
    "queue_clear": ("POST", "/api/queue/clear"),
    "queue_autostart": ("POST", "/api/queue/autostart"),
    "queue_mode_set": ("POST", "/api/queue/mode/set"),
    "queue_item_add": ("POST", "/api/queue/item/add"),
    "queue_item_add_batch": ("POST", "/api/queue/item/add/batch"),
    "queue_item_get": ("GET", "/api/queue/item/get"),
    "queue_item_update": ("POST", "/api/queue/item/update"),
    "queue_item_remove": ("POST", "/api/queue/item/remove"),
    "queue_item_remove_batch": ("POST", "/api/queue/item/remove/batch"),
    "queue_item_move": ("POST", "/api/queue/item/move"),
    "queue_item_move_batch": ("POST", "/api/queue/item/move/batch"),
    "queue_item_execute": ("POST", "/api/queue/item/execute"),
    "history_get": ("GET", "/api/history/get"),
    "history_clear": ("POST", "/api/history/clear"),
    "environment_open": ("POST", "/api/environment/open"),
    "environment_close": ("POST", "/api/environment/close"),
    "environment_destroy": ("POST", "/api/environment/destroy"),
    "environment_update": ("POST", "/api/environment/update"),
    "re_pause": ("POST", "/api/re/pause"),
    "re_resume": ("POST", "/api/re/resume"),
    "re_stop": ("POST", "/api/re/stop"),
    "re_abort": ("POST", "/api/re/abort"),
    "re_halt": ("POST", "/api/re/halt"),
    "re_runs": ("POST", "/api/re/runs"),
    "plans_allowed": ("GET", "/api/plans/allowed"),
    "devices_allowed": ("GET", "/api/devices/allowed"),
    "plans_existing": ("GET", "/api/plans/existing"),
    "devices_existing": ("GET", "/api/devices/existing"),
    "permissions_reload": ("POST", "/api/permissions/reload"),
    "permissions_get": ("GET", "/api/permissions/get"),
    "permissions_set": ("POST", "/api/permissions/set"),
    "script_upload": ("POST", "/api/script/upload"),
    "function_execute": ("POST", "/api/function/execute"),
    "task_status": ("GET", "/api/task/status"),
    "task_result": ("GET", "/api/task/result"),
    "lock": ("POST", "/api/lock"),
    "unlock": ("POST", "/api/unlock"),
    "lock_info": ("GET", "/api/lock/info"),
    "kernel_interrupt": ("POST", "/api/kernel/interrupt"),
    "manager_stop": ("POST", "/api/manager/stop"),
    "manager_kill": ("POST", "/api/test/manager/kill"),
    "console_output_update": ("GET", "/api/console_output_update"),
    # the gateway's own (authentication) routes
    "session_refresh": ("POST", "/api/auth/session/refresh"),
    "apikey_new": ("POST", "/api/auth/apikey"),
    "apikey_info": ("GET", "/api/auth/apikey"),
    "apikey_delete": ("DELETE", "/api/auth/apikey"),
    "whoami": ("GET", "/api/auth/whoami"),
    "api_scopes": ("GET", "/api/auth/scopes"),
    "logout": ("POST", "/api/auth/logout"),
}

#: requests that change nothing, so one retry after a dead keep-alive connection is safe
IDEMPOTENT = frozenset({
    "ping", "status", "config_get", "queue_get", "queue_item_get", "history_get", "re_runs",
    "plans_allowed", "devices_allowed", "plans_existing", "devices_existing", "permissions_get",
    "task_status", "task_result", "lock_info", "console_output_update", "apikey_info",
    "whoami", "api_scopes",
})

GATEWAY_TIMEOUT = 408  # the gateway's 0MQ request to RE Manager timed out (2 s, fixed)


def is_gateway_timeout(ex: BaseException) -> bool:
    """True for the gateway's 408: RE Manager did not answer it in time, and the request may
    still have been applied (the caller must re-read state, never re-send)."""
    response = getattr(ex, "response", None)
    return isinstance(ex, HTTPClientError) and getattr(response, "status_code", None) == 408


def is_permission_error(ex: BaseException) -> bool:
    """A 401 for a missing scope (not a login problem): the detail names the scopes."""
    return isinstance(ex, HTTPClientError) and "Not enough permissions" in str(ex)


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """TLS verification against the system CA store, or only against ``ca_file``."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def _detail(response: httpx.Response, limit: int = 500) -> str:
    """The gateway's error text: JSON ``detail`` when there is one, else the body as text."""
    body = response.content
    if not body:
        return response.reason_phrase or ""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, Mapping) and "detail" in decoded:
        detail = decoded["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail)
    text = body.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def status_error(response: httpx.Response) -> HTTPClientError | HTTPServerError:
    """The exception for an error status, worded as the reference words it."""
    request = response.request
    code = response.status_code
    if code >= 500:
        # httpx's own text, as the reference passes it on (two lines: the MDN link included)
        message = f"Server error '{code} {response.reason_phrase}' for url '{request.url}'"
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError as ex:
            message = str(ex)
        return HTTPServerError(message, request=request, response=response)
    detail = _detail(response)
    if 300 <= code < 400 and "location" in response.headers:
        detail = f"{detail} (redirected to {response.headers['location']})".strip()
    return HTTPClientError(f"{code}: {detail} {request.url}", request=request, response=response)


def adjust_timeout(timeout: float | None, default: float) -> float | None:
    """The reference's rule: None is the default, 0 or less is no timeout."""
    timeout = default if timeout is None else float(timeout)
    return timeout if timeout > 0 else None


class HTTPTransport:
    """Requests to bluesky-httpserver over one keep-alive httpx client (see the module doc).

    ``auth`` returns the ``Authorization`` header to send (or None) at the moment a request
    goes out, so a refreshed token is used at once. The httpx client is created in the running
    loop on first use, so a transport can be built before the loop starts.
    """

    supports_reuse = True

    def __init__(self, uri: str, *, timeout: float = 5.0,
                 auth: Callable[[], dict[str, str] | None] = lambda: None,
                 verify: bool | str | ssl.SSLContext = True) -> None:
        self.uri = uri.rstrip("/")
        self.timeout_recv = float(timeout)
        self._auth = auth
        self._verify = verify
        self._client: httpx.AsyncClient | None = None
        self._codec = Codec("json")
        self._in_flight: dict[int, tuple[str, float]] = {}
        self._closed = False
        self.requests_sent = 0  # observable by tests: a mutating request is never re-sent

    # -- contract ---------------------------------------------------------------------------
    @property
    def in_flight(self) -> tuple[str, float] | None:
        """The oldest request awaiting its reply (a bulk one first)."""
        if not self._in_flight:
            return None
        pending = sorted(self._in_flight.values(), key=lambda e: (e[0] not in BULK_METHODS,
                                                                  e[1]))
        return pending[0]

    @property
    def closed(self) -> bool:
        return self._closed

    def decode(self, raw: bytes) -> Any:
        return self._codec.decode(raw)

    async def decode_async(self, raw: bytes, reuse: Reuse | None = None) -> Any:
        return await self._codec.decode_async(raw, reuse)

    def ssl_verify(self) -> bool | ssl.SSLContext:
        if not self.uri.startswith("https://"):
            return False  # no TLS: loading the CA store (120-190 ms, on the loop) is not needed
        verify = self._verify
        if isinstance(verify, str):
            return ssl_context(verify)
        if verify is True:
            return ssl_context()
        return verify

    def client(self) -> httpx.AsyncClient:
        if self._closed:
            raise ClientClosedError("The client is closed")
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.uri, verify=self.ssl_verify(), follow_redirects=False,
                timeout=adjust_timeout(None, self.timeout_recv))
        return self._client

    async def request(self, method: str, params: Mapping[str, Any], *,
                      timeout: float | None = None,
                      reuse: Reuse | None = None) -> tuple[Any, bytes]:
        """One RE Manager method through its route; see :meth:`exchange`."""
        try:
            verb, path = ROUTES[method]
        except KeyError:
            raise ValueError(f"Unknown method {method!r}: not available over HTTP") from None
        return await self.exchange(verb, path, name=method, json_body=params, timeout=timeout,
                                   reuse=reuse)

    async def exchange(self, verb: str, path: str, *, name: str | None = None,
                       json_body: Mapping[str, Any] | None = None,
                       data: Mapping[str, Any] | None = None,
                       url_params: Mapping[str, Any] | None = None,
                       headers: Mapping[str, str] | None = None, timeout: float | None = None,
                       reuse: Reuse | None = None) -> tuple[Any, bytes]:
        """Send one request; return (decoded JSON reply, raw body).

        Raises TransportTimeout when no reply came in time, HTTPRequestError when the request
        could not be made, HTTPClientError/HTTPServerError for an error status, TypeError/
        ValueError for a body that cannot be encoded (nothing sent then)."""
        name = name or f"{verb} {path}"
        content = None if data is not None else self._codec.encode(dict(json_body or {}))
        send_headers = dict(headers) if headers else (self._auth() or {})
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        limit = adjust_timeout(timeout, self.timeout_recv)
        attempts = 2 if name in IDEMPOTENT else 1
        for attempt in range(attempts):
            try:
                return await self._exchange_once(verb, path, name, content, data, url_params,
                                                 send_headers, limit, reuse)
            except HTTPError as ex:
                # what was asked, as RequestTimeoutError.request carries it (for reconciling)
                ex.qs_request = {"method": name, "params": dict(json_body or {})}
                if not isinstance(ex, HTTPRequestError) or attempt + 1 >= attempts or (
                        self._closed):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _exchange_once(self, verb, path, name, content, data, url_params, headers,
                             limit, reuse) -> tuple[Any, bytes]:
        client = self.client()
        token = object()
        self._in_flight[id(token)] = (name, time.monotonic())
        self.requests_sent += 1
        try:
            request = client.build_request(verb, path, content=content, data=data,
                                           params=url_params, headers=headers,
                                           timeout=httpx.Timeout(limit))
            response = await client.send(request, stream=True)
            try:
                length = int(response.headers.get("content-length") or 0)
                if length > SMALL_REPLY_LIMIT and name in SMALL_REPLY_METHODS:
                    raise TransportTimeout(f"malformed reply to {name!r}: {length / 2**20:.1f} "
                                           "MB, where a few KB are expected (refused unread)")
                raw = await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as ex:
            raise TransportTimeout(str(ex) or f"no reply within {limit} s") from ex
        except httpx.RequestError as ex:
            raise HTTPRequestError(f"HTTP request error: {ex}", request=ex.request) from ex
        finally:
            del self._in_flight[id(token)]
        if response.status_code >= 300 or response.status_code < 200:
            raise status_error(response)
        try:
            if len(raw) > SMALL or reuse is not None:
                reply = await self._codec.decode_async(raw, reuse)
            else:
                reply = self._codec.decode(raw)
        except Exception as ex:
            raise TransportTimeout(f"malformed reply to {name!r}: {ex}") from ex
        return reply, raw

    def close(self) -> None:
        """Refuse further requests; the connections are released by :meth:`aclose` (or when
        the loop next runs, if nobody awaits it)."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            try:
                asyncio.get_running_loop().create_task(client.aclose())
            except RuntimeError:
                pass  # no loop: the connections go with the client object

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
