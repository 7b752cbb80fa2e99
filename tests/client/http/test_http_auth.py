"""Authentication and authorisation over HTTP, on the multi-user gateway (password provider
"toy"; users admin/operator/observer; access tokens valid for 3 s).

Every test also checks that no secret it handled (passwords, access/refresh tokens, API keys,
the temporary WebSocket keys included) reached a log record (captured at DEBUG) or a file in
the sandbox's run directory.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterator

import pytest

from qs_gui.client.exceptions import HTTPClientError
from qs_gui.client.http import REManagerAPI
from qs_gui.client.http_transport import is_permission_error
from qs_gui.client.monitor import STATUS_TOPIC
from qs_gui.client.protocols import AuthorizationMethods
from qs_gui.sandbox import Sandbox
from tests.client.http.support import (
    RequestLog,
    files_containing,
    run,
    wait_until,
    wait_until_async,
)

pytestmark = pytest.mark.server

ACCESS_TOKEN_MAX_AGE = 3.0


class Session:
    """Clients on the multi-user gateway, with every request and every secret recorded."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.logs: list[RequestLog] = []
        self.extra_secrets: set[str] = set()

    def client(self) -> tuple[REManagerAPI, RequestLog]:
        api = REManagerAPI(http_server_uri=self.sb.http_uri,
                           http_auth_provider=f"{self.sb.http_provider}/token")
        log = RequestLog().attach(api.transport.client(), collect_secrets=True)
        self.logs.append(log)
        return api, log

    async def login(self, user: str) -> tuple[REManagerAPI, RequestLog]:
        api, log = self.client()
        reply = await api.login(user, password=self.sb.http_users[user])
        assert reply["expires_in"] == ACCESS_TOKEN_MAX_AGE
        assert api.auth_method == AuthorizationMethods.TOKEN
        return api, log

    def secrets(self) -> set[str]:
        found = set(self.sb.http_users.values()) | self.extra_secrets
        for log in self.logs:
            found |= log.secrets
        return found


@pytest.fixture
def session(http_multi_reset: Sandbox, caplog: pytest.LogCaptureFixture) -> Iterator[Session]:
    caplog.set_level(logging.DEBUG)
    s = Session(http_multi_reset)
    yield s
    known = s.secrets()
    assert len(known) >= len(s.sb.http_users)
    leaked = []
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "nothing was logged at DEBUG: the check would prove nothing"
    for record in records:
        text = f"{record.getMessage()} {record.args!r}"
        if any(secret in text for secret in known):
            leaked.append(f"{record.name}:{record.levelname}: {record.msg!r}")
    assert not leaked, f"secrets in log records (values not shown): {leaked[:5]}"
    assert files_containing(s.sb.run_dir, known) == {}


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def wait_token_expired(api: REManagerAPI, token: str) -> None:
    """Until ``token`` has expired on the gateway too. Its ``exp`` is in whole seconds
    (rounded down at issue) and python-jose compares it with the current whole second, so a
    3 s token is accepted for 3 to 4 s; the client counts it as due earlier."""
    exp = jwt_claims(token)["exp"]
    await wait_until(lambda: time.time() > exp + 1.2, ACCESS_TOKEN_MAX_AGE + 3,
                     "the access token to expire")
    assert api.token_expires_in is None or api.token_expires_in < 0


def test_wrong_api_key(session: Session):
    async def scenario():
        api, log = session.client()
        wrong = secrets.token_hex(36)
        session.extra_secrets.add(wrong)
        api.set_authorization_key(api_key=wrong)
        try:
            with pytest.raises(HTTPClientError) as info:
                await api.status()
        finally:
            await api.close()
        return info.value, log

    ex, log = run(scenario())
    assert str(ex).startswith("401: Invalid API key ")
    assert ex.response.status_code == 401 and not is_permission_error(ex)
    assert [s.auth for s in log.sent] == ["ApiKey"]  # one request, no retry


def test_login_with_wrong_password(session: Session):
    async def scenario():
        api, log = session.client()
        wrong = secrets.token_urlsafe(12)
        session.extra_secrets.add(wrong)
        try:
            with pytest.raises(HTTPClientError) as info:
                await api.login("operator", password=wrong)
            return info.value, log, api.auth_method, api.auth_key
        finally:
            await api.close()

    ex, log, method, key = run(scenario())
    assert str(ex).startswith("401: Incorrect username or password ")
    assert method == AuthorizationMethods.NONE and key is None
    (sent,) = log.sent
    assert (sent.method, sent.path, sent.auth) == ("POST", "/api/auth/provider/toy/token", "none")
    assert sent.body == {"<form>": ["password", "username"]}


