"""One place that builds a client (and a session) for a connection profile, for every room.

Why it is built this way:

* **One builder.** The main window (``qs-gui``, ``--profile``, ``--http``), a full window opened
  from the overview and every overview tile connect through :func:`build_client`: 0MQ (control
  and info addresses, the server's CURVE public key) or HTTP (the gateway URI and an API key
  from a key file / QSERVER_HTTP_SERVER_API_KEY, or a login with a password). The options come
  from :func:`~qs_gui.core.profiles.resolve_connection`, so a profile and the command line mean
  the same thing everywhere.
* **A password is never built in.** A login profile gives :class:`LoginNeeded` (user,
  providers, an intro line): the UI asks for the password (``ui/login_dialog``) and calls
  ``Session.login``. API keys are read here, held by the client in memory, and never returned,
  logged or saved (the settings guard refuses them anyway).
* **Read-only stays read-only, and can still log in.** A monitor (or a tile) gets a read-only
  client: every request that changes RE Manager is refused before it is sent; over HTTP the
  client's own gateway session (log in, refresh, the WebSocket's key) still goes through
  (``client/http.py``, ``GATEWAY_SESSION_METHODS``).
* Qt-free; the session kinds: a full window's :class:`~qs_gui.core.session.Session`, or a
  tile's status-only one (``fetch=TILE_FETCH``, ``console=False``, always read-only).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client import REManagerAPI as ZMQManagerAPI
from ..client.http import REManagerAPI as HTTPManagerAPI
from ..client.http import api_key_from_environment, read_api_key_file
from .profiles import Profile, resolve_connection
from .session import TILE_FETCH, Session

__all__ = ["Built", "LoginNeeded", "build_client", "build_session", "login_needed",
           "tile_session"]

ZMQ_TIMEOUT, HTTP_TIMEOUT = 2.0, 5.0


@dataclass(frozen=True)
class LoginNeeded:
    """A password login the UI must ask for: the user and providers to offer, an intro line."""

    user: str
    providers: tuple[str, ...] = ()
    intro: str = ""


@dataclass
class Built:
    """A client and, for a login profile, what to ask (``login``); ``http`` says which kind."""

    api: Any
    login: LoginNeeded | None = None
    http: bool = False
    read_only: bool = field(default=False)


def login_needed(conn: Mapping[str, Any], *, http: bool = False) -> LoginNeeded | None:
    """The login to ask for over HTTP (None: an API key, no credentials, or 0MQ); ``conn`` is
    a :func:`resolve_connection` dict or a :class:`Profile`'s (``Profile.to_dict()``)."""
    if not (http or conn.get("http_uri")) or not conn.get("http_login"):
        return None
    provider = conn.get("http_provider")
    return LoginNeeded(conn["http_login"], (provider,) if provider else ())


def build_client(conn: Mapping[str, Any], *, timeout: float | None = None,
                 read_only: bool | None = None, ca_file: str | None = None,
                 http: bool = False, api_key: str | None = None,
                 login: LoginNeeded | None = None,
                 environ: Mapping[str, str] | None = None) -> Built:  # fmt: skip
    """The client for ``conn`` (a :func:`resolve_connection` dict).

    ``read_only`` (default: ``conn["monitor"]``) builds a monitor client; ``timeout`` defaults
    to 2 s over 0MQ, 5 s over HTTP. HTTP when ``conn`` has a gateway URI, or ``http`` (then
    without a URI: QSERVER_HTTP_SERVER_URI, else the default). Over HTTP, the credentials in
    order: ``login`` (given, e.g. the demo's users) or the profile's login (the password is
    asked by the UI); else ``api_key`` (given, e.g. the demo's), the profile's key file,
    QSERVER_HTTP_SERVER_API_KEY (``environ``, default ``os.environ``). ValueError for a bad
    URI or an unreadable key file.
    """
    read_only = bool(conn.get("monitor")) if read_only is None else bool(read_only)
    if http or conn.get("http_uri"):
        api = HTTPManagerAPI(http_server_uri=conn.get("http_uri"), timeout=timeout or HTTP_TIMEOUT,
                             ca_file=ca_file, read_only=read_only, reuse_unchanged_items=True)
        built = Built(api, http=True, read_only=read_only)
        built.login = login or login_needed(conn, http=True)
        if built.login is None:
            if api_key:
                key = api_key
            elif conn.get("http_api_key_file"):
                key = read_api_key_file(conn["http_api_key_file"])
            else:
                key = api_key_from_environment(os.environ if environ is None else environ)
            if key:
                api.set_authorization_key(api_key=key)
    else:
        api = ZMQManagerAPI(zmq_control_addr=conn.get("control_addr"),
                            zmq_info_addr=conn.get("info_addr"),
                            zmq_public_key=conn.get("public_key"),
                            timeout_recv=timeout or ZMQ_TIMEOUT, read_only=read_only,
                            reuse_unchanged_items=True)
        built = Built(api, read_only=read_only)
    api.user = conn.get("user") or getpass.getuser()
    api.user_group = conn.get("user_group") or "primary"
    return built


def build_session(profile: Profile, *, timeout: float | None = None,
                  ca_file: str | None = None) -> tuple[Session, LoginNeeded | None]:  # fmt: skip
    """A full window's session for ``profile`` (read-only when the profile is a monitor) and
    the login to ask for, if any."""
    built = build_client(resolve_connection(profile), timeout=timeout, ca_file=ca_file)
    return Session(built.api), built.login


def tile_session(profile: Profile, *, timeout: float | None = None) -> Session:
    """An overview tile's session: status only, no console, read-only by construction (its
    client refuses every request that changes RE Manager), 0MQ or HTTP alike. A login
    profile's tile starts without credentials (the gateway says "not logged in") until
    ``Session.login`` succeeds (:func:`login_needed` of its profile says whom to log in)."""
    built = build_client(resolve_connection(profile, monitor=True), timeout=timeout,
                         read_only=True)
    return Session(built.api, fetch=TILE_FETCH, console=False)
