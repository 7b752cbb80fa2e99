"""Connection indicator and RE Manager status panel: read-only views of the latest status.

Why it is built this way:

* Both are passive: the main window hands them the latest status / lock info / running item and
  they render it. They decide nothing (whether an action is allowed comes from ``core.gates``).
* Status replies come from a server we do not control, possibly another version: every key is
  looked up defensively and anything missing or of an unexpected type is shown as "—" instead of
  raising, so a malformed reply can never take the window down.
* The lock line prefers the status ``lock`` flags (pushed with every status, so current) and adds
  who/when/note from ``lock_info`` (fetched only when ``lock_info_uid`` changes, so it may lag).
  It is the one place the lock sentence is shown; a lock is a normal state, so it is in the
  "attention" colour, not alarm red. Its time is ISO (``2026-11-29 08:36:04``) like the history.
* Colours come from :mod:`qs_gui.ui.theme` (role colours, re-applied on a theme change).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QPalette
from PyQt5.QtWidgets import QGridLayout, QLabel, QWidget

from qs_gui.core.formatting import lock_time, words
from qs_gui.core.gates import Connection
from qs_gui.ui.theme import style_pill, style_text

__all__ = ["MISSING", "ConnectionIndicator", "StatusPanel", "describe_lock", "lock_time",
           "muted_colour"]

MISSING = "—"
#: The light variants of the role backgrounds (kept for older imports; new code: theme.py).
GREEN, BLUE, AMBER, RED, GREY = "#2e7d32", "#1565c0", "#f0a000", "#c62828", "#616161"

_CONNECTION: dict[Connection, tuple[str, str]] = {  # text, colour role
    Connection.OFFLINE: ("Offline", "alarm"),
    Connection.CONNECTING: ("Connecting…", "attention"),
    Connection.NO_STATUS: ("Connected — no status", "attention"),
    Connection.CONNECTED: ("Connected", "ok"),
}
_MANAGER_ROLES = {
    "idle": "ok",
    "executing_queue": "busy",
    "starting_queue": "busy",
    "executing_task": "busy",
    "paused": "attention",
}


def muted_colour(widget: QWidget, weight: float = 0.6) -> str:
    """Secondary text: the text colour moved towards the background; readable in light and dark
    themes alike (``palette(mid)`` is too faint on the light Fusion palette)."""
    pal = widget.palette()
    fg, bg = pal.color(QPalette.WindowText), pal.color(QPalette.Window)
    mix = [
        round(fg_c * weight + bg_c * (1 - weight))
        for fg_c, bg_c in zip(
            (fg.red(), fg.green(), fg.blue()), (bg.red(), bg.green(), bg.blue()), strict=True
        )
    ]
    return "#{:02x}{:02x}{:02x}".format(*mix)


class ConnectionIndicator(QLabel):
    """A coloured pill: Offline / Connecting… / Connected — no status / Connected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionIndicator")
        self.setAlignment(Qt.AlignCenter)
        self._state = Connection.OFFLINE
        self.set_state(Connection.OFFLINE)

    def state(self) -> Connection:
        return self._state

    def set_state(self, state: Connection, detail: str = "") -> None:
        """Show ``state``; ``detail`` (address, last error, next retry) goes into the tooltip."""
        if state not in _CONNECTION:
            state = Connection.OFFLINE
        self._state = state
        text, role = _CONNECTION[state]
        self.setText(text)
        style_pill(self, role)
        self.setToolTip(detail.strip() if isinstance(detail, str) and detail.strip() else text)
        self.setAccessibleName(f"Connection: {text}")