def test_operator_scopes_and_whoami(session: Session):
    async def scenario():
        api, log = await session.login("operator")
        try:
            return await api.api_scopes(), await api.whoami(), log
        finally:
            await api.close()

    scopes, me, log = run(scenario())
    assert scopes["roles"] == ["sandbox_operator"]
    assert {"write:execute", "write:lock", "write:queue:edit", "user:apikeys"} <= set(
        scopes["scopes"])
    assert not any(s.startswith("admin:") for s in scopes["scopes"])
    assert [(i["id"], i["provider"]) for i in me["identities"]] == [("operator", "toy")]
    assert me["type"] == "user"
    assert [s.auth for s in log.sent] == ["none", "Bearer", "Bearer"]


def test_expired_access_token_is_refreshed_once(session: Session):
    """The client refreshes a due token before the request (proactive): one refresh, no 401.
    With a token of unknown age (set by hand) it refreshes after the 401, as the reference
    does: 401, one refresh, the request again."""

    async def scenario():
        api, log = session.client()
        try:
            await api.login("operator", password=session.sb.http_users["operator"])
            first_pair = api.auth_key
            mark = log.mark()
            await api.status()
            fresh = log.paths_since(mark)

            await wait_token_expired(api, first_pair[0])
            mark = log.mark()
            status = await api.status()
            after_expiry = (log.paths_since(mark), log.statuses[mark:])
            assert api.auth_key[0] != first_pair[0]

            # the same expired token again, age unknown: refreshed after the 401
            api.set_authorization_key(token=first_pair[0], refresh_token=api.auth_key[1])
            assert api.token_expires_in is None
            mark = log.mark()
            queue = await api.queue_get(reload=True)
            reactive = (log.paths_since(mark), log.statuses[mark:])
            return fresh, status, after_expiry, queue, reactive
        finally:
            await api.close()

    fresh, status, after_expiry, queue, reactive = run(scenario())
    assert fresh == ["GET /api/status"]
    assert status["manager_state"] == "idle"
    assert after_expiry == (["POST /api/auth/session/refresh", "GET /api/status"], [200, 200])
    assert queue["success"] is True
    assert reactive == (["GET /api/status", "POST /api/auth/session/refresh", "GET /api/status",
                         "GET /api/queue/get"], [401, 200, 200, 200])


def test_revoked_session_fails_after_expiry_without_loops(session: Session):
    async def scenario():
        api, log = session.client()
        try:
            await api.login("operator", password=session.sb.http_users["operator"])
            sid = uuid.UUID(jwt_claims(api.auth_key[1])["sid"])
            mine = [s for s in (await api.whoami())["sessions"] if uuid.UUID(s["uuid"]) == sid]
            assert mine and not mine[0]["revoked"]
            assert (await api.session_revoke(session_uid=mine[0]["uuid"]))["success"] is True
            revoked = [s for s in (await api.whoami())["sessions"]
                       if uuid.UUID(s["uuid"]) == sid]
            await wait_token_expired(api, api.auth_key[0])
            outcomes = []
            for _ in range(2):
                mark = log.mark()
                with pytest.raises(HTTPClientError) as info:
                    await api.status()
                outcomes.append((str(info.value), log.paths_since(mark), log.statuses[mark:]))
            settled = log.mark()
            return revoked, outcomes, log, settled
        finally:
            await api.close()

    revoked, outcomes, log, settled = run(scenario())
    assert revoked[0]["revoked"] is True
    for message, paths, statuses in outcomes:
        assert message.startswith("401: Session has expired. Please re-authenticate. ")
        # a failed proactive refresh, the request (its token expired), one more refresh that
        # says why: bounded, no loop
        assert paths == ["POST /api/auth/session/refresh", "GET /api/status",
                         "POST /api/auth/session/refresh"], paths
        assert statuses == [401, 401, 401]
    assert log.mark() == settled  # nothing went on in the background


