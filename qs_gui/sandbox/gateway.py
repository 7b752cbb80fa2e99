"""bluesky-httpserver 0.0.14 in front of a sandbox RE Manager (``Sandbox(http="single"|"multi")``).

``single``: one random alphanumeric API key (``Authorization: ApiKey <key>``), the gateway's
``UNAUTHENTICATED_SINGLE_USER`` with every queue-server scope.

``multi``: a password provider named ``toy`` (``POST /api/auth/provider/toy/token``, form
``username``/``password``) with the users ``admin``, ``operator`` and ``observer``, each with a
random password; roles with explicit scope sets (:data:`ROLE_SCOPES`); an SQLite database for
sessions and API keys in the run directory.

Secrets never reach the disk in plain text: the key, the passwords and the token-signing key are
generated here, kept in memory and handed to the gateway in its environment; the YAML config only
names them (``${VAR}``, which the gateway expands on load). The gateway prints the single-user
key and the signing keys in its startup log, so its output is read through a pipe and written to
``http.log`` with every known secret replaced by ``***``.

Standard library only (the sandbox does not import qs-gui's client or any HTTP library).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from .lifeline import guard
from .procs import HOST, MARKER_ENV, SandboxError, exited, port_is_free, stop_group

log = logging.getLogger("qs_gui.sandbox")

HTTP_MODES = ("single", "multi")
#: the password provider of the ``multi`` mode: ``POST /api/auth/provider/toy/token``
PROVIDER = "toy"
USERS = ("admin", "operator", "observer")
#: files of the gateway in the run directory (removed by :meth:`Gateway.remove_files`)
LOG_NAME, CONFIG_NAME, DATABASE_NAME = "http.log", "http_config.yml", "http_auth.sqlite"

READ_SCOPES = (
    "read:status", "read:queue", "read:history", "read:resources", "read:config",
    "read:monitor", "read:console", "read:lock", "read:testing",
)  # fmt: skip
#: every write scope qs-gui uses (not write:manager:stop, write:testing)
WRITE_SCOPES = (
    "write:queue:edit", "write:queue:control", "write:manager:control", "write:plan:control",
    "write:execute", "write:history:edit", "write:lock", "write:scripts", "write:config",
    "write:permissions",
)  # fmt: skip
ADMIN_SCOPES = ("admin:apikeys", "admin:read:principals", "admin:metrics")
#: user:apikeys: the WebSocket monitors of a token-authenticated client create a temporary key
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "sandbox_observer": (*READ_SCOPES, "user:apikeys"),
    "sandbox_operator": (*READ_SCOPES, *WRITE_SCOPES, "user:apikeys"),
    "sandbox_admin": (*READ_SCOPES, *WRITE_SCOPES, "user:apikeys", *ADMIN_SCOPES),
}
USER_ROLES = {"admin": "sandbox_admin", "operator": "sandbox_operator",
              "observer": "sandbox_observer"}  # fmt: skip

# Environment variables the gateway reads besides QSERVER_*: pydantic-settings fills its Settings
# fields from unprefixed variables of the same name (case-insensitive), and uvicorn.run takes the
# number of workers from WEB_CONCURRENCY (> 1 makes it refuse an app object and exit).
_FOREIGN_ENV = {
    "tree", "allow_anonymous_access", "allow_origins", "authentication_provider_names",
    "authenticator", "single_user_api_key", "single_user_api_key_generated", "secret_keys",
    "access_token_max_age", "refresh_token_max_age", "session_max_age",
    "response_bytesize_limit", "database_uri", "database_pool_size", "database_pool_pre_ping",
    "web_concurrency", "prometheus_multiproc_dir",
}  # fmt: skip
_PKG = "bluesky_httpserver"
#: ``?api_key=...`` in an access-log line (a browser-style client); the value is not ours to know
_API_KEY_IN_URL = re.compile(r"(api_key=)[^&\s\"']+")


def gateway_command() -> list[str]:
    """``start-bluesky-httpserver`` next to the interpreter, else its entry point via ``-c``."""
    script = Path(sys.executable).parent / "start-bluesky-httpserver"
    if script.is_file():
        return [sys.executable, str(script)]
    code = "import sys; from bluesky_httpserver.server import start_server as s; sys.exit(s())"
    return [sys.executable, "-c", code]


def http_status(port: int, path: str = "/api/status", timeout: float = 1.0) -> int | None:
    """The HTTP status of ``GET path`` on 127.0.0.1:port (None if nothing answers)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class Gateway:
    """One bluesky-httpserver process (restartable on the same port with the same secrets)."""

    def __init__(self, mode: str, *, run_dir: Path, port: int, control_addr: str, info_addr: str,
                 marker: str, public_key: str | None = None, zmq_encoding: str = "json",
                 access_token_max_age: int = 900) -> None:  # fmt: skip
        if mode not in HTTP_MODES:
            raise ValueError(f"http must be None or one of {HTTP_MODES}, not {mode!r}")
        self.mode = mode
        self.run_dir = run_dir
        self.port = port
        self.uri = f"http://{HOST}:{port}"
        self.control_addr, self.info_addr = control_addr, info_addr
        self.marker = marker
        self.public_key = public_key
        self.zmq_encoding = zmq_encoding
        self.access_token_max_age = int(access_token_max_age)
        # Alphanumeric, as the gateway demands of the single-user key; in multi mode that key is
        # ignored (API keys come from the database) but the gateway would print a random one.
        self.api_key = secrets.token_hex(32)
        self._secret_key = secrets.token_hex(32)  # signs the access and refresh tokens
        self.users: dict[str, str] = (
            {u: secrets.token_urlsafe(18) for u in USERS} if mode == "multi" else {}
        )
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._recent: deque[str] = deque(maxlen=60)
        self._log_lock = threading.Lock()
        self.start_seconds: float | None = None  #: how long the last start took until ready

    @property
    def log_path(self) -> Path:
        return self.run_dir / LOG_NAME

    @property
    def config_path(self) -> Path:
        return self.run_dir / CONFIG_NAME

    def known_secrets(self) -> list[str]:
        """The API key, the token-signing key and the passwords (for redaction and tests)."""
        return [self.api_key, self._secret_key, *self.users.values()]

    def redact(self, text: str) -> str:
        for s in self.known_secrets():
            text = text.replace(s, "***")
        return _API_KEY_IN_URL.sub(r"\1***", text)

    def logtail(self, n: int = 40) -> str:
        """The last ``n`` lines of the gateway's (redacted) output."""
        with self._log_lock:
            return "\n".join(list(self._recent)[-n:])

    # -- configuration ----------------------------------------------------------------------
    def _password_var(self, user: str) -> str:
        return f"QS_GUI_HTTP_PASSWORD_{user.upper()}"

    def _env(self) -> dict[str, str]:
        # Inherited QSERVER_* (config file, keys, addresses) would defeat the isolation.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("QSERVER_") and k.lower() not in _FOREIGN_ENV}  # fmt: skip
        env.update(
            QSERVER_ZMQ_CONTROL_ADDRESS=self.control_addr,
            QSERVER_ZMQ_INFO_ADDRESS=self.info_addr,
            QSERVER_ZMQ_ENCODING=self.zmq_encoding,
            QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY=self.api_key,
            QSERVER_HTTP_SERVER_SERVER_SECRET_KEYS=self._secret_key,
            QSERVER_HTTP_SERVER_ACCESS_TOKEN_MAX_AGE=str(self.access_token_max_age),
            PYTHONUNBUFFERED="1",
        )
        if self.public_key:
            env["QSERVER_ZMQ_PUBLIC_KEY"] = self.public_key
        for user, password in self.users.items():
            env[self._password_var(user)] = password
        env[MARKER_ENV] = self.marker  # inherited by anything the gateway starts
        return env

    def config(self) -> dict:
        """The multi-user configuration (secrets only as ``${VAR}`` references)."""
        return {
            "authentication": {
                "providers": [
                    {
                        "provider": PROVIDER,
                        "authenticator": f"{_PKG}.authenticators:DictionaryAuthenticator",
                        "args": {
                            "users_to_passwords": {
                                u: f"${{{self._password_var(u)}}}" for u in self.users
                            }
                        },
                    }
                ],
                "allow_anonymous_access": False,
                "access_token_max_age": self.access_token_max_age,
                "secret_keys": ["${QSERVER_HTTP_SERVER_SERVER_SECRET_KEYS}"],
            },
            "api_access": {
                "policy": f"{_PKG}.authorization:DictionaryAPIAccessControl",
                "args": {
                    "roles": {r: {"scopes_set": list(s)} for r, s in ROLE_SCOPES.items()},
                    "users": {u: {"roles": USER_ROLES[u]} for u in self.users},
                },
            },
            "resource_access": {
                "policy": f"{_PKG}.authorization:DefaultResourceAccessControl",
                "args": {"default_group": "primary"},
            },
            "database": {"uri": f"sqlite:///{self.run_dir / DATABASE_NAME}"},
        }

    def _write_config(self) -> None:
        # JSON is YAML; written by hand so that the sandbox needs no YAML library.
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    # -- process ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the process; :meth:`wait_ready` waits for it to answer."""
        if self.proc is not None and not exited(self.proc):
            raise SandboxError("the HTTP gateway is already running")
        if not port_is_free(self.port):  # else another server would answer our readiness polls
            raise SandboxError(f"HTTP gateway port {self.port} is in use")
        cmd = [*gateway_command(), "--host", HOST, "--port", str(self.port)]
        if self.proc is None:  # a first start: nothing left from an earlier run in a given dir
            self.remove_files()
        if self.mode == "multi":
            self._write_config()
            cmd += ["--config_path", str(self.config_path)]
        log.debug("starting %s", cmd)
        self._t0 = time.monotonic()
        # A new session: Ctrl+C in a terminal does not hit it, and the group can be signalled.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=self._env(), cwd=self.run_dir,
                                     start_new_session=True)  # fmt: skip
        guard(self.proc.pid)
        self._reader = threading.Thread(target=self._copy_output, args=(self.proc,),
                                        name=f"http-log-{self.proc.pid}", daemon=True)  # fmt: skip
        self._reader.start()

    def _copy_output(self, proc: subprocess.Popen) -> None:
        """Pipe → http.log, line by line, every known secret replaced by ``***``."""
        with open(self.log_path, "a", encoding="utf-8") as out:
            for raw in proc.stdout:
                line = self.redact(raw.decode("utf-8", "replace"))
                with self._log_lock:
                    self._recent.append(line.rstrip("\n"))
                out.write(line)
                out.flush()
        proc.stdout.close()

    def wait_ready(self, deadline: float) -> None:
        """Poll ``GET /api/status`` until it answers 401 (no key) or 200."""
        while not exited(self.proc):
            if http_status(self.port, timeout=1.0) in (200, 401):
                self.start_seconds = time.monotonic() - self._t0
                log.info("HTTP gateway (%s) ready at %s in %.2f s", self.mode, self.uri,
                         self.start_seconds)  # fmt: skip
                return
            if time.monotonic() >= deadline:
                raise SandboxError(
                    f"the HTTP gateway did not answer at {self.uri} in time:\n{self._tail_after()}"
                )
            time.sleep(0.1)
        raise SandboxError(f"the HTTP gateway exited during startup:\n{self._tail_after()}")

    def _tail_after(self) -> str:
        if self._reader is not None and exited(self.proc):
            self._reader.join(2.0)  # the last lines (the traceback) are still in the pipe
        return self.logtail()

    def is_running(self) -> bool:
        return self.proc is not None and not exited(self.proc)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL after ``grace`` s, reap it, finish the log."""
        if self.proc is None or (self.proc.returncode is not None and not self._reader.is_alive()):
            return
        t0 = time.monotonic()
        stop_group(self.proc, "HTTP gateway", grace=grace)
        if self._reader is not None:
            self._reader.join(5.0)
        log.info("HTTP gateway stopped in %.2f s (rc=%s)", time.monotonic() - t0,
                 self.proc.returncode)  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the process group (a crash, not a stop)."""
        if self.proc is None or exited(self.proc):
            return
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.stop()

    def remove_files(self) -> None:
        """The log, config and database (for a run directory the sandbox keeps)."""
        for path in (self.log_path, self.config_path, *self.run_dir.glob(DATABASE_NAME + "*")):
            path.unlink(missing_ok=True)  # the database with its -journal/-wal files
