#!/usr/bin/env python
"""Peer GUI probe (a subprocess of bench_peers.py, run with bench/.venv-peers/bin/python).

Builds one peer's real widgets offscreen, points them at the sandbox, and measures what
bench_gui.py measures for qs-gui: first display of the queue and the history (rows present in
the peer's own tables), the worst event-loop stall (10 ms PreciseTimer heartbeat on the GUI
thread), RSS, an item added by another client, and idle CPU. Standalone on purpose: it imports
only PyQt5, pyzmq, the peer and ``probe_common.py`` (never qs_gui). Prints ``metric value unit``
lines.

Peers:
* ``bw``: bluesky-widgets' queue-monitor app (``bluesky_widgets.apps.queue_monitor.viewer
  .Viewer``: ``RunEngineClient`` + the ``bluesky_widgets.qt.run_engine_client`` widgets),
  connected by clicking its "Connect" button.
* ``qsqt``: bluesky-queueserver-qt's ``MainWindow``, connected with the settings its connection
  dialog would return (``ConnectionManager.connect``), since the dialog is modal.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from pathlib import Path

T_START = time.monotonic()
SPAWN = float(os.environ.get("BENCH_SPAWN_T", T_START))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if str(Path(__file__).resolve().parent) not in sys.path:  # run as a script it is sys.path[0]
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_common import (  # noqa: E402  (stdlib + pyzmq only, shared with gui_probe.py)
    COUNT,
    OtherClient,
    max_gap,
    note,
    out,
    out_rss,
    parse_args,
    pct,
    probe_parser,
)
from PyQt5.QtCore import Qt, QTimer  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402


class Peer:
    """Adapter: build the peer, connect it, and read its tables."""

    name = ""

    def build(self, control: str, info: str) -> None: ...

    def connect(self) -> None: ...

    def queue_rows(self) -> int: ...

    def history_rows(self) -> int: ...


class BlueskyWidgets(Peer):
    name = "bluesky-widgets"

    def build(self, control, info):
        from bluesky_widgets.apps.queue_monitor.settings import SETTINGS

        SETTINGS.http_server_uri = None
        SETTINGS.http_server_api_key = None
        SETTINGS.zmq_re_manager_control_addr = control
        SETTINGS.zmq_re_manager_info_addr = info
        from bluesky_widgets.apps.queue_monitor.viewer import Viewer

        self.viewer = Viewer(show=True)
        self.window = self.viewer._window._qt_window
        w = self.viewer._widget
        self.connection = self._find(w, "QtReManagerConnection")
        self.queue = self._find(w, "QtRePlanQueue")
        self.history = self._find(w, "QtRePlanHistory")

    @staticmethod
    def _find(root, class_name):
        from PyQt5.QtWidgets import QWidget

        for child in root.findChildren(QWidget):
            if type(child).__name__ == class_name:
                return child
        raise RuntimeError(f"no {class_name} in the queue monitor")

    def connect(self):
        self.connection._pb_re_manager_connect.click()  # what the operator does

    def queue_rows(self):
        return self.queue._table.rowCount()

    def history_rows(self):
        return self.history._table.rowCount()


class QueueserverQt(Peer):
    name = "bluesky-queueserver-qt"

    def build(self, control, info):
        from bluesky_queueserver_qt.ui.main_window import MainWindow

        self.window = MainWindow()
        self.window.show()
        self.control, self.info = control, info

    def connect(self):
        from bluesky_queueserver_qt.core.connection import ConnectionType

        # What ConnectionDialog.get_config() returns after the operator's OK (the dialog is
        # modal, so it is bypassed; the rest of the path is the application's own).
        self.window._conn.connect(ConnectionType.ZMQ, {
            "conn_type": ConnectionType.ZMQ, "zmq_address": self.control,
            "zmq_console_address": self.info, "user": "bench", "user_group": "primary"})

    def queue_rows(self):
        return self.window.queue_panel.list_widget.count()

    def history_rows(self):
        return self.window.history_panel.table.rowCount()


PEERS = {"bw": BlueskyWidgets, "qsqt": QueueserverQt}


class Runner:
    """Drives a generator-based scenario from Qt timers (the peers are not asyncio apps)."""

    def __init__(self, app, scenario):
        self.app = app
        self.gen = scenario
        self.exit_code = 0

    def start(self):
        QTimer.singleShot(0, self._step)

    def _step(self):
        try:
            delay = next(self.gen)
        except StopIteration:
            self.app.quit()
            return
        except Exception:  # noqa: BLE001
            note("probe failed:\n" + traceback.format_exc())
            print(traceback.format_exc(), file=sys.stderr)
            self.exit_code = 1
            self.app.quit()
            return
        QTimer.singleShot(max(0, int(delay * 1000)), self._step)


def count_requests(counter: dict) -> None:
    """Count every request the peer's client library sends (bluesky-queueserver-api)."""
    from bluesky_queueserver_api import comm_threads

    original = comm_threads.ReManagerComm_ZMQ_Threads.send_request

    def counting(self, *, method, params=None):
        with counter["lock"]:
            counter[method] = counter.get(method, 0) + 1
        return original(self, method=method, params=params)

    comm_threads.ReManagerComm_ZMQ_Threads.send_request = counting


