"""ConsoleBuffer: reference text-buffer semantics, escape handling, bounds and change deltas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qs_gui.core.console_buffer import MAX_LINE_CHARS, ConsoleBuffer, ConsoleChanges

UP = "\x1b[A"
SAMPLE = Path("/work/shared/reference/captures/qs_pub_sample.jsonl")


def fed(*fragments: str, max_lines: int = 1000, **kwargs: int) -> ConsoleBuffer:
    buf = ConsoleBuffer(max_lines, **kwargs)
    for fragment in fragments:
        buf.write(fragment)
    return buf


def reference_buffer(max_lines: int) -> Any:
    """The reference client's text buffer, without its 0MQ monitor (differential tests)."""
    console_monitor = pytest.importorskip("bluesky_queueserver_api.console_monitor")

    class _Reference(console_monitor._ConsoleMonitor):
        def _monitor_init(self) -> None:  # no socket: only the text-buffer code is used
            pass

    return _Reference(max_lines=max_lines)


def reference_text(ref: Any, nlines: int | None = None) -> str:
    ref._text.clear()  # the reference caches per nlines and drops the cache in text() only
    return ref._text_generate(nlines)


def mirror_apply(mirror: list[str], changes: ConsoleChanges) -> None:
    """Independent re-statement of the documented delta order (what the Qt view does)."""
    if changes.reset:
        mirror[:] = []
    mirror[: changes.removed_top] = []
    for index, text in changes.updated:
        assert 0 <= index < len(mirror), "updates must only touch lines the view holds"
        mirror[index] = text
    mirror += changes.appended


# ---------------------------------------------------------------- reference semantics


def test_fragments_are_joined_into_lines() -> None:
    buf = fed("|   seq_num |", " time |", "\n", "|         1 |", "\n")
    assert list(buf.lines) == ["|   seq_num | time |", "|         1 |", ""]
    assert buf.text() == "|   seq_num | time |\n|         1 |"


def test_carriage_return_overwrites_not_inserts() -> None:
    assert list(fed("abc\rX").lines) == ["Xbc"]
    assert list(fed("abc", "\r", "X").lines) == ["Xbc"]


def test_cursor_up_overwrites_progress_line() -> None:
    buf = fed("Scan 1\n", "[#         ] 10%\n", UP + "[##########] 100%\n", "done\n")
    assert list(buf.lines) == ["Scan 1", "[##########] 100%", "done", ""]


def test_newline_into_existing_line_keeps_it() -> None:
    buf = fed("first\nsecond\n", UP + UP + "\n", "X")
    assert list(buf.lines) == ["first", "Xecond", ""]


def test_cursor_up_stops_at_first_line() -> None:
    assert list(fed("abc", UP * 5, "\rX").lines) == ["Xbc"]  # column is kept, hence \r


def test_padding_when_cursor_past_end_of_line() -> None:
    buf = fed("abc\n", "longer line", UP, "X")
    assert list(buf.lines) == ["abc        X", "longer line"]
    assert buf.cursor == (0, 12)


def test_trim_from_top_shifts_cursor() -> None:
    buf = fed("a\nb\nc\nd", max_lines=2)
    assert list(buf.lines) == ["c", "d"]
    assert buf.cursor == (1, 1)
    buf.write(UP + "\rX")
    assert list(buf.lines) == ["X", "d"]


def test_trailing_empty_line_not_counted() -> None:
    buf = fed("a\nb\n", max_lines=2)
    assert list(buf.lines) == ["a", "b", ""]
    buf.write("c")
    assert list(buf.lines) == ["b", "c"]


@pytest.mark.parametrize(
    ("nlines", "expected"),
    [(None, "a\nb\nc"), (2, "b\nc"), (1, "c"), (100, "a\nb\nc"), (0, ""), (-3, "")],
)
def test_text_rules(nlines: int | None, expected: str) -> None:
    assert fed("a\nb\nc\n").text(nlines) == expected  # trailing empty line excluded
    assert fed("a\nb\nc").text(nlines) == expected


