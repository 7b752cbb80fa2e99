"""Live plot against a real RE Manager whose worker publishes documents through bluesky's proxy.

The module starts its own ``Sandbox(documents=True, open_environment=True)``: the worker's
RunEngine has a ``bluesky.callbacks.zmq.Publisher`` (msgpack) pointed at the sandbox's
``bluesky-0MQ-proxy``; the GUI side is DocumentSubscriber -> DocumentPump -> PlotDock on a
qasync loop, exactly as the main window wires it. Plans are started with qs-gui's own client
(``item_execute`` = ``queue_item_execute``). Screenshots go to ``screenshots/``.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import msgpack  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import zmq  # noqa: E402
import zmq.asyncio  # noqa: E402
from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QLabel, QMainWindow  # noqa: E402

from qs_gui.client import BPlan  # noqa: E402
from qs_gui.client.documents import DocumentPump, DocumentSubscriber, classify  # noqa: E402
from qs_gui.sandbox import Sandbox, SandboxError  # noqa: E402
from qs_gui.ui.plot_dock import PlotDock  # noqa: E402
from qs_gui.ui.progress_widget import ProgressWidget  # noqa: E402
from tests.helpers import process_alive, reap, spawn_guarded  # noqa: E402
from tests.integration._support import client_for  # noqa: E402
from tests.ui import qt_async  # noqa: E402
from tests.ui.qt_async import run, until  # noqa: E402

qloop = qt_async.qloop  # the Pattern A loop fixture (tests/ui/conftest.py is not in scope here)

pytestmark = pytest.mark.server
SHOTS = Path(os.environ.get("QS_GUI_SCREENSHOTS", Path(__file__).resolve().parents[2]
                            / "screenshots"))  # fmt: skip
SLOW_DETECTORS = "det.exposure_time = 0.04\nnoisy_det.exposure_time = 0.04\n"


@pytest.fixture(scope="module")
def docs_sandbox() -> Iterator[Sandbox]:
    def hook(startup: Path) -> None:  # slow 'det'/'noisy_det' so a scan can be caught mid-way
        (startup / "90-qs-gui-test-slow-detectors.py").write_text(SLOW_DETECTORS)

    sb = Sandbox(documents=True, open_environment=True, publish_console=False,
                 profile_hook=hook)  # fmt: skip
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
        assert not process_alive(sb.proxy_pid)


class Live:
    """The GUI pipeline under test plus an independent raw SUB that records what was sent."""

    def __init__(self, sb: Sandbox, dock: PlotDock) -> None:
        self.sb = sb
        self.dock = dock
        self.sub = DocumentSubscriber(sb.documents_addr)
        self.pump = DocumentPump(self.sub, dock.feed_many)
        self.ctx = zmq.asyncio.Context()
        self.raw = self.ctx.socket(zmq.SUB)
        self.raw.setsockopt(zmq.SUBSCRIBE, b"")
        self.raw.connect(sb.documents_addr)
        self.inject = self.ctx.socket(zmq.PUB)  # a second publisher into the proxy's IN port
        self.inject.connect(sb.documents_in_addr)
        self.raw_docs: list[tuple[str, dict]] = []
        self._raw_task: asyncio.Task | None = None

    async def start(self) -> None:
        self.pump.start()
        self._raw_task = asyncio.ensure_future(self._read_raw())
        for _ in range(300):  # slow joiners: probe through the proxy until both ends see it
            await self.inject.send(b" probe " + json.dumps({"probe": True}).encode())
            await asyncio.sleep(0.02)
            if self.sub.received and any(n == "probe" for n, _ in self.raw_docs):
                return
        raise AssertionError("the document proxy never delivered a probe")

    async def _read_raw(self) -> None:
        while True:
            _, name, payload = (await self.raw.recv()).split(b" ", 2)
            kind = classify(payload)
            if kind in ("json", "msgpack"):
                loads = json.loads if kind == "json" else msgpack.unpackb
                self.raw_docs.append((name.decode(), loads(payload)))

    async def close(self) -> None:
        await self.pump.stop()
        if self._raw_task is not None:
            self._raw_task.cancel()
            await asyncio.gather(self._raw_task, return_exceptions=True)
        self.sub.close()
        self.raw.close(linger=0)
        self.inject.close(linger=0)
        self.ctx.term()

    async def execute(self, plan: BPlan) -> str:
        rm = client_for(self.sb)
        try:
            reply = await rm.item_execute(plan, user="qs-gui tests", user_group="primary")
            assert reply["success"], reply
            await until(lambda: self.sb.request("status")["manager_state"] == "idle",
                        timeout=30, interval=0.05)  # fmt: skip
        finally:
            await rm.close()
        return reply["item"]["item_uid"]

    def events(self, run_uid: str) -> list[dict]:
        descriptors = {d["uid"] for n, d in self.raw_docs
                       if n == "descriptor" and d["run_start"] == run_uid}  # fmt: skip
        return [d for n, d in self.raw_docs if n == "event" and d["descriptor"] in descriptors]


def make_window(qtbot) -> tuple[QMainWindow, PlotDock, ProgressWidget]:
    window = QMainWindow()
    window.setWindowTitle("qs-gui — live data")
    qtbot.addWidget(window)
    central = QLabel("(queue and history views)")
    central.setAlignment(Qt.AlignCenter)
    central.setStyleSheet("color: #999;")
    window.setCentralWidget(central)
    dock = PlotDock(window)
    window.addDockWidget(Qt.BottomDockWidgetArea, dock)
    progress = ProgressWidget(window)
    window.statusBar().addPermanentWidget(progress)
    dock.progress_changed.connect(progress.set_progress)
    window.resize(900, 620)
    window.resizeDocks([dock], [540], Qt.Vertical)
    window.show()
    qtbot.waitExposed(window)
    return window, dock, progress


def test_scan_is_plotted_live_against_the_motor(docs_sandbox: Sandbox, qtbot, qloop) -> None:
    window, dock, progress = make_window(qtbot)
    live = Live(docs_sandbox, dock)
    assert docs_sandbox.serializer == "msgpack"

    async def scenario() -> None:
        await live.start()
        try:
            await live.execute(BPlan("scan", ["det1"], "motor", -1, 1, 10))
            await until(lambda: dock.progress is not None and dock.progress.done, timeout=10,
                        message=lambda: f"{live.sub.stats()} {dock.runs.runs}")  # fmt: skip
            run_uid = dock.runs.current.uid
            await until(lambda: dock.curve(run_uid, "det1") is not None
                        and len(dock.curve(run_uid, "det1").getOriginalDataset()[0]) == 10)
        finally:
            await live.close()

    run(qloop, scenario(), timeout=60)
    current = dock.runs.current
    assert (current.plan_name, current.num_points, current.x_field) == ("scan", 10, "motor")
    x, y = dock.curve(current.uid, "det1").getOriginalDataset()
    np.testing.assert_allclose(x, np.linspace(-1, 1, 10))
    sent = live.events(current.uid)
    assert len(sent) == 10
    np.testing.assert_array_equal(y, [e["data"]["det1"] for e in sent])
    assert progress.percent == 100.0 and progress.isVisible()
    assert progress.label.text().startswith("success · seq 10/10")
    assert live.sub.malformed == 0 and live.sub.refused == 0


def test_garbage_and_pickles_through_the_proxy_are_counted_not_fatal(
        docs_sandbox: Sandbox, qtbot, qloop) -> None:  # fmt: skip
    window, dock, _ = make_window(qtbot)
    live = Live(docs_sandbox, dock)
    garbage = [b"garbage", b" event {broken json", b" event [1, 2]", b"\x00\x01\x02",
               b" EVENT {}", b" event \xde\xff", b""]  # fmt: skip
    pickles = [b" event " + pickle.dumps({"uid": "x", "data": {}}),
               b"someprefix start " + pickle.dumps({"uid": "evil"})]  # fmt: skip

    async def scenario() -> None:
        await live.start()
        try:
            base_malformed = live.sub.malformed
            for frame in garbage + pickles:
                await live.inject.send(frame)
            await live.execute(BPlan("count", ["det1"], num=3))  # the stream carries on
            await until(lambda: dock.progress is not None and dock.progress.done
                        and dock.progress.plan_name == "count", timeout=10)  # fmt: skip
            assert live.sub.malformed - base_malformed == len(garbage)
            assert live.sub.refused == len(pickles)
        finally:
            await live.close()

    run(qloop, scenario(), timeout=60)
    assert dock.runs.current.n == 3
    assert all(run.uid != "evil" for run in dock.runs.runs)
    dock.attach_subscriber(live.sub)
    assert "2 pickles refused" in dock.stats_label.text()
    assert not dock.pickle_warning.isVisible()


def test_screenshots_during_and_after_a_scan(docs_sandbox: Sandbox, qtbot, qloop) -> None:
    window, dock, progress = make_window(qtbot)
    live = Live(docs_sandbox, dock)
    dock.attach_subscriber(live.sub)  # the counters line, as the main window shows it
    SHOTS.mkdir(parents=True, exist_ok=True)
    captured: dict[str, int] = {}

    async def scenario() -> None:
        await live.start()
        try:
            await live.execute(BPlan("scan", ["det1"], "motor", -1, 1, 10))
            rm = client_for(docs_sandbox)
            try:  # 41 points, 40 ms each: ~2 s, long enough to be caught mid-way
                reply = await rm.item_execute(BPlan("scan", ["det", "noisy_det"], "motor",
                                                    -3, 3, 41), user="t", user_group="primary")
                assert reply["success"], reply
            finally:
                await rm.close()

            def midway() -> bool:
                current = dock.runs.current
                curve = dock.curve(current.uid, "det") if current else None
                return curve is not None and 15 <= len(curve.getOriginalDataset()[0]) <= 35

            await until(midway, timeout=20, interval=0.005)
            window.grab().save(str(SHOTS / "plot_during.png"))
            captured["during"] = dock.runs.current.n
            captured["during_pct"] = int(progress.percent or 0)
            await until(lambda: dock.progress.done and dock.progress.plan_name == "scan"
                        and dock.progress.seq_num == 41, timeout=20)  # fmt: skip
            await until(lambda: not dock._timer.isActive(), timeout=2)
            window.grab().save(str(SHOTS / "plot_after.png"))
            await until(lambda: docs_sandbox.request("status")["manager_state"] == "idle",
                        timeout=20)  # fmt: skip
        finally:
            await live.close()

    run(qloop, scenario(), timeout=90)
    assert 15 <= captured["during"] <= 41 and 30 <= captured["during_pct"] < 100
    assert progress.percent == 100.0
    assert (SHOTS / "plot_during.png").stat().st_size > 10_000
    assert len(dock.runs.runs) >= 2  # the det1 scan is still drawn, fainter


# -- the sandbox's document proxy on its own ----------------------------------------------------
def test_json_serializer_and_cleanup_on_failed_start(tmp_path: Path) -> None:
    bad = Sandbox(documents=True, serializer="json", publish_console=False,
                  extra_args=["--no-such-option"])  # fmt: skip
    with pytest.raises(SandboxError):
        bad.start()
    assert bad.proxy_pid is not None and not process_alive(bad.proxy_pid)

    with Sandbox(documents=True, serializer="json", publish_console=False,
                 open_environment=True) as sb:  # fmt: skip
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(sb.documents_addr)
        try:
            pub = ctx.socket(zmq.PUB)
            pub.connect(sb.documents_in_addr)
            for _ in range(200):  # join
                pub.send(b" probe {}")
                if sub.poll(20):
                    break
            pub.close(linger=0)
            reply = sb.request("queue_item_execute", {
                "item": {"item_type": "plan", "name": "count", "args": [["det1"]]},
                "user": "t", "user_group": "primary"})  # fmt: skip
            assert reply["success"], reply
            names = []
            while "stop" not in names and sub.poll(10_000):
                _, name, payload = sub.recv().split(b" ", 2)
                if name != b"probe":
                    assert classify(payload) == "json"
                    json.loads(payload)
                    names.append(name.decode())
            assert names == ["start", "descriptor", "event", "stop"]
        finally:
            sub.close(linger=0)
            ctx.term()
        proxy = sb.proxy_pid
    assert not process_alive(proxy)


def test_command_line_prints_documents_addr() -> None:
    proc = spawn_guarded([sys.executable, "-m", "qs_gui.sandbox", "--documents"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("Press Ctrl+C"):
                break
        addr = next(x for x in lines if x.startswith("documents_addr: "))
        assert addr.split(": ")[1].startswith("tcp://127.0.0.1:")
        assert "documents_serializer: msgpack" in lines
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        finally:
            reap(proc)
    assert proc.returncode == 0, lines
