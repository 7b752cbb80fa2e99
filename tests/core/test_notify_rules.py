"""NotifyRules with status sequences and a fake clock (no Qt, no sleeping)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qs_gui.core.notify_rules import Kind, NotifyRules
from qs_gui.core.tracking import Execution


@dataclass
class Clock:
    t: float = 0.0

    def __call__(self) -> float:
        return self.t


def st(state: str, items: int | None = 0, running: str | None = None, env: bool | None = True,
       re_state: str | None = "idle") -> dict:
    status = {"manager_state": state, "running_item_uid": running, "re_state": re_state}
    if items is not None:
        status["items_in_queue"] = items
    if env is not None:
        status["worker_environment_exists"] = env
    return status


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rules(clock: Clock) -> NotifyRules:
    return NotifyRules(clock=clock)


def feed(rules: NotifyRules, clock: Clock, *steps: tuple[float, dict]) -> list:
    """Statuses at absolute times; returns every notice, with the time it came out."""
    out = []
    for t, status in steps:
        clock.t = t
        out += [(t, n) for n in rules.poll()]
        out += [(t, n) for n in rules.on_status(status)]
    return out


def kinds(notices: list) -> list[Kind]:
    return [n.kind for _t, n in notices]


# -- queue finished: debounce ---------------------------------------------------------------
def test_idle_between_items_is_not_the_end_of_the_queue(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock,
               (0.0, st("idle", 2)),
               (0.1, st("starting_queue", 2)),
               (0.2, st("executing_queue", 1, "a")),
               (1.0, st("idle", 1)),  # between items
               (1.4, st("idle", 1)),  # 0.4 s idle: still between items
               (1.45, st("executing_queue", 0, "b")),
               (3.0, st("idle", 0)))
    assert out == []
    clock.t = 4.49
    assert rules.poll() == []
    assert rules.seconds_until_due() == pytest.approx(0.01)
    clock.t = 4.5
    (notice,) = rules.poll()
    assert notice.kind is Kind.QUEUE_FINISHED and notice.level == "info"
    assert notice.title == "Queue finished"
    clock.t = 10
    assert rules.poll() == [] and rules.seconds_until_due() is None


def test_idle_just_under_the_delay_between_items_stays_quiet(
        rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock,
               (0.0, st("idle", 2)),
               (0.1, st("executing_queue", 1, "a")),
               (1.0, st("idle", 1)),
               (2.49, st("executing_queue", 0, "b")))
    assert out == []
    out = feed(rules, clock, (3.0, st("idle", 0)), (4.6, st("idle", 0)))
    assert kinds(out) == [Kind.QUEUE_FINISHED] and out[0][0] == 4.6


def test_status_push_after_the_delay_also_settles(rules: NotifyRules, clock: Clock) -> None:
    """Without a poll, the next status (pushed ~1/s) delivers the due notice."""
    out = feed(rules, clock, (0, st("idle", 1)), (1, st("executing_queue", 0, "a")),
               (2, st("idle", 0)), (3, st("idle", 0)), (4, st("idle", 0)))
    assert [(t, n.kind) for t, n in out] == [(4, Kind.QUEUE_FINISHED)]


def test_queue_stopped_with_items_left(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock, (0, st("idle", 3)), (1, st("executing_queue", 2, "a")),
               (5, st("idle", 2)), (7, st("idle", 2)))
    (notice,) = [n for _t, n in out]
    assert notice.title == "Queue stopped" and notice.level == "warning"
    assert "2 items left" in notice.text


def test_queue_paused_then_aborted_is_a_stop_not_a_finish(rules: NotifyRules,
                                                          clock: Clock) -> None:
    rules.expect_pause()
    out = feed(rules, clock, (0, st("idle", 2)), (1, st("executing_queue", 1, "a")),
               (2, st("paused", 1, "a", re_state="paused")),
               (30, st("paused", 1, "a", re_state="paused")),  # paused for long: not idle
               (31, st("idle", 1)), (33, st("idle", 1)))
    assert kinds(out) == [Kind.QUEUE_FINISHED]
    assert "1 item left" in out[0][1].text


def test_environment_states_do_not_cancel_the_debounce(rules: NotifyRules, clock: Clock) -> None:
    rules.expect_environment_close()
    out = feed(rules, clock, (0, st("idle", 1)), (1, st("executing_queue", 0, "a")),
               (2, st("idle", 0)), (2.5, st("closing_environment", 0)),
               (3.0, st("idle", 0, env=False, re_state=None)), (3.6, st("idle", 0, env=False)))
    assert kinds(out) == [Kind.QUEUE_FINISHED] and out[0][0] == 3.6


def test_joining_mid_run_still_reports_the_end(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock, (0, st("executing_queue", 4, "q")), (1, st("idle", 0)),
               (3, st("idle", 0)))
    assert kinds(out) == [Kind.QUEUE_FINISHED]


def test_quiet_idle_manager_never_notifies(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock, *[(float(t), st("idle", 5)) for t in range(10)])
    assert out == []


# -- execute now ----------------------------------------------------------------------------
def test_own_execute_now_is_an_item_notice_not_a_queue_notice(rules: NotifyRules,
                                                              clock: Clock) -> None:
    run = Execution(uid="x1", name="count")
    assert rules.on_execution(run) == []  # submitted
    out = feed(rules, clock, (0, st("idle", 3)), (0.1, st("starting_queue", 3)),
               (0.2, st("executing_queue", 3, "x1")), (2, st("idle", 3)), (5, st("idle", 3)))
    assert out == []
    (notice,) = rules.on_execution(Execution(uid="x1", name="count", state="completed"))
    assert (notice.kind, notice.title, notice.text, notice.level) == (
        Kind.ITEM_FINISHED, "count: completed", "Completed.", "info")
    assert rules.on_execution(Execution(uid="x1", name="count", state="completed")) == []


@pytest.mark.parametrize(("state", "level"), [("failed", "error"), ("stopped", "warning"),
                                              ("aborted", "error"), ("halted", "error")])
def test_item_outcome_levels_and_message(rules: NotifyRules, state: str, level: str) -> None:
    (notice,) = rules.on_execution(Execution(uid="u", name="scan", state=state,
                                             msg="Motor limit reached\ntraceback…"))
    assert notice.level == level and notice.title == f"scan: {state}"
    assert notice.text.startswith("Motor limit reached")


def test_execute_now_from_another_client_is_not_a_queue_run(rules: NotifyRules,
                                                            clock: Clock) -> None:
    """Someone else's item_execute: the queue length never drops, so nothing to announce."""
    out = feed(rules, clock, (0, st("idle", 3)), (1, st("executing_queue", 3, "other")),
               (3, st("idle", 3)), (6, st("idle", 3)))
    assert out == []