def main() -> int:
    ap = probe_parser(hard_timeout=900)
    ap.add_argument("--peer", choices=sorted(PEERS), required=True)
    args = parse_args(ap)

    requests: dict = {"lock": threading.Lock()}
    count_requests(requests)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    peer = PEERS[args.peer]()
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))

    def stall(t0, t1):
        return max_gap(ticks, t0, t1)

    def wait(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            yield 0.005
        return time.monotonic()

    def scenario():
        t_build = time.monotonic()
        peer.build(args.control_addr, args.info_addr)
        t_window = time.monotonic()
        heartbeat.start()
        out("startup.window_from_spawn", (t_window - SPAWN) * 1e3, "ms")
        out("startup.build_window", (t_window - t_build) * 1e3, "ms")
        yield 0.2  # let the window show
        t_connect = time.monotonic()
        peer.connect()
        yield 0
        failures = []
        try:
            t_loaded = yield from wait(
                lambda: peer.queue_rows() >= args.expect_queue
                and peer.history_rows() >= args.expect_history, args.load_timeout,
                "queue and history rows")
        except TimeoutError as ex:
            failures.append(str(ex))
            t_loaded = None
        t_now = time.monotonic()
        if t_loaded is not None:
            out("load.first_display_from_connect", (t_loaded - t_connect) * 1e3, "ms")
            out("load.first_display_from_spawn", (t_loaded - SPAWN) * 1e3, "ms")
        else:
            out("load.first_display_from_connect", float("nan"), "ms")
            note(f"not shown: queue rows {peer.queue_rows()}, history rows "
                 f"{peer.history_rows()} after {args.load_timeout:.0f} s")
        out("load.queue_rows", peer.queue_rows(), "rows")
        out("load.history_rows", peer.history_rows(), "rows")
        yield 2.0
        out("load.stall_max", stall(t_connect, t_loaded or t_now), "ms")
        out("load.stall_max_incl_settle", stall(t_connect, time.monotonic()), "ms")
        out_rss("load")
        out("load.failures", len(failures), "count")
        other = OtherClient(args.control_addr)
        try:
            if args.item_changes and t_loaded is not None:
                lat, windows = [], []
                for i in range(args.item_changes):
                    rows0 = peer.queue_rows()
                    reply, t_send, t_reply = other.request("queue_item_add", {
                        "item": {**COUNT, "kwargs": {"num": i + 2}}, "user": "other",
                        "user_group": "primary"})
                    uid = reply["item"]["item_uid"]
                    try:
                        t_seen = yield from wait(lambda r=rows0: peer.queue_rows() > r, 20,
                                                 "added row")
                        lat.append(t_seen - t_reply)
                        windows.append((t_send, t_seen))
                    except TimeoutError:
                        lat.append(float("inf"))
                    other.request("queue_item_remove", {"uid": uid})
                    yield from wait(lambda r=rows0: peer.queue_rows() <= r, 20, "removed row")
                    yield 0.3
                finite = [x for x in lat if x != float("inf")]
                out("item_change.add_latency_p50", pct(finite, 0.5) * 1e3, "ms")
                out("item_change.add_latency_max", max(lat) * 1e3, "ms")
                out("item_change.stall_max", max(stall(a, b) for a, b in windows), "ms")
                out("item_change.n", len(lat), "adds")
            if args.idle:
                yield 3.0
                heartbeat.stop()
                with requests["lock"]:
                    req0 = {k: v for k, v in requests.items() if k != "lock"}
                cpu0, t0 = time.process_time(), time.monotonic()
                yield args.idle
                cpu1, t1 = time.process_time(), time.monotonic()
                with requests["lock"]:
                    sent = {k: v - req0.get(k, 0) for k, v in requests.items()
                            if k != "lock" and v - req0.get(k, 0)}
                out("idle.cpu", (cpu1 - cpu0) / (t1 - t0) * 100, "% of one core")
                out("idle.requests", sum(sent.values()), "count")
                out("idle.requests_not_status", sum(v for k, v in sent.items()
                                                    if k != "status"), "count")
                out("idle.seconds", t1 - t0, "s")
                note(f"idle requests by method: {sent}")
                heartbeat.start()
                t_hb = time.monotonic()
                yield 10.0
                out("idle.stall_max", stall(t_hb, time.monotonic()), "ms")
        finally:
            other.close()
        out_rss("end")
        for text in failures:
            note(f"failure: {text}")

    runner = Runner(app, scenario())
    runner.start()
    app.exec_()
    sys.stdout.flush()
    os._exit(runner.exit_code)  # peers leave non-daemon threads and sockets behind


if __name__ == "__main__":
    sys.exit(main())
