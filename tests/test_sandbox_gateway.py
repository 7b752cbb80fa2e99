"""The sandbox's bluesky-httpserver 0.0.14 (``Sandbox(http="single"|"multi")``), against real
processes: authentication and scopes, secrets kept off the disk, kill/restart, and no process
left behind however the sandbox ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import zmq

import qs_gui.sandbox.gateway as gateway_mod
from qs_gui.sandbox import ROLE_SCOPES, Sandbox, SandboxError, marked_pids
from tests.helpers import process_alive, reap, spawn_guarded, wait_for

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parents[1]
#: every queue-server scope qs-gui uses (the operator must have them all)
GUI_SCOPES = {
    "read:status", "read:queue", "read:history", "read:resources", "read:config", "read:monitor",
    "read:console", "read:lock", "write:queue:edit", "write:queue:control",
    "write:manager:control", "write:plan:control", "write:execute", "write:history:edit",
    "write:lock", "write:scripts", "write:config", "write:permissions", "user:apikeys",
}  # fmt: skip
ADMIN_ONLY = {"admin:apikeys", "admin:read:principals", "admin:metrics"}


def client(sb: Sandbox) -> httpx.Client:
    # trust_env=False: a proxy from the environment must not see loopback requests
    return httpx.Client(base_url=sb.http_uri, trust_env=False, timeout=10.0)


def api_key_header(key: str) -> dict[str, str]:
    return {"Authorization": f"ApiKey {key}"}


def login(c: httpx.Client, sb: Sandbox, user: str, password: str | None = None) -> httpx.Response:
    password = sb.http_users[user] if password is None else password
    return c.post(f"/api/auth/provider/{sb.http_provider}/token",
                  data={"username": user, "password": password})  # fmt: skip


def bearer(c: httpx.Client, sb: Sandbox, user: str) -> dict[str, str]:
    r = login(c, sb, user)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def files_containing(run_dir: Path, secrets: list[str]) -> list[tuple[str, int]]:
    """(file, index of the secret) for every secret found in any file under ``run_dir``."""
    found = []
    for path in run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [(str(path), i) for i, s in enumerate(secrets) if s.encode() in data]
    return found


def http_log_has(sb: Sandbox, text: str) -> bool:
    return sb.http_log_path.is_file() and text in sb.http_log_path.read_text()


# -- single user --------------------------------------------------------------------------------


def test_single_user_key(http_sandbox: Sandbox) -> None:
    sb = http_sandbox
    assert sb.http == "single" and sb.http_uri.startswith("http://127.0.0.1:")
    key = sb.http_api_key
    assert key and key.isalnum() and len(key) >= 32
    assert sb.http_users == {} and sb.http_provider is None
    assert sb.http_pid in sb.processes()
    with client(sb) as c:
        r = c.get("/api/status", headers=api_key_header(key))
        assert r.status_code == 200, r.text
        st = r.json()
        assert st["msg"] == "RE Manager v0.0.25" and st["manager_state"] == "idle"
        # the gateway speaks to this sandbox's manager
        assert st["worker_environment_exists"] is sb.request("status")["worker_environment_exists"]
        r = c.get("/api/status")
        assert r.status_code == 401
        assert "Requires scopes ['read:status']" in r.json()["detail"]
        r = c.get("/api/status", headers=api_key_header("0" * len(key)))
        assert r.status_code == 401 and r.json()["detail"] == "Invalid API key"
        r = c.get("/api/auth/scopes", headers=api_key_header(key))
        assert r.status_code == 200
        assert set(r.json()["scopes"]) >= GUI_SCOPES


# -- multi user ---------------------------------------------------------------------------------


def test_multi_user_scopes(http_multi_sandbox: Sandbox) -> None:
    sb = http_multi_sandbox
    assert sb.http == "multi" and sb.http_provider == "toy"
    assert set(sb.http_users) == {"admin", "operator", "observer"}
    assert sb.http_api_key is None
    assert len(set(sb.http_users.values())) == 3
    scopes: dict[str, set[str]] = {}
    with client(sb) as c:
        for user in sb.http_users:
            r = c.get("/api/auth/scopes", headers=bearer(c, sb, user))
            assert r.status_code == 200, r.text
            scopes[user] = set(r.json()["scopes"])
    assert scopes["operator"] >= GUI_SCOPES
    assert {"write:execute", "write:lock"} <= scopes["operator"]
    assert not scopes["operator"] & ADMIN_ONLY
    assert not {s for s in scopes["observer"] if s.startswith("write:")}
    assert {"read:status", "read:queue", "read:history", "user:apikeys"} <= scopes["observer"]
    assert scopes["admin"] == scopes["operator"] | ADMIN_ONLY
    assert scopes == {u: set(ROLE_SCOPES[f"sandbox_{u}"]) for u in scopes}


def test_multi_user_refusals(http_multi_sandbox: Sandbox) -> None:
    sb = http_multi_sandbox
    item = {"item_type": "plan", "name": "count", "args": [["det1"]]}
    with client(sb) as c:
        observer = bearer(c, sb, "observer")
        r = c.request("GET", "/api/queue/get", json={}, headers=observer)
        assert r.status_code == 200 and r.json()["success"] is True
        r = c.post("/api/queue/item/execute", json={"item": item}, headers=observer)
        assert r.status_code == 401
        assert "Requires scopes ['write:execute']" in r.json()["detail"]
        # the operator passes the scope check (the closed environment refuses the plan)
        r = c.post("/api/queue/item/execute", json={"item": item},
                   headers=bearer(c, sb, "operator"))  # fmt: skip
        assert r.status_code == 200 and r.json()["success"] is False, r.text
        assert "environment" in r.json()["msg"].lower()
        assert login(c, sb, "operator", "wrong").status_code == 401
        assert login(c, sb, "nobody", "x").status_code == 401
        # the config holds ${VAR} references, expanded by the gateway: the reference itself is
        # not the password
        ref = "${QS_GUI_HTTP_PASSWORD_OPERATOR}"
        assert ref in (sb.run_dir / "http_config.yml").read_text()
        assert login(c, sb, "operator", ref).status_code == 401
        assert c.get("/api/status").status_code == 401  # allow_anonymous_access: false


def test_multi_user_token_expiry_and_refresh(http_multi_sandbox: Sandbox) -> None:
    sb = http_multi_sandbox
    with client(sb) as c:
        r = login(c, sb, "operator")
        tokens = r.json()
        assert tokens["expires_in"] == 3
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert c.get("/api/status", headers=headers).status_code == 200
        expired = wait_for(lambda: (r := c.get("/api/status", headers=headers)).status_code == 401
                           and r, timeout=10, interval=0.2)  # fmt: skip
        assert "expired" in expired.json()["detail"]
        r = c.post("/api/auth/session/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200, r.text
        fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert c.get("/api/status", headers=fresh).status_code == 200


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["http_sandbox", "http_multi_sandbox"])
def test_secrets_never_on_disk(fixture: str, request: pytest.FixtureRequest) -> None:
    sb: Sandbox = request.getfixturevalue(fixture)
    known = sb._gateway.known_secrets()
    assert len(known) == (5 if sb.http == "multi" else 2)  # key, signing key, passwords
    assert all(len(s) >= 20 for s in known)
    assert http_log_has(sb, "APP settings")  # the line that prints the key and signing key
    assert not files_containing(sb.run_dir, known)
    foreign = "abcdef0123456789abcdef"  # a key the sandbox does not know
    with client(sb) as c:
        for user in sb.http_users:
            assert c.get("/api/auth/scopes", headers=bearer(c, sb, user)).status_code == 200
        # a browser-style ?api_key= lands in the access log: redacted too
        c.get("/api/status", params={"api_key": sb.http_api_key or foreign})
    wait_for(lambda: http_log_has(sb, "/api/status?api_key=***"), timeout=5,
             message=lambda: sb.http_logtail(10))  # fmt: skip
    assert not files_containing(sb.run_dir, known)
    assert foreign not in sb.http_log_path.read_text()


def test_failed_gateway_start_redacts_and_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # A gateway that prints its key and exits: the error carries the log tail, redacted.
    code = ("import os, sys; print('key', os.environ['QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY']);"
            " sys.exit(3)")  # fmt: skip
    monkeypatch.setattr(gateway_mod, "gateway_command", lambda: [sys.executable, "-c", code])
    sb = Sandbox(publish_console=False, http="single")
    with pytest.raises(SandboxError, match="HTTP gateway exited during startup") as info:
        sb.start()
    assert "key ***" in str(info.value)
    assert sb.http_api_key not in str(info.value)
    assert not sb.processes()
    assert not sb.run_dir.exists()


def test_gateway_to_curve_msgpack_manager() -> None:
    # the gateway gets the manager's public key and encoding (QSERVER_ZMQ_PUBLIC_KEY/_ENCODING)
    private = zmq.curve_keypair()[1].decode()
    with Sandbox(publish_console=False, private_key=private, zmq_encoding="msgpack",
                 http="single") as sb, client(sb) as c:  # fmt: skip
        r = c.get("/api/status", headers=api_key_header(sb.http_api_key))
        assert r.status_code == 200 and r.json()["msg"] == "RE Manager v0.0.25", r.text


def test_bad_http_mode() -> None:
    with pytest.raises(ValueError, match="http must be None or one of"):
        Sandbox(http="public")
    with pytest.raises(SandboxError, match="no HTTP gateway"):
        Sandbox().restart_gateway()


# -- lifecycle ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_kill_restart_stop(mode: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sb = Sandbox(publish_console=False, http=mode, run_dir=str(run_dir))
    with sb:
        assert sb.http_start_seconds < 30
        print(f"gateway ({mode}) ready in {sb.http_start_seconds:.2f} s")
        uri, pid = sb.http_uri, sb.http_pid
        assert pid in sb.processes() and sb.gateway_running()
        with client(sb) as c:
            auth = api_key_header(sb.http_api_key) if mode == "single" else bearer(c, sb, "admin")
            assert c.get("/api/status", headers=auth).status_code == 200
            sb.kill_gateway()
            assert not process_alive(pid) and not sb.gateway_running()
            assert pid not in sb.processes()
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{uri}/api/status", trust_env=False)
            assert sb.request("status")["msg"] == "RE Manager v0.0.25"  # the manager lives on
            sb.restart_gateway()
            assert sb.http_uri == uri and sb.http_pid != pid and sb.gateway_running()
            # same key, same token-signing key and database: the old credentials still work
            r = c.get("/api/status", headers=auth)
            assert r.status_code == 200 and r.json()["msg"] == "RE Manager v0.0.25"
            sb.restart_gateway()  # a running gateway is stopped first
            assert c.get("/api/status", headers=auth).status_code == 200
        marker, pids = sb.redis_prefix, sb.processes()
        assert len(pids) >= 4  # gateway, RE Manager watchdog and manager, Redis
        assert (run_dir / "http.log").is_file()
    assert not marked_pids(marker)
    assert not [p for p in pids if process_alive(p)]
    # a given run dir is kept, but nothing of the gateway's
    assert (run_dir / "manager.log").is_file()
    assert not [p.name for p in run_dir.glob("http*")]


# -- python -m qs_gui.sandbox --http ------------------------------------------------------------


def assert_all_gone(marker: str, pids: list[int], timeout: float) -> None:
    """No process carries the marker and none of ``pids`` lives. Both, because a process on its
    way out has an empty /proc/<pid>/environ before it becomes a zombie."""

    def leftovers() -> list[int]:
        return sorted(set(marked_pids(marker)) | {p for p in pids if process_alive(p)})

    wait_for(lambda: not leftovers(), timeout, interval=0.1,
             message=lambda: f"left behind: {leftovers()}")  # fmt: skip


class Main:
    """``python -m qs_gui.sandbox`` with its output read on a thread into ``key: value``."""

    def __init__(self, *args: str) -> None:
        self.proc = spawn_guarded(
            [sys.executable, "-m", "qs_gui.sandbox", *args], cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.out: dict[str, str] = {}
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            key, _, value = line.strip().partition(": ")
            self.out[key] = value

    def started(self, timeout: float = 90.0) -> dict[str, str]:
        wait_for(lambda: "pid" in self.out or self.proc.poll() is not None, timeout,
                 message=lambda: "\n".join(self.lines))  # fmt: skip
        assert "pid" in self.out, f"{self.lines}\n{self.proc.stderr.read()}"
        return self.out


def test_main_http_single_parent_killed() -> None:
    main = Main("--http", "single", "--no-console")
    try:
        out = main.started()
        assert out["http_uri"].startswith("http://127.0.0.1:")
        assert not {"http_api_key", "http_users"} & out.keys()  # nothing secret by default
        http_pid, marker = int(out["http_pid"]), out["marker"]
        assert httpx.get(f"{out['http_uri']}/api/status", trust_env=False).status_code == 401
        assert http_pid in marked_pids(marker)
        pids = marked_pids(marker)
        os.kill(main.proc.pid, signal.SIGKILL)  # no atexit, no finally: only the guardian
        main.proc.wait()
        assert_all_gone(marker, pids, timeout=5)
    finally:
        reap(main.proc)


def test_main_http_multi_sigterm_show_secrets() -> None:
    main = Main("--http", "multi", "--no-console", "--show-secrets")
    try:
        out = main.started()
        assert out["http_provider"] == "toy"
        assert out["http_users"].split() == ["admin", "operator", "observer"]
        marker = out["marker"]
        pids = marked_pids(marker)
        assert int(out["http_pid"]) in pids
        with httpx.Client(base_url=out["http_uri"], trust_env=False) as c:
            form = {"username": "operator", "password": out["http_password_operator"]}
            r = c.post("/api/auth/provider/toy/token", data=form)
            assert r.status_code == 200, r.text
        main.proc.send_signal(signal.SIGTERM)
        assert main.proc.wait(timeout=40) == 0, main.proc.stderr.read()
        main._reader.join(5)
        assert main.lines[-1] == "stopped"
        assert_all_gone(marker, pids, timeout=5)
    finally:
        reap(main.proc)
