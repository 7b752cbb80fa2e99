"""A private Xvfb server for tests that must run Qt's real xcb platform plugin, not offscreen.

Started on a free display chosen by Xvfb itself (``-displayfd``), with no TCP listener, and
registered with the sandbox's lifeline guardian so that it ends with the test run however the
run ends."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time

from qs_gui.sandbox import guard, unguard


class Xvfb:
    """``with Xvfb(1280, 800) as display:`` gives ``":N"`` for ``DISPLAY``."""

    def __init__(self, width: int, height: int, depth: int = 24) -> None:
        self.geometry = f"{width}x{height}x{depth}"
        self.display: str | None = None
        self._proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("Xvfb") is not None

    def __enter__(self) -> str:
        read_fd, write_fd = os.pipe()
        try:
            self._proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", self.geometry,
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            guard(self._proc.pid)
            os.close(write_fd)
            write_fd = -1
            number = b""
            deadline = time.monotonic() + 20
            while not number.endswith(b"\n"):  # Xvfb writes the number once it accepts clients
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                    raise RuntimeError("Xvfb did not report its display within 20 s")
                chunk = os.read(read_fd, 16)
                if not chunk:
                    raise RuntimeError(f"Xvfb exited (rc {self._proc.wait()})")
                number += chunk
        except BaseException:
            self.__exit__()
            raise
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.display = f":{int(number)}"
        return self.display

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            unguard(self._proc.pid)
            self._proc = None
