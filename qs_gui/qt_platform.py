"""Can a Qt platform start here? Asked before anything else is started.

Qt aborts the process (``qFatal``, exit 134) when its platform plugin cannot load, which says
nothing useful to an operator and, after a demo server was started, would strand it. The check
costs a few milliseconds: it reads ``DISPLAY``/``WAYLAND_DISPLAY``, connects to the X socket and
asks the dynamic loader for each shared library the plugin needs.

The library lists were derived with ``readelf -d`` (the NEEDED entries) on the PyQt5 5.15 wheel's
``plugins/platforms/libqxcb.so``, ``lib/libQt5XcbQpa.so.5`` and ``libqoffscreen.so`` plus
``libQt5Gui``/``libQt5Widgets``/``libQt5DBus``, each mapped to its Debian package with
``dpkg -S``. This module is the one place that list lives: ``scripts/setup.sh`` asks it
(``python3 qs_gui/qt_platform.py --debian-packages``), so it must stay standard-library only.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from collections.abc import Mapping

#: soname -> Debian package, needed by every platform (Qt Gui, Widgets, DBus, offscreen)
BASE_LIBRARIES: dict[str, str] = {
    "libGL.so.1": "libgl1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libX11.so.6": "libx11-6",
    "libXext.so.6": "libxext6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libz.so.1": "zlib1g",
}

#: soname -> Debian package, needed in addition by the X11 (xcb) platform plugin
XCB_LIBRARIES: dict[str, str] = {
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

#: packages that are not a plugin's NEEDED entry but that a good-looking window needs: a font
#: (with none, fontconfig finds nothing and text is drawn as boxes) and the GLX integration
#: plugin's library (without it Qt warns at every start)
EXTRA_PACKAGES: tuple[str, ...] = ("fonts-dejavu-core", "libxcb-glx0")

PLATFORM_LIBRARIES: dict[str, dict[str, str]] = {
    "offscreen": BASE_LIBRARIES,
    "minimal": BASE_LIBRARIES,
    "xcb": {**BASE_LIBRARIES, **XCB_LIBRARIES},
}

HEADLESS_HINT = ("For a headless smoke run only (nothing is shown), set QT_QPA_PLATFORM=offscreen.")


def debian_packages() -> list[str]:
    """Every Debian package the offscreen and xcb platforms need, sorted and unique."""
    packages = set(PLATFORM_LIBRARIES["xcb"].values()) | set(EXTRA_PACKAGES)
    return sorted(packages)


def platform_name(environ: Mapping[str, str]) -> str:
    """The platform Qt 5 will try first: ``QT_QPA_PLATFORM`` (first of a ``;`` list, without its
    ``:options``), else ``xcb``, Qt 5's default on Linux."""
    spec = environ.get("QT_QPA_PLATFORM", "").strip()
    return (spec.split(";")[0].split(":")[0].strip() or "xcb") if spec else "xcb"


def missing_libraries(platform: str) -> dict[str, str]:
    """soname -> Debian package for each library of ``platform`` the loader cannot load."""
    missing = {}
    for soname, package in PLATFORM_LIBRARIES.get(platform, {}).items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing[soname] = package
    return missing


def _x_display_reachable(display: str) -> bool:
    """Whether an X server listens for ``display`` (":1", "unix:1", "host:0.0"), without a
    round trip: a local display's socket (abstract or file), else TCP port 6000 + n."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return True  # a form we do not know (e.g. a launchd path): let Qt decide
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in ("\0" + path, path):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                try:
                    s.connect(address)
                    return True
                except OSError:
                    continue
        if host == "unix":
            return False
        host = "localhost"
    try:
        socket.create_connection((host, 6000 + number), timeout=1.0).close()
        return True
    except OSError:
        return False


def platform_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """None if the Qt platform can be expected to start, else what stops it, in plain words."""
    environ = os.environ if environ is None else environ
    platform = platform_name(environ)
    if platform not in PLATFORM_LIBRARIES:
        return None  # wayland, vnc, eglfs…: the operator chose it; Qt reports its own problems
    missing = missing_libraries(platform)
    if missing:
        packages = " ".join(sorted(set(missing.values())))
        return (f"The Qt platform plugin \"{platform}\" cannot load: these system libraries are "
                f"missing: {', '.join(sorted(missing))}.\n"
                f"Install them (as root) with:\n  apt-get install {packages}\n"
                f"or run ./scripts/setup.sh as root, which installs them.")
    if platform != "xcb":
        return None
    display = environ.get("DISPLAY", "").strip()
    if not display:
        wayland = environ.get("WAYLAND_DISPLAY", "").strip()
        where = (f"WAYLAND_DISPLAY is {wayland!r} but qs-gui needs an X display (XWayland): "
                 "DISPLAY is empty." if wayland else
                 "No display is set: DISPLAY and WAYLAND_DISPLAY are empty.")
        return (f"{where} Run qs-gui from a desktop session, or with ssh -X, or set DISPLAY.\n"
                f"{HEADLESS_HINT}")
    if not _x_display_reachable(display):
        return (f"No X server answers on DISPLAY={display!r}: is the display running and is "
                f"this the right number?\n{HEADLESS_HINT}")
    return None


if __name__ == "__main__":
    if sys.argv[1:] == ["--debian-packages"]:
        print(" ".join(debian_packages()))
    else:
        problem = platform_problem()
        print(problem or f"Qt platform {platform_name(os.environ)!r}: ok")
        sys.exit(2 if problem else 0)
