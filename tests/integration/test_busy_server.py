"""A 100,000-item history on the real RE Manager: busy is not lost (issue 17).

The RE Manager answers one request at a time and its event loop (status pushes included) is
blocked while it serves a full ``history_get``; with 100,000 items that takes it seconds. These
tests drive a Qt-free :class:`~qs_gui.core.session.Session` on a plain asyncio loop against the
session sandbox, with the history seeded once for the module (``qs_gui.sandbox.seeding``) and
emptied again at its end, and check what the operator would see: no error or warning, an
indicator that never changes, a busy detail that names what the server is serving, a history
policy that never reads the 100k history by itself, truthful environment notices and Execute now
outcomes that wait for the read the operator allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from qs_gui.core.gates import Connection
from qs_gui.core.liveness import SILENT_CEILING
from qs_gui.core.notify_rules import Notice, NotifyRules
from qs_gui.core.session import Session
from qs_gui.sandbox import Sandbox
from qs_gui.sandbox.seeding import seed_history
from tests.helpers import (
    bring_to_idle,
    child_pids,
    ensure_env_open,
    reap,
    spawn_guarded,
    wait_status,
)
from tests.reliability.harness import RequestSpy
from tests.ui.qt_async import until

from ._support import client_for, run

pytestmark = pytest.mark.server

N = 100_000
COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}


@pytest.fixture(scope="module")
def big_history(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox with a 100,000-item history (seeded once: a manager restart), the
    worker environment open; afterwards an empty history again, so no later test sees it."""
    try:
        bring_to_idle(sandbox)
        assert sandbox.request("queue_clear")["success"]
        seed_history(sandbox, N)
        ensure_env_open(sandbox)
        yield sandbox
    finally:
        bring_to_idle(sandbox)
        assert sandbox.request("history_clear")["success"]
        wait_status(sandbox, lambda s: s["items_in_history"] == 0
                    and s["manager_state"] == "idle", 30, "history emptied")
        ensure_env_open(sandbox)


@pytest.fixture
def big(big_history: Sandbox) -> Sandbox:
    """Per test: idle, open environment, exactly the seeded history (re-seeded if a test ran a
    plan into it), empty queue."""
    sb = big_history
    bring_to_idle(sb)
    if sb.request("status")["items_in_history"] != N:
        seed_history(sb, N)
    ensure_env_open(sb)
    assert sb.request("queue_clear")["success"]
    wait_status(sb, lambda s: s["items_in_history"] == N and s["items_in_queue"] == 0
                and s["manager_state"] == "idle", 30, "seeded and idle")
    return sb


def watchdog_restarts(sb: Sandbox) -> int:
    """How often the manager's watchdog restarted it (a loop blocked for 5 s, or a crash)."""
    return sb.log_path.read_text(errors="replace").count("Timeout detected by Watchdog")


@dataclass
class Watched:
    """A connected session and everything it told the operator since :meth:`mark`."""

    session: Session
    spy: RequestSpy
    states: list[tuple[Connection, str]] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    busy: list[str | None] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    rules: NotifyRules = field(default_factory=NotifyRules)
    #: the longest the server stayed silent to this session (no push, status or reply) since
    #: :meth:`mark`: how close a busy server came to the ceiling of ``core/liveness``
    longest_silence: float = 0.0

    def mark(self) -> None:
        self.states.clear()
        self.messages.clear()
        self.busy.clear()
        self.notices.clear()
        self.longest_silence = 0.0

    async def sample_silence(self) -> None:
        while True:
            heard = self.session.supervisor._last_heard()
            if heard is not None:
                self.longest_silence = max(self.longest_silence, time.monotonic() - heard)
            await asyncio.sleep(0.05)  # a sampling period, not a synchronisation

    def alarms(self) -> list[tuple[str, str]]:
        return [(level, text) for level, text in self.messages if level in ("error", "warning")]

    def busy_with(self, words: str) -> list[str]:
        return [text for text in self.busy if text and words in text]


