"""The console monitor's text buffer: console fragments rendered as a terminal would show them.

The reference client's rules (``bluesky_queueserver_api/console_monitor.py``): a list of lines
and a cursor (line, column); plain text overwrites at the cursor (a short line is padded with
spaces first); ``"\\n"`` moves to column 0 of the next line, appending a line only from the last
one; ``"\\r"`` moves to column 0; ``ESC[A`` moves up one line (not above the first). After each
fragment the buffer is trimmed from the top to ``max_lines`` (a trailing empty line is not
counted); ``max_lines == 0`` turns text processing off. ``uid`` changes whenever the text may
have changed, so a viewer re-reads only then.

Two reference quirks are not copied: its cache of rendered text is never invalidated by new
fragments (a redrawn progress bar could be returned stale), and ``text(0)`` returns the whole
buffer when it does not end with an empty line (its documentation promises ``""``).
"""

from __future__ import annotations

import re
import uuid

_CONTROL = re.compile(r"\n|\r|\x1b\[A")


class ConsoleText:
    """Lines and cursor; ``add(fragment)``, then ``text(nlines)``."""

    def __init__(self, max_lines: int = 1000) -> None:
        self._lines: list[str] = []
        self._line = 0
        self._col = 0
        self._max_lines = max(int(max_lines), 0)
        self._rendered: dict[int, str] = {}
        self.uid = str(uuid.uuid4())

    def _changed(self) -> None:
        self._rendered.clear()
        self.uid = str(uuid.uuid4())

    @property
    def max_lines(self) -> int:
        return self._max_lines

    @max_lines.setter
    def max_lines(self, max_lines: int) -> None:
        self._max_lines = max(int(max_lines), 0)
        self._trim()

    def clear(self) -> None:
        self._lines.clear()
        self._line = self._col = 0
        self._changed()

    def add(self, fragment: str) -> None:
        """Render one console fragment (ignored while ``max_lines`` is 0)."""
        if self._max_lines and fragment:
            pos = 0
            for match in _CONTROL.finditer(fragment):
                self._write(fragment[pos:match.start()])
                self._control(match.group())
                pos = match.end()
            self._write(fragment[pos:])
        self._trim()

    def _write(self, text: str) -> None:
        if not text:
            return
        if not self._lines:
            self._lines.append("")
            self._line = self._col = 0
        line = self._lines[self._line]
        if len(line) < self._col:
            line += " " * (self._col - len(line))
        self._lines[self._line] = line[:self._col] + text + line[self._col + len(text):]
        self._col += len(text)

    def _control(self, code: str) -> None:
        if not self._lines:
            self._lines.append("")
            self._line = self._col = 0
        if code == "\n":
            self._line += 1
            if self._line >= len(self._lines):
                self._lines.append("")
            self._col = 0
        elif code == "\r":
            self._col = 0
        elif self._line:  # ESC[A
            self._line -= 1

    def _trim(self) -> None:
        limit = self._max_lines + (1 if self._lines and self._lines[-1] == "" else 0)
        excess = len(self._lines) - limit
        if excess > 0:
            del self._lines[:excess]
            self._line = max(self._line - excess, 0)
        self._changed()

    def text(self, nlines: int | None = None) -> str:
        """The last ``nlines`` lines (all if None) joined with "\\n", without a trailing empty
        line; "" for ``nlines <= 0``."""
        lines = self._lines[:-1] if self._lines and self._lines[-1] == "" else self._lines
        n = len(lines) if nlines is None else min(max(int(nlines), 0), len(lines))
        if n not in self._rendered:
            self._rendered[n] = "\n".join(lines[len(lines) - n:]) if n else ""
        return self._rendered[n]