def _get(mapping: Mapping[str, Any] | None, key: str, types: tuple[type, ...]) -> Any:
    """The value when present and of one of ``types`` (bool is not an int here), else None."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    if isinstance(value, bool) and bool not in types:
        return None
    return value if isinstance(value, types) else None


def _on_off(value: Any, on: str = "on", off: str = "off") -> str:
    return MISSING if not isinstance(value, bool) else on if value else off


def describe_lock(flags: Mapping[str, Any] | None, info: Mapping[str, Any] | None) -> str:
    """'Environment locked by alice at 2026-11-29 08:36:04: calibration', or 'Not locked'.

    ``flags`` is the status ``lock`` dict (current), ``info`` the ``lock_info`` dict (details).
    """
    source = flags if isinstance(flags, Mapping) else info
    env, queue = _get(source, "environment", (bool,)), _get(source, "queue", (bool,))
    if env is None and queue is None:
        return MISSING
    if not env and not queue:
        return "Not locked"
    text = "Environment and queue" if env and queue else "Environment" if env else "Queue"
    text += " locked"
    info_locked = _get(info, "environment", (bool,)) or _get(info, "queue", (bool,))
    if info_locked:  # lock_info may lag behind the status flags: only use it when it agrees
        user, when = _get(info, "user", (str,)), lock_time(info)
        note = _get(info, "note", (str,))
        text += f" by {user}" if user else ""
        text += f" at {when}" if when else ""
        text += f": {note}" if note else ""
    return text


class StatusPanel(QWidget):
    """Compact grid of the RE Manager status (re-manager-protocol.md §3) and the lock."""

    # (key, label, row, column): one label/value column, so the panel fits a narrow side dock.
    # The IPython kernel row is hidden unless the manager uses a kernel.
    ROWS = (
        ("manager", "Manager", 0, 0),
        ("environment", "Environment", 1, 0),
        ("re", "Run Engine", 2, 0),
        ("kernel", "IPython kernel", 3, 0),
        ("running", "Running", 4, 0),
        ("queue", "Queue", 5, 0),
        ("history", "History", 6, 0),
        ("mode", "Queue mode", 7, 0),
        ("autostart", "Autostart", 8, 0),
        ("stop_pending", "Stop pending", 9, 0),
        ("pause_pending", "Pause pending", 10, 0),
        ("server", "Server", 11, 0),
        ("lock", "Lock", 12, 0),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusPanel")
        self._status: Mapping[str, Any] | None = None
        self._lock_info: Mapping[str, Any] | None = None
        self._running_item: Mapping[str, Any] | None = None
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 1)
        self.labels: dict[str, QLabel] = {}
        self.values: dict[str, QLabel] = {}
        for key, text, row, col in self.ROWS:
            label = QLabel(text + ":")
            style_text(label, "muted")
            value = QLabel(MISSING, objectName=f"status_{key}", wordWrap=key == "lock")
            value.setTextInteractionFlags(Qt.TextSelectableByMouse)
            grid.addWidget(label, row, col)
            if key == "lock":  # long: wrapped
                grid.addWidget(value, row, col + 1)
            else:  # left-aligned: the manager state pill hugs its text, not the whole column
                grid.addWidget(value, row, col + 1, Qt.AlignLeft | Qt.AlignVCenter)
            self.labels[key], self.values[key] = label, value
        self._render()

    # ----- inputs ------------------------------------------------------------------------------
    def set_status(self, status: Mapping[str, Any] | None) -> None:
        self._status = status if isinstance(status, Mapping) else None
        self._render()

    def set_lock_info(self, lock_info: Mapping[str, Any] | None) -> None:
        self._lock_info = lock_info if isinstance(lock_info, Mapping) else None
        self._render()

    def set_running_item(self, item: Mapping[str, Any] | None) -> None:
        """The running item (from ``queue_get``'s ``running_item``) so its name can be shown."""
        self._running_item = item if isinstance(item, Mapping) and item else None
        self._render()

    def text(self, key: str) -> str:
        """The shown value of one row (for tests and copy/paste)."""
        return self.values[key].text()

    # ----- rendering ---------------------------------------------------------------------------
    def _render(self) -> None:
        s = self._status
        texts = {
            "manager": words(_get(s, "manager_state", (str,))) if _get(
                s, "manager_state", (str,)) else MISSING,
            "environment": self._environment(s),
            "re": self._nullable(s, "re_state", "none"),
            "kernel": self._kernel(s),
            "running": self._running(s),
            "server": _get(s, "msg", (str,)) or MISSING,
            "queue": _count(_get(s, "items_in_queue", (int,))),
            "history": _count(_get(s, "items_in_history", (int,))),
            "mode": self._mode(s),
            "autostart": _on_off(_get(s, "queue_autostart_enabled", (bool,))),
            "stop_pending": _on_off(_get(s, "queue_stop_pending", (bool,)), "yes", "no"),
            "pause_pending": _on_off(_get(s, "pause_pending", (bool,)), "yes", "no"),
            "lock": describe_lock(_get(s, "lock", (Mapping,)), self._lock_info),
        }
        for key, text in texts.items():
            self.values[key].setText(text)
        kernel_shown = texts["kernel"] != MISSING
        self.labels["kernel"].setVisible(kernel_shown)
        self.values["kernel"].setVisible(kernel_shown)
        manager = _get(s, "manager_state", (str,))
        role = _MANAGER_ROLES.get(manager, "off") if manager else None
        if manager == "idle" and _get(s, "worker_environment_exists", (bool,)) is not True:
            role = "off"  # idle without an environment is not "ready": never green
        style_pill(self.values["manager"], role)
        when = _get(s, "time", (str,))
        raw = f"manager_state: {manager}" if manager else ""
        self.values["manager"].setToolTip("\n".join(
            t for t in (raw, f"Last status change: {when}" if when else "") if t))
        locked = texts["lock"] not in (MISSING, "Not locked")
        style_text(self.values["lock"], "attention" if locked else None)

    @staticmethod
    def _nullable(s: Mapping[str, Any] | None, key: str, null_text: str) -> str:
        if isinstance(s, Mapping) and key in s and s[key] is None:
            return null_text
        return _get(s, key, (str,)) or MISSING

    @staticmethod
    def _environment(s: Mapping[str, Any] | None) -> str:
        exists = _get(s, "worker_environment_exists", (bool,))
        state = _get(s, "worker_environment_state", (str,))
        if exists is None and state is None:
            return MISSING
        text = MISSING if exists is None else "open" if exists else "closed"
        if state and state != text:
            text += f" ({state})"
        tasks = _get(s, "worker_background_tasks", (int,))
        if tasks:
            text += f", {tasks} background task{'s' if tasks != 1 else ''}"
        return text

    @staticmethod
    def _kernel(s: Mapping[str, Any] | None) -> str:
        state = _get(s, "ip_kernel_state", (str,))
        if not state or state == "disabled":  # Python worker, or no environment: not relevant
            return MISSING
        if _get(s, "ip_kernel_captured", (bool,)) is False and state != "idle":
            return f"{state} (work started outside the queue server)"
        return state

    def _running(self, s: Mapping[str, Any] | None) -> str:
        if isinstance(s, Mapping) and "running_item_uid" in s and s["running_item_uid"] is None:
            return "none"
        uid = _get(s, "running_item_uid", (str,))
        if not uid:
            return MISSING
        item = self._running_item or {}
        item_uid = item.get("item_uid")
        name = item.get("name") if item_uid in (None, uid) else None
        name = name if isinstance(name, str) and name else ""
        return f"{name} ({uid[:8]})" if name else uid[:8]

    @staticmethod
    def _mode(s: Mapping[str, Any] | None) -> str:
        mode = _get(s, "plan_queue_mode", (Mapping,))
        loop = _on_off(_get(mode, "loop", (bool,)))
        ignore = _on_off(_get(mode, "ignore_failures", (bool,)))
        if loop == MISSING and ignore == MISSING:
            return MISSING
        return f"loop {loop} · ignore failures {ignore}"


def _count(n: int | None) -> str:
    return MISSING if n is None else f"{n} item{'s' if n != 1 else ''}"
