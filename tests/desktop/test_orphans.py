"""Nothing is orphaned: every process ``qs-gui --demo`` or the test harness starts ends when its
parent ends, however the parent ends (window closed, Ctrl+C, SIGTERM, an exception, ``abort()``
inside Qt, ``kill -9``). Checked 5 s later by the pids the sandbox reported and by scanning
``/proc`` for the sandbox's environment marker, which its grandchildren inherit too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from qs_gui.sandbox import marked_pids
from tests.helpers import process_alive, reap, spawn_guarded, wait_for

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parents[2]
DEMO_LINE = re.compile(r"demo RE Manager at (\S+) \(marker (\S+), processes ([\d ]*), "
                       r"guardian (\d+)\)")


class Child:
    """A subprocess whose output (stdout and stderr) is read on a thread, so that it never
    blocks on a full pipe."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = spawn_guarded(
            argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
                 **(env or {})},
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def match(self, pattern: re.Pattern) -> re.Match | None:
        return next((m for m in map(pattern.search, self.lines) if m), None)

    def kill(self) -> None:
        reap(self.proc)


def demo_started(child: Child, timeout: float = 90.0) -> tuple[str, list[int]]:
    """Wait for the demo's report line; return its marker and every pid it named."""
    found = wait_for(lambda: child.match(DEMO_LINE) or child.proc.poll() is not None, timeout,
                     message=child.output)
    assert isinstance(found, re.Match), f"qs-gui exited early:\n{child.output()}"
    pids = [int(p) for p in found.group(3).split()] + [int(found.group(4))]
    return found.group(2), pids


def environment_open(marker: str) -> bool:
    """The worker exists once the manager has forked it: three marked processes of the RE
    Manager plus Redis and the document proxy."""
    return len(marked_pids(marker)) >= 5


def assert_nothing_left(marker: str, pids: list[int], timeout: float = 5.0) -> None:
    def leftovers() -> list[int]:
        return sorted(set(marked_pids(marker)) | {p for p in pids if process_alive(p)})

    try:
        wait_for(lambda: not leftovers(), timeout, interval=0.1)
    except AssertionError:
        left = leftovers()
        for pid in left:  # do not leave them to the next test either
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        pytest.fail(f"processes left {timeout} s after the parent ended: {left}")


ENDINGS = ["window-closed", "ctrl-c", "sigterm", "kill-9"]


@pytest.mark.parametrize("ending", ENDINGS)
def test_demo_leaves_nothing(ending: str) -> None:
    argv = [sys.executable, "-m", "qs_gui", "--demo"]
    if ending == "window-closed":
        argv += ["--demo-empty", "--exit-after", "4"]
    child = Child(argv)
    try:
        marker, pids = demo_started(child)
        if ending != "window-closed":  # mid-way: the demo items are being run by then
            wait_for(lambda: environment_open(marker), 60, message=child.output)
        signals = {"ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM, "kill-9": signal.SIGKILL}
        if ending in signals:
            child.proc.send_signal(signals[ending])
        rc = child.proc.wait(timeout=60)
        expected = -signal.SIGKILL if ending == "kill-9" else 0
        assert rc == expected, child.output()
        assert_nothing_left(marker, pids)
    finally:
        child.kill()


@pytest.mark.parametrize("kind, expected_rc", [("exception", 1), ("qfatal", -signal.SIGABRT)])
def test_demo_dies_leaves_nothing(kind: str, expected_rc: int) -> None:
    child = Child([sys.executable, "-m", "tests.desktop.demo_faults", kind])
    try:
        marker, pids = demo_started(child)
        rc = child.proc.wait(timeout=90)
        assert rc == expected_rc, child.output()
        assert "injected" in child.output()
        assert_nothing_left(marker, pids)
    finally:
        child.kill()


PROBE = textwrap.dedent('''
    import threading

    from qs_gui.sandbox import Sandbox, guardian_pid


    def test_probe():
        with Sandbox(open_environment=True) as sb:
            print(f"PROBE marker {sb.redis_prefix} guardian {guardian_pid()}", flush=True)
            threading.Event().wait(300)  # until the harness is killed
''')


PROBE_LINE = re.compile(r"PROBE marker (\S+) guardian (\d+)")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_killed_pytest_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    child = Child([sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider",
                   "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")])
    try:
        found = wait_for(lambda: child.match(PROBE_LINE) or child.proc.poll() is not None, 90,
                         message=child.output)
        assert isinstance(found, re.Match), f"the probe exited early:\n{child.output()}"
        marker, guardian = found.group(1), int(found.group(2))
        wait_for(lambda: len(marked_pids(marker)) >= 3, 60)
        pids = marked_pids(marker) + [guardian]
        child.proc.send_signal(sig)
        child.proc.wait(timeout=30)
        assert_nothing_left(marker, pids)
    finally:
        child.kill()
