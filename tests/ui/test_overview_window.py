"""The overview window over fake beamlines (loopback 0MQ servers, ``FakeBeamlineHost``): tile
words per state, alarms (colour and words, acknowledge), reflow, persisted layout, Enter opens
the full window; and ``qs-gui --overview`` with an unknown profile exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QSettings, Qt  # noqa: E402
from PyQt5.QtGui import QColor  # noqa: E402

from qs_gui.core.overview import Overview, zmq_tile_session  # noqa: E402
from qs_gui.core.profiles import AppSettings, Profile  # noqa: E402
from qs_gui.sandbox.fake_beamline import FakeBeamlineHost  # noqa: E402
from qs_gui.ui.notifications import Notifier  # noqa: E402
from qs_gui.ui.overview_tile import TileWidget  # noqa: E402
from qs_gui.ui.overview_window import OverviewWindow, grid_columns  # noqa: E402
from qs_gui.ui.profiles_dialog import QSettingsStore  # noqa: E402
from qs_gui.ui.theme import role_colours  # noqa: E402

from .qt_async import run, until  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _keep_running(qapp):
    """Closing a test's last window must not quit the application (and stop the loop)."""
    qapp.setQuitOnLastWindowClosed(False)


def _profiles(host: FakeBeamlineHost) -> list[Profile]:
    return [Profile(a["name"], control_addr=a["control_addr"], info_addr=a["info_addr"])
            for a in host.addresses()]


def _settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettingsStore(QSettings(str(tmp_path / "qs-gui.ini"),
                                                QSettings.IniFormat)))


def _window(overview: Overview, qtbot, **kwargs) -> OverviewWindow:
    window = OverviewWindow(overview, notifier_factory=lambda w: Notifier(w, use_tray=False),
                            **kwargs)
    qtbot.addWidget(window)
    return window


def _head_colour(tile: TileWidget) -> QColor:
    """The headline block's background as drawn (the role colour, from the style sheet)."""
    image = tile.head.grab().toImage()
    return QColor(image.pixel(2, 2))


def _texts(tile: TileWidget) -> str:
    labels = (tile.band, tile.headline, tile.detail, tile.alarm_label, tile.running,
              tile.queue, tile.environment, tile.outcome, tile.lock)
    return " | ".join(label.full_text() for label in labels if label.isVisibleTo(tile))


