"""The sandbox RE Manager and the harness fixtures, against real servers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

import qs_gui.sandbox.server as sandbox_mod
from qs_gui.sandbox import Sandbox, SandboxError, group_pids, pick_ports, port_is_free
from tests.helpers import (
    ServerLockedError,
    process_alive,
    reap,
    reset_server,
    spawn_guarded,
    wait_for,
    wait_status,
)

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parents[1]


def raw_request(addr: str, method: str, server_key: str | None = None, timeout: float = 1.0):
    """Independent of Sandbox.request: returns the reply dict, or None on timeout."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        if server_key:
            sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
            sock.curve_serverkey = server_key.encode()
        sock.connect(addr)
        sock.send(json.dumps({"method": method}).encode())
        if not sock.poll(int(timeout * 1000)):
            return None
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)
        ctx.term()


def assert_all_gone(pids: list[int], run_dir: Path | None = None) -> None:
    alive = [p for p in pids if process_alive(p)]
    assert not alive, f"processes left behind: {alive}"
    if run_dir is not None:
        assert not run_dir.exists(), f"run dir left behind: {run_dir}"


def test_status_and_info_channel(sandbox: Sandbox) -> None:
    st = sandbox.request("status")
    assert st["msg"] == "RE Manager v0.0.25"
    for addr in (sandbox.control_addr, sandbox.info_addr):
        assert addr.startswith("tcp://127.0.0.1:")
    assert sandbox.redis_addr.startswith("127.0.0.1:")
    assert sandbox.redis_prefix.startswith("qs_gui_")
    # publish_console=True: status is pushed on the (unencrypted) info socket about once a second
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"QS_Info")
        sub.connect(sandbox.info_addr)
        assert sub.poll(5000), "no QS_Info within 5 s"
        topic, payload = sub.recv_multipart()
        assert topic == b"QS_Info"
        assert json.loads(payload)["msg"]["status"]["msg"] == "RE Manager v0.0.25"
    finally:
        sub.close(linger=0)
        ctx.term()


def test_start_stop_leaves_nothing_behind() -> None:
    t0 = time.monotonic()
    sb = Sandbox(open_environment=True)
    with sb:
        t_start = time.monotonic() - t0
        assert sb.request("status")["worker_environment_exists"] is True
        pids = group_pids(sb.pid)
        assert sb.pid in pids and len(pids) >= 3, pids  # watchdog, manager, worker
        pids.append(sb.redis_pid)
        run_dir = sb.run_dir
        assert (run_dir / "startup" / "00-ophyd.py").is_file()
        assert not list((run_dir / "startup").rglob("__pycache__"))
        ports = [int(a.rsplit(":", 1)[1]) for a in (sb.control_addr, sb.info_addr, sb.redis_addr)]
        t1 = time.monotonic()
    t_stop = time.monotonic() - t1
    print(f"start incl. environment_open {t_start:.2f} s, stop {t_stop:.2f} s")
    assert_all_gone(pids, run_dir)
    assert all(port_is_free(p) for p in ports)
    sb.stop()  # idempotent


def test_second_sandbox_side_by_side(sandbox: Sandbox) -> None:
    with Sandbox(publish_console=False) as other:
        addrs = {sandbox.control_addr, sandbox.info_addr, other.control_addr, other.info_addr}
        assert len(addrs) == 4
        assert other.redis_addr != sandbox.redis_addr
        assert other.redis_prefix != sandbox.redis_prefix
        assert other.request("status")["msg"] == "RE Manager v0.0.25"
        assert sandbox.request("status")["msg"] == "RE Manager v0.0.25"
    assert sandbox.request("status")["msg"] == "RE Manager v0.0.25"


def test_curve_control_socket() -> None:
    public, private = (k.decode() for k in zmq.curve_keypair())
    with Sandbox(private_key=private, publish_console=False) as sb:
        assert sb.public_key == public
        assert sb.request("status")["msg"] == "RE Manager v0.0.25"
        assert raw_request(sb.control_addr, "status", server_key=public)["msg"].startswith("RE")
        assert raw_request(sb.control_addr, "status") is None  # plain client: timeout
        wrong = zmq.curve_keypair()[0].decode()
        assert raw_request(sb.control_addr, "status", server_key=wrong) is None


def test_msgpack_and_given_run_dir(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with Sandbox(publish_console=False, zmq_encoding="msgpack", run_dir=str(run_dir)) as sb:
        assert sb.request("status")["msg"] == "RE Manager v0.0.25"
        assert sb.log_path == run_dir / "manager.log"
    assert "RE Manager" in (run_dir / "manager.log").read_text()  # a given run dir is kept


def test_failed_environment_open_raises_and_cleans_up() -> None:
    def hook(startup: Path) -> None:  # profile_hook can add files to the profile
        (startup / "50-fail.py").write_text("raise RuntimeError('boom from the profile')\n")

    sb = Sandbox(publish_console=False, open_environment=True, profile_hook=hook)
    with pytest.raises(SandboxError, match="environment_open failed") as info:
        sb.start()
    assert "boom from the profile" in str(info.value)
    assert_all_gone([sb.pid, sb.redis_pid], sb.run_dir)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"extra_args": ["--no-such-option"]}, "unrecognized arguments: --no-such-option"),
        ({"profile_hook": shutil.rmtree}, "does not exist"),
    ],
    ids=["bogus-arg", "no-startup-dir"],
)
def test_failed_start_raises_and_cleans_up(kwargs: dict, expected: str) -> None:
    sb = Sandbox(publish_console=False, **kwargs)
    with pytest.raises(SandboxError, match="exited during startup") as info:
        sb.start()
    assert expected in str(info.value)
    assert_all_gone([sb.pid, sb.redis_pid], sb.run_dir)
    assert not group_pids(sb.pid)