def test_observer_cannot_execute(session: Session):
    async def scenario():
        api, log = await session.login("observer")
        try:
            scopes = (await api.api_scopes())["scopes"]
            queue = await api.queue_get()
            with pytest.raises(HTTPClientError) as info:
                await api.item_execute({"item_type": "plan", "name": "count",
                                        "args": [["det1"]]})
            status = await api.status(reload=True)
            return scopes, queue, info.value, status
        finally:
            await api.close()

    scopes, queue, ex, status = run(scenario())
    assert "write:execute" not in scopes and "read:queue" in scopes
    assert queue["success"] is True
    assert "write:execute" in str(ex) and str(ex).startswith("401: Not enough permissions.")
    assert is_permission_error(ex)
    assert status["manager_state"] == "idle" and status["items_in_history"] == 0


def test_api_key_with_limited_scopes(session: Session):
    async def scenario():
        api, log = await session.login("operator")
        keyed, key_log = session.client()
        try:
            key = await api.apikey_new(expires_in=600, scopes=["read:status"], note="test key")
            assert key["secret"] in session.secrets()  # collected from the reply
            info = await api.apikey_info(api_key=key["secret"])
            keyed.set_authorization_key(api_key=key["secret"])
            status = await keyed.status()
            with pytest.raises(HTTPClientError) as refused:
                await keyed.queue_get(reload=True)
            listed = [k["first_eight"] for k in (await api.whoami())["api_keys"]]
            deleted = await api.apikey_delete(first_eight=key["first_eight"])
            with pytest.raises(HTTPClientError) as gone:
                await keyed.status(reload=True)
            remaining = [k["first_eight"] for k in (await api.whoami())["api_keys"]]
            return key, info, status, refused.value, listed, deleted, gone.value, remaining, \
                key_log
        finally:
            await keyed.close()
            await api.close()

    key, info, status, refused, listed, deleted, gone, remaining, key_log = run(scenario())
    assert key["scopes"] == ["read:status"] and key["note"] == "test key"
    assert key["first_eight"] == key["secret"][:8]
    assert (info["first_eight"], info["scopes"], info["note"]) == (
        key["first_eight"], ["read:status"], "test key")
    assert status["manager_state"] == "idle"
    assert refused.response.status_code == 401 and is_permission_error(refused)
    assert "read:queue" in str(refused)
    assert key["first_eight"] in listed
    assert deleted["success"] is True
    assert str(gone).startswith("401: Invalid API key ")
    assert key["first_eight"] not in remaining
    assert {s.auth for s in key_log.sent} == {"ApiKey"}


def test_logout_clears_the_keys(session: Session):
    async def scenario():
        api, log = await session.login("operator")
        try:
            await api.status()
            reply = await api.logout()
            state = (api.auth_method, api.auth_key, api.token_expires_in)
            mark = log.mark()
            with pytest.raises(HTTPClientError) as info:
                await api.status(reload=True)
            return reply, state, info.value, log.since(mark)
        finally:
            await api.close()

    reply, state, ex, sent = run(scenario())
    assert reply == {}
    assert state == (AuthorizationMethods.NONE, None, None)
    assert str(ex).startswith("401: Not enough permissions.") and "Request had scopes []" in str(
        ex)
    assert [(s.path, s.auth) for s in sent] == [("/api/status", "none")]


def test_token_user_gets_status_pushes_through_a_temporary_key(session: Session):
    async def scenario():
        api, log = await session.login("operator")
        try:
            before = [k["first_eight"] for k in (await api.whoami())["api_keys"]]
            mark = log.mark()
            feed = api.info_monitor(topics=(STATUS_TOPIC,))
            feed.start()
            message = await feed.next(timeout=5)
            assert message is not None, f"no status push in 5 s: {feed.error}"

            async def key_deleted():
                return [k["first_eight"] for k in (await api.whoami())["api_keys"]] == before
            await wait_until_async(key_deleted, 10, "the temporary API key to be deleted")
            sent = [s for s in log.since(mark) if s.path == "/api/auth/apikey"]
            return message, feed.error, sent
        finally:
            await api.close()

    message, error, sent = run(scenario())
    assert message.topic == STATUS_TOPIC and error is None
    assert message.msg["status"]["manager_state"] == "idle"
    # made with the token for the handshake, deleted with the token once connected
    assert [(s.method, s.auth) for s in sent] == [("POST", "Bearer"), ("DELETE", "Bearer")]
    assert sent[0].body["expires_in"] == 60
    assert [k for k, _ in sent[1].query] == ["first_eight"]