def test_tiles_say_the_state_in_words_and_an_alarm_in_colour_and_words(qloop, qtbot):
    with FakeBeamlineHost(7, publish_period=0.2) as host:
        overview = Overview(zmq_tile_session)
        for profile in _profiles(host):
            overview.add(profile)
        window = _window(overview, qtbot)
        window.resize(1600, 900)
        window.show()
        tiles = window.tiles

        async def scenario() -> None:
            await overview.start()
            try:
                await until(lambda: all(t.state.connection == "connected"
                                        for t in overview.tiles.values()), 10,
                            message="connected")
                host.call("FB02", "run", "scan")
                host.call("FB03", "run", "count")
                host.call("FB03", "pause")
                host.call("FB04", "close_environment")
                host.call("FB05", "run", "grid_scan")
                host.call("FB05", "fail", "motor out of limits")
                host.call("FB06", "silence")
                host.call("FB07", "lock", "alice", "beam tuning")
                expect = {"FB01": "Idle", "FB02": "Running scan", "FB03": "Paused",
                          "FB04": "Environment closed", "FB05": "grid_scan failed",
                          "FB06": "Offline", "FB07": "LOCKED by alice: beam tuning"}
                await until(lambda: all(want in _texts(tiles[name])
                                        for name, want in expect.items()), 10,
                            message=lambda: {n: _texts(tiles[n]) for n in expect})
                # the words, line by line
                assert tiles["FB01"].headline.full_text() == "Idle"
                assert tiles["FB02"].running.full_text() == "▶ scan"
                assert tiles["FB02"].queue.full_text() == "Queue: 1 item · running"
                assert tiles["FB03"].headline.full_text() == "Paused"
                assert tiles["FB03"].queue.full_text().endswith("· paused")
                assert tiles["FB04"].environment.full_text() == "Environment: closed"
                assert tiles["FB01"].environment.full_text() == "Environment: open"
                assert tiles["FB06"].headline.full_text() == "Offline"
                assert tiles["FB06"].queue.full_text().startswith("Queue: unknown")
                assert tiles["FB06"].environment.full_text() == "Environment: unknown"
                assert tiles["FB07"].headline.full_text() == "Idle"  # a lock is a flag
                assert tiles["FB07"].lock.isVisibleTo(tiles["FB07"])
                assert not tiles["FB01"].lock.isVisibleTo(tiles["FB01"])
                # the failed tile: red AND the words ALARM and what failed, and an outcome mark
                failed = tiles["FB05"]
                await until(lambda: "grid_scan failed" in failed.outcome.full_text(), 5,
                            message=lambda: failed.outcome.full_text())
                assert failed.alarm_box.isVisibleTo(failed)
                assert failed.headline.full_text() == "Failed"
                assert failed.alarm_label.full_text() == "⚠ ALARM: grid_scan failed"
                assert failed.outcome.full_text().startswith("✖")
                assert _head_colour(failed) == role_colours("alarm")[0]
                assert _head_colour(tiles["FB01"]) == role_colours("ok")[0]
                assert not tiles["FB01"].alarm_box.isVisibleTo(tiles["FB01"])
                # each alarm went to the notifier once, and the title counts them
                kinds = [(n.title.split(":")[0], n.kind.value) for n in window.notifier.shown]
                assert kinds.count(("FB05", "failed")) == 1, kinds
                assert sorted(set(kinds)) == [("FB03", "paused"), ("FB05", "failed"),
                                              ("FB06", "offline")], kinds
                assert "3 alarms unacknowledged" in window.windowTitle()
                rows = window.log_rows()
                assert any(r[1] == "FB05" and "failed" in r[2] for r in rows), rows
                # Acknowledge on the tile clears its alarm; only that one
                qtbot.mouseClick(failed.ack_button, Qt.LeftButton)
                await until(lambda: not failed.alarm_box.isVisibleTo(failed), 5,
                            message="cleared")
                assert _head_colour(failed) != role_colours("alarm")[0]
                assert "2 alarms unacknowledged" in window.windowTitle()
                assert tiles["FB06"].alarm_box.isVisibleTo(tiles["FB06"])
                window.ack_all_action.trigger()
                await until(lambda: "alarm" not in window.windowTitle(), 5,
                            message="all acknowledged")
            finally:
                await overview.stop()

        run(qloop, scenario(), timeout=60)
        window.close()


def _idle_overview(names: list[str]) -> Overview:
    """Tiles whose sessions are never started (layout tests need no server)."""
    overview = Overview(zmq_tile_session)
    for i, name in enumerate(names):
        overview.add(Profile(name, control_addr=f"tcp://127.0.0.1:{1 + i}",
                             info_addr=f"tcp://127.0.0.1:{101 + i}"))
    return overview


