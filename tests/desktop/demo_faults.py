"""Run ``qs-gui --demo`` with one way of dying injected (``python -m tests.desktop.demo_faults K``).

KIND ``exception``: an exception escapes ``main()`` after the demo server started (the window
fails to show). KIND ``qfatal``: Qt's own ``qFatal`` (an ``abort()`` inside Qt) once the window
is up and the worker environment is open. Used by test_orphans; not a test module itself.
"""

from __future__ import annotations

import sys

from PyQt5 import QtCore

from qs_gui import app
from qs_gui.ui.main_window import MainWindow


def main(kind: str) -> int:
    show = MainWindow.show

    def faulty_show(self: MainWindow) -> None:
        if kind == "exception":
            raise RuntimeError("injected: the window could not be shown")
        show(self)

        def abort_when_open(status: dict) -> None:
            if status.get("worker_environment_exists"):
                QtCore.qFatal("injected: abort() inside Qt")

        self.session.status_changed.connect(abort_when_open)

    MainWindow.show = faulty_show
    return app.main(["--demo", "--demo-empty"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
