"""The one client builder (``core/clients``) with fake values, no server: 0MQ or HTTP from the
profile, credentials in their order (login, given key, key file, environment), read-only
clients that refuse every change but may log in, tile and full-window sessions."""

from __future__ import annotations

import asyncio
import getpass

import pytest

from qs_gui.client import ReadOnlyError
from qs_gui.client import REManagerAPI as ZMQManagerAPI
from qs_gui.client.http import REManagerAPI as HTTPManagerAPI
from qs_gui.core.clients import (
    LoginNeeded,
    build_client,
    build_session,
    login_needed,
    tile_session,
)
from qs_gui.core.profiles import Profile, resolve_connection
from qs_gui.core.session import TILE_FETCH

KEY = "k" * 16  # a fake API key (never sent: no server in these tests)
URI = "http://127.0.0.1:1"  # nothing listens there


def conn(**profile) -> dict:
    return resolve_connection(Profile("ID12", **profile) if profile else None)


def close(api) -> None:
    asyncio.run(api.close())


def test_zmq_from_addresses_with_user_group_and_timeout() -> None:
    built = build_client(conn(control_addr="tcp://127.0.0.1:5", info_addr="tcp://127.0.0.1:6",
                              user="alice", user_group="admin"), timeout=3.5)
    try:
        api = built.api
        assert isinstance(api, ZMQManagerAPI) and not built.http and built.login is None
        assert not api.read_only and not built.read_only
        assert api.server_address == "tcp://127.0.0.1:5"
        assert (api.user, api.user_group) == ("alice", "admin")
        assert api._timeout_recv == 3.5
    finally:
        close(built.api)


def test_zmq_defaults_the_user_to_the_login_name_and_monitor_is_read_only() -> None:
    built = build_client(conn(control_addr="tcp://127.0.0.1:5", monitor=True))
    try:
        assert built.api.read_only and built.read_only
        assert built.api.user == getpass.getuser() and built.api.user_group == "primary"
    finally:
        close(built.api)


def test_http_api_key_file_wins_over_the_environment(tmp_path) -> None:
    path = tmp_path / "key"
    path.write_text(f"\n{KEY}\n")
    built = build_client(conn(http_uri=URI, http_api_key_file=str(path)),
                         environ={"QSERVER_HTTP_SERVER_API_KEY": "other"})
    try:
        api = built.api
        assert isinstance(api, HTTPManagerAPI) and built.http and built.login is None
        assert not api.read_only
        assert api.http_server_uri == URI and api.auth_key == KEY
        assert str(api.auth_method.value).lower() == "api_key"
    finally:
        close(built.api)


def test_http_key_from_the_environment_a_given_key_first_and_none_at_all() -> None:
    env = {"QSERVER_HTTP_SERVER_API_KEY": KEY}
    for kwargs, expected in (({"environ": env}, KEY),
                             ({"environ": env, "api_key": "given-key"}, "given-key"),
                             ({"environ": {}}, None)):
        built = build_client(conn(http_uri=URI), **kwargs)
        try:
            assert built.api.auth_key == expected, kwargs
        finally:
            close(built.api)


def test_http_without_a_uri_when_asked(monkeypatch) -> None:
    monkeypatch.setenv("QSERVER_HTTP_SERVER_URI", "http://127.0.0.1:2")
    built = build_client(resolve_connection(None), http=True, environ={})
    try:
        assert built.http and built.api.http_server_uri == "http://127.0.0.1:2"
    finally:
        close(built.api)


def test_a_login_profile_asks_and_reads_no_key(tmp_path) -> None:
    c = conn(http_uri=URI, http_login="operator", http_provider="ldap")
    built = build_client(c, environ={"QSERVER_HTTP_SERVER_API_KEY": KEY}, timeout=7)
    try:
        assert built.login == LoginNeeded("operator", ("ldap",)) and built.api._timeout == 7
        assert built.api.auth_key is None  # the environment's key is not used for a login
    finally:
        close(built.api)
    assert login_needed(Profile("X", http_uri=URI, http_login="bob").to_dict()) == \
        LoginNeeded("bob", ())
    assert login_needed(Profile("X", http_uri=URI).to_dict()) is None
    assert login_needed(Profile("X", control_addr="tcp://h:1").to_dict()) is None
    given = LoginNeeded("operator", ("toy",), "Demo users")
    built = build_client(conn(http_uri=URI), login=given, api_key=KEY)
    try:
        assert built.login is given and built.api.auth_key is None
    finally:
        close(built.api)


def test_errors_are_value_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="Cannot read the API key file"):
        build_client(conn(http_uri=URI, http_api_key_file=str(tmp_path / "missing")))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        build_client(conn(http_uri=URI, http_api_key_file=str(empty)))


def test_a_read_only_http_client_refuses_changes_but_may_log_in() -> None:
    built = build_client(conn(http_uri=URI, http_login="operator", monitor=True))
    api = built.api
    assert isinstance(api, HTTPManagerAPI) and api.read_only and built.read_only
    sent: list[tuple[str, str]] = []

    async def exchange(verb, path, *args, **kwargs):
        sent.append((verb, path))
        return {"success": True, "access_token": "a", "refresh_token": "r",
                "expires_in": 600}, b""

    async def request(method, params, **kwargs):
        sent.append(("named", method))
        return {"success": True, "access_token": "a2", "refresh_token": "r2",
                "expires_in": 600, "secret": "s", "first_eight": "s"}, b""

    api.transport.exchange = exchange
    api.transport.request = request

    async def scenario() -> None:
        for call in (lambda: api.queue_start(), lambda: api.environment_open(),
                     lambda: api.item_add({"item_type": "plan", "name": "count"}),
                     lambda: api.send_request(method=("POST", "/api/queue/start"))):
            with pytest.raises(ReadOnlyError):
                await call()
        assert sent == []  # nothing reached the wire
        await api.login("operator", password="pw", provider="toy/token")
        assert sent == [("POST", "/api/auth/provider/toy/token")]
        assert api.auth_key == ("a", "r")
        await api.session_refresh()  # the token is renewed: the gateway's session, allowed
        await api.apikey_new(expires_in=60)  # the WebSocket's key
        assert [m for kind, m in sent if kind == "named"] == ["session_refresh", "apikey_new"]
        await api.send_request(method="status")  # reads go through
        await api.close()

    asyncio.run(scenario())


def test_tile_sessions_are_status_only_read_only_and_both_kinds() -> None:
    async def scenario() -> None:
        for profile in (Profile("Z", control_addr="tcp://127.0.0.1:5"),
                        Profile("H", http_uri=URI, http_login="operator"),
                        Profile("K", http_uri=URI)):
            session = tile_session(profile)
            try:
                assert session._api.read_only
                assert session.fetcher.fetch == frozenset(TILE_FETCH)
                assert session.protocol == ("ZMQ" if profile.name == "Z" else "HTTP")
            finally:
                await session.stop()
        full, login = build_session(Profile("H", http_uri=URI, http_login="operator",
                                            http_provider="toy"), timeout=9)
        try:
            assert not full._api.read_only and login == LoginNeeded("operator", ("toy",))
        finally:
            await full.stop()

    asyncio.run(scenario())
