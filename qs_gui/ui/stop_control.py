"""The Stop control: one always-visible place on the main toolbar to stop what runs.

While a plan runs (a queue item or Execute now) it is one large red **Stop now** button: the
``RE_PAUSE_IMMEDIATE`` action (Ctrl+Shift+Space), which pauses at once. Once the Run Engine is
paused, the same place shows **Resume (F8) · Stop plan (Shift+F8) · Abort… · Halt…** side by side.
With nothing running it stays in place, greyed, so the operator always knows where it is.

Why a row of buttons and not a menu that pops open: an operator stopping a plan is in a hurry and
must see every way out at once. A row is one click per choice, shows each one's state and
shortcut in its tooltip, cannot close under the pointer when the next status arrives, and sits
exactly where Stop now was clicked. A drop-down menu hides the choices behind a second click.

Why it is thin: every button is a gated QAction of the ActionRegistry (``setDefaultAction``), so
enabled state, reasons and the server's rules come from ``core/gates.py`` alone (Abort, Halt and
Stop plan are only enabled once the plan is paused: the server refuses them while it runs). The
control only chooses which page to show, from the run phase of the same gate snapshot.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import (
    QHBoxLayout,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from ..core.gates import Action, Gates, Phase
from .actions import ActionRegistry
from .theme import css, role_colours, theme_manager

__all__ = ["PAUSED_CHOICES", "StopControl"]

#: what the paused page offers, in the order an operator usually wants them
PAUSED_CHOICES = (Action.RE_RESUME, Action.RE_STOP, Action.RE_ABORT, Action.RE_HALT)



def _stop_style() -> str:
    """The alarm role's colours (ui/theme.py) only while it can act; disabled, it takes the
    palette's greyed look. The pair keeps its contrast on light and dark palettes alike."""
    bg, fg = role_colours("alarm")
    return (f"QToolButton:enabled {{ background: {css(bg)}; color: {css(fg)}; "
            f"font-weight: bold; border: 1px solid {css(bg.darker(130))}; border-radius: 3px; "
            f"padding: 2px 10px; }}"
            f"QToolButton:enabled:hover {{ background: {css(bg.darker(110))}; }}"
            f"QToolButton:enabled:pressed {{ background: {css(bg.darker(130))}; }}")

_RESUME_STYLE = "QToolButton:enabled { font-weight: bold; }"


def _button(parent: QWidget, registry: ActionRegistry, action: Action, name: str) -> QToolButton:
    button = QToolButton(parent)
    button.setObjectName(name)
    button.setDefaultAction(registry[action])
    button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
    button.setAutoRaise(False)
    return button


class StopControl(QStackedWidget):
    """Stop now while running; Resume / Stop plan / Abort / Halt once paused (see the module
    docstring). ``page`` is "stop" or "paused"."""

    def __init__(self, registry: ActionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stopControl")
        self.stop_button = _button(self, registry, Action.RE_PAUSE_IMMEDIATE, "stopNowButton")
        self.stop_button.setStyleSheet(_stop_style())
        theme_manager().connect_recolour(
            self, lambda: self.stop_button.setStyleSheet(_stop_style()))
        self.stop_button.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        font = self.stop_button.font()
        font.setPointSizeF(font.pointSizeF() * 1.2 if font.pointSizeF() > 0 else 11)
        choice_font = QFont(font)  # the paused choices: as large, bold only for Resume
        font.setBold(True)
        self.stop_button.setFont(font)
        self.addWidget(self.stop_button)

        self.paused_row = QWidget(self)
        self.paused_row.setObjectName("pausedChoices")
        row = QHBoxLayout(self.paused_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.choices: dict[Action, QToolButton] = {}
        for action in PAUSED_CHOICES:
            button = _button(self.paused_row, registry, action, f"paused_{action.value}")
            button.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
            button.setFont(choice_font)
            row.addWidget(button)
            self.choices[action] = button
        self.choices[Action.RE_RESUME].setStyleSheet(_RESUME_STYLE)
        self.addWidget(self.paused_row)
        self.setCurrentWidget(self.stop_button)
        # as wide as the paused row (the widest page), never stretched across the toolbar
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Preferred)
        registry.applied.append(self.set_gates)

    @property
    def page(self) -> str:
        return "paused" if self.currentWidget() is self.paused_row else "stop"

    def set_gates(self, gates: Gates) -> None:
        """Show the paused choices while the plan is paused, else Stop now."""
        wanted = self.paused_row if gates.phase is Phase.PAUSED else self.stop_button
        if self.currentWidget() is not wanted:
            self.setCurrentWidget(wanted)