@pytest.mark.parametrize(("width", "columns"), [(420, 1), (1000, 3), (1960, 6)])
def test_the_grid_reflows_with_the_width(qloop, qtbot, width, columns):
    overview = _idle_overview([f"BL{i}" for i in range(8)])
    window = _window(overview, qtbot)
    window.resize(width, 900)
    window.show()
    qtbot.waitUntil(lambda: window.columns == columns, timeout=3000)
    tiles = [window.tile(n) for n in overview.visible()]
    # row-major order, equal heights, a sensible aspect (not a sliver, not a tower)
    positions = [window.grid.getItemPosition(window.grid.indexOf(t))[:2] for t in tiles]
    assert positions == [(i // columns, i % columns) for i in range(8)]
    qtbot.waitUntil(lambda: width * 0.75 < tiles[0].width() * columns <= width, timeout=3000)
    assert len({t.height() for t in tiles}) == 1
    assert 0.3 < tiles[0].height() / tiles[0].width() < 1.2, tiles[0].size()
    assert grid_columns(width, 2, 300) == min(2, columns)
    window.close()


def test_hide_pin_order_and_tile_size_persist(qloop, qtbot, tmp_path):
    names = ["ID01", "ID02", "ID03", "ID04", "ID05"]
    settings = _settings(tmp_path)
    overview = _idle_overview(names)
    window = _window(overview, qtbot, app_settings=settings)
    window.show()
    window.tile("ID02").hide_requested.emit("ID02")
    window.tile("ID04").pin_requested.emit("ID04", True)
    overview.move("ID05", 0)
    window.step_scale(+1)
    assert "ID02" not in window.tiles
    assert window.tile("ID04").pinned
    expected = ["ID04", "ID05", "ID01", "ID03"]
    assert overview.visible() == expected
    window.close()

    again = _idle_overview(names)  # a new window, a new overview, the same settings file
    window2 = _window(again, qtbot, app_settings=_settings(tmp_path))
    window2.show()
    assert again.visible() == expected
    assert list(window2.tiles) == expected
    assert window2.tile("ID04").pinned and "pinned" in window2.tile("ID04").band.full_text()
    assert window2.scale == 1.25
    window2._fill_hidden_menu()  # View ▸ Show hidden beamlines lists ID02 and unhides it
    hidden = [a for a in window2.hidden_menu.actions() if a.text() == "ID02"]
    assert hidden
    hidden[0].trigger()
    assert "ID02" in window2.tiles and "ID02" in again.visible()
    window2.close()


def test_enter_and_double_click_on_a_tile_open_the_full_window(qloop, qtbot):
    opened: list[str] = []
    overview = _idle_overview(["ID01", "ID02", "ID03"])
    window = _window(overview, qtbot, open_full=opened.append)
    window.show()
    tile = window.tile("ID02")
    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus, timeout=2000)
    qtbot.keyClick(tile, Qt.Key_Return)
    assert opened == ["ID02"]
    qtbot.mouseDClick(window.tile("ID03"), Qt.LeftButton)
    assert opened == ["ID02", "ID03"]
    # the context menu offers the same and the rest
    words = [a.text().replace("&", "") for a in tile.context_menu().actions() if a.text()]
    assert words == ["Acknowledge", "Pin first", "Hide", "Open full window"]
    window.close()


def test_set_state_repaints_the_tile_once_per_change(qloop, qtbot):
    from dataclasses import replace

    overview = _idle_overview(["ID01"])
    window = _window(overview, qtbot)
    window.show()
    tile = window.tile("ID01")
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: tile.paints > 0)
    before = tile.paints
    tile.set_state(replace(tile.state, queue_length=7))
    qtbot.waitUntil(lambda: tile.paints > before, timeout=2000)
    assert tile.queue.full_text().startswith("Queue: 7 items")
    window.close()


def test_overview_with_an_unknown_profile_exits_2(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "qs_gui", "--overview", "NOPE"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "no profile named 'NOPE'" in proc.stderr


def test_a_tile_opens_its_full_window_on_the_same_loop_and_closing_it_keeps_the_overview(
        qloop, qtbot, tmp_path):
    from qs_gui.app import Rooms
    from qs_gui.ui.main_window import MainWindow

    qsettings = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    settings = AppSettings(QSettingsStore(qsettings))
    with FakeBeamlineHost(2, publish_period=0.2) as host:
        profiles = _profiles(host)
        rooms = Rooms(qloop, settings, qsettings, title="qs-gui", timeout=None,
                      profiles=lambda: profiles)

        async def scenario() -> None:
            overview_window = rooms.open_overview()
            overview = rooms.overview
            try:
                await until(lambda: all(t.state.connection == "connected"
                                        for t in overview.tiles.values()), 10,
                            message="connected")
                overview_window.tile("FB01").setFocus()
                qtbot.keyClick(overview_window.tile("FB01"), Qt.Key_Return)
                full = rooms.full["FB01"]
                assert isinstance(full, MainWindow) and full.isVisible()
                assert full.session is not overview.tile("FB01").session  # its own session
                assert not full.session._api.read_only  # a full window controls
                await until(lambda: full.session.status is not None, 10,
                            message="full window status")
                assert rooms.open_full("FB01") is full  # open again: raised, not doubled
                rooms.home = ("FB02", overview_window)  # the window the app started with
                assert rooms.open_full("FB02") is overview_window and "FB02" not in rooms.full
                rooms.home = None
                full.overview_action.trigger()  # View ▸ Overview raises the open one
                assert rooms.overview_window is overview_window
                full.close()
                await until(lambda: "FB01" not in rooms.full and not rooms._tasks, 10,
                            message="full window's session stopped")
                assert not full.session.supervisor.tasks() or all(
                    t.done() for t in full.session.supervisor.tasks())
                host.call("FB02", "run", "scan")  # the overview keeps running
                await until(lambda: overview_window.tile("FB02").running.full_text()
                            == "▶ scan", 10, message="FB02 running")
            finally:
                await rooms.stop()
            assert rooms.overview_window is None and not rooms.full and not rooms._tasks

        run(qloop, scenario(), timeout=60)
