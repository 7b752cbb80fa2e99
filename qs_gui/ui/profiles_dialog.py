"""Connection profiles in the Qt layer: chooser/editor dialog, QSettings adapter, profile styling.

Why it is built this way:

* The dialog is a thin editor over ``core.profiles.AppSettings``: validation (addresses, the
  public key, no secrets) lives in the Qt-free ``Profile``, and its messages appear under the form.
* At start (``choose_profile``) it is modal and returns the profile to connect with. From the
  menu (``show_profiles``) one window stays one connection: choosing a *different* profile opens a
  second qs-gui process for it, so a window never silently swaps the beamline under the operator.
* ``apply_profile_style`` makes the beamline impossible to miss: "[ID12] " in the window title
  (task bar, window switcher) and a full-width band in the profile's colour above the toolbar.
* ``QSettingsStore`` adapts QSettings to the ``MutableMapping`` that ``AppSettings`` expects, so
  the same checks that the tests run on a dict guard the real settings file.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from dataclasses import replace
from typing import Any

from PyQt5.QtCore import QProcess, QSettings, Qt
from PyQt5.QtGui import QColor, QIcon, QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..core.profiles import DEFAULT_COLOUR, AppSettings, Profile, SettingsError, contrast_text
from .theme import style_text

__all__ = ["ProfilesDialog", "QSettingsStore", "apply_profile_style", "choose_profile",
           "open_profile_window", "show_profiles"]

logger = logging.getLogger(__name__)

BAND_NAME = "profileBand"
_TITLE_PREFIX = re.compile(r"^\[[^\]]*\] ")


class QSettingsStore(MutableMapping[str, Any]):
    """QSettings as a mapping (keys like "window/geometry"); writes are synced at once."""

    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings if settings is not None else QSettings()

    def __getitem__(self, key: str) -> Any:
        if not self.qsettings.contains(key):
            raise KeyError(key)
        return self.qsettings.value(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, value)
        self.qsettings.sync()

    def __delitem__(self, key: str) -> None:
        if not self.qsettings.contains(key):
            raise KeyError(key)
        self.qsettings.remove(key)
        self.qsettings.sync()

    def __iter__(self) -> Iterator[str]:
        return iter(self.qsettings.allKeys())

    def __len__(self) -> int:
        return len(self.qsettings.allKeys())


def _swatch(colour: str, size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def _band_style(colour: str) -> str:
    return (f"QLabel {{ background: {colour}; color: {contrast_text(colour)};"
            f" font-weight: bold; padding: 4px 10px; border-radius: 3px; }}")


def _band_text(profile: Profile) -> str:
    text = f"{profile.name}  ·  {profile.control_addr or 'default address'}"
    return text + ("  ·  MONITOR (read-only)" if profile.monitor else "")


class ProfilesDialog(QDialog):
    """Choose, add, edit and delete connection profiles."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None, *,
                 current: str | None = None, template: Profile | None = None,
                 at_start: bool = True):
        super().__init__(parent)
        self.setObjectName("profilesDialog")
        self.setWindowTitle("Connection profiles — qs-gui")
        self.settings = settings
        self.template = template
        self._chosen: Profile | None = None
        self._editing: str | None = None  # stored name of the profile in the form; None: new
        self._dirty = False  # the form differs from what is stored

        self.list = QListWidget(self, objectName="profilesList")
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        add = QPushButton("Add", self, objectName="profileAdd")
        add.setToolTip("A new profile, pre-filled with the current connection")
        add.clicked.connect(self.add_new)
        self.delete_button = QPushButton("Delete…", self, objectName="profileDelete")
        self.delete_button.clicked.connect(self.delete_current)
        left_buttons = QHBoxLayout()
        left_buttons.addWidget(add)
        left_buttons.addWidget(self.delete_button)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addLayout(left_buttons)

        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        hints = {  # key: (label, placeholder, tooltip)
            "name": ("Name", "e.g. ID12", "Shown in the window title and the coloured band"),
            "control_addr": ("Control address", "tcp://host:60615",
                             "Empty: QSERVER_ZMQ_CONTROL_ADDRESS or tcp://localhost:60615"),
            "info_addr": ("Info address", "tcp://host:60625",
                          "Empty: QSERVER_ZMQ_INFO_ADDRESS or tcp://localhost:60625"),
            "public_key": ("Server public key", "40 characters, empty without encryption",
                           "The server's CURVE PUBLIC key (z85, 40 characters). Never paste a "
                           "secret key here: settings files are not secret."),
            "user": ("User", "empty: your login name", "Name sent with items"),
            "user_group": ("User group", "primary", "User group sent with items"),
            "http_uri": ("HTTP server", "empty: 0MQ; https://host/tla for bluesky-httpserver",
                         "bluesky-httpserver in front of the RE Manager; with it, the 0MQ "
                         "addresses are not used"),
            "http_login": ("Login", "user name, or empty for an API key",
                           "Log in as this user; the password is asked at start and never "
                           "stored"),
            "http_provider": ("Provider", "e.g. ldap", "The gateway's authentication provider"),
            "http_api_key_file": ("API key file", "path to a file holding the key",
                                  "Read the API key from this file (keep it readable by you "
                                  "only); the key itself is never stored in settings"),
        }
        for key, (label, placeholder, tip) in hints.items():
            edit = QLineEdit(self, objectName=f"profile_{key}")
            edit.setPlaceholderText(placeholder)
            edit.setToolTip(tip)
            edit.textEdited.connect(self._changed)
            self.fields[key] = edit
            form.addRow(f"{label}:", edit)
        self.colour_edit = QLineEdit(self, objectName="profile_colour")
        self.colour_edit.setPlaceholderText("#rrggbb")
        self.colour_edit.setMaximumWidth(100)
        self.colour_edit.textEdited.connect(self._changed)
        pick = QPushButton("Pick…", self, objectName="profileColourPick")
        pick.clicked.connect(self._pick_colour)
        self.preview = QLabel(self, objectName="profilePreview")
        self.preview.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        colour_row = QHBoxLayout()
        colour_row.addWidget(self.colour_edit)
        colour_row.addWidget(pick)
        colour_row.addWidget(self.preview, 1)
        form.addRow("Colour:", colour_row)
        self.monitor_box = QCheckBox("Monitor mode (read-only: nothing is ever sent)", self,
                                     objectName="profile_monitor")
        self.monitor_box.toggled.connect(self._changed)
        form.addRow("", self.monitor_box)
        self.error_label = QLabel(self, objectName="profileError", wordWrap=True)
        style_text(self.error_label, "alarm")
        form.addRow("", self.error_label)
        self.save_button = QPushButton("Save profile", self, objectName="profileSave")
        self.save_button.clicked.connect(self.save_current)
        form.addRow("", self.save_button)
        note = QLabel("Lock keys and private keys are never stored: enter the lock key in the "
                      "Lock panel each session.", self)
        note.setWordWrap(True)
        note.setEnabled(False)  # secondary text in the palette's disabled colour
        form.addRow("", note)

        top = QHBoxLayout()
        top.addLayout(left, 2)
        top.addLayout(form, 5)
        self.buttons = QDialogButtonBox(self)
        self.connect_button = self.buttons.addButton(
            "Connect" if at_start else "Open in new window", QDialogButtonBox.AcceptRole)
        self.connect_button.setObjectName("profileConnect")
        self.buttons.addButton("Quit" if at_start else "Close", QDialogButtonBox.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.buttons)
        self.resize(860, 440)
        self._reload(select=current or settings.last_profile)

    # -- list -------------------------------------------------------------------------------
    def _reload(self, select: str | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for profile in self.settings.profiles():
            item = QListWidgetItem(_swatch(profile.colour), profile.name, self.list)
            item.setData(Qt.UserRole, profile.name)
            item.setToolTip(_band_text(profile))
        self.list.blockSignals(False)
        rows = [self.list.item(r).data(Qt.UserRole).casefold() for r in range(self.list.count())]
        wanted = (select or "").casefold()
        row = rows.index(wanted) if wanted in rows else 0
        if self.list.count():
            self.list.setCurrentRow(row)
            self._on_current(self.list.currentItem(), None)
        else:
            self.add_new()

    def _on_current(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        """Show the selected profile; pending edits are saved first, never dropped."""
        target = item.data(Qt.UserRole) if item is not None else None
        if self._dirty:
            if self._store_form() is None:  # invalid: stay on the edited profile
                self.list.blockSignals(True)
                if previous is not None:
                    self.list.setCurrentItem(previous)
                else:
                    self.list.setCurrentRow(-1)
                self.list.blockSignals(False)
                return
            self._reload(select=target)
            return
        profile = self.settings.profile(target) if target is not None else None
        if profile is not None:
            self._editing = profile.name
            self._fill(profile)

    def _fill(self, profile: Profile) -> None:
        for key, edit in self.fields.items():
            edit.setText(str(getattr(profile, key)))
        self.colour_edit.setText(profile.colour)
        self.monitor_box.blockSignals(True)
        self.monitor_box.setChecked(profile.monitor)
        self.monitor_box.blockSignals(False)
        self.error_label.clear()
        self._dirty = self._editing is None
        self._update_preview()

    # -- form -------------------------------------------------------------------------------
    def form_profile(self) -> Profile:
        """The profile in the form; ``SettingsError`` says what is wrong."""
        return Profile(**{k: e.text().strip() for k, e in self.fields.items()},
                       colour=self.colour_edit.text().strip(),
                       monitor=self.monitor_box.isChecked())

    def _changed(self, *_args: Any) -> None:
        self._dirty = True
        self.error_label.clear()
        self._update_preview()

    def _update_preview(self) -> None:
        try:
            profile = self.form_profile()
        except SettingsError:
            self.preview.setText("")
            self.preview.setStyleSheet("")
            return
        self.preview.setText(f"[{profile.name}]")
        self.preview.setStyleSheet(_band_style(profile.colour))

    def _pick_colour(self) -> None:
        start = QColor(self.colour_edit.text().strip() or DEFAULT_COLOUR)
        colour = QColorDialog.getColor(start, self, "Profile colour")
        if colour.isValid():
            self.colour_edit.setText(colour.name())
            self._changed()

    # -- commands ---------------------------------------------------------------------------
    def add_new(self) -> None:
        """Start a new, unsaved profile from the template (the current connection)."""
        base = self.template or Profile(name="New profile")
        name, n = base.name, 2
        while self.settings.profile(name) is not None:
            name, n = f"{base.name} {n}", n + 1
        self._editing = None
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.blockSignals(False)
        self._fill(replace(base, name=name))
        self.fields["name"].setFocus()
        self.fields["name"].selectAll()

    def _store_form(self) -> Profile | None:
        try:
            profile = self.form_profile()
            if self._editing is None:
                self.settings.add_profile(profile)
            else:
                self.settings.save_profile(profile, previous_name=self._editing)
        except SettingsError as ex:
            self.error_label.setText(str(ex))
            return None
        self._editing, self._dirty = profile.name, False
        return profile

    def save_current(self) -> Profile | None:
        """Validate and store the form; returns the saved profile, or None (error shown)."""
        profile = self._store_form()
        if profile is not None:
            self._reload(select=profile.name)
        return profile

    def delete_current(self) -> None:
        """Delete the profile in the form (after a question); an unsaved new one is dropped."""
        if self._editing is not None:
            answer = QMessageBox.question(self, "Delete profile",
                                          f"Delete the profile {self._editing!r}?")
            if answer != QMessageBox.Yes:
                return
            self.settings.delete_profile(self._editing)
        self._editing, self._dirty = None, False  # what the form held is gone on purpose
        self._reload()

    def accept(self) -> None:
        """Save pending edits, remember the choice as last used, and close."""
        profile = self.save_current() if self._dirty else self.settings.profile(
            self._editing or "")
        if profile is None:
            return
        self._chosen = profile
        self.settings.set_last_profile(profile.name)
        super().accept()

    def chosen(self) -> Profile | None:
        """The profile chosen with Connect / Open, else None."""
        return self._chosen


def choose_profile(settings: AppSettings, parent: QWidget | None = None, *,
                   template: Profile | None = None) -> Profile | None:
    """Modal chooser for start-up: the profile to connect with, or None when cancelled."""
    dialog = ProfilesDialog(settings, parent, template=template, at_start=True)
    return dialog.chosen() if dialog.exec_() == QDialog.Accepted else None


def open_profile_window(name: str) -> bool:
    """Start another qs-gui process for profile ``name`` (frozen bundle or Python module)."""
    if getattr(sys, "frozen", False):
        program, args = sys.executable, ["--profile", name]
    else:
        program, args = sys.executable, ["-m", "qs_gui", "--profile", name]
    ok = QProcess.startDetached(program, args)
    if not ok:
        logger.error("Could not start qs-gui for profile %s", name)
    return bool(ok)


def show_profiles(window: QMainWindow, settings: AppSettings,
                  current: Profile | None) -> ProfilesDialog:
    """Connection ▸ Profiles…: manage profiles; a different one opens in a new window.

    Edits to the current profile restyle this window at once (name, colour); new addresses
    apply the next time it connects.
    """
    dialog = ProfilesDialog(settings, window, current=current.name if current else None,
                            template=current, at_start=False)
    dialog.setAttribute(Qt.WA_DeleteOnClose)

    def chosen() -> None:
        profile = dialog.chosen()
        if profile is None:
            return
        if current is not None and profile.name.casefold() == current.name.casefold():
            apply_profile_style(window, profile)
        else:
            open_profile_window(profile.name)

    dialog.accepted.connect(chosen)
    dialog.show()
    return dialog


def apply_profile_style(window: QMainWindow, profile: Profile | None) -> None:
    """Title prefix "[NAME] " and a full-width band in the profile's colour above the toolbar.

    Idempotent: calling it again replaces both; ``None`` removes them.
    """
    title = _TITLE_PREFIX.sub("", window.windowTitle())
    band = window.findChild(QToolBar, BAND_NAME)
    if profile is None:
        window.setWindowTitle(title)
        if band is not None:
            window.removeToolBar(band)
            band.deleteLater()
        return
    window.setWindowTitle(f"[{profile.name}] {title}")
    if band is None:
        band = QToolBar("Profile", window)
        band.setObjectName(BAND_NAME)
        band.setMovable(False)
        band.setFloatable(False)
        band.toggleViewAction().setVisible(False)  # not hideable from the toolbar menu
        label = QLabel(band, objectName="profileBandLabel")
        label.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        band.addWidget(label)
        others = [t for t in window.findChildren(QToolBar)
                  if t is not band and window.toolBarArea(t) == Qt.TopToolBarArea]
        if others:
            window.insertToolBar(others[0], band)
            window.insertToolBarBreak(others[0])
        else:
            window.addToolBar(Qt.TopToolBarArea, band)
    label = band.findChild(QLabel, "profileBandLabel")
    label.setText(_band_text(profile))
    label.setToolTip(f"Connected through profile {profile.name}")
    label.setStyleSheet(_band_style(profile.colour))
    band.setStyleSheet("QToolBar { border: none; padding: 2px 4px; }")
    window.setProperty("profileName", profile.name)
