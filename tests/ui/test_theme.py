"""Theme: readable colour pairs in light and dark, the live switch; the plot and window follow."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from PyQt5.QtGui import QPalette  # noqa: E402
from PyQt5.QtWidgets import QApplication, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from qs_gui.core.operator_state import ROLES as STATE_ROLES  # noqa: E402
from qs_gui.core.profiles import AppSettings, Keys  # noqa: E402
from qs_gui.ui import theme  # noqa: E402
from qs_gui.ui.resources import style_sheet  # noqa: E402
from qs_gui.ui.theme import (  # noqa: E402
    OUTCOMES,
    ROLES,
    contrast,
    dark_palette,
    light_palette,
    outcome_colours,
    outcome_text,
    role_colours,
    role_text,
    theme_manager,
)

PALETTES = {"light": light_palette, "dark": dark_palette}
#: light colours the style sheets used to hard-code, plus the light variants of the role table
OLD_LIGHT = {"#eef1f4", "#f3f5f7", "#fdfdfe", "#dde2e7", "#d3d9df", "#e3e7eb", "#e0e4e8",
             "#b4bfcb", "#b8c2cc", "#1b1f23", "#fff3cd", "#7a4b00", "#ffe082", "#666", "#666666",
             "#222", "#555555", "#c62828", "#b3261e", "#1f7a3a", "#8a5a00", "#1a4f9c",
             "#2e7d32", "#1565c0", "#f0a000", "#757575", "#616161", "#b71c1c", "#1b5e20",
             "#0d47a1", "#7a4f00", "#a01818", "white", "#ffffff", "#fff"}  # fmt: skip


@pytest.fixture
def restore_theme(qapp) -> Iterator[None]:
    yield
    theme_manager().set_mode("system")


def _backgrounds(palette: QPalette) -> list:
    return [palette.color(r) for r in (QPalette.Base, QPalette.Window, QPalette.AlternateBase)]


def _over(colour, alpha: int, base):
    """``colour`` at ``alpha`` (0-255) painted over ``base``."""
    from PyQt5.QtGui import QColor

    a = alpha / 255
    return QColor(*(round(c * a + b * (1 - a)) for c, b in
                    zip(colour.getRgb()[:3], base.getRgb()[:3], strict=True)))  # fmt: skip


# -- contrast --------------------------------------------------------------------------------------
def test_contrast_formula_matches_wcag() -> None:
    from PyQt5.QtGui import QColor

    assert contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)
    assert contrast(QColor("#123456"), QColor("#123456")) == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_every_role_and_outcome_pair_reads_at_4_5(qapp, mode: str) -> None:
    dark = mode == "dark"
    palette = PALETTES[mode]()
    assert theme.is_dark(palette) is dark
    for role in ROLES:
        bg, fg = role_colours(role, dark)
        assert contrast(bg, fg) >= 4.5, (mode, role, bg.name(), fg.name())
        for base in _backgrounds(palette):
            assert contrast(role_text(role, dark), base) >= 4.5, (mode, role, base.name())
    for outcome in OUTCOMES:
        bg, fg = outcome_colours(outcome, dark)
        assert contrast(bg, fg) >= 4.5, (mode, outcome)
        for base in _backgrounds(palette):
            assert contrast(outcome_text(outcome, dark), base) >= 4.5, (mode, outcome)
    # table cells: outcome text on its see-through tint (history 40, queue 50 alpha) over Base
    for outcome in OUTCOMES:
        tint = outcome_colours(outcome, dark)[0]
        for base in _backgrounds(palette)[::2]:  # rows: Base and AlternateBase
            cell = _over(tint, 50, base)
            assert contrast(outcome_text(outcome, dark), cell) >= 4.5, (mode, outcome)
    # palette text itself (the dark palette is ours: check it too)
    for base in _backgrounds(palette):
        assert contrast(palette.color(QPalette.Text), base) >= 4.5


def test_roles_cover_the_operator_state_and_mean_one_thing() -> None:
    assert set(STATE_ROLES.values()) <= set(ROLES)
    assert theme.outcome_role("failed") == "alarm"  # only a failure is red
    for requested in ("stopped", "aborted", "halted"):
        assert theme.outcome_role(requested) == "attention"
    assert theme.outcome_role("completed") == "ok" and theme.outcome_role("running") == "busy"
    assert theme.outcome_role("something new") == "off" and theme.outcome_role(None) == "off"
    for dark in (False, True):  # one distinct background per role
        assert len({role_colours(r, dark)[0].name() for r in ROLES}) == len(ROLES)


# -- the switch ------------------------------------------------------------------------------------
def test_switching_changes_palette_style_sheet_and_persists(qapp, qtbot: QtBot,
                                                           restore_theme) -> None:  # fmt: skip
    store: dict = {}
    settings = AppSettings(store)
    manager = theme_manager()
    with qtbot.waitSignal(manager.changed) as blocker:
        manager.set_mode("dark", settings)
    assert blocker.args == [True] and manager.mode == "dark" and theme.is_dark()
    assert QApplication.palette().color(QPalette.Window).name() == "#202124"
    assert store[Keys.THEME] == "dark" and AppSettings(store).theme == "dark"
    with qtbot.waitSignal(manager.changed) as blocker:
        manager.set_mode("light", settings)
    assert blocker.args == [False] and not theme.is_dark() and settings.theme == "light"
    settings.set_theme("nonsense")
    assert settings.theme == "system"
    store[Keys.THEME] = "purple"  # a hand-edited value is ignored
    assert AppSettings(store).theme == "system"


def test_style_sheet_has_no_hard_coded_colour() -> None:
    body = style_sheet().split("*/", 1)[1]
    assert "QDockWidget::title" in body and "palette(" in body
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b|rgba?\(", body)


def test_styled_widgets_recolour_on_switch(qapp, qtbot: QtBot, restore_theme) -> None:
    from PyQt5.QtWidgets import QLabel

    pill, text = QLabel("Idle"), QLabel("failed")
    for w in (pill, text):
        qtbot.addWidget(w)
    theme_manager().set_mode("light")
    theme.style_pill(pill, "ok")
    theme.style_text(text, "alarm", bold=True)
    assert role_colours("ok", False)[0].name() in pill.styleSheet()
    assert role_text("alarm", False).name() in text.styleSheet() and "bold" in text.styleSheet()
    theme_manager().set_mode("dark")
    assert role_colours("ok", True)[0].name() in pill.styleSheet()
    assert role_text("alarm", True).name() in text.styleSheet()
    assert role_text("alarm", False).name() not in text.styleSheet()


def test_theme_menu_applies_saved_choice_and_switches(qapp, qtbot: QtBot,
                                                      restore_theme) -> None:  # fmt: skip
    from PyQt5.QtWidgets import QMainWindow

    settings = AppSettings({Keys.THEME: "dark"})
    window = QMainWindow()
    qtbot.addWidget(window)
    menu = theme.install_theme_menu(window, window.menuBar().addMenu("&View"), settings)
    actions = {a.data(): a for a in menu.actions()}
    assert list(actions) == ["system", "light", "dark"]
    assert theme.is_dark() and actions["dark"].isChecked()  # the saved choice, applied
    actions["light"].trigger()
    assert not theme.is_dark() and actions["light"].isChecked() and settings.theme == "light"
    actions["system"].trigger()
    assert settings.theme == "system" and theme_manager().mode == "system"


# -- the plot ------------------------------------------------------------------------------
def test_plot_follows_the_palette(qapp, qtbot: QtBot, restore_theme) -> None:
    from qs_gui.ui.plot_canvas import PlotCanvas, curve_color

    theme_manager().set_mode("light")
    parent = QWidget()
    qtbot.addWidget(parent)
    restyled: list[bool] = []
    canvas = PlotCanvas(parent, lambda: None, lambda x, y: None,
                        on_theme=lambda: restyled.append(True))  # fmt: skip
    canvas.resize(300, 200)
    light_bg = canvas.backgroundBrush().color()
    assert light_bg == QApplication.palette().color(QPalette.Base)
    light_curve = curve_color(0, False)
    theme_manager().set_mode("dark")
    dark_bg = canvas.backgroundBrush().color()
    assert dark_bg == dark_palette().color(QPalette.Base) and dark_bg != light_bg
    axis = canvas.getPlotItem().getAxis("left")
    assert axis.textPen().color() == dark_palette().color(QPalette.Text)
    assert restyled and curve_color(0, False) != light_curve  # the dark curve set
    assert contrast(curve_color(0, False), dark_bg) >= 3.0
    image = canvas.grab().toImage()
    assert image.pixelColor(2, 2).lightness() < 80  # not the glaring white of before


# -- the whole window ----------------------------------------------------------------------------
def test_no_light_colour_left_in_the_window_in_dark_mode(qapp, qtbot: QtBot,
                                                         restore_theme) -> None:  # fmt: skip
    from qs_gui.client import REManagerAPI
    from qs_gui.core.gates import Connection
    from qs_gui.core.session import Session
    from qs_gui.ui.main_window import MainWindow

    session = Session(REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9"))
    window = MainWindow(session, app_settings=AppSettings({}))
    qtbot.addWidget(window)
    window.status_panel.set_status({"manager_state": "paused", "items_in_queue": 1,
                                    "lock": {"environment": True, "queue": False}})  # fmt: skip
    window.status_panel.set_lock_info({"environment": True, "user": "alice", "time": 1.8e9})
    window.indicator.set_state(Connection.CONNECTED)
    window.plot_dock.ensure_plot()
    theme_menu = window.findChild(type(window.view_menu), "themeMenu")
    assert theme_menu is not None, "View ▸ Theme is installed"
    dark = next(a for a in theme_menu.actions() if a.data() == "dark")
    dark.trigger()
    assert theme.is_dark()
    offenders = []
    for widget in [window, *window.findChildren(QWidget)]:
        sheet = widget.styleSheet().lower()
        found = {c for c in OLD_LIGHT if re.search(re.escape(c) + r"(?![0-9a-f])", sheet)}
        if found:
            offenders.append((widget.metaObject().className(), widget.objectName(), found))
    assert not [o for o in offenders if o[1] not in NOT_YET_THEMED], offenders
    assert not re.search(r"#[0-9a-f]{3,8}\b", QApplication.instance().styleSheet().lower())
    # a widget with a style sheet of its own (the bold Execute button) follows the new palette
    # too: its disabled text must not keep the light theme's grey, which reads as enabled on dark
    app_palette = QApplication.palette()
    stale = [(w.metaObject().className(), w.objectName())
             for w in window.findChildren(QWidget) if w.styleSheet() and any(
                 w.palette().color(group, role) != app_palette.color(group, role)
                 for group in (QPalette.Active, QPalette.Disabled)
                 for role in (QPalette.ButtonText, QPalette.WindowText))]
    assert "executeNowButton" not in {name for _cls, name in stale}, stale


#: objectNames of widgets in files owned by others that still set light colours (to be fixed with
#: theme.style_pill / style_text); empty this as they are fixed.
NOT_YET_THEMED: set[str] = set()


def test_standard_icons_stay_visible_in_dark(qapp, qtbot: QtBot, restore_theme) -> None:
    from PyQt5.QtWidgets import QAction, QStyle

    def mean_lightness(action: QAction) -> float:
        image = action.icon().pixmap(24, 24).toImage()
        px = [image.pixelColor(x, y) for y in range(24) for x in range(24)]
        opaque = [c.lightness() for c in px if c.alpha() > 128]
        assert opaque, "the icon has a glyph"
        return sum(opaque) / len(opaque)

    owner = QWidget()
    qtbot.addWidget(owner)
    action = QAction("Start queue", owner)
    theme_manager().set_mode("light")
    theme.set_standard_icon(action, QStyle.SP_MediaSeekForward)
    light = mean_lightness(action)
    theme_manager().set_mode("dark")  # re-tinted on the switch, no call needed
    assert mean_lightness(action) > 150 > light
    theme.set_standard_icon(action, None)
    assert action.icon().isNull()