def test_failed_start_with_watchdog_still_running() -> None:
    # Redis unreachable: the manager dies but its watchdog keeps running, nothing ever answers.
    dead_redis = f"127.0.0.1:{pick_ports(1)[0]}"
    sb = Sandbox(publish_console=False, startup_timeout=3, extra_args=["--redis-addr", dead_redis])
    with pytest.raises(SandboxError, match="did not answer 'status'") as info:
        sb.start()
    assert "Failed to create the Redis pool" in str(info.value)
    assert_all_gone([sb.pid, sb.redis_pid], sb.run_dir)
    assert not group_pids(sb.pid)


def test_missing_sim_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_mod, "find_redis_server", lambda: None)
    with pytest.raises(SandboxError, match=r"pip install 'qs-gui\[sim\]'"):
        Sandbox().start()


def run_main(args: list[str], sig: signal.Signals) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = spawn_guarded(
        [sys.executable, "-m", "qs_gui.sandbox", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out: dict[str, str] = {}
        for line in proc.stdout:
            key, _, value = line.strip().partition(": ")
            out[key] = value
            if key == "pid":
                break
        assert {"control_addr", "info_addr", "pid"} <= out.keys(), (out, proc.stderr.read())
        pgid = int(out["pid"])
        reply = raw_request(out["control_addr"], "status", out.get("public_key"), timeout=5)
        assert reply["msg"] == "RE Manager v0.0.25"
        pids = group_pids(pgid)
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=40)
        assert proc.returncode == 0, err
        assert rest.strip().endswith("stopped")
        assert_all_gone(pids)
    finally:
        reap(proc)


def test_main_sigint_with_curve_and_env() -> None:
    private = zmq.curve_keypair()[1].decode()
    run_main(["--open-env", "--private-key", private], signal.SIGINT)


def test_main_sigterm() -> None:
    run_main(["--no-console"], signal.SIGTERM)


# -- the harness fixtures themselves ----------------------------------------------------------


def test_wait_for() -> None:
    assert wait_for(lambda: 42, timeout=0.1) == 42
    with pytest.raises(AssertionError, match="never"):
        wait_for(lambda: False, timeout=0.1, interval=0.01, message=lambda: "never")


def test_reset_stops_running_plan(env_open: Sandbox) -> None:
    sb = env_open
    item = {"item_type": "plan", "name": "count", "args": [["det1"]],
            "kwargs": {"num": 100, "delay": 0.1}}  # fmt: skip
    for _ in range(2):
        assert sb.request("queue_item_add", {"item": item, "user": "t", "user_group": "primary"})[
            "success"
        ]
    assert sb.request("queue_mode_set", {"mode": {"loop": True}})["success"]
    assert sb.request("queue_start")["success"]
    wait_status(sb, lambda s: s["re_state"] == "running", 30, "plan running")
    st = reset_server(sb)
    assert st["manager_state"] == "idle" and st["items_in_queue"] == 0
    assert st["items_in_history"] == 0 and st["plan_queue_mode"]["loop"] is False
    assert st["worker_environment_exists"] is True  # reset leaves the environment alone


def test_reset_aborts_paused_plan(env_open: Sandbox) -> None:
    sb = env_open
    item = {"item_type": "plan", "name": "count", "args": [["det1"]],
            "kwargs": {"num": 100, "delay": 0.1}}  # fmt: skip
    params = {"item": item, "user": "t", "user_group": "primary"}
    assert sb.request("queue_item_execute", params)["success"]
    wait_status(sb, lambda s: s["re_state"] == "running", 30, "plan running")
    assert sb.request("re_pause", {"option": "immediate"})["success"]
    wait_status(sb, lambda s: s["manager_state"] == "paused", 30, "paused")
    assert reset_server(sb)["manager_state"] == "idle"


def test_env_closed_fixture(env_closed: Sandbox) -> None:
    st = env_closed.request("status")
    assert st["worker_environment_exists"] is False and st["manager_state"] == "idle"


def test_lock_safety_net(server_reset: Sandbox) -> None:
    sb = server_reset
    reply = sb.request("lock", {"user": "t", "lock_key": "k", "queue": True, "environment": True})
    assert reply["success"], reply
    try:
        with pytest.raises(ServerLockedError, match="did not unlock"):
            reset_server(sb)
    finally:
        assert sb.request("unlock", {"lock_key": "k"})["success"]