@contextlib.asynccontextmanager
async def watched(sb: Sandbox) -> AsyncIterator[Watched]:
    """A session on the sandbox, connected, its first reads done, and every connection change,
    message, busy detail and notice (the rules fed as the window feeds them) recorded."""
    api = client_for(sb)
    session = Session(api)
    w = Watched(session, RequestSpy(api))
    session.connection_changed.connect(lambda state, detail: w.states.append((state, detail)))
    session.message.connect(lambda level, text: w.messages.append((level, text)))
    session.server_busy_changed.connect(w.busy.append)
    session.status_changed.connect(lambda status: w.notices.extend(w.rules.on_status(status)))
    session.tracker.changed.connect(lambda ex: w.notices.extend(w.rules.on_execution(ex)))
    sampler = asyncio.ensure_future(w.sample_silence())
    try:
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED, 10,
                    message="connected")
        await until(lambda: session.plans_allowed and session.lock_info is not None
                    and not session.supervisor._busy_kind, 20, message="first reads done")
        yield w
    finally:
        sampler.cancel()
        await session.stop()


async def pushes(session: Session, n: int, timeout: float = 15.0) -> None:
    """Until ``n`` more status pushes arrived (the server's loop runs again)."""
    target = session.pushes_received + n
    await until(lambda: session.pushes_received >= target, timeout,
                message=f"{n} status pushes")


#: attempts at a full read before giving up: a read that blocks the manager's loop for 5 s on a
#: loaded machine gets it restarted by its own watchdog, which is not the case under test
ATTEMPTS = 3

#: another client, in its own process (as in the field, and so that decoding its 100k reply does
#: not hold this process's GIL and delay the session's loop): a raw REQ socket reading the
#: history; prints the item count and the seconds to the reply, or "no reply"
OTHER_CLIENT = """
import json, sys, time, zmq
sock = zmq.Context().socket(zmq.REQ)
sock.setsockopt(zmq.LINGER, 0)
sock.connect(sys.argv[1])
t0 = time.monotonic()
sock.send(b'{"method": "history_get", "params": {}}')
if not sock.poll(20_000):
    print("no reply")
    sys.exit(0)
raw = sock.recv()
took = time.monotonic() - t0
print(len(json.loads(raw)["items"]), took)
"""


async def settled(w: Watched) -> None:
    """After a restart by the manager's watchdog: connected again, every fetch finished."""
    s = w.session
    await until(lambda: s.connection is Connection.CONNECTED
                and all(t.done() for t in s.fetcher.tasks()), 60, message="settled")
    await pushes(s, 2)


def test_own_full_read_is_busy_not_lost(big: Sandbox) -> None:
    """The operator's Load now of the 100k history: the server is shown busy with it, never
    lost; no error or warning; the whole history arrives."""

    async def body() -> tuple[float, list[str], float, int]:
        async with watched(big) as w:
            s = w.session
            assert s.history_withheld and f"{N:,} items" in s.history_withheld
            assert w.spy.count("history_get") == 0
            retried = 0
            for _ in range(ATTEMPTS):
                w.mark()
                restarts, sent = watchdog_restarts(big), w.spy.count("history_get")

                def loaded_or_restarted(restarts: int = restarts) -> bool:
                    return len(s.history) == N or watchdog_restarts(big) != restarts

                t0 = time.monotonic()
                s.load_history_now()
                await until(loaded_or_restarted, 60, interval=0.05, message="history loaded")
                took = time.monotonic() - t0
                if len(s.history) == N and watchdog_restarts(big) == restarts:
                    break
                retried += 1
                await settled(w)
            else:
                pytest.fail(f"the manager's watchdog restarted it during all {ATTEMPTS} reads")
            await pushes(s, 2)
            assert w.spy.count("history_get") == sent + 1
            assert w.alarms() == [], w.alarms()
            assert w.states == [], w.states
            assert s.connection is Connection.CONNECTED
            assert watchdog_restarts(big) == restarts
            return took, w.busy_with(f"serving the {N:,}-item history"), w.longest_silence, \
                retried

    took, busy, silence, retried = run(body(), 300)
    assert busy, "the busy detail never named the history read"
    print(f"\nown 100k read: history shown after {took:.2f} s, longest silence {silence:.2f} s "
          f"({retried} earlier reads ended in a watchdog restart); last busy detail {busy[-1]!r}")


