"""Scopes of an HTTP account gate the actions (core/gates.py ACTION_SCOPES): observers see every
mutating action disabled with the scope it needs; 0MQ (scopes None) is not gated by scope."""

from __future__ import annotations

import pytest

from qs_gui.core.access import Problem, classify, principal_from, required_scopes
from qs_gui.core.gates import (
    ACTION_SCOPES,
    MUTATING_ACTIONS,
    READ_ONLY_ACTIONS,
    Action,
    Connection,
    GateInputs,
    compute_gates,
)

IDLE_OPEN = {
    "manager_state": "idle", "worker_environment_exists": True, "re_state": "idle",
    "ip_kernel_state": "disabled", "ip_kernel_captured": None, "queue_stop_pending": False,
    "pause_pending": False, "items_in_queue": 1, "items_in_history": 1,
    "lock": {"environment": False, "queue": False},
}
READ_SCOPES = frozenset({"read:status", "read:queue", "read:history", "read:console",
                         "read:monitor", "read:lock", "read:resources", "read:config"})
OPERATOR = READ_SCOPES | {scope for scope, _ in ACTION_SCOPES.values()}


def gates(scopes):
    return compute_gates(GateInputs(Connection.CONNECTED, IDLE_OPEN, scopes=scopes,
                                    editor_error=None, queue_selection=(0,),
                                    history_selection=1))


def test_every_mutating_action_needs_a_scope() -> None:
    assert set(ACTION_SCOPES) == set(MUTATING_ACTIONS)


def test_observer_is_refused_everything_that_writes_with_the_scope_named() -> None:
    g = gates(READ_SCOPES)
    assert g.reason(Action.EXECUTE_NOW) == (
        "Your account may not execute plans: needs write:execute.")
    assert "needs write:manager:control" in g.reason(Action.ENV_CLOSE)
    assert "needs write:lock" in g.reason(Action.LOCK)
    assert "needs write:queue:edit" in g.reason(Action.QUEUE_ADD)
    for action in MUTATING_ACTIONS:
        assert not g.enabled(action), action
    for action in READ_ONLY_ACTIONS:
        assert g.enabled(action), action


def test_operator_and_zmq_are_gated_only_by_state() -> None:
    for scopes in (OPERATOR, None):
        g = gates(scopes)
        assert g.enabled(Action.EXECUTE_NOW) and g.enabled(Action.ENV_CLOSE)
        assert g.enabled(Action.QUEUE_ADD) and g.enabled(Action.LOCK)


def test_state_reason_comes_after_the_scope_reason_when_both_fail() -> None:
    closed = dict(IDLE_OPEN, worker_environment_exists=False)
    g = compute_gates(GateInputs(Connection.CONNECTED, closed, scopes=OPERATOR))
    assert "environment is closed" in g.reason(Action.EXECUTE_NOW)
    g = compute_gates(GateInputs(Connection.CONNECTED, closed, scopes=READ_SCOPES))
    assert "needs write:execute" in g.reason(Action.EXECUTE_NOW)


@pytest.mark.parametrize(("text", "scopes"), [
    ("Not enough permissions. Requires scopes ['write:execute']. Request had scopes "
     "['read:status']", ["write:execute"]),
    ("Requires scopes ['a', 'b']", ["a", "b"]),
    ("Invalid API key", []),
    ("Requires scopes [__import__('os')]", []),  # never evaluated
])
def test_required_scopes_are_parsed_not_evaluated(text: str, scopes: list[str]) -> None:
    assert required_scopes(text) == scopes


def test_principal_from_a_scopes_reply_keeps_only_strings() -> None:
    p = principal_from({"roles": ["observer", 3], "scopes": ["read:status", None]},
                       name="bob", method="token")
    assert p.roles == ("observer",) and p.scopes == {"read:status"}
    assert p.summary == "bob (role observer)"
    assert principal_from(None, name="x", method="api_key").scopes == frozenset()


def test_anonymous_refusal_is_a_login_problem_a_missing_scope_is_not() -> None:
    import httpx

    from qs_gui.client.exceptions import HTTPClientError

    def refusal(text: str) -> HTTPClientError:
        request = httpx.Request("GET", "http://gw/api/status")
        response = httpx.Response(401, request=request)
        return HTTPClientError(f"401: {text} http://gw/api/status", request=request,
                               response=response)

    anonymous = refusal("Not enough permissions. Requires scopes ['read:status']. "
                        "Request had scopes []")
    observer = refusal("Not enough permissions. Requires scopes ['write:execute']. "
                       "Request had scopes ['read:status']")
    assert classify(anonymous)[0] is Problem.LOGIN
    assert classify(observer) == (Problem.PERMISSION,
                                  "your account is not allowed to do this: needs write:execute")
    assert classify(refusal("Invalid API key"))[0] is Problem.LOGIN


def test_classify_ignores_non_http_errors() -> None:
    assert classify(ValueError("x")) is None
    assert Problem.LOGIN.value == "login"