# -- unexpected pause -----------------------------------------------------------------------
def test_pause_nobody_here_asked_for(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock, (0, st("executing_queue", 1, "abcdef123456")),
               (1, st("paused", 1, "abcdef123456", re_state="paused")),
               (2, st("paused", 1, "abcdef123456", re_state="paused")))
    (notice,) = [n for _t, n in out]
    assert notice.kind is Kind.UNEXPECTED_PAUSE and notice.level == "warning"
    assert "abcdef12" in notice.text


def test_requested_pause_is_quiet_once(rules: NotifyRules, clock: Clock) -> None:
    rules.expect_pause()
    out = feed(rules, clock, (0, st("executing_queue", 1, "a")),
               (1, st("paused", 1, "a", re_state="paused")),
               (2, st("executing_queue", 1, "a")),  # resumed
               (3, st("paused", 1, "a", re_state="paused")))  # paused again: not by us
    assert [(t, n.kind) for t, n in out] == [(3, Kind.UNEXPECTED_PAUSE)]


def test_pause_expectation_expires(clock: Clock) -> None:
    rules = NotifyRules(clock=clock, pause_expect_timeout=60)
    rules.expect_pause()
    out = feed(rules, clock, (0, st("executing_queue", 1, "a")),
               (61, st("paused", 1, "a", re_state="paused")))
    assert kinds(out) == [Kind.UNEXPECTED_PAUSE]


def test_pause_expectation_ends_when_the_run_ends(rules: NotifyRules, clock: Clock) -> None:
    """Asked to pause, but the plan ended first: a later pause is a surprise again."""
    rules.expect_pause()
    out = feed(rules, clock, (0, st("executing_queue", 1, "a", re_state="running")),
               (1, st("idle", 1)), (3, st("idle", 1)),
               (4, st("executing_queue", 0, "b")), (5, st("paused", 0, "b", re_state="paused")))
    assert kinds(out) == [Kind.QUEUE_FINISHED, Kind.UNEXPECTED_PAUSE]


