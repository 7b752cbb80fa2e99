"""``REManagerAPI`` over HTTP: RE Manager through bluesky-httpserver, with logins and scopes.

Mirrors ``bluesky_queueserver_api.http.aio.REManagerAPI`` (0.0.13): same constructor, methods,
return dicts and exceptions; every RE Manager method is the one of
:class:`~.api.REManagerAPIBase` (one copy for both transports), sent by
:class:`~.http_transport.HTTPTransport`. ``user``/``user_group`` are accepted and not sent: the
gateway writes the logged-in user's into every request.

Authentication (reference/http-protocol.md §1.4, §2.7): an API key (``ApiKey``) or a login
against a named provider (access + refresh token, ``Bearer``). A token is refreshed before it
expires and, as in the reference, once after a 401 that says it has expired. Keys, tokens and
passwords are held in memory only.

Not copied from the reference: the URL of the WebSockets follows the scheme (``wss://`` behind
``https://``); the console poll sleeps after failures too; TLS verifies against the system CA
store or a given CA file; error messages never assume a JSON ``detail``; a read that meets a
dead keep-alive connection (after a 500) is retried once.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .api import READ_ONLY_METHODS, REManagerAPIBase, is_success
from .exceptions import (
    ClientClosedError,
    HTTPClientError,
    ReadOnlyError,
    RequestFailedError,
    RequestParameterError,
    RequestTimeoutError,
)
from .http_streams import INFO_WS, HTTPFeed, console_poll_reader, info_feed, websocket_reader
from .http_transport import ROUTES, HTTPTransport, ssl_context
from .jsonstream import Reuse
from .monitor import CONSOLE_TOPIC
from .protocols import AuthorizationMethods, Protocols
from .transport import Transport, TransportTimeout

T = TypeVar("T")

DEFAULT_HTTP_SERVER_URI = "http://localhost:60610"
#: refresh an access token this long (at most) before it expires
REFRESH_MARGIN = 30.0
TOKEN_EXPIRED = "401: Access token has expired"
#: the gateway's status cache (0.4 s, bluesky-httpserver 0.0.14) and a margin
GATEWAY_STATUS_AGE = 0.45
STALE_RETRIES = 3
#: the client's own session with the gateway: allowed to a read-only client (see
#: ``REManagerAPI._sendable_read_only``); logging in is ``POST LOGIN_PATH<provider>``
GATEWAY_SESSION_METHODS = frozenset({"session_refresh", "apikey_new", "apikey_delete", "logout"})
LOGIN_PATH = "/api/auth/provider/"
#: the uid each cached getter's reply carries
REPLY_UID_KEYS = {
    "queue_get": "plan_queue_uid", "history_get": "plan_history_uid",
    "plans_allowed": "plans_allowed_uid", "devices_allowed": "devices_allowed_uid",
    "plans_existing": "plans_existing_uid", "devices_existing": "devices_existing_uid",
    "re_runs": "run_list_uid", "lock_info": "lock_info_uid",
}


def api_key_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The API key the peers read: ``QSERVER_HTTP_SERVER_API_KEY``, else the file named by
    ``QSERVER_HTTP_SERVER_API_KEYFILE``; whitespace stripped (a trailing newline in a key file
    would make an illegal header)."""
    env = os.environ if environ is None else environ
    key = (env.get("QSERVER_HTTP_SERVER_API_KEY") or "").strip()
    if key:
        return key
    path = (env.get("QSERVER_HTTP_SERVER_API_KEYFILE") or "").strip()
    if path:
        return read_api_key_file(path)
    return None


