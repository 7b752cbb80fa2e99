"""The Qt platform check that runs before anything is started (qs_gui.qt_platform)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import qs_gui.qt_platform as qp
from qs_gui import app

from .desktop.xvfb import Xvfb

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value, expected", [
    ("", "xcb"), ("offscreen", "offscreen"), ("xcb:nograb", "xcb"), ("wayland;xcb", "wayland"),
    (" minimal ", "minimal"),
])  # fmt: skip
def test_platform_name(value: str, expected: str) -> None:
    env = {"QT_QPA_PLATFORM": value} if value else {}
    assert qp.platform_name(env) == expected


def test_one_list_for_setup_and_check() -> None:
    packages = qp.debian_packages()
    assert packages == sorted(set(packages))
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-xinerama0", "libgl1"} <= set(packages)
    out = subprocess.run([sys.executable, "-I", str(REPO / "qs_gui" / "qt_platform.py"),
                          "--debian-packages"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == packages  # what scripts/setup.sh installs


def test_missing_library_named_with_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = qp.ctypes.CDLL

    def cdll(name: str, *args, **kwargs):
        if name == "libxcb-icccm.so.4":
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(qp.ctypes, "CDLL", cdll)
    problem = qp.platform_problem({"DISPLAY": ":0"})
    assert "libxcb-icccm.so.4" in problem and "apt-get install libxcb-icccm4" in problem
    assert qp.platform_problem({"QT_QPA_PLATFORM": "offscreen"}) is None  # not needed there


def test_no_display() -> None:
    problem = qp.platform_problem({})
    assert "No display is set" in problem and "QT_QPA_PLATFORM=offscreen" in problem
    problem = qp.platform_problem({"WAYLAND_DISPLAY": "wayland-0"})
    assert "XWayland" in problem


def test_display_that_nobody_serves() -> None:
    free = next(n for n in range(990, 1000) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    assert "No X server answers" in qp.platform_problem({"DISPLAY": f":{free}"})


@pytest.mark.skipif(not Xvfb.available(), reason="Xvfb is not installed")
def test_running_display_passes() -> None:
    with Xvfb(640, 480) as display:
        assert qp.platform_problem({"DISPLAY": display}) is None


def test_demo_without_display_starts_nothing() -> None:
    """Exit 2 with the reason, before the demo server is even started."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "qs_gui", "--demo"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "No display is set" in proc.stderr
    assert "starting the demo" not in proc.stderr


def test_missing_libraries_stop_the_demo_before_it_starts(monkeypatch: pytest.MonkeyPatch,
                                                          capsys) -> None:
    monkeypatch.setattr(qp, "missing_libraries",
                        lambda platform: {"libxcb-xinerama.so.0": "libxcb-xinerama0"})
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)

    def never(*_args, **_kwargs):
        raise AssertionError("the demo server was started")

    monkeypatch.setattr(app, "_start_demo", never)
    assert app.main(["--demo"]) == 2
    err = capsys.readouterr().err
    assert "libxcb-xinerama.so.0" in err and "apt-get install libxcb-xinerama0" in err