def test_text_of_empty_buffer() -> None:
    assert ConsoleBuffer().text() == ""
    assert fed("\n").text() == ""
    assert fed("\n\n").text() == "\n"  # ["", "", ""]: only the trailing one is dropped


def test_matches_reference_on_captured_stream() -> None:
    """Every QS_Console fragment of the captured run gives the reference client's text."""
    if not SAMPLE.exists():
        pytest.skip("capture file not available")
    msgs = []
    for record in SAMPLE.read_text().splitlines():
        data = json.loads(record)
        if data["topic"] == "QS_Console":
            msgs.append(data["payload"]["msg"])
    for max_lines in (1000, 25):
        ref = reference_buffer(max_lines)
        buf = ConsoleBuffer(max_lines)
        for msg in msgs:
            ref._add_msg_to_text_buffer({"msg": msg})
            ref._adjust_text_buffer_size()
            buf.write(msg)
            assert list(buf.lines) == ref._text_buffer
        assert buf.text() == reference_text(ref)
        assert buf.text(10) == reference_text(ref, 10)


ref_token = st.sampled_from(["a", "bc", "wxyz", " ", "\n", "\r", UP, "\n\n"])


@given(
    fragments=st.lists(st.lists(ref_token, max_size=12).map("".join), max_size=25),
    max_lines=st.integers(1, 6),
)
def test_differential_against_reference(fragments: list[str], max_lines: int) -> None:
    """Same lines and cursor as the reference, message by message.

    With trimming, we trim as soon as the limit is exceeded rather than at the end of each
    message; the two agree unless one message both scrolls past the limit and moves the
    cursor up (documented), so that case is compared without trimming.
    """
    if any(UP in f for f in fragments):
        max_lines = 10_000
    ref = reference_buffer(max_lines)
    buf = ConsoleBuffer(max_lines)
    for fragment in fragments:
        ref._add_msg_to_text_buffer({"msg": fragment})
        ref._adjust_text_buffer_size()
        buf.write(fragment)
        assert list(buf.lines) == ref._text_buffer
        if ref._text_buffer:
            assert buf.cursor == (ref._text_line, ref._text_pos)
        assert buf.text() == reference_text(ref)


# ---------------------------------------------------------------- escape sequences


def test_colour_codes_are_stripped() -> None:
    buf = fed("\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[m\n")
    assert buf.text() == "red and bold green"


def test_escape_split_across_fragments() -> None:
    buf = fed("top\n", "\x1b", "[3", "1mred", "\x1b[0", "m!", "\x1b")
    assert list(buf.lines) == ["top", "red!"]
    buf.write("[A")  # completes a cursor-up that was pending
    buf.write("\rT")
    assert list(buf.lines) == ["Top", "red!"]


def test_split_cursor_up_moves_a_line() -> None:
    buf = fed("one\ntwo\n", "\x1b[", "A", "TWO")
    assert list(buf.lines) == ["one", "TWO", ""]


@pytest.mark.parametrize(
    ("fragments", "expected"),
    [
        (["hello world\r", "\x1b[K"], ""),
        (["hello world", "\x1b[5D\x1b[K"], "hello "),
        (["hello world", "\x1b[5D\x1b[1K"], "       orld"),
        (["hello world", "\x1b[2K", "!"], "           !"),
        (["progress 99%", "\r\x1b[Kdone"], "done"),
    ],
)
def test_erase_in_line(fragments: list[str], expected: str) -> None:
    assert list(fed(*fragments).lines) == [expected]


def test_other_sequences_and_controls_are_dropped() -> None:
    buf = fed("\x1b]0;window title\x07a\x1b[?25lb\x1b(Bc\x1b7d\x07\x00e\tf\n")
    assert buf.text() == "abcde\tf"
    assert fed("ab\bX").text() == "aX"
    assert fed("abc\x1b[2Gx\x1b[3Cy").text() == "axc  y"


