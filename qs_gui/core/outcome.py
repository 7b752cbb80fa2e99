"""What happened to one operator command, as a kind the caller can branch on.

The message text is for the operator; code decides on ``kind`` and never parses the text."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class OutcomeKind(enum.Enum):
    DONE = "done"  #: accepted by the server (or, after a lost reply, shown to have taken effect)
    REFUSED = "refused"  #: the server answered and said no; ``error`` carries its message
    NOT_SENT = "not_sent"  #: never left the client: invalid, already in progress, closed
    READ_ONLY = "read_only"  #: refused by a read-only (monitor) client before sending
    NOT_APPLIED = "not_applied"  #: reply lost; the server's state shows it did not take effect
    UNKNOWN = "unknown"  #: reply lost and whether it took effect cannot be told (yet)


@dataclass(frozen=True)
class Outcome:
    """Result of one operator command."""

    kind: OutcomeKind
    result: Any = None  #: the server's reply (DONE)
    error: str = ""  #: the plain-words message the operator was shown (not DONE)
    timed_out: bool = False  #: the reply was lost (NOT_APPLIED / UNKNOWN, or DONE reconciled)
    #: after a lost reply: "applied", "not_applied" or "unknown" (see core/reconcile.py)
    reconciled: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.DONE

    @property
    def refused(self) -> bool:
        """The server refused it: its message may point at a field of the item."""
        return self.kind is OutcomeKind.REFUSED
