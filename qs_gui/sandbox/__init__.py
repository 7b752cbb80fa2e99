"""A private, loopback-only RE Manager for ``qs-gui --demo``, tests and benchmarks.

``python -m qs_gui.sandbox`` runs one for qs-gui to connect to. :mod:`.server` holds the
:class:`Sandbox`, :mod:`.documents` the optional bluesky document proxy, :mod:`.gateway` the
optional bluesky-httpserver in front of the manager (``Sandbox(http="single"|"multi")``),
:mod:`.demo` the items a new demo starts with, :mod:`.procs` the process and port helpers and
:mod:`.lifeline` the guardian that ends every sandbox process when the process that started it
ends, however it ends.

Independent of qs-gui's ui and core layers: it speaks to the RE Manager with its own tiny
synchronous client, so it can check on the server whatever state the GUI is in.
"""

from .documents import DOCUMENT_SERIALIZERS, PUBLISHER_STARTUP_FILE
from .gateway import HTTP_MODES, ROLE_SCOPES, USER_ROLES
from .lifeline import guard, guardian_pid, unguard
from .procs import SandboxError, group_pids, marked_pids, pick_ports, port_is_free
from .server import SIM_HINT, Sandbox, find_redis_server

__all__ = [
    "DOCUMENT_SERIALIZERS", "HTTP_MODES", "PUBLISHER_STARTUP_FILE", "ROLE_SCOPES", "SIM_HINT",
    "USER_ROLES", "Sandbox", "SandboxError", "find_redis_server", "group_pids", "guard",
    "guardian_pid", "marked_pids", "pick_ports", "port_is_free", "unguard",
]