def test_malformed_escapes_do_not_swallow_text() -> None:
    assert list(fed("a\x1b\nb").lines) == ["a", "b"]
    assert list(fed("a\x1b[12\nb").lines) == ["a", "b"]
    assert list(fed("a\x1b]title\nb").lines) == ["a", "b"]  # runaway OSC ends at newline
    assert list(fed("a\x1b\x1b[31mb").lines) == ["ab"]


def test_overlong_csi_is_consumed_without_growing() -> None:
    buf = fed("a\x1b[" + "1" * 1_000_000, "2" * 1000, "Ab")
    assert list(buf.lines) == ["ab"]
    assert len(buf._params) <= 40


# ---------------------------------------------------------------- bounds and settings


def test_single_huge_line_is_capped() -> None:
    buf = fed("x" * 10_000_000)
    assert len(buf.lines[0]) == MAX_LINE_CHARS
    buf.write("\nnext")
    assert list(buf.lines)[1:] == ["next"]


def test_many_lines_in_one_fragment_stay_bounded() -> None:
    buf = ConsoleBuffer(100)
    buf.write("line\n" * 200_000)
    assert len(buf.lines) == 101
    assert buf.text().splitlines() == ["line"] * 100


def test_max_lines_settable_at_runtime() -> None:
    buf = fed("".join(f"{i}\n" for i in range(50)), max_lines=100)
    buf.max_lines = 10
    assert buf.text() == "\n".join(str(i) for i in range(40, 50))
    assert buf.cursor == (10, 0)
    with pytest.raises(ValueError, match="max_lines"):
        buf.max_lines = 0
    with pytest.raises(ValueError, match="max_lines"):
        ConsoleBuffer(-1)


def test_clear_drops_text_and_pending_escape() -> None:
    buf = fed("abc\n\x1b[3")
    buf.clear()
    assert list(buf.lines) == [] and buf.text() == "" and buf.cursor == (0, 0)
    buf.write("1mX")  # the escape was dropped with the text, so this is plain text
    assert buf.text() == "1mX"


# ---------------------------------------------------------------- find


def test_find_forward_backward_and_case() -> None:
    buf = fed("alpha beta\nGamma beta\ndelta\n")
    assert buf.find("beta", 0) == (0, 6)
    assert buf.find("beta", 0, start_col=7) == (1, 6)
    assert buf.find("gamma", 0) == (1, 0)
    assert buf.find("gamma", 0, case_sensitive=True) is None
    assert buf.find("beta", 2, backwards=True) == (1, 6)
    assert buf.find("beta", 1, backwards=True, start_col=6) == (0, 6)
    assert buf.find("beta", 0, backwards=True, start_col=6) is None
    assert buf.find("", 0) is None
    assert buf.find("zzz", 0) is None
    assert fed("aaa").find("aa", 0, backwards=True) == (0, 1)  # overlapping matches count


# ---------------------------------------------------------------- change deltas


def test_changes_append_then_update_last_line() -> None:
    buf = fed("a\nb")
    assert buf.take_changes() == ConsoleChanges(appended=("a", "b"))
    assert buf.take_changes().is_empty
    buf.write("c\nd")
    assert buf.take_changes() == ConsoleChanges(updated=((1, "bc"),), appended=("d",))


def test_changes_progress_bar_touches_one_line() -> None:
    buf = ConsoleBuffer(10_000)
    buf.write("".join(f"row {i}\n" for i in range(5000)) + "progress 0%")
    buf.take_changes()
    buf.write("\rprogress 50%")
    buf.write("\rprogress 100%")
    assert buf.take_changes() == ConsoleChanges(updated=((5000, "progress 100%"),))


def test_changes_trim_reports_removed_top() -> None:
    buf = fed("a\nb\nc\n", max_lines=3)
    mirror: list[str] = []
    mirror_apply(mirror, buf.take_changes())
    buf.write("d\ne\n")
    changes = buf.take_changes()
    # The view held ["a", "b", "c", ""]: two lines leave the top, "" became "d", two are new.
    assert changes == ConsoleChanges(removed_top=2, updated=((1, "d"),), appended=("e", ""))
    mirror_apply(mirror, changes)
    assert mirror == list(buf.lines) == ["c", "d", "e", ""]