def test_already_paused_when_first_seen_is_not_news(rules: NotifyRules, clock: Clock) -> None:
    assert feed(rules, clock, (0, st("paused", 1, "a", re_state="paused"))) == []


# -- environment ----------------------------------------------------------------------------
def test_environment_crash_is_reported(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock, (0, st("idle", 0)), (1, st("idle", 0, env=False, re_state=None)))
    (notice,) = [n for _t, n in out]
    assert notice.kind is Kind.ENVIRONMENT_CLOSED and notice.level == "warning"
    assert "may have crashed" in notice.text


@pytest.mark.parametrize("closing", [{"manager_state": "closing_environment"},
                                     {"worker_environment_state": "closing"}])
def test_close_by_another_client_is_information(rules: NotifyRules, clock: Clock,
                                                closing: dict) -> None:
    """Another operator closed the environment on purpose: the status passed through closing."""
    out = feed(rules, clock, (0, st("idle", 0)), (1, {**st("idle", 0), **closing}),
               (2, st("idle", 0, env=False)))
    (notice,) = [n for _t, n in out]
    assert notice.kind is Kind.ENVIRONMENT_CLOSED and notice.level == "info"
    assert "closed on request" in notice.text and "crash" not in notice.text


def test_destroy_by_another_client_is_information(rules: NotifyRules, clock: Clock) -> None:
    out = feed(rules, clock, (0, st("idle", 0)), (1, st("destroying_environment", 0)),
               (2, st("idle", 0, env=False)))
    (notice,) = [n for _t, n in out]
    assert notice.level == "info" and "destroyed on request" in notice.text


def test_a_close_that_did_not_happen_is_forgotten(rules: NotifyRules, clock: Clock) -> None:
    """Closing, then open and idle again (the close failed); a later disappearance is a crash."""
    out = feed(rules, clock, (0, st("idle", 0)), (1, st("closing_environment", 0)),
               (2, st("idle", 0)), (30, st("idle", 0, env=False)))
    (notice,) = [n for _t, n in out]
    assert notice.level == "warning" and "may have crashed" in notice.text


def test_requested_close_is_quiet_but_only_once(rules: NotifyRules, clock: Clock) -> None:
    rules.expect_environment_close()
    out = feed(rules, clock, (0, st("idle", 0)), (1, st("closing_environment", 0)),
               (2, st("idle", 0, env=False)), (10, st("idle", 0, env=True)),
               (20, st("idle", 0, env=False)))
    assert [(t, n.kind) for t, n in out] == [(20, Kind.ENVIRONMENT_CLOSED)]


def test_close_expectation_expires(rules: NotifyRules, clock: Clock) -> None:
    rules.expect_environment_close()  # e.g. the destroy confirmation was refused
    out = feed(rules, clock, (0, st("idle", 0)), (500, st("idle", 0, env=False)))
    assert kinds(out) == [Kind.ENVIRONMENT_CLOSED]


def test_missing_environment_key_is_not_a_close(rules: NotifyRules, clock: Clock) -> None:
    assert feed(rules, clock, (0, st("idle", 0)), (1, st("idle", 0, env=None))) == []


def test_disabled_kinds_are_filtered(clock: Clock) -> None:
    rules = NotifyRules(clock=clock, enabled={Kind.ENVIRONMENT_CLOSED})
    out = feed(rules, clock, (0, st("idle", 1)), (1, st("executing_queue", 0, "a")),
               (2, st("paused", 0, "a", re_state="paused")), (3, st("idle", 0, env=False)),
               (9, st("idle", 0, env=False)))
    assert kinds(out) == [Kind.ENVIRONMENT_CLOSED]
    assert rules.on_execution(Execution(uid="z", name="n", state="failed")) == []


def test_malformed_statuses_do_not_raise(rules: NotifyRules, clock: Clock) -> None:
    for t, status in enumerate([{}, {"manager_state": None}, {"items_in_queue": "3"},
                                {"manager_state": "executing_queue", "items_in_queue": True},
                                {"manager_state": "idle", "running_item_uid": 5}]):
        clock.t = t
        rules.on_status(status)
    clock.t = 100
    rules.poll()
