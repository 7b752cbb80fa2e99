"""``qs-gui --demo --overview`` as a process on Qt's real xcb plugin (Xvfb): the overview starts
with the demo's tile, saves a screenshot, closes by itself with exit 0 and leaves no process
behind; also when terminated."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from PyQt5.QtGui import QImage

from tests.desktop.test_orphans import Child, assert_nothing_left, demo_started, environment_open
from tests.desktop.xvfb import Xvfb
from tests.helpers import wait_for

pytestmark = [pytest.mark.server,
              pytest.mark.skipif(not Xvfb.available(), reason="needs Xvfb")]


def test_demo_overview_on_xcb_exits_cleanly(tmp_path: Path) -> None:
    shot = tmp_path / "overview-xcb.png"
    with Xvfb(1280, 800) as display:
        child = Child([sys.executable, "-m", "qs_gui", "--demo", "--overview", "--exit-after",
                       "15", "--screenshot", str(shot)],
                      env={"QT_QPA_PLATFORM": "xcb", "DISPLAY": display,
                           "XDG_CONFIG_HOME": str(tmp_path)})  # its own settings file
        try:
            marker, pids = demo_started(child)
            rc = child.proc.wait(timeout=90)
            output = child.output()
            assert rc == 0, output
            assert "Traceback" not in output and "Internal error" not in output, output
            assert_nothing_left(marker, pids)
        finally:
            child.kill()
    image = QImage(str(shot))
    assert 0 < image.width() <= 1280 and 0 < image.height() <= 800, image.size()
    assert shot.stat().st_size > 10_000  # the tile was drawn
    saved = (tmp_path / "qs-gui" / "qs-gui.conf").read_text()  # geometry and layout kept
    assert "[overview]" in saved and "geometry=" in saved and '\\"demo\\"' in saved, saved


def test_demo_overview_terminated_leaves_nothing(tmp_path: Path) -> None:
    with Xvfb(1280, 800) as display:
        child = Child([sys.executable, "-m", "qs_gui", "--demo", "--overview"],
                      env={"QT_QPA_PLATFORM": "xcb", "DISPLAY": display,
                           "XDG_CONFIG_HOME": str(tmp_path)})
        try:
            marker, pids = demo_started(child)
            wait_for(lambda: environment_open(marker), 60, message=child.output)
            child.proc.send_signal(signal.SIGTERM)
            assert child.proc.wait(timeout=60) == 0, child.output()
            assert_nothing_left(marker, pids)
        finally:
            child.kill()