def read_api_key_file(path: str | os.PathLike) -> str:
    """The key in ``path`` (first non-empty line, stripped); ValueError when there is none."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as ex:
        raise ValueError(f"Cannot read the API key file {str(path)!r}: {ex.strerror}") from None
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise ValueError(f"The API key file {str(path)!r} is empty")


def _check_str(value: Any, what: str) -> None:
    if not isinstance(value, (str, type(None))):
        raise RequestParameterError(f"{what} must be a string or None: {value!r}")


def _endpoint(name: Any, what: str) -> str | None:
    """A provider path with a leading ``/`` (the reference's rule), or None."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise RequestParameterError(f"{what} must be a string or None: {name!r}")
    name = name.strip()
    if not name:
        raise RequestParameterError(f"{what} is an empty string")
    return name if name.startswith("/") else f"/{name}"


class REManagerAPI(REManagerAPIBase):
    """Asyncio client for RE Manager behind bluesky-httpserver (see the module doc)."""

    _pass_user_info = False

    def __init__(
        self, *, http_server_uri: str | None = None, http_auth_provider: str | None = None,
        timeout: float | None = 5.0, timeout_login: float | None = 60.0,
        console_monitor_poll_period: float = 0.5, console_monitor_max_msgs: int = 10000,
        console_monitor_max_lines: int = 1000, system_info_monitor_poll_period: float = 0.5,
        system_info_monitor_max_msgs: int = 10000, request_fail_exceptions: bool = True,
        status_expiration_period: float = 0.5, status_polling_period: float = 1.0,
        loop: Any = None, read_only: bool = False, ca_file: str | None = None,
        verify: bool = True, transport: Transport | None = None,
        bulk_timeout_per_item: float = 2e-4, reuse_unchanged_items: bool = False,
    ):
        super().__init__()
        uri = (http_server_uri or os.environ.get("QSERVER_HTTP_SERVER_URI")
               or DEFAULT_HTTP_SERVER_URI).strip()
        if not uri.startswith(("http://", "https://")):
            raise ValueError(f"HTTP server URI must start with http:// or https://: {uri!r}")
        self._http_server_uri = uri
        self._http_auth_provider = _endpoint(http_auth_provider, "Authentication provider path")
        self._timeout = 5.0 if timeout is None else float(timeout)
        self._timeout_login = 60.0 if timeout_login is None else float(timeout_login)
        self._auth_method = AuthorizationMethods.NONE
        self._auth_key: Any = None
        self._token_expires: float | None = None  # monotonic time the access token expires
        self._refresh_lock: asyncio.Lock | None = None
        self._verify: bool | str = ca_file if ca_file else bool(verify)
        self._served_uids: dict[str, Any] = {}  # getter name -> uid of the last list served
        self._init_api(
            transport=transport or HTTPTransport(uri, timeout=self._timeout,
                                                 auth=self._auth_headers, verify=self._verify),
            timeout_recv=self._timeout, request_fail_exceptions=request_fail_exceptions,
            status_expiration_period=status_expiration_period,
            status_polling_period=status_polling_period, read_only=read_only,
            bulk_timeout_per_item=bulk_timeout_per_item,
            reuse_unchanged_items=reuse_unchanged_items,
            console={"poll_timeout": console_monitor_poll_period,
                     "max_msgs": console_monitor_max_msgs,
                     "max_lines": console_monitor_max_lines},
            system_info={"poll_timeout": system_info_monitor_poll_period,
                         "max_msgs": system_info_monitor_max_msgs})

    # -- properties -------------------------------------------------------------------------
    @property
    def protocol(self) -> Protocols:
        return Protocols.HTTP

    @property
    def server_address(self) -> str:
        return self._http_server_uri

    @property
    def http_server_uri(self) -> str:
        return self._http_server_uri

    @property
    def auth_method(self) -> AuthorizationMethods:
        """NONE, API_KEY or TOKEN."""
        return self._auth_method

    @property
    def auth_key(self) -> Any:
        """The API key, ``(access_token, refresh_token)``, or None."""
        return self._auth_key

    def set_authorization_key(self, *, api_key: str | None = None, token: str | None = None,
                              refresh_token: str | None = None) -> None:
        """Use an API key, or tokens, for the following requests (nothing is sent); no
        arguments: no authorization."""
        if api_key and (token or refresh_token):
            raise RequestParameterError(
                "API key and a token are mutually exclusive and can not be specified "
                "simultaneously.")
        _check_str(api_key, "API key")
        _check_str(token, "Token")
        _check_str(refresh_token, "Refresh token")
        self._token_expires = None
        if api_key:
            self._auth_method, self._auth_key = AuthorizationMethods.API_KEY, api_key
        elif token or refresh_token:
            self._auth_method = AuthorizationMethods.TOKEN
            self._auth_key = (token, refresh_token)
        else:
            self._auth_method, self._auth_key = AuthorizationMethods.NONE, None

    def _headers_for(self, *, token: str | None = None,
                     api_key: str | None = None) -> dict[str, str] | None:
        if token is not None and api_key is not None:
            raise RequestParameterError("The request contains both token and API key.")
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        if api_key is not None:
            return {"Authorization": f"ApiKey {api_key}"}
        return None

    def _auth_headers(self) -> dict[str, str] | None:
        if self._auth_method == AuthorizationMethods.API_KEY and self._auth_key:
            return {"Authorization": f"ApiKey {self._auth_key}"}
        if self._auth_method == AuthorizationMethods.TOKEN and self._auth_key[0]:
            return {"Authorization": f"Bearer {self._auth_key[0]}"}
        return None

    @property
    def token_expires_in(self) -> float | None:
        """Seconds until the access token expires (None: no token, or unknown)."""
        if self._token_expires is None:
            return None
        return self._token_expires - time.monotonic()

    # -- the request path -------------------------------------------------------------------
    def _can_refresh(self) -> bool:
        return (self._auth_method == AuthorizationMethods.TOKEN
                and self._auth_key[1] is not None)

    async def _refresh_if_due(self) -> None:
        """Refresh before the access token expires (or when only a refresh token is set)."""
        if not self._can_refresh():
            return
        expires = self._token_expires
        if self._auth_key[0] and (expires is None or time.monotonic() < expires):
            return
        await self._refresh_once(self._auth_key)

    async def _refresh_once(self, seen: Any) -> None:
        """Refresh unless another caller already did since ``seen`` was the key."""
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            if self._auth_key is seen and self._can_refresh():
                await self.session_refresh()

    async def _authorized(self, send: Callable[[], Awaitable[T]], auto_refresh: bool) -> T:
        if auto_refresh:
            try:
                await self._refresh_if_due()
            except Exception:
                pass  # the request itself says what is wrong with the session
        seen = self._auth_key
        try:
            return await send()
        except HTTPClientError as ex:
            if not (auto_refresh and TOKEN_EXPIRED in str(ex) and self._can_refresh()):
                raise
        await self._refresh_once(seen)  # raises when the session is gone (revoked, expired)
        return await send()

    async def _request(self, method: str, params: Mapping[str, Any], *, timeout: float | None,
                       reuse: Reuse | None) -> tuple[Any, bytes]:
        if method not in ROUTES:
            raise RequestParameterError(f"Unknown method {method!r}")
        auto = method not in ("session_refresh", "logout")
        return await self._authorized(
            lambda: self._transport.request(method, params, timeout=timeout, reuse=reuse), auto)

    async def send_request(self, *, method: str | Iterable[str],
                           params: Mapping[str, Any] | None = None,
                           url_params: Mapping[str, Any] | None = None,
                           headers: Mapping[str, str] | None = None,
                           data: Mapping[str, Any] | None = None, timeout: float | None = None,
                           auto_refresh_session: bool = True) -> Any:
        """Send a method by name, or ``(HTTP method, path)`` for any gateway route; raise or
        return exactly as the typed wrappers do."""
        if isinstance(method, str) and auto_refresh_session and not (
                url_params or headers or data):
            response, _ = await self._send(method, params, timeout=timeout)
            return response
        verb, path, name = self._route(method)
        if self._closed:
            raise ClientClosedError("The client is closed")
        if self._read_only and not (verb == "GET" or self._sendable_read_only(name) or (
                verb == "POST" and path.startswith(LOGIN_PATH))):
            raise ReadOnlyError(f"Read-only (monitor) mode: {name!r} was not sent")
        request = {"method": method, "params": params}
        transport = self._transport
        assert isinstance(transport, HTTPTransport)

        def send() -> Awaitable[tuple[Any, bytes]]:
            return transport.exchange(verb, path, name=name, json_body=params, data=data,
                                      url_params=url_params, headers=headers, timeout=timeout)

        try:
            response, _ = await self._authorized(send, auto_refresh_session and not headers)
        except TransportTimeout as ex:
            raise RequestTimeoutError(ex, request) from ex
        if self._request_fail_exceptions and not is_success(response):
            raise RequestFailedError(request, response)
        return response

    def _sendable_read_only(self, method: str) -> bool:
        """A monitor client still reads, and keeps its own gateway session (log in, refresh the
        token, the WebSocket's one-minute key, log out): that changes nothing on RE Manager,
        and without it a read-only login (a monitor, an overview tile) could not work."""
        return method in READ_ONLY_METHODS or method in GATEWAY_SESSION_METHODS

    @staticmethod
    def _route(method: Any) -> tuple[str, str, str]:
        if isinstance(method, str):
            if method not in ROUTES:
                raise RequestParameterError(f"Unknown method {method!r}")
            verb, path = ROUTES[method]
            return verb, path, method
        if isinstance(method, Iterable):
            parts = tuple(method)
            if len(parts) != 2 or not all(isinstance(p, str) for p in parts):
                raise RequestParameterError(
                    f"If method is an iterable, it must consist of 2 string elements: "
                    f"method={parts!r}")
            return parts[0].upper(), parts[1], f"{parts[0].upper()} {parts[1]}"
        raise RequestParameterError(
            f"Method must be a string or an iterable: method={method!r} "
            f"type(method)={type(method)!r}")

    def _status_params(self, reload: bool) -> dict[str, Any] | None:
        """``reload=True`` reaches RE Manager: the gateway answers ``GET /api/status`` from
        its own 0.4 s cache unless the body says ``reload`` (the reference never does, so its
        ``status(reload=True)`` and its waits can see a status RE Manager no longer has)."""
        return {"reload": True} if reload else None

    async def _cached(self, name: str, uid: Any, method: str, params: Mapping | None = None,
                      timeout: float | None = None) -> dict[str, Any]:
        """As over 0MQ, but a reply older than ``uid`` is not kept as ``uid``'s: the gateway
        answers the getters from its own uid cache, checked against a status up to 0.4 s old,
        so right after a push announced a new uid it can serve the previous list. It is then
        asked again once its status cache has expired."""
        key = REPLY_UID_KEYS.get(method)
        seen = self._served_uids.get(name)  # the uid of the list this client had before
        response = await super()._cached(name, uid, method, params, timeout)
        for attempt in range(STALE_RETRIES + 1):
            got = response.get(key) if key and isinstance(response, Mapping) else None
            if got is None or uid is None or got == uid:
                break
            self._cache.drop(name)  # not ``uid``'s list: never kept under its uid
            if (seen is not None and got != seen) or attempt == STALE_RETRIES:
                break  # newer than the status that asked (it changed again): use it
            await asyncio.sleep(GATEWAY_STATUS_AGE)
            response = await super()._cached(name, uid, method, params, timeout)
        if key and isinstance(response, Mapping) and response.get(key) is not None:
            self._served_uids[name] = response.get(key)
        return response

    async def re_metadata(self) -> dict[str, Any]:
        """Not served by bluesky-httpserver 0.0.14 (no route)."""
        raise RequestParameterError("Unknown method 're_metadata': not available over HTTP")

    # -- authentication ----------------------------------------------------------------------
    def _store_tokens(self, response: Any) -> Any:
        if isinstance(response, Mapping):
            self.set_authorization_key(token=response.get("access_token"),
                                       refresh_token=response.get("refresh_token"))
            expires_in = response.get("expires_in")
            if isinstance(expires_in, (int, float)) and expires_in > 0:
                margin = min(REFRESH_MARGIN, 0.2 * expires_in)
                self._token_expires = time.monotonic() + expires_in - margin
        return response

    async def login(self, username: str | None = None, *, password: str | None = None,
                    provider: str | None = None) -> dict[str, Any]:
        """Log in with a password against ``provider`` (e.g. ``"toy/token"``); the tokens are
        kept (in memory) for the following requests. Without ``username``/``password`` they
        are asked on the terminal, as the reference does (the GUI always passes both)."""
        if username is None:  # the reference's interactive prompts (scripts, notebooks)
            username = input("Username: ")
        if password is None:
            password = getpass.getpass()
        for name, value in (("username", username), ("password", password)):
            if not isinstance(value, str):
                raise RequestParameterError(f"'{name}' is not string: type({name})={type(value)}")
            if not value.strip():
                raise RequestParameterError(f"'{name}' is an empty string")
        selected = _endpoint(provider, "Authentication provider path") or \
            self._http_auth_provider
        if not selected:
            raise RequestParameterError(
                "Authentication provider is not specified: set default authentication provider "
                "or pass the provider endpoint as a parameter")
        response = await self.send_request(
            method=("POST", f"/api/auth/provider{selected}"), timeout=self._timeout_login,
            data={"username": username.strip(), "password": password.strip()},
            auto_refresh_session=False)
        return self._store_tokens(response)

    async def session_refresh(self, *, refresh_token: str | None = None) -> dict[str, Any]:
        """New tokens from the refresh token (the stored one by default), stored."""
        if refresh_token is None and self._auth_method == AuthorizationMethods.TOKEN:
            refresh_token = self._auth_key[1]
        elif isinstance(refresh_token, str):
            refresh_token = refresh_token.strip() or None
            if refresh_token is None:
                raise RequestParameterError("'refresh_token' is an empty string")
        elif refresh_token is not None:
            raise RequestParameterError("'refresh_token' must be a string or None")
        if refresh_token is None:
            raise RequestParameterError("'refresh_token' is not set")
        response = await self.send_request(method="session_refresh",
                                           params={"refresh_token": refresh_token})
        return self._store_tokens(response)

    async def session_revoke(self, *, session_uid: str, token: str | None = None,
                             api_key: str | None = None) -> dict[str, Any]:
        headers = self._headers_for(token=token, api_key=api_key)
        return await self.send_request(
            method=("DELETE", f"/api/auth/session/revoke/{session_uid}"),
            **({"headers": headers, "auto_refresh_session": False} if headers else {}))

    async def apikey_new(self, *, expires_in: float, scopes: Iterable[str] | None = None,
                         note: str | None = None,
                         principal_uid: str | None = None) -> dict[str, Any]:
        """A new API key (``secret`` in the reply) for the current user or a principal."""
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
            raise RequestParameterError(
                f"Parameter 'expires_in' is not integer: expires_in={expires_in!r}")
        if isinstance(scopes, str) or (scopes is not None and (
                not isinstance(scopes, Iterable) or not all(isinstance(s, str) for s in scopes))):
            raise RequestParameterError(
                f"Parameter 'scopes' must be a list of strings: scopes={scopes!r}")
        if not isinstance(note, (str, type(None))):
            raise RequestParameterError(f"Parameter 'note' must be a strings: note={note!r}")
        _check_str(principal_uid, "Parameter 'principal_uid'")
        params: dict[str, Any] = {"expires_in": int(expires_in)}
        if scopes:
            params["scopes"] = list(scopes)
        if note:
            params["note"] = note
        method: Any = ("apikey_new" if principal_uid is None
                       else ("POST", f"/api/auth/principal/{principal_uid}/apikey"))
        return await self.send_request(method=method, params=params)

    async def apikey_info(self, *, api_key: str | None = None) -> dict[str, Any]:
        headers = self._headers_for(api_key=api_key)
        return await self.send_request(
            method="apikey_info",
            **({"headers": headers, "auto_refresh_session": False} if headers else {}))

    async def apikey_delete(self, *, first_eight: str, token: str | None = None,
                            api_key: str | None = None) -> dict[str, Any]:
        headers = self._headers_for(token=token, api_key=api_key)
        return await self.send_request(
            method="apikey_delete", url_params={"first_eight": first_eight},
            **({"headers": headers, "auto_refresh_session": False} if headers else {}))

    async def whoami(self, *, token: str | None = None,
                     api_key: str | None = None) -> dict[str, Any]:
        """The principal (identities, sessions, API keys) of the current credentials."""
        headers = self._headers_for(token=token, api_key=api_key)
        return await self.send_request(
            method="whoami",
            **({"headers": headers, "auto_refresh_session": False} if headers else {}))

    async def principal_info(self, *, principal_uid: str | None = None) -> dict[str, Any]:
        path = "/api/auth/principal" + (f"/{principal_uid}" if principal_uid else "")
        return await self.send_request(method=("GET", path))

    async def api_scopes(self, *, token: str | None = None,
                         api_key: str | None = None) -> dict[str, Any]:
        """``{"roles": [...], "scopes": [...]}`` of the current credentials: what the user may
        do (``whoami`` returns them empty)."""
        headers = self._headers_for(token=token, api_key=api_key)
        return await self.send_request(
            method="api_scopes",
            **({"headers": headers, "auto_refresh_session": False} if headers else {}))

    async def logout(self) -> dict[str, Any]:
        """Log out and forget the keys. The gateway does not revoke the session: use
        ``session_revoke`` for that."""
        response = await self.send_request(method="logout")
        self.set_authorization_key()
        return response

    # -- streams -----------------------------------------------------------------------------
    def websocket_uri(self, path: str) -> str:
        scheme, rest = self._http_server_uri.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}{path}"

    def websocket_ssl(self) -> ssl.SSLContext | None:
        if not self._http_server_uri.startswith("https://"):
            return None
        verify = self._verify
        if isinstance(verify, str):
            return ssl_context(verify)
        if verify:
            return ssl_context()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    async def websocket_credentials(self) -> tuple[dict[str, str],
                                                   Callable[[], Awaitable[None]]]:
        """Headers for a WebSocket (API keys only), and what to do once connected: with tokens
        a 60-second key is made for the handshake and deleted after it."""

        async def nothing() -> None:
            return None

        if self._auth_method == AuthorizationMethods.API_KEY:
            return {"Authorization": f"ApiKey {self._auth_key}"}, nothing
        if self._auth_method != AuthorizationMethods.TOKEN:
            return {}, nothing
        key = await self.apikey_new(expires_in=60, note="qs-gui WebSocket (deleted on use)")
        secret, first_eight = key["secret"], key["first_eight"]

        async def delete() -> None:
            try:
                await self.apikey_delete(first_eight=first_eight)
            except Exception:
                pass  # it expires in a minute anyway

        return {"Authorization": f"ApiKey {secret}"}, delete

    def _source(self, topic: str) -> HTTPFeed:
        if topic == CONSOLE_TOPIC:
            period = self._monitor_args["console"]["poll_timeout"]
            return HTTPFeed([console_poll_reader(self, period)])
        return HTTPFeed([websocket_reader(self, INFO_WS, topic)])

    def _new_info_monitor(self, topics: tuple[str, ...]) -> HTTPFeed:
        return info_feed(self, topics)

    # -- lifecycle ---------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop the monitors and release the connections."""
        self._closed = True
        feeds = [m for m in self._monitors if isinstance(m, HTTPFeed)]
        self._close_monitors()
        for feed in feeds:
            await feed.wait_closed()
        transport = self._transport
        if isinstance(transport, HTTPTransport):
            await transport.aclose()
        else:
            transport.close()


__all__ = ["REManagerAPI", "api_key_from_environment", "read_api_key_file"]