def test_other_clients_full_read_is_busy_not_lost(big: Sandbox) -> None:
    """Another client reads the 100k history while the session is connected: the session's
    polls wait for the serial server; no error or warning, no indicator change."""

    async def body() -> tuple[float, list[str | None], float, int]:
        async with watched(big) as w:
            s = w.session
            loop = asyncio.get_running_loop()
            retried = 0
            for _ in range(ATTEMPTS):
                await pushes(s, 2)
                w.mark()
                restarts = watchdog_restarts(big)
                proc = spawn_guarded([sys.executable, "-c", OTHER_CLIENT, big.control_addr],
                                     stdout=subprocess.PIPE, text=True)
                try:
                    out, _ = await loop.run_in_executor(None, proc.communicate, None, 60)
                finally:
                    reap(proc)
                if out.strip() != "no reply" and watchdog_restarts(big) == restarts:
                    break
                retried += 1
                await settled(w)
            else:
                pytest.fail(f"the manager's watchdog restarted it during all {ATTEMPTS} reads")
            items, took = out.split()
            assert int(items) == N
            await pushes(s, 3)  # the session has heard the server again, and judged it
            assert w.alarms() == [], w.alarms()
            assert w.states == [], w.states
            assert s.connection is Connection.CONNECTED
            assert w.spy.count("history_get") == 0
            return float(took), list(w.busy), w.longest_silence, retried

    took, busy, silence, retried = run(body(), 300)
    if silence > 2.5:  # the session's poll waited on the busy server: it said so, as busy
        assert any(text and "has not answered" in text for text in busy), busy
    print(f"\nanother client's 100k read: {took:.2f} s, longest silence {silence:.2f} s "
          f"({retried} earlier reads ended in a watchdog restart); last busy detail "
          f"{next((b for b in reversed(busy) if b), None)!r}")


def test_policy_withholds_the_automatic_read(big: Sandbox) -> None:
    """At 100k the history is never read automatically, and the window can say why."""

    async def body() -> str:
        async with watched(big) as w:
            s = w.session
            await pushes(s, 4)
            assert w.spy.count("history_get") == 0, w.spy.methods()
            assert s.history == []
            assert s.history_staleness.items_on_server == N
            assert w.alarms() == []
            return s.history_withheld or ""

    reason = run(body(), 60)
    assert f"{N:,} items" in reason, reason
    assert "watchdog" in reason, reason


def test_environment_closed_by_another_client_is_information(big: Sandbox) -> None:
    """Closed on purpose by another client: information, no word of a crash. The worker killed:
    a warning that it may have crashed or been killed."""

    async def close() -> list[Notice]:
        async with watched(big) as w:
            s = w.session
            w.mark()
            reply = await asyncio.get_running_loop().run_in_executor(
                None, lambda: big.request("environment_close"))
            assert reply["success"], reply
            await until(lambda: s.status and not s.status["worker_environment_exists"]
                        and s.status["manager_state"] == "idle", 30, message="closed")
            await until(lambda: w.notices, 5, message="a notice")
            assert w.alarms() == [], w.alarms()
            assert w.states == [], w.states
            return list(w.notices)

    notices = run(close(), 60)
    assert [n.level for n in notices] == ["info"], notices
    assert "crash" not in (notices[0].title + notices[0].text).lower(), notices[0]
    assert "closed" in notices[0].text, notices[0]

    # The worker is the process that opening the environment adds (in 0.0.25 the watchdog
    # starts it, next to the manager: both are children of ``Sandbox.pid``). RE Manager 0.0.25
    # notices a dead worker only when it starts (it asks its watchdog whether the worker is
    # alive; a killed worker alone leaves the status unchanged), so the manager process is
    # killed too and its own watchdog restarts it, as after a crash.
    managers = set(child_pids(big.pid))
    ensure_env_open(big)
    workers = sorted(set(child_pids(big.pid)) - managers)
    assert len(managers) == 1 and len(workers) == 1, (managers, workers)

    async def kill() -> list[Notice]:
        async with watched(big) as w:
            s = w.session
            w.mark()
            os.kill(workers[0], signal.SIGKILL)
            os.kill(managers.pop(), signal.SIGKILL)
            await until(lambda: s.status and not s.status["worker_environment_exists"], 30,
                        message="the restarted manager reports no environment")
            await until(lambda: w.notices, 5, message="a notice")
            await until(lambda: s.connection is Connection.CONNECTED, 10, message="connected")
            await pushes(s, 2)
            print(f"\nworker and manager killed: states {[st.value for st, _ in w.states]}, "
                  f"messages {w.messages}, longest silence {w.longest_silence:.2f} s")
            if not w.states:  # restarted within the busy grace: nothing but the notice
                assert w.alarms() == [], w.alarms()
            return list(w.notices)

    notices = run(kill(), 60)
    assert [n.level for n in notices] == ["warning"], notices
    text = notices[0].text.lower()
    assert "crashed" in text and "killed" in text, notices[0]
    ensure_env_open(big)  # a known state for the next test