def test_changes_reset_on_clear_and_on_trimming_past_view() -> None:
    buf = fed("a\nb\n", max_lines=2)
    buf.take_changes()
    buf.clear()
    buf.write("x")
    assert buf.take_changes() == ConsoleChanges(reset=True, appended=("x",))
    buf.write("\n1\n2\n3\n4")
    changes = buf.take_changes()
    mirror = ["x"]
    mirror_apply(mirror, changes)
    assert mirror == list(buf.lines) == ["3", "4"]


def test_changes_many_edits_far_back_fall_back_to_reset() -> None:
    buf = fed("".join(f"{i:04d}\n" for i in range(2000)), max_lines=5000)
    mirror: list[str] = []
    mirror_apply(mirror, buf.take_changes())
    buf.write((UP + "\rX") * 1500)  # 1500 distinct lines edited in place
    changes = buf.take_changes()
    assert changes.reset
    mirror_apply(mirror, changes)
    assert mirror == list(buf.lines)


# ---------------------------------------------------------------- properties

CONTROLS = [*"\n\r\b\t\x00", UP, "\x1b[B", "\x1b[3D", "\x1b[2C", "\x1b[5G"]
ESCAPES = ["\x1b[K", "\x1b[2K", "\x1b[1K", "\x1b[31m", "\x1b[0m", "\x1b[?25l", "\x1b]0;t\x07"]
PARTIAL = ["\x1b[", "\x1b"]  # completed (or broken) by whatever comes next
token = st.one_of(
    st.sampled_from(CONTROLS + ESCAPES + PARTIAL), st.text(alphabet="ab|é 😀", max_size=8)
)
stream = st.lists(token, max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    text=stream,
    cuts=st.lists(st.integers(0, 400), max_size=10),
    max_lines=st.integers(1, 6),
    max_line_chars=st.integers(1, 12),
)
def test_split_points_do_not_matter_and_bounds_hold(
    text: str, cuts: list[int], max_lines: int, max_line_chars: int
) -> None:
    whole = fed(text, max_lines=max_lines, max_line_chars=max_line_chars)
    points = sorted({c for c in cuts if 0 < c < len(text)})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    split = fed(*pieces, max_lines=max_lines, max_line_chars=max_line_chars)
    assert list(split.lines) == list(whole.lines)
    assert split.cursor == whole.cursor
    for buf in (whole, split):
        lines = list(buf.lines)
        assert all(len(line) <= max_line_chars for line in lines)
        assert len(lines) <= max_lines + (1 if lines and lines[-1] == "" else 0)
        assert all("\x1b" not in line and "\n" not in line and "\r" not in line for line in lines)


operation = st.one_of(
    st.tuples(st.just("write"), stream),
    st.tuples(st.just("take"), st.none()),
    st.tuples(st.just("clear"), st.none()),
    st.tuples(st.just("max_lines"), st.integers(1, 8)),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(operation, max_size=30), max_lines=st.integers(1, 8))
def test_applying_deltas_reproduces_lines(ops: list[tuple[str, object]], max_lines: int) -> None:
    buf = ConsoleBuffer(max_lines, max_line_chars=10)
    mirror: list[str] = []
    via_method: list[str] = []
    for name, arg in ops:
        if name == "write":
            buf.write(arg)  # type: ignore[arg-type]
        elif name == "clear":
            buf.clear()
        elif name == "max_lines":
            buf.max_lines = arg  # type: ignore[assignment]
        else:
            changes = buf.take_changes()
            mirror_apply(mirror, changes)
            changes.apply(via_method)
            assert mirror == via_method == list(buf.lines)
    changes = buf.take_changes()
    mirror_apply(mirror, changes)
    assert mirror == list(buf.lines)
    assert buf.take_changes().is_empty
