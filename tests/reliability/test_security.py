"""Security: secrets stay in memory, keys are validated, monitor mode cannot mutate, nothing from
the network is evaluated or unpickled by default."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import zmq
from PyQt5.QtCore import QCoreApplication, QSettings
from PyQt5.QtWidgets import QMessageBox

from qs_gui.client import BPlan, ReadOnlyError, REManagerAPI
from qs_gui.client.api import READ_ONLY_METHODS
from qs_gui.client.documents import DocumentSubscriber
from qs_gui.client.transport import validate_curve_key
from qs_gui.core.gates import Action, Connection
from qs_gui.core.profiles import AppSettings, Profile, SettingsError, is_forbidden_key
from qs_gui.core.session import Session
from qs_gui.sandbox import Sandbox
from qs_gui.ui import dialogs as dialogs_module
from qs_gui.ui.main_window import MainWindow
from qs_gui.ui.profiles_dialog import QSettingsStore
from tests.ui.qt_async import run, until

from .gui import COUNT, action, make_window, started
from .harness import ROOT, ThreadPeer, forward

PACKAGE = ROOT / "qs_gui"


# -- the lock key is never persisted -----------------------------------------------------------
@pytest.mark.server
def test_lock_key_is_never_written_anywhere(qtbot, qloop, server_reset, tmp_path, monkeypatch,
                                            caplog, record):
    sandbox = server_reset
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
        QSettings.setPath(fmt, QSettings.UserScope, str(home / ".config"))
    app = QCoreApplication.instance()
    org, name = app.organizationName(), app.applicationName()
    app.setOrganizationName("qs-gui-test")
    app.setApplicationName("qs-gui")
    caplog.set_level(logging.DEBUG)
    key = "Sekr3t-lock-key-for-the-test"
    try:
        qsettings = QSettings()
        app_settings = AppSettings(QSettingsStore(qsettings))
        profile = Profile(name="ID12", control_addr=sandbox.control_addr,
                          info_addr=sandbox.info_addr)
        app_settings.save_profile(profile)
        api = REManagerAPI(zmq_control_addr=sandbox.control_addr,
                           zmq_info_addr=sandbox.info_addr)
        window = MainWindow(Session(api), settings=qsettings, app_settings=app_settings,
                            profile=profile)
        qtbot.addWidget(window)
        window.show()
        panel = window.lock_panel

        async def scenario():
            await started(window)
            qtbot.keyClicks(panel.key_edit, key)
            panel.env_box.setChecked(True)
            panel.note_edit.setText("security test")
            await until(lambda: action(window, Action.LOCK).isEnabled(), 5)
            action(window, Action.LOCK).trigger()
            await until(lambda: (window.session.status or {}).get("lock", {}).get("environment"),
                        5, message="locked")
            await until(lambda: action(window, Action.UNLOCK).isEnabled(), 5)
            action(window, Action.UNLOCK).trigger()
            await until(lambda: not window.session.status["lock"]["environment"], 5,
                        message="unlocked")
            panel.generate_key()  # a generated key is a secret too
            return panel.key()

        try:
            generated = run(qloop, scenario(), 60)
        finally:
            sandbox.request("unlock", {"lock_key": key})
        run(qloop, window.session.stop())
        window.close()  # saves the layout
        qsettings.sync()
        files = [p for p in home.rglob("*") if p.is_file()]
        assert any(p.suffix in (".conf", ".ini") for p in files), files  # settings were written
        for path in files:
            data = path.read_bytes()
            for secret in (key, generated):
                for encoded in (secret.encode(), secret.encode("utf-16-le")):
                    assert encoded not in data, f"{secret!r} found in {path}"
        assert not app_settings.audit([key, generated])
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert key not in logged and generated not in logged
        shown = "\n".join(window.messages.messages())
        assert key not in shown and generated not in shown
        keys = QSettings().allKeys()
        assert keys and not [k for k in keys if is_forbidden_key(k)], keys
    finally:
        app.setOrganizationName(org)
        app.setApplicationName(name)
    record(scenario="lock key persistence", files_checked=len(files), settings_keys=len(keys),
           key_found=0)


def test_settings_refuse_secrets():
    store: dict = {}
    settings = AppSettings(store)
    with pytest.raises(SettingsError):
        settings.set("lock_key", "x")
    with pytest.raises(SettingsError):
        Profile.from_dict({"name": "ID12", "private_key": "x"})
    with pytest.raises(SettingsError):
        Profile(name="ID12", public_key="not-a-key")
    store["connection/lockKey"] = "left by a hand edit"
    assert settings.purge_secrets() == ["connection/lockKey"] and not store


# -- the CURVE key is validated ----------------------------------------------------------------
GOOD_KEY = zmq.curve_keypair()[0].decode()


@pytest.mark.parametrize("bad", ["", "short", GOOD_KEY[:-1], GOOD_KEY + "x", " " * 40,
                                 "~" * 40, GOOD_KEY[:-1] + "\u00e9", "\x00" * 40])
def test_curve_key_validated(bad, monkeypatch):
    with pytest.raises(ValueError):
        validate_curve_key(bad)
    if bad:
        with pytest.raises(ValueError):
            REManagerAPI(zmq_public_key=bad)
    if bad and "\x00" not in bad:  # (the environment cannot hold a NUL)
        monkeypatch.setenv("QSERVER_ZMQ_PUBLIC_KEY", bad)
        with pytest.raises(ValueError):
            REManagerAPI()
    assert validate_curve_key(GOOD_KEY) == GOOD_KEY


def test_app_refuses_a_bad_curve_key(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
           "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "qs_gui", "--control-addr",
                           "tcp://127.0.0.1:9", "--public-key", "not-a-key"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "CURVE key" in proc.stderr


@pytest.mark.server
def test_wrong_curve_key_is_reported_honestly(qtbot, qloop, record, error_log):
    """The info socket is never encrypted, so with a wrong server key status pushes arrive while
    every request times out: the window must say offline (and why), not connected."""
    private = zmq.curve_keypair()[1].decode()
    with Sandbox(publish_console=True, private_key=private) as sandbox:
        wrong = make_window(qtbot, sandbox.control_addr, sandbox.info_addr,
                            zmq_public_key=GOOD_KEY)
        right = make_window(qtbot, sandbox.control_addr, sandbox.info_addr,
                            zmq_public_key=sandbox.public_key)
        seen = []
        wrong.session.connection_changed.connect(lambda state, detail: seen.append(state))

        async def scenario():
            await started(right)
            await wrong.session.start()
            await until(lambda: wrong.session.connection is Connection.OFFLINE, 5)
            await until(lambda: wrong.session.status is not None, 5, message="pushed status")
            await asyncio.sleep(3)

        run(qloop, scenario(), 60)
        assert right.session.connection is Connection.CONNECTED
        assert Connection.CONNECTED not in seen
        assert "status updates arrive, but" in wrong.indicator.toolTip()
        assert "CURVE key" in wrong.indicator.toolTip()
        wrong.refresh_gates()
        assert not action(wrong, Action.EXECUTE_NOW).isEnabled()
        run(qloop, wrong.session.stop())
        run(qloop, right.session.stop())
    record(scenario="wrong CURVE server key", shown="offline", states=[s.value for s in seen])


# -- monitor mode refuses mutating calls inside the client ----------------------------------------
SAMPLES = {
    "item": BPlan("count", ["det1"]), "items": [COUNT], "uids": ["u1"], "uid": "u1",
    "enable": True, "user_group_permissions": {}, "script": "x = 1", "task_uid": "t1",
    "lock_key": "k1", "option": None, "pos": "front", "pos_dest": "back",
}
MUTATING_API = {
    "item_add", "item_add_batch", "item_update", "item_remove", "item_remove_batch",
    "item_move", "item_move_batch", "item_execute", "function_execute", "queue_start",
    "queue_stop", "queue_stop_cancel", "queue_clear", "queue_autostart", "queue_mode_set",
    "history_clear", "permissions_reload", "permissions_set", "environment_open",
    "environment_close", "environment_destroy", "environment_update", "script_upload",
    "re_pause", "re_resume", "re_stop", "re_abort", "re_halt", "kernel_interrupt", "lock",
    "lock_environment", "lock_queue", "lock_all", "unlock",
}
SKIP = {"close", "info_monitor", "send_request", "wait_for_completed_task", "wait_for_condition",
        "wait_for_idle", "wait_for_idle_or_paused", "wait_for_idle_or_running"}


def _calls(api):
    for name, member in inspect.getmembers(api, inspect.iscoroutinefunction):
        if name.startswith("_") or name in SKIP:
            continue
        kwargs = {}
        for pname, param in inspect.signature(member).parameters.items():
            if param.default is inspect.Parameter.empty and param.kind not in (
                    param.VAR_KEYWORD, param.VAR_POSITIONAL):
                kwargs[pname] = SAMPLES[pname]
        if name in ("lock", "lock_environment", "lock_queue", "lock_all", "unlock"):
            kwargs["lock_key"] = "k1"
        if name == "queue_mode_set":
            kwargs = {"loop": True}
        if name == "re_runs":
            kwargs = {"option": "active"}
        yield name, member, kwargs


def test_monitor_mode_refuses_every_mutating_call(qloop):
    status = {"msg": "RE Manager v0.0.25", "manager_state": "idle", "plan_queue_uid": "q"}
    replies = json.dumps({"success": True, "msg": "", **status}).encode()
    with ThreadPeer(lambda request: replies) as peer:
        api = REManagerAPI(zmq_control_addr=peer.address, read_only=True, timeout_recv=0.5)
        refused, allowed = set(), set()

        async def body():
            for name, member, kwargs in _calls(api):
                before = len(peer.received)
                try:
                    await member(**kwargs)
                except ReadOnlyError:
                    refused.add(name)
                    assert len(peer.received) == before, f"{name} sent something"
                    continue
                allowed.add(name)
                sent = {r.get("method") for r in peer.received[before:]}
                assert sent <= READ_ONLY_METHODS, (name, sent)
            for method in ("queue_clear", "queue_item_execute", "manager_stop", "manager_kill",
                           "environment_destroy", "no_such_method"):
                before = len(peer.received)
                with pytest.raises(ReadOnlyError):
                    await api.send_request(method=method, params={})
                assert len(peer.received) == before

        run(qloop, body(), 60)
        run(qloop, api.close())
    assert refused == MUTATING_API, (refused ^ MUTATING_API)
    assert {r.get("method") for r in peer.received} <= READ_ONLY_METHODS
    assert allowed  # the reads did go out


class AlwaysYes:
    """Prompts that confirm everything (and keep no history items)."""

    def confirm(self, *_args, **_kwargs) -> bool:
        return True

    def confirm_typed(self, *_args) -> bool:
        return True

    def keep_newest(self, _total: int) -> int:
        return 0


@pytest.mark.server
def test_monitor_window_sends_nothing_mutating(qtbot, qloop, env_open, monkeypatch, record,
                                               error_log):
    """Every action forced on -- gates bypassed, confirmations answered yes -- still sends no
    mutating request: the client refuses it."""
    sandbox = env_open
    monkeypatch.setattr(dialogs_module, "run_dialog", lambda *a, **k: QMessageBox.Yes)
    with ThreadPeer(lambda request: forward(sandbox, request)) as peer:
        window = make_window(qtbot, peer.address, sandbox.info_addr, monitor=True)
        history = sandbox.request("status")["items_in_history"]

        async def scenario():
            await started(window)
            sandbox.request("queue_item_add", {"item": COUNT, "user": "x",
                                               "user_group": "primary"})
            await until(lambda: window.session.queue, 5)
            window.queue_view.select_uids([window.session.queue[0]["item_uid"]])
            window.entry.load_item(COUNT)
            window.lock_panel.key_edit.setText("k1")
            window.lock_panel.env_box.setChecked(True)
            window.commands._allowed = lambda *_args: True  # bypass every gate
            window.commands.prompts = AlwaysYes()  # and answer every confirmation with yes
            window.entry.confirm = lambda *a: True
            for act in Action:
                if act is Action.HISTORY_EXPORT:  # a file dialog; read-only anyway
                    continue
                qaction = window.registry[act]
                qaction.setEnabled(True)
                qaction.trigger()
                await asyncio.sleep(0.02)
            save = window.commands.save_edited()
            if save is not None:
                await save
            await asyncio.sleep(0.5)

        run(qloop, scenario(), 60)
        sent = {r.get("method") for r in peer.received}
        refusals = [m for m in window.messages.messages() if "not sent" in m]
        run(qloop, window.session.stop())
    status = sandbox.request("status")
    assert sent <= READ_ONLY_METHODS, sent - READ_ONLY_METHODS
    assert status["items_in_history"] == history and status["worker_environment_exists"]
    assert len(sandbox.request("queue_get")["items"]) == 1
    assert refusals
    record(scenario="monitor mode, all actions forced", methods_sent=sorted(sent),
           refused_locally=len(refusals))


# -- nothing from the network is evaluated or unpickled --------------------------------------------
DANGEROUS_CALLS = {"eval", "exec", "compile", "__import__"}
DANGEROUS_ATTRS = {("pickle", "loads"), ("pickle", "load"), ("marshal", "loads"),
                   ("marshal", "load"), ("yaml", "load"), ("yaml", "unsafe_load"),
                   ("dill", "loads"), ("shelve", "open"), ("cPickle", "loads")}
#: the one explicit opt-in: DocumentSubscriber(allow_pickle=True)
ALLOWED = {("client/documents.py", "pickle.loads")}


def _dangerous(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in DANGEROUS_CALLS:
            found.append((func.id, node.lineno))
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and (func.value.id, func.attr) in DANGEROUS_ATTRS):
            found.append((f"{func.value.id}.{func.attr}", node.lineno))
        elif isinstance(func, ast.Attribute) and func.attr in ("loads", "load") and \
                isinstance(func.value, ast.Attribute) and func.value.attr == "pickle":
            found.append(("pickle.loads", node.lineno))
    return found


def test_no_eval_exec_or_unpickling_in_the_package():
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for what, line in _dangerous(path):
            if (rel, what) not in ALLOWED:
                hits.append(f"{rel}:{line}: {what}")
    assert not hits, hits
    # and no `from pickle import loads` style imports that would escape the check above
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "marshal", "dill"):
                pytest.fail(f"{path}: from {node.module} import ...")


def test_pickle_only_behind_the_explicit_opt_in(monkeypatch):
    import pickle

    source = (PACKAGE / "client/documents.py").read_text()
    tree = ast.parse(source)
    guarded = False
    for node in ast.walk(tree):  # the pickle.loads call sits under `if ... _allow_pickle`
        if isinstance(node, ast.If) and "_allow_pickle" in ast.unparse(node.test):
            guarded = True
    assert guarded
    calls = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a) or {})
    sub = DocumentSubscriber("tcp://127.0.0.1:9")
    assert not sub.pickle_enabled
    payload = b"\x80\x04\x95" + b"x" * 20  # a pickle (protocol 4) header
    assert sub.parse([b"pfx start " + payload]) is None
    assert sub.refused == 1 and not calls
