"""``qs-gui --demo --monitor`` as a process: the wall display starts, shows the demo, saves a
screenshot, closes cleanly (exit 0) and leaves no process behind, also when terminated."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from PyQt5.QtGui import QImage

from tests.desktop.test_orphans import Child, assert_nothing_left, demo_started, environment_open
from tests.desktop.xvfb import Xvfb
from tests.helpers import wait_for

pytestmark = pytest.mark.server


def test_monitor_window_closes_cleanly(tmp_path: Path) -> None:
    shot = tmp_path / "monitor.png"
    child = Child([sys.executable, "-m", "qs_gui", "--demo", "--monitor", "--exit-after", "15",
                   "--screenshot", str(shot)],
                  env={"XDG_CONFIG_HOME": str(tmp_path)})  # its own settings file
    try:
        marker, pids = demo_started(child)
        rc = child.proc.wait(timeout=90)
        output = child.output()
        assert rc == 0, output
        assert "Traceback" not in output and "Internal error" not in output, output
        assert shot.stat().st_size > 10_000  # the window was drawn
        assert_nothing_left(marker, pids)
    finally:
        child.kill()


def test_monitor_terminated_leaves_nothing(tmp_path: Path) -> None:
    child = Child([sys.executable, "-m", "qs_gui", "--demo", "--monitor"],
                  env={"XDG_CONFIG_HOME": str(tmp_path)})
    try:
        marker, pids = demo_started(child)
        wait_for(lambda: environment_open(marker), 60, message=child.output)
        child.proc.send_signal(signal.SIGTERM)
        assert child.proc.wait(timeout=60) == 0, child.output()
        assert_nothing_left(marker, pids)
    finally:
        child.kill()


@pytest.mark.skipif(not Xvfb.available(), reason="needs Xvfb")
def test_monitor_on_a_laptop_screen_with_xcb(tmp_path: Path) -> None:
    """The real xcb plugin on a 1280×800 screen: the wall display fits it and quits with 0."""
    shot = tmp_path / "monitor-xcb.png"
    with Xvfb(1280, 800) as display:
        child = Child([sys.executable, "-m", "qs_gui", "--demo", "--monitor", "--exit-after",
                       "15", "--screenshot", str(shot)],
                      env={"QT_QPA_PLATFORM": "xcb", "DISPLAY": display,
                           "XDG_CONFIG_HOME": str(tmp_path)})
        try:
            marker, pids = demo_started(child)
            assert child.proc.wait(timeout=90) == 0, child.output()
            assert_nothing_left(marker, pids)
        finally:
            child.kill()
    image = QImage(str(shot))
    assert 0 < image.width() <= 1280 and 0 < image.height() <= 800, image.size()
