"""Two GUI windows (each with its own Session and client) and a script editing one queue.

No lost updates: every item anyone added is on the server exactly once, and both windows end up
showing the server's order. Conflicts are reported to the operator in plain words: saving an item
another client removed, moving relative to an item that vanished.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
from PyQt5.QtWidgets import QMessageBox

from qs_gui.core.gates import Action
from qs_gui.ui import dialogs as dialogs_module
from tests.ui.qt_async import run, until

from .gui import COUNT, action, internal_errors, make_window, started
from .harness import Heartbeat

pytestmark = pytest.mark.server

N = 12  # items added by each of the three clients


def server_items(sandbox) -> list[dict]:
    return sandbox.request("queue_get")["items"]


def nums(items) -> list:
    return [i.get("kwargs", {}).get("num") for i in items]


def errors(window) -> list[str]:
    return window.messages.messages("error")


def test_two_windows_and_a_script_lose_nothing(qtbot, qloop, server_reset, record, error_log):
    sandbox = server_reset
    a = make_window(qtbot, sandbox.control_addr, sandbox.info_addr, user="alice-gui")
    b = make_window(qtbot, sandbox.control_addr, sandbox.info_addr, user="bob-gui")
    rng = random.Random(7)
    beat = Heartbeat()
    script_done = threading.Event()

    def script() -> None:
        """A third client: adds at random places and moves items to the front."""
        try:
            for i in range(N):
                sandbox.request("queue_item_add", {
                    "item": {**COUNT, "kwargs": {"num": 3000 + i}}, "user": "script",
                    "user_group": "primary", "pos": rng.choice(["front", "back", 1])})
                queue = server_items(sandbox)
                if queue and i % 3 == 0:
                    uid = rng.choice(queue)["item_uid"]
                    sandbox.request("queue_item_move", {"uid": uid, "pos_dest": "front"})
                time.sleep(rng.uniform(0.01, 0.08))
        finally:
            script_done.set()

    async def gui(window, base: int) -> None:
        wrng = random.Random(base)
        for i in range(N):
            window.entry.load_item({**COUNT, "kwargs": {"num": base + i}})
            queue = window.session.queue
            # add after a random row (the row may have moved meanwhile) or at the back
            window.queue_view.select_uids([wrng.choice(queue)["item_uid"]] if queue and
                                          wrng.random() < 0.5 else [])
            await until(lambda w=window: not w.session.in_flight, 10)
            window.refresh_gates()
            await until(lambda w=window: action(w, Action.QUEUE_ADD).isEnabled(), 10,
                        message=lambda w=window: action(w, Action.QUEUE_ADD).toolTip())
            action(window, Action.QUEUE_ADD).trigger()
            await asyncio.sleep(wrng.uniform(0.0, 0.05))
            if i % 4 == 3 and window.session.queue:  # and sometimes move a row to the top
                await until(lambda w=window: not w.session.in_flight, 10)
                window.queue_view.select_uids([wrng.choice(window.session.queue)["item_uid"]])
                window.refresh_gates()
                if action(window, Action.QUEUE_MOVE_TOP).isEnabled():
                    action(window, Action.QUEUE_MOVE_TOP).trigger()
        await until(lambda w=window: not w.session.in_flight, 10)

    async def scenario():
        await started(a)
        await started(b)
        beat.start()
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        await asyncio.gather(gui(a, 1000), gui(b, 2000), loop.run_in_executor(None, script))
        elapsed = time.monotonic() - t0
        # A click's request starts on the next loop turn: wait until every add has landed,
        # then compare with the server's order *now* (a last move may still be arriving).
        await until(lambda: len(server_items(sandbox)) == 3 * N and not any(
            w.session.in_flight for w in (a, b)), 10, interval=0.05, message="all adds landed")

        def converged(w) -> bool:
            server = [i["item_uid"] for i in server_items(sandbox)]
            model = w.queue_view.model
            return ([i["item_uid"] for i in w.session.queue] == server
                    and [model.uid_at(r) for r in range(model.rowCount())] == server)

        for w in (a, b):  # both views converge on the server's order
            await until(lambda w=w: converged(w), 5, interval=0.05,
                        message=lambda w=w: f"{w.session._api.user}'s session and view show the "
                        f"server's queue (status uid {w.session.status.get('plan_queue_uid')}, "
                        f"server {sandbox.request('status')['plan_queue_uid']})")
        beat.stop()
        return elapsed

    elapsed = run(qloop, scenario(), 120)
    items = server_items(sandbox)
    got = nums(items)
    expected = [*range(1000, 1000 + N), *range(2000, 2000 + N), *range(3000, 3000 + N)]
    assert sorted(got) == expected, f"lost or duplicated: {sorted(set(expected) ^ set(got))}"
    users = {i["user"] for i in items}
    assert users == {"alice-gui", "bob-gui", "script"}
    for w in (a, b):
        assert not errors(w), errors(w)
        assert not internal_errors(w)
    run(qloop, a.session.stop())
    run(qloop, b.session.stop())
    record(scenario="2 windows + script, 36 adds + moves", beat=beat, duration_s=elapsed,
           items_on_server=len(items), lost=0, duplicated=0)
    beat.check()


def test_conflicts_are_reported(qtbot, qloop, server_reset, record, error_log):
    sandbox = server_reset
    a = make_window(qtbot, sandbox.control_addr, sandbox.info_addr, user="alice-gui")
    b = make_window(qtbot, sandbox.control_addr, sandbox.info_addr, user="bob-gui")

    def add(num: int) -> str:
        return sandbox.request("queue_item_add", {
            "item": {**COUNT, "kwargs": {"num": num}}, "user": "script",
            "user_group": "primary"})["item"]["item_uid"]

    async def scenario():
        p, q, r = add(71), add(72), add(73)
        await started(a)
        await started(b)
        for w in (a, b):
            await until(lambda w=w: len(w.session.queue) == 3, 5)

        # 1. Alice edits Q; the script removes it before her window hears about it: the server
        #    refuses the Save, and says why.
        a.queue_view.select_uids([q])
        a.refresh_gates()
        action(a, Action.QUEUE_EDIT).trigger()
        await until(lambda: a.entry.editing_uid == q, 5)
        a.entry.load_item({**COUNT, "kwargs": {"num": 720}}, editing_uid=q)
        await until(lambda: a.registry[Action.ITEM_SAVE].isEnabled(), 5)
        sandbox.request("queue_item_remove", {"uid": q})
        a.registry[Action.ITEM_SAVE].trigger()  # a's session still lists q
        await until(lambda: errors(a), 5, message="save refused")
        first = errors(a)[-1]
        # 2. Once the window knows, Save is refused locally (its gate says why), before
        #    anything is sent.
        await until(lambda: q not in [i["item_uid"] for i in a.session.queue], 5)
        a.registry[Action.ITEM_SAVE].trigger()
        await until(lambda: a.messages.messages("warning"), 5, message="second refusal")
        second = a.messages.messages("warning")[-1]
        assert a.entry.current_item()["kwargs"] == {"num": 720}  # the edits are still there

        # 3. Bob moves R up (before P after q's removal); the script removes P first.
        await until(lambda: [i["item_uid"] for i in b.session.queue] == [p, r], 5)
        b.queue_view.select_uids([r])
        b.refresh_gates()
        sandbox.request("queue_item_remove", {"uid": p})
        action(b, Action.QUEUE_MOVE_UP).trigger()  # before_uid = p, which is gone
        await until(lambda: errors(b), 5, message="move refused")
        return first, second, errors(b)[-1]

    first, second, move = run(qloop, scenario(), 60)
    assert "refused by the server" in first and "is not in the queue" in first, first
    assert "no longer in the queue" in second and "Add to queue" in second, second
    assert "refused by the server" in move and "Move" in move, move
    assert nums(server_items(sandbox)) == [73]
    for w in (a, b):
        assert not internal_errors(w)
    run(qloop, a.session.stop())
    run(qloop, b.session.stop())
    record(scenario="conflicts: save removed item / move vs vanished uid",
           save_refused=first[:90], save_blocked=second[:60], move_refused=move[:90])


@pytest.mark.parametrize("overwrite", [False, True], ids=["keep-theirs", "overwrite"])
def test_save_does_not_overwrite_a_concurrent_edit(qtbot, qloop, server_reset, error_log,
                                                   monkeypatch, overwrite):
    """Another client saves the item Alice has open; Alice's Save asks before overwriting (the
    server has no compare-and-swap), and sends nothing unless she says so."""
    sandbox = server_reset
    asked = []
    monkeypatch.setattr(dialogs_module, "run_dialog", lambda box: asked.append(box.text()) or (
        QMessageBox.Yes if overwrite else QMessageBox.No))
    a = make_window(qtbot, sandbox.control_addr, sandbox.info_addr, user="alice-gui")

    async def scenario():
        uid = sandbox.request("queue_item_add", {
            "item": {**COUNT, "kwargs": {"num": 81}}, "user": "script",
            "user_group": "primary"})["item"]["item_uid"]
        await started(a)
        await until(lambda: len(a.session.queue) == 1, 5)
        a.queue_view.select_uids([uid])
        a.refresh_gates()
        action(a, Action.QUEUE_EDIT).trigger()
        await until(lambda: a.entry.editing_uid == uid, 5)
        a.entry.load_item({**COUNT, "kwargs": {"num": 82}}, editing_uid=uid)
        sandbox.request("queue_item_update", {  # someone else saves first
            "item": {**COUNT, "kwargs": {"num": 83}, "item_uid": uid}, "user": "bob",
            "user_group": "primary"})
        await until(lambda: a.session.queue[0]["kwargs"] == {"num": 83}, 5)
        await until(lambda: a.registry[Action.ITEM_SAVE].isEnabled(), 5)
        a.registry[Action.ITEM_SAVE].trigger()
        if overwrite:
            await until(lambda: a.session.queue[0]["kwargs"] == {"num": 82}, 5)
        else:
            await until(lambda: any("Save not sent" in m for m in a.messages.messages("warning")),
                        5)

    try:
        run(qloop, scenario(), 30)
        assert len(asked) == 1 and "changed in the queue by someone else" in asked[0]
        if overwrite:  # her explicit choice
            assert nums(server_items(sandbox)) == [82]
        else:
            assert nums(server_items(sandbox)) == [83], "bob's change was overwritten"
            assert a.entry.current_item()["kwargs"] == {"num": 82}, "her edits must stay"
    finally:
        run(qloop, a.session.stop())
