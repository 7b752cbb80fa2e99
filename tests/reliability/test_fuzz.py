"""Fuzzing: the item entry, the clipboard parser, info-socket payloads and control replies.

Properties: nothing raises (or is logged as an error), and nothing malformed reaches the wire --
every request captured at the fake transport is checked by ``fake_server.request_problem``.
"""

from __future__ import annotations

import asyncio
import json
import random
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PyQt5.QtWidgets import QApplication

from qs_gui.client.monitor import InfoMessage, InfoMonitor
from qs_gui.core.gates import Action, Connection
from qs_gui.core.reconcile import RECONCILABLE_METHODS, ServerState, Snapshot, decide
from qs_gui.core.schema.values import parse_entry
from qs_gui.core.session import STATUS_TYPES, MalformedReply, Session, Timing, sanitize_status
from qs_gui.ui.main_window import MainWindow
from qs_gui.ui.queue_view import parse_clipboard_items
from tests.ui.qt_async import run, until

from .fake_server import PLANS, FakeServer, fake_api, item_problem, request_problem
from .harness import Late, ThreadPeer

FAST = Timing(watchdog_after=0.05, stale_after=1.0, poll_timeout=0.05, backoff=(0.02, 0.05))
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

json_scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | \
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
TRICKY = ["__import__('os').system('true')", "NaN", "Infinity", "-Infinity", "1e999", "[1e999]",
          "{'num': float('nan')}", "[" * 200 + "]" * 200, "{'a': 1", "True", "None", "null",
          "[['det1'], 3]", '{"num": 3}', "{1: 2}", "{'num': 3, **x}", "{'x'}", "b'x'", "1j",
          "lambda: 0", "[x for x in ()]", "\x00", "\u2029", '{"a": "\\ud800"}', "0x10",
          "'det1'", "[[\"det1\", \"det2\"]]", "{\"detectors\": [\"no_such\"]}", " " * 3,
          '{"delay": -1}', '{"num": 1.5}', "[[]]", '"' * 3]


def field_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(TRICKY),
        st.text(max_size=60),
        st.text(alphabet=string.printable, max_size=60),
        json_values.map(lambda v: json.dumps(v)),
        json_values.map(repr),
    )


names = st.one_of(st.sampled_from(sorted(PLANS)[:12] + ["queue_stop", "", " count", "nope",
                                                          "count count", "\t", "ｃount"]),
                  st.text(max_size=12))


# -- the item entry (pure) ------------------------------------------------------------------------
@FUZZ
@given(item_type=st.sampled_from(["plan", "instruction", "function", ""]), name=names,
       args=field_text(), kwargs=field_text(), meta=field_text())
def test_entry_never_raises_and_only_yields_valid_items(item_type, name, args, kwargs, meta):
    result = parse_entry(item_type, name, args, kwargs, meta)
    assert (result.item is None) != (not result.errors)
    if result.item is not None:
        assert item_problem(result.item, entry=True) is None, result.item
        json.dumps(result.item, allow_nan=False)
    else:
        assert all(isinstance(m, str) and m for m in result.errors.values())


# -- the clipboard parser (pure) ------------------------------------------------------------------
clip_items = st.fixed_dictionaries(
    {"item_type": st.sampled_from(["plan", "instruction", "function", "bogus", None]),
     "name": st.one_of(st.sampled_from(["count", "", " ", "scan"]), st.text(max_size=8),
                       st.integers())},
    optional={"args": json_values, "kwargs": json_values, "meta": json_values,
              "item_uid": st.text(max_size=5), "result": json_values, "extra": json_values})


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.sampled_from(TRICKY),
                      json_values.map(json.dumps),
                      st.lists(clip_items, max_size=4).map(json.dumps),
                      clip_items.map(json.dumps)))
def test_clipboard_parser_never_raises_anything_but_valueerror(text):
    try:
        items = parse_clipboard_items(text)
    except ValueError as ex:
        assert str(ex)
        return
    assert items and all(item_problem(i) is None for i in items), items
    json.dumps(items, allow_nan=False)  # what the transport would put on the wire


def test_clipboard_overflowing_numbers_are_refused():
    """1e999 is valid JSON syntax but parses to inf, which cannot go on the wire as JSON."""
    for number in ("1e999", "-1e999", "1.5e400"):
        with pytest.raises(ValueError, match="too large to send"):
            parse_clipboard_items(
                f'[{{"item_type": "plan", "name": "count", "kwargs": {{"x": {number}}}}}]')
    assert parse_clipboard_items('{"item_type": "plan", "name": "count", "kwargs": {"x": 1e300}}'
                                 )[0]["kwargs"] == {"x": 1e300}


