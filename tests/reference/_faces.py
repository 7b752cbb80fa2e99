"""Which of the reference suite's client faces run (``QS_GUI_REFERENCE_FACES``), and which face
a case exercises. Pure logic: ``tests/test_reference_runner.py`` tests it without servers.

A face is a protocol and a library: the suite's cases are parametrized with ``protocol``
("ZMQ"/"HTTP") and ``library`` ("ASYNC"/"THREADS"; absent: async only), and the suite picks its
client class from both (``common._select_re_manager_api``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

FACES = ("zmq-async", "zmq-sync", "http-async", "http-sync")
ZMQ_FACES = FACES[:2]
ENV = "QS_GUI_REFERENCE_FACES"
#: cases that talk HTTP without a ``protocol`` parameter (they set it in the body)
HTTP_ONLY = frozenset({"test_system_info_monitor_auth_01"})


def http_available() -> bool:
    """Whether qs-gui has its HTTP client (``qs_gui.client.http``)."""
    try:
        importlib.import_module("qs_gui.client.http")
    except ImportError:
        return False
    return True


def selected_faces(value: str | None, *, http: bool) -> tuple[str, ...]:
    """The faces named in ``value`` (a comma list; blank: all four when ``http``, else the two
    0MQ ones), in the order of :data:`FACES`. ValueError for an unknown name, or for an HTTP
    face when ``http`` is false."""
    if not value or not value.strip():
        return FACES if http else ZMQ_FACES
    names = {name.strip().lower() for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(FACES))
    if unknown:
        raise ValueError(f"{ENV}: unknown face(s) {unknown}; choose from {', '.join(FACES)}")
    if not http and names - set(ZMQ_FACES):
        raise ValueError(f"{ENV}={value!r}: qs_gui.client.http is not importable")
    return tuple(face for face in FACES if face in names)


def face_of(test_name: str, params: Mapping[str, Any]) -> str:
    """The face a case exercises, from its name (without parameters) and its parameters."""
    protocol = params.get("protocol") or ("HTTP" if test_name in HTTP_ONLY else None)
    if protocol not in ("ZMQ", "HTTP"):
        raise ValueError(f"{test_name}: no protocol parameter and not known as HTTP-only "
                         f"(tests/reference/_faces.py HTTP_ONLY)")
    library = params.get("library", "ASYNC")
    if library not in ("ASYNC", "THREADS"):
        raise ValueError(f"{test_name}: unknown library {library!r}")
    return f"{protocol.lower()}-{'async' if library == 'ASYNC' else 'sync'}"


def uses_http(faces: tuple[str, ...]) -> bool:
    return any(face.startswith("http-") for face in faces)
