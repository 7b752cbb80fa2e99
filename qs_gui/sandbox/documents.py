"""The document side of :class:`qs_gui.sandbox.Sandbox` (``documents=True``).

bluesky's 0MQ document proxy (``bluesky-0MQ-proxy``, a SUB -> PUB forwarder) runs as its own
process, and a startup file added to the profile copy subscribes a
``bluesky.callbacks.zmq.Publisher`` (json or msgpack, never pickle) to the worker's RunEngine, so
plans run by the manager stream their documents to the proxy's OUT address.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .procs import HOST, SandboxError, exited, port_is_free, stop_group, tail

log = logging.getLogger("qs_gui.sandbox")

DOCUMENT_SERIALIZERS = ("msgpack", "json")
PUBLISHER_STARTUP_FILE = "06-qs-gui-documents.py"  # after 05-run-engine.py, which creates RE

# The worker's startup file. numpy scalars/arrays become plain numbers/lists and anything else
# exotic its str(), so a document can never fail to serialise inside the RunEngine.
_PUBLISHER_CODE = '''\
# flake8: noqa
"""Added by qs-gui's Sandbox: publish this worker's documents to the sandbox's 0MQ proxy."""


def _qs_gui_make_publisher(address, serializer):
    import json

    from bluesky.callbacks.zmq import Publisher

    def plain(obj):
        if hasattr(obj, "tolist"):  # numpy arrays and scalars
            return obj.tolist()
        if isinstance(obj, (set, frozenset)):
            return sorted(obj, key=str)
        return str(obj)

    if serializer == "msgpack":
        import msgpack

        def dumps(doc):
            return msgpack.packb(doc, default=plain, use_bin_type=True)

    else:

        def dumps(doc):
            return json.dumps(doc, default=plain).encode("utf-8")

    return Publisher(address, serializer=dumps)


_qs_gui_publisher = _qs_gui_make_publisher({address!r}, {serializer!r})
RE.subscribe(_qs_gui_publisher)
del _qs_gui_make_publisher
'''


def resolve_serializer(serializer: str) -> str:
    """'auto' -> msgpack if the worker (same interpreter) can import it, else json."""
    if serializer not in ("auto", *DOCUMENT_SERIALIZERS):
        raise ValueError(f"serializer must be 'auto' or one of {DOCUMENT_SERIALIZERS}")
    if serializer != "auto":
        return serializer
    return "msgpack" if importlib.util.find_spec("msgpack") is not None else "json"


def proxy_command() -> list[str]:
    """bluesky's ``bluesky-0MQ-proxy`` console script next to the interpreter, else its main()."""
    script = Path(sys.executable).parent / "bluesky-0MQ-proxy"
    if script.is_file():
        return [sys.executable, str(script)]
    code = "import sys; from bluesky.commandline.zmq_proxy import main; sys.exit(main())"
    return [sys.executable, "-c", code]


class DocumentProxy:
    """One proxy process on two loopback ports, and the startup file that feeds it."""

    def __init__(self, in_port: int, out_port: int, serializer: str) -> None:
        self.ports = (in_port, out_port)
        self.in_addr = f"tcp://{HOST}:{in_port}"  #: the worker's Publisher connects here
        self.out_addr = f"tcp://{HOST}:{out_port}"  #: subscribers connect here
        self.serializer = serializer
        self.proc: subprocess.Popen | None = None
        self._log_path: Path | None = None

    def start(self, popen: Callable[..., subprocess.Popen], run_dir: Path) -> None:
        """Start the proxy (``popen(cmd, log_name, **kw)``) and add the Publisher startup file
        to ``run_dir/startup``; returns at once (the proxy imports bluesky, ~0.5 s)."""
        busy = [p for p in self.ports if not port_is_free(p)]
        if busy:
            raise SandboxError(f"document proxy ports in use: {busy}")
        self._log_path = run_dir / "proxy.log"
        self.proc = popen(proxy_command() + ["--in-address", self.in_addr,
                                             "--out-address", self.out_addr],
                          "proxy.log", env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        startup = run_dir / "startup"
        if startup.is_dir():  # else the manager reports the missing profile, as without documents
            (startup / PUBLISHER_STARTUP_FILE).write_text(_PUBLISHER_CODE.format(
                address=self.in_addr, serializer=self.serializer))  # fmt: skip

    def wait(self, timeout: float = 20.0) -> None:
        """Until both ports are bound; SandboxError (with the log tail) if it exits or times out."""
        deadline = time.monotonic() + timeout
        while any(port_is_free(p) for p in self.ports):
            if exited(self.proc) or time.monotonic() > deadline:
                raise SandboxError("the document proxy did not start:\n"
                                 f"{tail(self._log_path, 20)}")  # fmt: skip
            time.sleep(0.02)
        log.info("document proxy: in %s, out %s (%s)", self.in_addr, self.out_addr,
                 self.serializer)  # fmt: skip

    def stop(self) -> None:
        """Stop the proxy's process group (idempotent)."""
        if self.proc is not None:
            stop_group(self.proc, "document proxy", level=logging.DEBUG)
