"""Terminal-like text buffer for the RE Manager console stream (``QS_Console``).

The manager publishes stdout/stderr *fragments*, not lines: a table row and its ``"\\n"`` arrive
as separate messages, and progress bars redraw themselves with ``"\\r"`` and ``ESC[A``.  Showing
the fragments one per line (or appending them blindly to a text widget) garbles both, so the
console view feeds them through this buffer, which reproduces the text-buffer semantics of the
reference client (``bluesky_queueserver_api.console_monitor``):

* the buffer is a list of lines plus a cursor ``(line, col)``;
* plain text overwrites the line at the cursor (it does not insert); a line shorter than the
  cursor column is first padded with spaces;
* ``"\\n"`` moves to column 0 of the next line, appending an empty line only when the cursor was
  on the last one; ``"\\r"`` moves to column 0; ``ESC[A`` moves up one line (not above line 0);
* the buffer is trimmed from the top to ``max_lines`` (a trailing empty line is not counted) and
  the cursor line index shifts with it;
* ``text(nlines)`` joins the last ``nlines`` lines, leaving out a trailing empty line.

Deliberate differences from the reference, each because the reference shows garbage or can
grow without bound:

* Other escape sequences are interpreted or dropped instead of being printed: CSI sequences
  (``ESC[31m`` colours, ``ESC[?25l`` ...) are removed; ``ESC[nA/B/C/D/G`` move the cursor
  (up/down/right/left/to column) and ``ESC[K`` / ``ESC[1K`` / ``ESC[2K`` erase to the end of /
  the start of / the whole line.  OSC sequences (``ESC]...BEL``, e.g. terminal titles) and
  two-character escapes are dropped.  A sequence split across fragments is kept pending until
  its end arrives, so the result never depends on where the stream was cut.  ``"\\b"`` moves the
  cursor left; other C0 control characters except ``"\\t"`` are dropped.
* A line holds at most ``max_line_chars`` characters (default 10,000): text written past that
  column is discarded, so one 10 MB fragment without a newline costs 10,000 characters.
* Trimming happens as soon as the buffer exceeds ``max_lines``, not once per fragment, so a
  single huge fragment never holds more than ``max_lines`` lines either.  The only visible
  consequence is that an ``ESC[A`` inside the same fragment cannot reach lines that the
  reference would have dropped at the end of that fragment anyway.
* ``max_lines`` must be at least 1 (the reference uses 0 to switch text processing off; here
  the caller simply stops feeding the buffer).

Change tracking: the buffer remembers what changed since the last :meth:`ConsoleBuffer.take_changes`
(lines dropped from the top, lines edited in place, lines appended), so a view can update in
O(changed lines) however large the buffer is.  No Qt here on purpose: this is the part that must
be exactly right, and it is property-tested as plain Python.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import overload

__all__ = ["MAX_LINE_CHARS", "ConsoleBuffer", "ConsoleChanges"]

#: Default cap on the length of one line (characters); see the module docstring.
MAX_LINE_CHARS = 10_000

# More edited-in-place lines than this between two take_changes() calls and the view is told to
# reset instead: the set stays small, and a reset is then no worse than the edits.
_MAX_TRACKED_UPDATES = 512
# Longest CSI parameter string we keep; longer sequences are consumed but ignored.
_MAX_CSI_PARAMS = 32

# Characters that end a run of plain text: C0 controls except TAB, plus DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CSI_BODY = re.compile(r"[\x20-\x3f]*")  # parameter and intermediate bytes
_NF_BODY = re.compile(r"[\x20-\x2f]*")  # intermediate bytes of an ESC sequence
_OSC_END = re.compile(r"[\x07\x1b\n]")  # BEL or ESC (for ST) ends an OSC; "\n" aborts it

_GROUND, _ESC, _CSI, _OSC, _OSC_ESC, _NF = range(6)


@dataclass(frozen=True)
class ConsoleChanges:
    """What changed in a :class:`ConsoleBuffer` since the previous ``take_changes()``.

    Apply in this order to the list of lines the view holds (:meth:`apply` does exactly this):

    1. if ``reset``: drop everything the view holds;
    2. ``del lines[:removed_top]``;
    3. ``lines[i] = text`` for each ``(i, text)`` in ``updated`` (indices after step 2);
    4. ``lines.extend(appended)``.

    With ``reset`` set, ``appended`` is the whole buffer and the other fields are empty.
    """

    reset: bool = False
    removed_top: int = 0
    updated: tuple[tuple[int, str], ...] = ()
    appended: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True if applying these changes would be a no-op (the view can skip the repaint)."""
        return not (self.reset or self.removed_top or self.updated or self.appended)

    def apply(self, lines: list[str]) -> None:
        """Apply the changes to a plain list mirror in place (the reference for views)."""
        if self.reset:
            lines.clear()
        del lines[: self.removed_top]
        for index, text in self.updated:
            lines[index] = text
        lines.extend(self.appended)


