"""Who is logged in through bluesky-httpserver, what they may do, and HTTP failures in words.

Over 0MQ there is no identity: whoever reaches the socket may do anything, so :class:`Principal`
is None and no action is gated by scope. Over HTTP the gateway answers ``api_scopes`` with the
roles and scopes of the current credentials; the gates (``core/gates.py``) disable what the
scopes forbid, so the window never sends a request the gateway would refuse.

The gateway says 401 both for "not logged in" and for "missing scope": only the detail text
tells them apart (reference/http-protocol.md §2.7), and :func:`classify` does that once for
every caller.
"""

from __future__ import annotations

import ast
import enum
import re
from dataclasses import dataclass, field
from typing import Any

from ..client.exceptions import HTTPClientError, HTTPError, HTTPRequestError, HTTPServerError


@dataclass(frozen=True)
class Principal:
    """The identity of an HTTP session (display only; the gateway enforces)."""

    name: str  # login name, or a description of the key in use
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)
    method: str = "api_key"  # "api_key" | "token" | "none"

    @property
    def summary(self) -> str:
        """"operator (role operator)", for the status bar."""
        roles = ", ".join(self.roles)
        return f"{self.name} (role {roles})" if roles else self.name


class Problem(enum.Enum):
    GATEWAY_TIMEOUT = "gateway_timeout"  # 408: RE Manager did not answer the gateway in 2 s
    PERMISSION = "permission"  # 401 for a missing scope
    LOGIN = "login"  # 401: no, bad or expired credentials
    UNREACHABLE = "unreachable"  # no HTTP exchange at all
    SERVER_ERROR = "server_error"  # 5xx
    REFUSED = "refused"  # another 4xx


_SCOPES = re.compile(r"Requires scopes (\[[^\]]*\])")


def required_scopes(text: str) -> list[str]:
    """The scopes a permission refusal names (``Requires scopes ['write:execute']``)."""
    match = _SCOPES.search(text)
    if not match:
        return []
    try:
        scopes = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return []
    return [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []


def _status_code(ex: HTTPError) -> int | None:
    response = getattr(ex, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def detail(ex: BaseException) -> str:
    """The gateway's own words, without the status code and URL the message carries."""
    text = str(ex)
    code = _status_code(ex) if isinstance(ex, HTTPError) else None
    if code is not None and text.startswith(f"{code}: "):
        text = text[len(f"{code}: "):]
        request = getattr(ex, "_request", None)
        url = str(getattr(request, "url", "")) if request is not None else ""
        if url and text.endswith(url):
            text = text[: -len(url)]
    return text.strip() or str(ex)


def classify(ex: BaseException) -> tuple[Problem, str] | None:
    """(kind, plain words) for an HTTP failure; None for anything else."""
    if isinstance(ex, HTTPRequestError):
        reason = str(ex).removeprefix("HTTP request error:").strip() or "the connection failed"
        return Problem.UNREACHABLE, f"cannot reach the HTTP server: {reason}"
    if isinstance(ex, HTTPServerError):
        return Problem.SERVER_ERROR, f"the HTTP server failed ({ex})"
    if not isinstance(ex, HTTPClientError):
        return None
    code, words = _status_code(ex), detail(ex)
    if code == 408:
        return Problem.GATEWAY_TIMEOUT, (
            "the HTTP server did not hear back from the RE Manager in time (408); the request "
            "may still have been carried out")
    if code == 401 and "Request had scopes []" in words:  # no credentials at all
        return Problem.LOGIN, "not logged in (the request carried no credentials)"
    if code == 401 and "Not enough permissions" in words:
        scopes = required_scopes(words)
        needs = f": needs {', '.join(scopes)}" if scopes else ""
        return Problem.PERMISSION, f"your account is not allowed to do this{needs}"
    if code == 401:
        return Problem.LOGIN, f"not logged in or the session has ended ({words})"
    return Problem.REFUSED, f"the HTTP server refused the request ({code}: {words})"


def principal_from(scopes_reply: Any, *, name: str, method: str) -> Principal:
    """A Principal from an ``api_scopes`` reply (``{"roles": [...], "scopes": [...]}``)."""
    reply = scopes_reply if isinstance(scopes_reply, dict) else {}
    roles = tuple(r for r in reply.get("roles") or () if isinstance(r, str))
    scopes = frozenset(s for s in reply.get("scopes") or () if isinstance(s, str))
    return Principal(name=name, roles=roles, scopes=scopes, method=method)


def login_name(whoami_reply: Any) -> str | None:
    """The first identity's id in a ``whoami`` reply (the login name)."""
    if not isinstance(whoami_reply, dict):
        return None
    for identity in whoami_reply.get("identities") or ():
        if isinstance(identity, dict) and isinstance(identity.get("id"), str):
            return identity["id"]
    return None
