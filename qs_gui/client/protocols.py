"""``Protocols`` (which transport a client speaks) and ``AuthorizationMethods``, as the
reference client names them.

A ``str`` enum, so ``client.protocol == "ZMQ"`` (the plain string qs-gui returned before) still
holds, and ``client.protocol == client.Protocols("ZMQ")`` (the reference's form) too.
"""

from __future__ import annotations

import enum


class Protocols(str, enum.Enum):
    ZMQ = "ZMQ"
    HTTP = "HTTP"


class AuthorizationMethods(str, enum.Enum):
    """How an HTTP client authenticates (the reference's enum; the 0MQ client has none)."""

    NONE = "NONE"
    API_KEY = "API_KEY"
    TOKEN = "TOKEN"