# -- the whole window: random entry text and paste -> only valid requests on the wire ----------
@pytest.fixture
def fuzz_window(qtbot, qloop):
    server = FakeServer()
    api, transport = fake_api(server)
    window = MainWindow(Session(api, use_monitor=False, timing=FAST))
    qtbot.addWidget(window)
    window.show()

    async def start():
        await window.session.start()
        await until(lambda: window.session.connection is Connection.CONNECTED, 5)
        await until(lambda: window.session.plans_allowed and window.session.devices_allowed, 5)

    run(qloop, start())
    yield window, transport, server
    run(qloop, window.session.stop())


async def _settle(window) -> None:
    await asyncio.sleep(0)
    await until(lambda: not window.session.in_flight, 5)


editor_items = st.fixed_dictionaries(
    {"item_type": st.sampled_from(["plan", "instruction", "function", "", None]),
     "name": names},
    optional={"args": json_values | st.lists(st.sampled_from(["det1", "motor", "nope", 1]),
                                             max_size=3).map(lambda v: [v]),
              "kwargs": json_values | st.dictionaries(
                  st.sampled_from(["num", "delay", "md", "per_shot", "x", ""]), json_values,
                  max_size=3),
              "meta": json_values, "item_uid": json_values, "user": json_values})


@FUZZ
@given(text=st.one_of(editor_items.map(json.dumps), editor_items.map(repr), field_text()))
@example(text=json.dumps({"item_type": "plan", "name": "count", "args": [["det1"]],
                          "kwargs": {"num": 2}}))
@example(text="{'item_type': 'instruction', 'name': 'queue_stop'}")
def test_editor_json_text_sends_only_valid_items(fuzz_window, qloop, text):
    """The operator types any text into the editor's JSON view, then clicks Add and Execute."""
    window, transport, _ = fuzz_window
    editor = window.entry
    editor.json.edit.setPlainText(text)  # an operator edit: textChanged is not blocked
    before = len(transport.requests)
    error = editor.current_error()
    item = editor.current_item()
    assert (item is None) != (error is None), (item, error)
    if item is not None:
        assert request_problem("queue_item_add", {"item": item}, entry=True) is None, item
    for act in (Action.QUEUE_ADD, Action.EXECUTE_NOW):
        window.queue_view.select_uids([])
        window.refresh_gates()
        window.registry[act].trigger()
        run(qloop, _settle(window))
    mutating = [(m, p) for m, p, _ in transport.requests[before:] if m.startswith("queue_item")]
    if error is not None:
        assert not mutating, (error, mutating)
    else:  # one click, one request: Add and Execute now
        assert [m for m, _ in mutating] == ["queue_item_add", "queue_item_execute"], mutating
    for method, params in mutating:
        assert request_problem(method, params, entry=True) is None, (method, params)
    assert not [m for m in window.messages.messages("error") if "Internal error" in m]


@FUZZ
@given(text=st.one_of(st.sampled_from(TRICKY), json_values.map(json.dumps),
                      st.lists(clip_items, min_size=1, max_size=3).map(json.dumps)))
def test_paste_sends_only_valid_items(fuzz_window, qloop, text):
    window, transport, _ = fuzz_window
    QApplication.clipboard().setText(text)
    before = len(transport.requests)
    window.queue_view.select_uids([])
    window.refresh_gates()
    window.registry[Action.QUEUE_PASTE].trigger()
    run(qloop, _settle(window))
    for method, params, _ in transport.requests[before:]:
        assert request_problem(method, params) is None, (method, params)
    assert not [m for m in window.messages.messages("error") if "Internal error" in m]


# -- info-socket payloads -------------------------------------------------------------------------
frames_strategy = st.lists(st.binary(max_size=64) | st.sampled_from(
    [b"QS_Info", b"QS_Console", b"{}", b'{"msg": {"status": {}}}', b'{"time": "x", "msg": 5}']),
    max_size=4)


@FUZZ
@given(frames=frames_strategy)
def test_monitor_parse_never_raises(frames):
    monitor = InfoMonitor("tcp://127.0.0.1:1")
    message = monitor._parse(frames)
    assert message is None or isinstance(message, InfoMessage)
    assert monitor.malformed + monitor.oversized + (message is not None) == 1


status_values = st.fixed_dictionaries(
    {}, optional={key: json_values | st.sampled_from(["idle", "executing_queue", True, 0, None])
                  for key in STATUS_TYPES}) | json_values


@FUZZ
@given(statuses=st.lists(status_values, min_size=1, max_size=3),
       console=st.lists(st.text(max_size=40) | json_values, max_size=3))
def test_pushed_garbage_reaches_no_view_unchecked(fuzz_window, qloop, statuses, console,
                                                  error_log):
    window, _, _ = fuzz_window
    session = window.session
    batch = [InfoMessage("QS_Info", 0.0, {"status": s}, 0.0) for s in statuses]
    batch += [InfoMessage("QS_Console", 0.0, c, 0.0) for c in console]
    session.supervisor.deliver(batch)
    window.refresh_gates()
    run(qloop, asyncio.sleep(0))
    if session.status is not None:
        assert isinstance(session.status["manager_state"], str)


