"""A lost reply to a queue-changing request, against the real server.

A man-in-the-middle peer forwards everything to the real RE Manager except one request: either
it forwards that request and drops the reply (the server DID apply it), or it drops the request
(the server did NOT). The GUI must not send it again, must find out from the server what
happened, and must say so in plain words. The window's info socket is the real server's.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from qs_gui.core.gates import Action, Connection
from qs_gui.core.session import Timing
from tests.ui.qt_async import run, until

from .gui import COUNT, action, internal_errors, make_window, started
from .harness import Heartbeat, LoseOne, ThreadPeer

pytestmark = pytest.mark.server

TIMEOUT = 1.0  # the window's request timeout here (2 s by default): each case waits it once
STALL_LIMIT = 0.250  # catches a freeze; the 100 ms bar is measured in bench/


def window_via(qtbot, peer, sandbox, **kwargs):
    return make_window(qtbot, peer.address, sandbox.info_addr, timeout_recv=TIMEOUT, **kwargs)


def queue_nums(sandbox) -> list:
    return [i.get("kwargs", {}).get("num") for i in sandbox.request("queue_get")["items"]]


async def add_items(sandbox, nums) -> list[str]:
    uids = []
    for n in nums:
        reply = sandbox.request("queue_item_add", {"item": {**COUNT, "kwargs": {"num": n}},
                                                   "user": "setup", "user_group": "primary"})
        uids.append(reply["item"]["item_uid"])
    return uids


def warnings_with(window, text: str) -> list[str]:
    return [m for m in window.messages.messages() if text in m]


@pytest.mark.parametrize("mode", ["apply", "drop"])
def test_execute_now_lost_reply(qtbot, qloop, env_open, record, error_log, mode):
    sandbox = env_open
    with ThreadPeer(LoseOne(sandbox, "queue_item_execute", mode)) as peer:
        window = window_via(qtbot, peer, sandbox)
        session = window.session
        beat = Heartbeat()
        history_before = sandbox.request("status")["items_in_history"]

        async def scenario():
            await started(window)
            window.entry.load_item(COUNT)
            await until(lambda: action(window, Action.EXECUTE_NOW).isEnabled(), 10)
            beat.start()
            t0 = time.monotonic()
            action(window, Action.EXECUTE_NOW).trigger()
            await asyncio.sleep(0.1)
            assert not action(window, Action.EXECUTE_NOW).isEnabled()  # busy until known
            await until(lambda: not session.in_flight, 10, message="reconciled")
            known = time.monotonic() - t0
            if mode == "apply":
                await until(lambda: session.tracker.last and session.tracker.last.finished, 20)
            else:
                await asyncio.sleep(1.0)
            beat.stop()
            return known

        known = run(qloop, scenario(), 60)
        history = sandbox.request("history_get")["items"]
        assert peer.count("queue_item_execute") == 1
        if mode == "apply":
            assert len(history) == history_before + 1
            assert session.tracker.last.state == "completed"
            assert warnings_with(window, "did start count")
        else:
            assert len(history) == history_before
            assert warnings_with(window, "did not start count")
        assert warnings_with(window, "NOT sent again")
        assert session.connection is Connection.CONNECTED
        assert not internal_errors(window)
        run(qloop, session.stop())
    record(scenario=f"execute now, reply lost ({mode})", beat=beat, known_after_s=known,
           requests_sent=1, verdict="applied" if mode == "apply" else "not applied")
    beat.check(STALL_LIMIT)


@pytest.mark.parametrize("mode", ["apply", "drop"])
def test_add_lost_reply(qtbot, qloop, server_reset, record, error_log, mode):
    sandbox = server_reset
    with ThreadPeer(LoseOne(sandbox, "queue_item_add", mode)) as peer:
        window = window_via(qtbot, peer, sandbox)

        async def scenario():
            await started(window)
            window.entry.load_item({**COUNT, "kwargs": {"num": 21}})
            window.queue_view.select_uids([])
            await until(lambda: action(window, Action.QUEUE_ADD).isEnabled(), 10)
            action(window, Action.QUEUE_ADD).trigger()
            await asyncio.sleep(0.05)
            await until(lambda: not window.session.in_flight, 10, message="reconciled")
            await asyncio.sleep(0.3)

        run(qloop, scenario(), 60)
        assert peer.count("queue_item_add") == 1
        assert queue_nums(sandbox).count(21) == (1 if mode == "apply" else 0)
        text = "did add count" if mode == "apply" else "is not in the queue"
        assert warnings_with(window, text) and warnings_with(window, "NOT sent again")
        run(qloop, window.session.stop())
    record(scenario=f"add to queue, reply lost ({mode})", requests_sent=1,
           server_copies=1 if mode == "apply" else 0)


@pytest.mark.parametrize("mode", ["apply", "drop"])
def test_save_lost_reply(qtbot, qloop, server_reset, record, error_log, mode):
    sandbox = server_reset
    with ThreadPeer(LoseOne(sandbox, "queue_item_update", mode)) as peer:
        window = window_via(qtbot, peer, sandbox)

        async def scenario():
            uid = (await add_items(sandbox, [31]))[0]
            await started(window)
            await until(lambda: window.queue_view.model.rowCount() == 1, 5)
            window.queue_view.select_uids([uid])
            window.refresh_gates()
            action(window, Action.QUEUE_EDIT).trigger()
            await until(lambda: window.entry.editing_uid == uid, 5)
            window.entry.load_item({**COUNT, "kwargs": {"num": 32}}, editing_uid=uid)
            await until(lambda: window.registry[Action.ITEM_SAVE].isEnabled(), 5)
            window.registry[Action.ITEM_SAVE].trigger()
            await asyncio.sleep(0.05)
            await until(lambda: not window.session.in_flight, 10, message="reconciled")
            await asyncio.sleep(0.2)
            return uid

        uid = run(qloop, scenario(), 60)
        assert peer.count("queue_item_update") == 1
        assert queue_nums(sandbox) == ([32] if mode == "apply" else [31])
        if mode == "apply":
            assert warnings_with(window, "did save your changes")
            assert window.entry.editing_uid is None  # Save completed: editing mode ends
        else:
            assert warnings_with(window, "did not save your changes")
            assert window.entry.editing_uid == uid  # the edits stay, Save can be retried
            assert window.entry.current_item()["kwargs"] == {"num": 32}
        run(qloop, window.session.stop())
    record(scenario=f"save (item_update), reply lost ({mode})", requests_sent=1)


@pytest.mark.parametrize("mode", ["apply", "drop"])
@pytest.mark.parametrize("method", ["queue_item_move", "queue_item_move_batch"])
def test_move_lost_reply(qtbot, qloop, server_reset, record, error_log, mode, method):
    sandbox = server_reset
    with ThreadPeer(LoseOne(sandbox, method, mode)) as peer:
        window = window_via(qtbot, peer, sandbox)
        session = window.session

        async def scenario():
            uids = await add_items(sandbox, [41, 42, 43])
            await started(window)
            await until(lambda: len(session.queue) == 3, 5)
            if method == "queue_item_move_batch":  # what the Move up action sends
                window.queue_view.select_uids([uids[2]])
                window.refresh_gates()
                action(window, Action.QUEUE_MOVE_UP).trigger()
                await asyncio.sleep(0.05)
                await until(lambda: not session.in_flight, 10, message="reconciled")
                return None
            return await session.run("queue_move_up", lambda: session._api.item_move(
                uid=uids[2], before_uid=uids[1]), "Move")

        outcome = run(qloop, scenario(), 60)
        assert peer.count(method) == 1
        assert queue_nums(sandbox) == ([41, 43, 42] if mode == "apply" else [41, 42, 43])
        text = "now where you moved it" if mode == "apply" else "did not move the item"
        assert warnings_with(window, text), window.messages.messages()
        if outcome is not None:
            assert outcome.timed_out and outcome.ok == (mode == "apply")
            assert outcome.reconciled == ("applied" if mode == "apply" else "not_applied")
        run(qloop, session.stop())
    record(scenario=f"{method}, reply lost ({mode})", requests_sent=1)


def test_lost_reply_while_server_unreachable(qtbot, qloop, server_reset, record, error_log):
    """The add is applied, then nothing answers for 3 s: the check waits for the server, the
    Add action stays busy meanwhile (no second add possible), then the verdict comes."""
    sandbox = server_reset
    with ThreadPeer(LoseOne(sandbox, "queue_item_add", "apply", blackout=3.0)) as peer:
        window = window_via(qtbot, peer, sandbox, timing=Timing(reconcile_give_up=30))
        session = window.session
        beat = Heartbeat()

        async def scenario():
            await started(window)
            window.entry.load_item({**COUNT, "kwargs": {"num": 51}})
            window.queue_view.select_uids([])
            await until(lambda: action(window, Action.QUEUE_ADD).isEnabled(), 10)
            beat.start()
            t0 = time.monotonic()
            action(window, Action.QUEUE_ADD).trigger()
            await until(lambda: warnings_with(window, "cannot be asked"), 10)
            await until(lambda: session.connection is Connection.OFFLINE, 5)
            window.refresh_gates()
            assert not action(window, Action.QUEUE_ADD).isEnabled()
            assert "queue_add" in session.in_flight
            await until(lambda: not session.in_flight, 20, message="reconciled after return")
            beat.stop()
            return time.monotonic() - t0

        known = run(qloop, scenario(), 60)
        assert peer.count("queue_item_add") == 1
        assert queue_nums(sandbox).count(51) == 1
        assert warnings_with(window, "did add count")
        assert session.connection is Connection.CONNECTED
        run(qloop, session.stop())
    record(scenario="add, reply lost, server unreachable 3 s", beat=beat, known_after_s=known,
           requests_sent=1, server_copies=1)
    beat.check(STALL_LIMIT)
