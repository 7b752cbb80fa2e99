"""HTTP profiles in the overview, against a real bluesky-httpserver in front of a real RE Manager
(the ``http_sandbox``/``http_multi_sandbox`` session fixtures; another client, the sandbox's own
0MQ socket, runs the plans).

* An API-key tile (the key from a key file) beside a 0MQ tile of the same RE Manager: both
  connect, say the same state, go to running when a plan runs and back to idle with its outcome;
  the HTTP tile's client put nothing but reads (and its identity checks) on the wire.
* A login tile says "Needs login" and offers "Log in…"; Enter opens the login dialog
  (window-modal), which logs the tile's read-only session in as the sandbox's operator; the
  tile connects and keeps following the server past several token refreshes (3 s tokens);
  no password reached the settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QSettings, Qt  # noqa: E402

from qs_gui.client.api import READ_ONLY_METHODS  # noqa: E402
from qs_gui.core.clients import tile_session  # noqa: E402
from qs_gui.core.overview import Overview  # noqa: E402
from qs_gui.core.profiles import AppSettings, Profile  # noqa: E402
from qs_gui.sandbox import Sandbox  # noqa: E402
from qs_gui.ui.notifications import Notifier  # noqa: E402
from qs_gui.ui.overview_window import OverviewWindow  # noqa: E402
from qs_gui.ui.profiles_dialog import QSettingsStore  # noqa: E402
from tests.helpers import ensure_env_open  # noqa: E402

from .http_harness import TransportSpy, save_shot  # noqa: E402
from .qt_async import run, until  # noqa: E402

pytestmark = pytest.mark.server

#: a plan long enough to be seen running (20 x 0.2 s)
SLOW = {"item_type": "plan", "name": "count", "args": [["det1"]],
        "kwargs": {"num": 20, "delay": 0.2}}
#: what a tile's HTTP client may send: reads, its identity, the WebSocket's short-lived key
TILE_MAY_SEND = READ_ONLY_METHODS | {"api_scopes", "whoami", "session_refresh", "apikey_new",
                                     "apikey_delete"}


@pytest.fixture(autouse=True)
def _keep_running(qapp):
    qapp.setQuitOnLastWindowClosed(False)


def _settings(tmp_path: Path) -> tuple[AppSettings, Path]:
    path = tmp_path / "qs-gui.ini"
    return AppSettings(QSettingsStore(QSettings(str(path), QSettings.IniFormat))), path


def _window(overview: Overview, qtbot, settings: AppSettings) -> OverviewWindow:
    window = OverviewWindow(overview, app_settings=settings,
                            notifier_factory=lambda w: Notifier(w, use_tray=False))
    qtbot.addWidget(window)
    window.show()
    return window


def _run_slow_plan(sb: Sandbox) -> None:
    assert sb.request("queue_item_add", {"item": SLOW, "user": "other client",
                                         "user_group": "primary"})["success"]
    assert sb.request("queue_start")["success"]


def test_an_api_key_tile_beside_a_zmq_tile_follows_a_plan(qloop, qtbot, single, tmp_path):
    sb = single
    ensure_env_open(sb)
    key_file = tmp_path / "api-key"
    key_file.write_text(sb.http_api_key + "\n")
    settings, ini = _settings(tmp_path)
    zmq = Profile("ZMQ", control_addr=sb.control_addr, info_addr=sb.info_addr)
    http = Profile("HTTP", http_uri=sb.http_uri, http_api_key_file=str(key_file),
                   colour="#2e7d32")
    overview = Overview(tile_session)
    for profile in (zmq, http):
        overview.add(profile)
    api = overview.tile("HTTP").session._api
    assert api.read_only and api.protocol == "HTTP"
    spy = TransportSpy(api)
    window = _window(overview, qtbot, settings)
    assert list(window.tiles) == ["ZMQ", "HTTP"]  # one window, both kinds
    tiles = {name: window.tile(name) for name in ("ZMQ", "HTTP")}

    async def scenario() -> None:
        await overview.start()
        try:
            await until(lambda: all(t.state.connection == "connected" and
                                    t.state.environment == "open" for t in tiles.values()), 20,
                        message=lambda: {n: (t.state.connection, t.state.connection_detail,
                                             t.state.environment) for n, t in tiles.items()})
            for name, tile in tiles.items():
                assert tile.headline.full_text() == "Idle", (name, tile.headline.full_text())
                assert tile.queue.full_text() == "Queue: empty · stopped", name
                assert not tile.login_button.isVisible() and not tile.needs_login
            assert overview.tile("HTTP").session.auth_method == "api_key"
            _run_slow_plan(sb)
            await until(lambda: all(t.state.queue == "running" and
                                    t.state.running_text == "count"
                                    for t in tiles.values()), 15,
                        message=lambda: {n: (t.state.queue, t.state.running_text)
                                         for n, t in tiles.items()})
            for name, tile in tiles.items():
                assert tile.running.full_text() == "▶ count", name
                assert tile.headline.full_text().startswith("Running"), name
            await until(lambda: all(t.state.queue == "stopped" and
                                    t.state.outcome.kind == "completed"
                                    for t in tiles.values()), 30,
                        message=lambda: {n: (t.state.queue, t.state.outcome)
                                         for n, t in tiles.items()})
            assert tiles["HTTP"].outcome.full_text() == tiles["ZMQ"].outcome.full_text()
            # the tile pushed nothing: only reads and its own identity went to the gateway
            sent = {name for _verb, _path, name in spy.sent}
            assert sent and sent <= TILE_MAY_SEND, sent - TILE_MAY_SEND
            assert "status" in sent or "history_get" in sent
        finally:
            window.close()
            await overview.stop()

    run(qloop, scenario(), timeout=90)
    assert sb.http_api_key not in ini.read_text()  # the key file's path only, never the key
    assert settings.audit([sb.http_api_key]) == []


def test_a_login_tile_needs_login_then_the_dialog_connects_it(qloop, qtbot, multi, tmp_path):
    sb = multi
    ensure_env_open(sb)
    password = sb.http_users["operator"]
    settings, ini = _settings(tmp_path)
    profile = Profile("LOGIN", http_uri=sb.http_uri, http_login="operator",
                      http_provider=sb.http_provider, colour="#6a1b9a")
    overview = Overview(tile_session)
    overview.add(profile)
    session = overview.tile("LOGIN").session
    spy = TransportSpy(session._api)
    window = _window(overview, qtbot, settings)
    tile = window.tile("LOGIN")

    async def scenario() -> None:
        # before anything is sent the tile says it needs a login, and offers one
        assert tile.needs_login and tile.headline.full_text() == "Needs login"
        assert "needs login as operator" in tile.detail.full_text()
        assert tile.login_button.isVisibleTo(tile)
        words = [a.text().replace("&", "") for a in tile.context_menu().actions() if a.text()]
        assert words[0] == "Log in…"
        await overview.start()
        try:
            # the gateway refuses the status without credentials: still "needs login"
            await until(lambda: session.state.login_needed is not None, 15,
                        message=lambda: f"401 seen ({session.connection_detail})")
            await until(lambda: "not logged in" in tile.state.connection_detail, 5)
            assert tile.headline.full_text() == "Needs login" and tile.state.alarm is None
            save_shot(window, "overview_needs_login.png")
            tile.setFocus()
            await until(tile.hasFocus, 5, message="tile focus")
            qtbot.keyClick(tile, Qt.Key_Return)  # Enter on a tile that needs a login
            dialog = window.login_dialogs["LOGIN"]
            assert dialog.isVisible() and dialog.windowModality() == Qt.WindowModal
            assert dialog.user_edit.text() == "operator"
            assert dialog.provider_box.currentText() == sb.http_provider
            assert "not logged in" in dialog.reason_label.text()
            dialog.password_edit.setText(password)
            dialog.ok_button.click()
            logged: list[str] = []
            dialog.logged_in.connect(lambda user: logged.append(f"logged in {user}"))
            await until(lambda: "LOGIN" not in window.login_dialogs, 20,
                        message=lambda: f"dialog closed ({dialog.error_label.text()})")
            assert logged == ["logged in operator"]  # accepted after a login, not cancelled
            await until(lambda: tile.state.connection == "connected"
                        and tile.state.environment == "open", 20,
                        message=lambda: (tile.state.connection, tile.state.connection_detail))
            assert not tile.needs_login and not tile.login_button.isVisibleTo(tile)
            assert tile.headline.full_text() == "Idle"
            save_shot(window, "overview_logged_in.png")
            assert session.auth_method == "token" and session._api.read_only
            assert any("Logged in as operator" in row[2] for row in window.log_rows())
            words = [a for a in tile.context_menu().actions() if a.text()]
            assert not words[0].isEnabled()  # "Log in…" is there, not needed now
            # the tokens live 3 s: the read-only client refreshes them and the tile follows
            _run_slow_plan(sb)
            await until(lambda: tile.state.queue == "running"
                        and tile.state.running_text == "count", 15,
                        message=lambda: (tile.state.queue, tile.state.running_text))
            await until(lambda: tile.state.queue == "stopped"
                        and tile.state.outcome.kind == "completed", 30,
                        message=lambda: (tile.state.queue, tile.state.outcome,
                                         tile.state.connection_detail))
            assert tile.state.connection == "connected" and not tile.needs_login
            assert "session_refresh" in spy.names()  # a token renewed by the read-only client
            sent = {name for _verb, _path, name in spy.sent}
            login_route = f"POST /api/auth/provider/{sb.http_provider}/token"
            assert sent <= TILE_MAY_SEND | {login_route}, sent - TILE_MAY_SEND
        finally:
            window.close()
            await overview.stop()

    run(qloop, scenario(), timeout=120)
    assert password not in ini.read_text()
    assert settings.audit([password]) == []


def test_a_full_window_from_a_login_tile_asks_its_own_login(qloop, qtbot, multi, tmp_path):
    from qs_gui.app import Rooms, _overview_profiles
    from qs_gui.ui.main_window import MainWindow

    sb = multi
    settings, _ini = _settings(tmp_path)
    profile = Profile("LOGIN", http_uri=sb.http_uri, http_login="operator",
                      http_provider=sb.http_provider)
    settings.save_profile(profile)
    settings.save_profile(Profile("ZMQ", control_addr=sb.control_addr, info_addr=sb.info_addr))
    # View ▸ Overview shows every saved profile, HTTP ones too
    assert [p.name for p in _overview_profiles(settings, None)] == ["LOGIN", "ZMQ"]
    rooms = Rooms(qloop, settings, settings.store.qsettings, title="qs-gui", timeout=None,
                  profiles=lambda: [profile])

    async def scenario() -> None:
        overview_window = rooms.open_overview()
        try:
            tile = overview_window.tile("LOGIN")
            assert tile.needs_login
            full = rooms.open_full("LOGIN")
            assert isinstance(full, MainWindow) and full.isVisible()
            assert full.session is not rooms.overview.tile("LOGIN").session
            assert not full.session._api.read_only  # a full window controls (its usual gates)
            dialog = full.login_dialog
            assert dialog is not None and dialog.isVisible()
            assert dialog.user_edit.text() == "operator"
            error = await full.session.login("operator", sb.http_users["operator"],
                                             sb.http_provider)
            assert error is None
            await until(lambda: full.session.status is not None, 15, message="full window")
            assert tile.needs_login  # the tile's own session is not logged in by the window's
            full.close()
            await until(lambda: "LOGIN" not in rooms.full, 10)
        finally:
            await rooms.stop()
        assert rooms.overview_window is None and not rooms._tasks

    run(qloop, scenario(), timeout=60)


def test_qs_gui_overview_shows_http_profiles(single, tmp_path):
    """``qs-gui --overview`` with a saved HTTP profile (key from the environment) and a 0MQ one:
    both tiles, no "skipped" message, exit 0."""
    import subprocess
    import sys

    sb = single
    root = Path(__file__).resolve().parents[2]
    conf = tmp_path / "qs-gui" / "qs-gui.conf"
    conf.parent.mkdir()
    settings = AppSettings(QSettingsStore(QSettings(str(conf), QSettings.IniFormat)))
    settings.save_profile(Profile("HTTP", http_uri=sb.http_uri))
    settings.save_profile(Profile("ZMQ", control_addr=sb.control_addr, info_addr=sb.info_addr))
    shot = tmp_path / "overview.png"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(root), "QSERVER_HTTP_SERVER_API_KEY": sb.http_api_key}
    proc = subprocess.run([sys.executable, "-m", "qs_gui", "--overview", "--exit-after", "6",
                           "--screenshot", str(shot)], env=env, capture_output=True, text=True,
                          timeout=90, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "skipped" not in proc.stderr and "0MQ profiles only" not in proc.stderr
    assert shot.is_file()
    assert sb.http_api_key not in conf.read_text()