# -- control replies ------------------------------------------------------------------------------
METHODS = ["status", "queue_get", "history_get", "plans_allowed", "devices_allowed", "lock_info"]


@FUZZ
@given(replies=st.dictionaries(st.sampled_from(METHODS), json_values | st.fixed_dictionaries(
    {"success": st.booleans() | json_values, "items": json_values, "running_item": json_values,
     "plans_allowed": json_values, "devices_allowed": json_values, "lock_info": json_values,
     "manager_state": st.sampled_from(["idle", 5, None])}), min_size=1))
def test_garbage_control_replies_never_crash(fuzz_window, qloop, replies, error_log):
    window, _, server = fuzz_window
    session = window.session
    server.override = replies
    server.status = {**server.status, "plan_queue_uid": f"q{random.random()}",
                     "plan_history_uid": f"h{random.random()}"}
    session.fetcher._fetched = dict.fromkeys(session.fetcher._fetched)  # fetch everything again
    session.fetcher._reply_uid = dict.fromkeys(session.fetcher._reply_uid)
    session.fetcher._fetch_failures = dict.fromkeys(session.fetcher._fetch_failures, 0)

    async def cycle():
        result = await session.supervisor._poll_status()
        assert result in ("ok", "failed", "malformed")
        for task in list(session.fetcher._fetch_tasks.values()):
            await asyncio.wait_for(asyncio.shield(task), 5)

    run(qloop, cycle())
    window.refresh_gates()
    server.override = {}
    assert not [m for m in window.messages.messages("error") if "Internal error" in m]


def test_random_bytes_as_control_replies(qtbot, qloop, error_log):
    """Through a real socket: 60 replies of random bytes (some valid JSON) to status polls."""
    rng = random.Random(3)
    payloads = [rng.randbytes(rng.randrange(0, 300)) for _ in range(40)] + [
        json.dumps(v).encode() for v in ([], {}, [1], "x", 5, None, {"manager_state": 1},
                                         {"manager_state": "idle", "lock": [1]},
                                         {"manager_state": "idle", "items_in_queue": -1})] + [
        b"\xef\xbb\xbf{}", b'{"a": NaN}', b"[" * 100000, b'"\\ud800"', b"1e999"] * 2
    replies = iter(payloads)
    with ThreadPeer(lambda request: Late(0.0, next(replies, b"{}"))) as peer:
        api, _ = None, None
        from qs_gui.client import REManagerAPI

        api = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=0.5)
        session = Session(api, use_monitor=False, timing=FAST)
        outcomes = []

        async def body():
            for _ in payloads:
                outcomes.append(await session.supervisor._poll_status())

        run(qloop, body(), 60)
        run(qloop, session.stop())
    assert peer.count("status") == len(payloads)
    assert set(outcomes) <= {"ok", "failed", "malformed"}
    # usable after repair: {"manager_state": "idle", "lock": [1]} and (..., "items_in_queue": -1)
    assert outcomes.count("ok") == 2, outcomes


# -- reconciliation over random states -------------------------------------------------------------
items = st.one_of(json_values, st.fixed_dictionaries(
    {"item_uid": st.sampled_from(["a", "b", "c", "n"]) | json_values,
     "name": st.sampled_from(["count", "scan"]) | json_values},
    optional={"args": json_values, "kwargs": json_values, "user": st.sampled_from(["u", "v"]),
              "properties": json_values, "result": json_values}))


@FUZZ
@given(method=st.sampled_from(sorted(RECONCILABLE_METHODS)),
       params=st.dictionaries(st.sampled_from(["item", "items", "uid", "uids", "pos",
                                               "pos_dest", "before_uid", "after_uid", "replace",
                                               "reorder", "user"]), items | json_values),
       before=st.lists(items, max_size=4), after=st.lists(items, max_size=4),
       running=items, history=st.none() | st.lists(items, max_size=3))
def test_reconcile_never_raises(method, params, before, after, running, history):
    running = running if isinstance(running, dict) else {}
    verdict = decide({"method": method, "params": params}, Snapshot(before, running, []),
                     ServerState(after, running, history))
    assert verdict.verdict in ("applied", "not_applied", "unknown") and verdict.message


def test_sanitize_status_rejects_or_repairs():
    with pytest.raises(MalformedReply):
        sanitize_status({"manager_state": 5})
    with pytest.raises(MalformedReply):
        sanitize_status(["idle"])
    clean, problems = sanitize_status({"manager_state": "idle", "items_in_queue": True,
                                       "plan_queue_mode": {"loop": "yes", "ignore_failures": False},
                                       "lock": [1], "items_in_history": 10**30, "extra": [1]})
    assert clean["items_in_queue"] is None and clean["items_in_history"] is None
    assert clean["plan_queue_mode"] == {"ignore_failures": False} and clean["lock"] is None
    assert clean["extra"] == [1] and len(problems) == 4