def test_execute_now_outcome_waits_for_the_allowed_read(big: Sandbox) -> None:
    """Execute now with the history withheld: "finished" from the status at once, the result
    waits for a read the operator must allow; after Load now the result arrives."""

    async def body() -> tuple[str, str]:
        async with watched(big) as w:
            s = w.session
            outcome = await s.execute_now(COUNT)
            assert outcome.ok, outcome
            # "ended" comes with the status that shows the item no longer running (the same
            # call: core/tracking), with no history read
            await until(lambda: s.tracker.last and s.tracker.last.ended, 30, message="ended")
            assert s.tracker.last.state == "ended", s.tracker.last
            ended = s.tracker.last
            waiting = ended.waiting_text
            await pushes(s, 2)
            assert w.spy.count("history_get") == 0, "the withheld history was read"
            assert s.tracker.last.state == "ended"
            s.load_history_now()
            await until(lambda: s.tracker.last.finished, 60, message="outcome known")
            assert w.spy.count("history_get") == 1
            assert len(s.history) == N + 1
            assert w.alarms() == [], w.alarms()
            return waiting, s.tracker.last.state

    waiting, final = run(body(), 120)
    assert "finished; the result waits for a history read you must allow" in waiting, waiting
    assert f"{N + 1:,} items" in waiting, waiting  # the count plan added one
    assert final == "completed"


def test_dead_manager_is_still_reported_with_a_large_history(big: Sandbox) -> None:
    """The busy grace has a ceiling: a manager killed for good (watchdog and all) while its
    history is large is reported as lost contact within ``SILENT_CEILING`` of the last word."""

    async def body() -> tuple[float, list[tuple[str, str]]]:
        async with watched(big) as w:
            s = w.session
            await pushes(s, 2)
            w.mark()
            await asyncio.get_running_loop().run_in_executor(None, big.kill_manager)
            killed = time.monotonic()
            await until(lambda: s.connection is Connection.OFFLINE, SILENT_CEILING + 3,
                        message="offline")
            return time.monotonic() - killed, w.alarms()

    try:
        after, alarms = run(body(), 60)
    finally:
        big.restart_manager()
    assert [level for level, _ in alarms] == ["error"], alarms
    assert "Lost contact" in alarms[0][1]
    print(f"\nmanager killed with a {N:,}-item history: offline {after:.2f} s after the kill")


def test_a_stalled_session_misses_no_transition(big: Sandbox) -> None:
    """A loaded machine stalls the session's loop: the statuses of a whole Execute now, and of
    a close by another client, then arrive in one batch. Neither transition may be lost: the
    execution still "ended" (the history is withheld, so nothing else would ever say so), and
    the close is still information, not a crash."""

    def stalled(until_status: Callable[[dict], Any]) -> None:
        # Blocks the session's event loop on purpose (the fault under test) until the server
        # reached the state: every push meanwhile waits in the info socket.
        wait_status(big, until_status, 30, "the server's side of the stall")

    async def body() -> tuple[str, list[Notice]]:
        async with watched(big) as w:
            s = w.session
            outcome = await s.execute_now(COUNT)
            assert outcome.ok, outcome
            stalled(lambda st: st["items_in_history"] == N + 1
                    and st["manager_state"] == "idle")
            await until(lambda: s.tracker.last.state == "ended", 10, message="ended")
            waiting = s.tracker.last.waiting_text
            w.mark()
            assert big.request("environment_close")["success"]
            stalled(lambda st: not st["worker_environment_exists"]
                    and st["manager_state"] == "idle")
            await until(lambda: w.notices, 10, message="a notice")
            assert w.spy.count("history_get") == 0
            return waiting, list(w.notices)

    waiting, notices = run(body(), 120)
    assert "the result waits for a history read you must allow" in waiting, waiting
    assert [n.level for n in notices] == ["info"], notices
    ensure_env_open(big)