class _LinesView(Sequence[str]):
    """Live read-only view of the buffer's lines (no copy; changes as the buffer does)."""

    __slots__ = ("_lines",)

    def __init__(self, lines: deque[str]) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return list(self._lines)[index]
        return self._lines[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __repr__(self) -> str:
        return f"<console lines: {len(self._lines)}>"


class ConsoleBuffer:
    """Lines plus a cursor, fed with raw console fragments; see the module docstring.

    Memory is bounded by ``max_lines + 1`` lines of at most ``max_line_chars`` characters,
    whatever is written.
    """

    def __init__(self, max_lines: int = 10_000, *, max_line_chars: int = MAX_LINE_CHARS) -> None:
        if max_line_chars < 1:
            raise ValueError(f"max_line_chars must be at least 1, got {max_line_chars}")
        self._max_line_chars = max_line_chars
        self._max_lines = self._check_max_lines(max_lines)
        self._lines: deque[str] = deque()
        self._line = 0  # cursor line (index into _lines)
        self._col = 0  # cursor column
        # Escape-sequence parser state, kept across write() calls.
        self._state = _GROUND
        self._params = ""
        # Change tracking.  Line numbers here are *absolute*: index + lines ever trimmed, so
        # they stay valid while the top is trimmed and never need shifting.
        self._trimmed_total = 0
        self._view_start = 0  # absolute number of the first line the view holds
        self._view_end = 0  # one past the last line the view holds
        self._dirty: set[int] = set()
        self._reset = False

    # ------------------------------------------------------------------ properties

    @staticmethod
    def _check_max_lines(value: int) -> int:
        if value < 1:
            raise ValueError(f"max_lines must be at least 1, got {value}")
        return int(value)

    @property
    def max_lines(self) -> int:
        """Lines kept (a trailing empty line is not counted); setting it trims at once."""
        return self._max_lines

    @max_lines.setter
    def max_lines(self, value: int) -> None:
        self._max_lines = self._check_max_lines(value)
        self._trim()

    @property
    def max_line_chars(self) -> int:
        """Longest line kept; text written beyond this column is discarded."""
        return self._max_line_chars

    @property
    def lines(self) -> Sequence[str]:
        """The lines, as a live read-only sequence (copy with ``list()`` to keep a snapshot)."""
        return _LinesView(self._lines)

    @property
    def cursor(self) -> tuple[int, int]:
        """``(line, col)`` where the next character will be written."""
        return self._line, self._col

    # ------------------------------------------------------------------ reading

    def text(self, nlines: int | None = None) -> str:
        """The last ``nlines`` lines joined by ``"\\n"``, without a trailing empty line.

        Same rules as the reference ``text()``: ``None`` means all lines, ``nlines <= 0``
        gives ``""``.
        """
        lines = self._lines
        end = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
        count = end if nlines is None else max(0, min(nlines, end))
        skip_at_end = len(lines) - end
        tail = list(islice(reversed(lines), skip_at_end, skip_at_end + count))
        tail.reverse()
        return "\n".join(tail)

    def find(
        self,
        pattern: str,
        start_line: int,
        backwards: bool = False,
        case_sensitive: bool = False,
        *,
        start_col: int | None = None,
    ) -> tuple[int, int] | None:
        """Position ``(line, col)`` of the nearest match of the literal ``pattern``.

        Searching forward, the first match at or after ``(start_line, start_col)`` (``start_col``
        defaults to 0); backwards, the last match that starts on ``start_line`` before
        ``start_col`` (default: anywhere on that line) or on an earlier line.  No wrap-around:
        the caller decides whether to start again from the other end.  Returns None for an
        empty pattern or no match.
        """
        n = len(self._lines)
        if not pattern or n == 0:
            return None
        regex = re.compile(re.escape(pattern), 0 if case_sensitive else re.IGNORECASE)
        if backwards:
            if start_line < 0:
                return None
            line_no = min(start_line, n - 1)
            limit = start_col if (start_col is not None and line_no == start_line) else None
            for index in range(line_no, -1, -1):
                col = _last_match(regex, self._lines[index], limit)
                if col is not None:
                    return index, col
                limit = None
            return None
        line_no = max(start_line, 0)
        pos = (start_col or 0) if line_no == start_line else 0
        for index, line in enumerate(islice(self._lines, line_no, None), start=line_no):
            m = regex.search(line, pos)
            if m is not None:
                return index, m.start()
            pos = 0
        return None

    # ------------------------------------------------------------------ writing

    def clear(self) -> None:
        """Drop all text and any half-received escape sequence; the view must reset."""
        self._lines.clear()
        self._line = self._col = 0
        self._state = _GROUND
        self._params = ""
        self._dirty.clear()
        self._reset = True

    def write(self, text: str) -> None:
        """Feed one raw console fragment (any size, any split point)."""
        if not text:
            return
        if not self._lines:  # as in the reference: any input starts the first line
            self._append_line()
        pos, n = 0, len(text)
        while pos < n:
            state = self._state
            if state == _GROUND:
                m = _CONTROL.search(text, pos)
                end = m.start() if m is not None else n
                if end > pos:
                    self._put_text(text, pos, end)
                if m is None:
                    return
                self._control(text[end])
                pos = end + 1
            elif state == _ESC:
                ch = text[pos]
                if ch == "[":
                    self._state, self._params = _CSI, ""
                elif ch == "]":
                    self._state = _OSC
                elif "\x20" <= ch <= "\x2f":
                    self._state = _NF
                elif "\x30" <= ch <= "\x7e":
                    self._state = _GROUND  # two-character escape: drop it
                else:
                    self._state = _GROUND  # malformed: drop ESC, reprocess ch as text
                    continue
                pos += 1
            elif state == _CSI:
                body_end = _CSI_BODY.match(text, pos).end()
                room = _MAX_CSI_PARAMS + 1 - len(self._params)
                if room > 0:
                    self._params += text[pos : min(body_end, pos + room)]
                pos = body_end
                if pos == n:
                    return  # incomplete: wait for the next fragment
                self._state = _GROUND
                if "\x40" <= text[pos] <= "\x7e":
                    self._csi(self._params, text[pos])
                    pos += 1
                # else malformed: drop the sequence, reprocess the character as text
            elif state == _OSC:
                m = _OSC_END.search(text, pos)
                if m is None:
                    return  # OSC content is never stored, so no memory grows here
                ch = m.group()
                if ch == "\x07":
                    self._state, pos = _GROUND, m.end()
                elif ch == "\x1b":
                    self._state, pos = _OSC_ESC, m.end()
                else:  # a newline aborts a runaway OSC so the console cannot go silent
                    self._state, pos = _GROUND, m.start()
            elif state == _OSC_ESC:
                if text[pos] == "\\":
                    self._state = _GROUND
                    pos += 1
                else:
                    self._state = _ESC  # ESC inside OSC starts a new sequence
            else:  # _NF
                pos = _NF_BODY.match(text, pos).end()
                if pos == n:
                    return
                self._state = _GROUND
                if "\x30" <= text[pos] <= "\x7e":
                    pos += 1

    # ------------------------------------------------------------------ changes

    def take_changes(self) -> ConsoleChanges:
        """Return what changed since the previous call and start recording afresh.

        Cost is O(changed lines), except after a reset (clear, or the top trimmed past
        everything the view held), when the whole buffer is returned.
        """
        lines = self._lines
        removed = self._trimmed_total - self._view_start
        view_len = self._view_end - self._view_start
        if self._reset or removed > view_len:
            changes = ConsoleChanges(reset=True, appended=tuple(lines))
        else:
            kept = view_len - removed  # lines the view still holds, now indices [0, kept)
            updated = tuple(
                (i, lines[i])
                for i in sorted(a - self._trimmed_total for a in self._dirty)
                if 0 <= i < kept
            )
            new = list(islice(reversed(lines), len(lines) - kept))
            new.reverse()
            changes = ConsoleChanges(removed_top=removed, updated=updated, appended=tuple(new))
        self._view_start = self._trimmed_total
        self._view_end = self._trimmed_total + len(lines)
        self._dirty.clear()
        self._reset = False
        return changes

    # ------------------------------------------------------------------ internals

    def _touch(self, index: int) -> None:
        """Record an in-place edit of line ``index`` if the view already holds that line."""
        absolute = index + self._trimmed_total
        if self._reset or absolute >= self._view_end:
            return  # the line will be sent whole (appended or reset) anyway
        self._dirty.add(absolute)
        if len(self._dirty) > _MAX_TRACKED_UPDATES:
            self._dirty.clear()
            self._reset = True

    def _append_line(self) -> None:
        self._lines.append("")
        self._trim()

    def _trim(self) -> None:
        lines = self._lines
        limit = self._max_lines + (1 if lines and lines[-1] == "" else 0)
        excess = len(lines) - limit
        if excess <= 0:
            return
        for _ in range(excess):
            lines.popleft()
        self._trimmed_total += excess
        self._line = max(self._line - excess, 0)

    def _put_text(self, text: str, start: int, end: int) -> None:
        """Overwrite at the cursor with ``text[start:end]`` (no control characters in it)."""
        col, cap = self._col, self._max_line_chars
        end = min(end, start + cap - col)  # slice only what fits: a 10 MB run costs 10 kB
        if end <= start:
            return
        chunk = text[start:end]
        index = self._line
        line = self._lines[index]
        if len(line) < col:
            line += " " * (col - len(line))
        if len(line) == col:
            line += chunk
        else:
            line = line[:col] + chunk + line[col + len(chunk) :]
        self._lines[index] = line
        self._col = col + len(chunk)
        self._touch(index)
        if index == len(self._lines) - 1:
            self._trim()  # the trailing line is no longer empty, so it now counts

    def _control(self, ch: str) -> None:
        if ch == "\n":
            self._line += 1
            self._col = 0
            if self._line >= len(self._lines):
                self._append_line()
        elif ch == "\r":
            self._col = 0
        elif ch == "\b":
            self._col = max(self._col - 1, 0)
        elif ch == "\x1b":
            self._state = _ESC
        # any other C0 control character is dropped

    def _csi(self, params: str, final: str) -> None:
        """Execute a complete CSI sequence; anything we do not model is ignored."""
        if final not in "ABCDGK" or len(params) > _MAX_CSI_PARAMS:
            return
        if params and not params.isdigit():
            return  # private modes ("?25"), several parameters, intermediates: ignore
        value = int(params) if params else 0
        count = max(value, 1)
        if final == "A":
            self._line = max(self._line - count, 0)
        elif final == "B":
            self._line = min(self._line + count, len(self._lines) - 1)
        elif final == "C":
            self._col = min(self._col + count, self._max_line_chars)
        elif final == "D":
            self._col = max(self._col - count, 0)
        elif final == "G":
            self._col = min(count - 1, self._max_line_chars)
        else:  # "K": erase in line; the cursor does not move
            index, col = self._line, self._col
            line = self._lines[index]
            if value == 0:
                new = line[:col]
            elif value == 1:
                new = " " * min(col + 1, len(line)) + line[col + 1 :]
            elif value == 2:
                new = ""
            else:
                return
            if new != line:
                self._lines[index] = new
                self._touch(index)


def _last_match(regex: re.Pattern[str], line: str, limit: int | None) -> int | None:
    """Start of the last (possibly overlapping) match beginning before ``limit``."""
    found = None
    pos = 0
    while True:
        m = regex.search(line, pos)
        if m is None or (limit is not None and m.start() >= limit):
            return found
        found = m.start()
        pos = found + 1
