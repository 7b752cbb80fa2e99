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
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from qs_gui.core.gates import Connection
from qs_gui.core.notify_rules import Notice, NotifyRules
from qs_gui.core.session import Session
from qs_gui.sandbox import Sandbox
from qs_gui.sandbox.seeding import seed_history
from tests.helpers import (
    bring_to_idle,
    child_pids,
    ensure_env_open,
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
    bring_to_idle(sandbox)
    assert sandbox.request("queue_clear")["success"]
    seed_history(sandbox, N)
    ensure_env_open(sandbox)
    try:
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

    def mark(self) -> None:
        self.states.clear()
        self.messages.clear()
        self.busy.clear()
        self.notices.clear()

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
    try:
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED, 10,
                    message="connected")
        await until(lambda: session.plans_allowed and session.lock_info is not None
                    and not session.supervisor._busy_kind, 20, message="first reads done")
        yield w
    finally:
        await session.stop()


async def pushes(session: Session, n: int, timeout: float = 15.0) -> None:
    """Until ``n`` more status pushes arrived (the server's loop runs again)."""
    target = session.pushes_received + n
    await until(lambda: session.pushes_received >= target, timeout,
                message=f"{n} status pushes")


def test_own_full_read_is_busy_not_lost(big: Sandbox) -> None:
    """The operator's Load now of the 100k history: the server is shown busy with it, never
    lost; no error or warning; the whole history arrives."""

    async def body() -> tuple[float, list[str]]:
        async with watched(big) as w:
            s = w.session
            assert s.history_withheld and f"{N:,} items" in s.history_withheld
            assert w.spy.count("history_get") == 0
            w.mark()
            t0 = time.monotonic()
            s.load_history_now()
            await until(lambda: len(s.history) == N, 60, message="100k history loaded")
            took = time.monotonic() - t0
            await pushes(s, 2)
            assert w.spy.count("history_get") == 1
            assert w.alarms() == [], w.alarms()
            assert w.states == [], w.states
            assert s.connection is Connection.CONNECTED
            return took, w.busy_with(f"serving the {N:,}-item history")

    took, busy = run(body(), 120)
    assert busy, "the busy detail never named the history read"
    print(f"\nown 100k read: history shown after {took:.2f} s; busy detail {busy[-1]!r}")


def test_other_clients_full_read_is_busy_not_lost(big: Sandbox) -> None:
    """Another client reads the 100k history while the session is connected: the session's
    polls wait for the serial server; no error or warning, no indicator change."""

    async def body() -> tuple[float, list[str | None]]:
        async with watched(big) as w:
            s = w.session
            await pushes(s, 2)
            w.mark()
            loop = asyncio.get_running_loop()
            t0 = time.monotonic()
            reply = await loop.run_in_executor(
                None, lambda: big.request("history_get", timeout=60))
            took = time.monotonic() - t0
            assert len(reply["items"]) == N
            await pushes(s, 3)  # the session has heard the server again, and judged it
            assert w.alarms() == [], w.alarms()
            assert w.states == [], w.states
            assert s.connection is Connection.CONNECTED
            assert w.spy.count("history_get") == 0
            return took, list(w.busy)

    took, busy = run(body(), 120)
    print(f"\nanother client's 100k read: {took:.2f} s; busy details {busy!r}")


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
            print(f"\nworker and manager killed: states {[st.value for st, _ in w.states]}, "
                  f"messages {w.messages}, busy {w.busy}")
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
            await until(lambda: s.tracker.last and s.tracker.last.state == "running", 30,
                        message="running")
            await until(lambda: s.status["manager_state"] == "idle", 30, message="idle")
            idle = time.monotonic()
            await until(lambda: s.tracker.last.state == "ended", 5, message="ended")
            print(f"\nExecute now: 'ended' {time.monotonic() - idle:.3f} s after the idle "
                  f"status; {s.tracker.last.waiting_text!r}")
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
    assert f"{N:,} items" in waiting, waiting
    assert final == "completed"
