"""HistoryPolicy with an injected clock: predict, coalesce, withhold, Load now (no Qt, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qs_gui.core.history_policy import (
    DEFAULT_SECONDS_PER_ITEM,
    DUTY,
    SAFETY_LIMIT,
    HistoryPolicy,
    Staleness,
    Verdict,
    staleness_text,
)


@dataclass
class Clock:
    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy(clock: Clock) -> HistoryPolicy:
    return HistoryPolicy(clock=clock)


def test_default_cost_is_stated_and_conservative(policy: HistoryPolicy) -> None:
    assert DEFAULT_SECONDS_PER_ITEM == 60e-6
    # the issue measured 2.8-9.2 s per 100k on a loaded machine: the default sits in that range
    assert 2.8 <= policy.predict(100_000) <= 9.2
    assert not policy.measured


def test_safety_limit_leaves_room_for_a_prediction_off_by_two() -> None:
    assert 2 * SAFETY_LIMIT < 5.0  # the manager's watchdog restarts it after 5 s


def test_small_history_is_read_on_every_change(policy: HistoryPolicy, clock: Clock) -> None:
    for n in range(5):
        policy.note_status(f"h{n}", 50 + n)
        assert policy.decide().verdict is Verdict.READ
        policy.started()
        policy.record_read(50 + n, 0.002)
        policy.shown(f"h{n}")
        clock.t += 0.5  # a change every half second


def test_100k_history_is_withheld_with_the_reason(policy: HistoryPolicy) -> None:
    policy.note_status("h1", 100_000)
    decision = policy.decide()
    assert decision.verdict is Verdict.WITHHOLD
    assert decision.reason == ("the history has 100,000 items; reading it blocks the RE Manager "
                               "for about 6 s, and its watchdog restarts it after 5 s")


def test_load_now_lets_exactly_one_read_through(policy: HistoryPolicy) -> None:
    policy.note_status("h1", 100_000)
    policy.load_now()
    assert policy.decide().verdict is Verdict.READ
    policy.started()
    policy.record_read(100_000, 3.5)
    assert policy.decide().verdict is Verdict.WITHHOLD  # 3.5 s measured: still above the limit


def test_measured_cost_replaces_the_default(policy: HistoryPolicy, clock: Clock) -> None:
    policy.record_read(20_000, 0.4)  # 20 µs/item on this server
    assert policy.measured and policy.seconds_per_item == pytest.approx(20e-6)
    policy.note_status("h2", 80_000)  # 1.6 s predicted: under the limit
    clock.t += 1000
    assert policy.decide().verdict is Verdict.READ
    policy.record_read(20_000, 0.8)  # a slower read moves the estimate by the EWMA weight
    assert policy.seconds_per_item == pytest.approx(0.3 * 40e-6 + 0.7 * 20e-6)


def test_small_reads_do_not_skew_the_estimate(policy: HistoryPolicy) -> None:
    policy.record_read(3, 0.002)  # the round trip, not the items: 667 µs/item if believed
    assert policy.seconds_per_item == DEFAULT_SECONDS_PER_ITEM and not policy.measured


def test_costly_reads_keep_the_server_busy_at_most_five_percent(policy: HistoryPolicy,
                                                                clock: Clock) -> None:
    """A history changing every 5 s (a plan finishing) for 10 minutes, each read 1.5 s."""
    policy.record_read(30_000, 1.5, started=clock.t - 1.5)  # 50 µs/item, measured
    busy, reads, end = 0.0, 0, clock.t + 600
    while clock.t < end:
        clock.t += 5
        policy.note_status(f"h{clock.t}", 30_000)
        decision = policy.decide()
        if decision.verdict is Verdict.READ:
            policy.started()
            policy.record_read(30_000, 1.5, started=clock.t)
            busy += 1.5
            reads += 1
        else:
            assert decision.verdict is Verdict.WAIT and decision.delay > 0
            assert "at most every 30 s" in decision.reason
    assert reads >= 15  # it is refreshed, not starved
    assert busy / 600 <= DUTY + 1e-9


def test_wait_delay_points_at_the_next_permitted_read(policy: HistoryPolicy,
                                                      clock: Clock) -> None:
    policy.record_read(20_000, 1.0, started=clock.t)  # 50 µs/item: a read costs 1 s
    policy.note_status("h2", 20_000)
    clock.t += 5
    decision = policy.decide()
    assert decision.verdict is Verdict.WAIT and decision.delay == pytest.approx(15.0)
    clock.t += decision.delay
    assert policy.decide().verdict is Verdict.READ


def test_staleness_counts_unread_changes_and_time_since_read(policy: HistoryPolicy,
                                                             clock: Clock) -> None:
    assert policy.staleness.since_read is None and not policy.staleness.current
    policy.note_status("h1", 10)
    policy.record_read(10, 0.001)
    policy.shown("h1")
    assert policy.staleness.current
    for uid in ("h2", "h3", "h3", "h4"):
        policy.note_status(uid, 100_000)
    clock.t += 42
    staleness = policy.staleness
    assert staleness.changes_unread == 3 and staleness.since_read == pytest.approx(42)
    assert staleness.items_on_server == 100_000
    policy.shown("h4")
    assert policy.staleness.changes_unread == 0


def test_reset_forgets_what_is_shown(policy: HistoryPolicy) -> None:
    policy.note_status("h1", 10)
    policy.shown("h1")
    policy.reset()
    policy.note_status("h1", 10)  # a restarted server: the same uid is news again
    assert policy.staleness.changes_unread == 1


def test_too_costly_uses_the_latest_count(policy: HistoryPolicy) -> None:
    policy.note_status("h1", 10_000)
    assert not policy.too_costly()
    policy.note_status("h2", 100_000)
    assert policy.too_costly() and not policy.too_costly(1000)


def test_an_operator_read_does_not_hold_back_automatic_ones(policy: HistoryPolicy,
                                                            clock: Clock) -> None:
    """Load now of 100k (3.5 s), then history_clear keeps 1000: shown at once, not in 70 s."""
    policy.note_status("h1", 100_000)
    policy.load_now()
    policy.started()
    policy.record_read(100_000, 3.5)
    assert policy.seconds_per_item == pytest.approx(35e-6)  # still learnt from it
    policy.note_status("h2", 1000)
    clock.t += 1
    assert policy.decide().verdict is Verdict.READ


def test_staleness_is_told_in_plain_words() -> None:
    assert staleness_text(Staleness(0, None, 100_000)) == "Not read yet: none of it is shown."
    assert staleness_text(Staleness(0, 5.2, 1)) == "Shown as read 5 s ago."
    assert staleness_text(Staleness(1, 75.0, 1)) == ("Shown as read 1 min 15 s ago; it changed "
                                                     "once since.")
    assert staleness_text(Staleness(1234, 7300.0, 1)).endswith("it changed 1,234 times since.")


def test_the_withhold_reason_counts_in_words() -> None:
    policy = HistoryPolicy(seconds_per_item=3.0)
    assert policy.withhold_reason(1).startswith("the history has 1 item; ")
    assert policy.withhold_reason(2).startswith("the history has 2 items; ")
