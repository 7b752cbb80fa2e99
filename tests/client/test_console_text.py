"""The console monitor's text buffer renders fragments as the reference client does."""

import pytest

from qs_gui.client.console_text import ConsoleText

console_monitor = pytest.importorskip("bluesky_queueserver_api.console_monitor")

UP = "\x1b[A"
STREAMS = [
    ["One two three four five\nOne two three four five", "\r", f"Six {UP}six\n\n"],
    ["a\nb\nc\n", "d"],
    ["progress 10%\r", "progress 50%\r", "progress 100%\n", "done\n"],
    [f"x\ny\n{UP}{UP}{UP}{UP}Z", "\n\n\n"],
    ["abc", "\r", "\r\n", "   long line\rX"],
    ["\n\n\n", "tail"],
]


class ReferenceText(console_monitor._ConsoleMonitor_Threads):
    """The reference's text buffer without its socket."""

    def _monitor_init(self):
        pass


def reference_text(stream, max_lines, nlines=None):
    ref = ReferenceText(max_msgs=0, max_lines=max_lines)
    for fragment in stream:
        ref._add_msg_to_text_buffer({"msg": fragment})
        ref._adjust_text_buffer_size()
    return ref._text_generate(nlines)


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("max_lines", [1, 2, 3, 1000])
def test_text_matches_the_reference(stream, max_lines):
    ours = ConsoleText(max_lines)
    for fragment in stream:
        ours.add(fragment)
    assert ours.text() == reference_text(stream, max_lines)
    for nlines in (1, 2, 5):
        assert ours.text(nlines) == reference_text(stream, max_lines, nlines)


def test_special_sequences_as_the_reference_suite_expects():
    ours = ConsoleText()
    for fragment in STREAMS[0]:
        ours.add(fragment)
    assert ours.text() == "One six three four five\nSix two three four five"


def test_uid_and_cache_follow_every_change():
    text = ConsoleText()
    text.add("50%")
    uid, first = text.uid, text.text()
    text.add("\r75%")  # same number of lines, new content: the reference returns it stale
    assert text.uid != uid and text.text() == "75%" != first
    uid = text.uid
    assert text.text() == text.text() and text.uid == uid  # reading changes nothing
    text.clear()
    assert text.uid != uid and text.text() == ""


def test_nlines_zero_or_negative_is_empty_and_max_lines_trims():
    text = ConsoleText()
    text.add("a\nb\nc")  # no trailing newline: the reference returns everything for text(0)
    assert text.text(0) == "" and text.text(-1) == ""
    text.max_lines = 2
    assert text.text() == "b\nc"
    text.max_lines = 0  # text processing off
    text.add("more\n")
    assert text.text() == ""
