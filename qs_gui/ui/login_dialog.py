"""Log in to bluesky-httpserver: user, password, provider; the password is never stored.

Shown at start when the connection needs a login, and again when the session ends (refresh
refused), window-modal and without a nested event loop (``open()``), so the window underneath
keeps its state and typed editor text. The login request runs on the qasync loop; the dialog
shows progress and the gateway's words when it is refused, and stays open until a login works
or the operator cancels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from .theme import style_text

#: (user, password, provider) -> None on success, else the reason in plain words
LoginCall = Callable[[str, str, str], Awaitable[str | None]]


class LoginDialog(QDialog):
    """One login attempt at a time; ``logged_in(user)`` when one works."""

    logged_in = pyqtSignal(str)

    def __init__(self, parent: QWidget | None, *, server: str, login: LoginCall,
                 user: str = "", providers: list[str] | None = None, reason: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setWindowTitle("Log in — qs-gui")
        self.setWindowModality(Qt.WindowModal)
        self._login = login
        self._task: asyncio.Future | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(f"Log in to the queue server at <b>{server}</b>.", self)
        intro.setTextFormat(Qt.RichText)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.reason_label = QLabel(reason, self, objectName="loginReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setVisible(bool(reason))
        layout.addWidget(self.reason_label)
        form = QFormLayout()
        self.user_edit = QLineEdit(user, self, objectName="loginUser")
        self.password_edit = QLineEdit(self, objectName="loginPassword")
        self.password_edit.setEchoMode(QLineEdit.Password)
        self.provider_box = QComboBox(self, objectName="loginProvider")
        self.provider_box.setEditable(True)
        self.provider_box.addItems([p for p in (providers or []) if p])
        self.provider_box.setToolTip("The gateway's authentication provider (e.g. ldap)")
        form.addRow("User:", self.user_edit)
        form.addRow("Password:", self.password_edit)
        form.addRow("Provider:", self.provider_box)
        layout.addLayout(form)
        self.error_label = QLabel(self, objectName="loginError")
        self.error_label.setWordWrap(True)
        style_text(self.error_label, "alarm")
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Log in")
        self.ok_button.setObjectName("loginButton")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        (self.password_edit if user else self.user_edit).setFocus()
        self.setMinimumWidth(420)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def problem(self) -> str | None:
        """What is missing in the form (checked before anything is sent)."""
        if not self.user_edit.text().strip():
            return "Enter your user name."
        if not self.password_edit.text():
            return "Enter your password."
        if not self.provider_box.currentText().strip():
            return "Enter the authentication provider (ask your facility, e.g. ldap)."
        return None

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def submit(self) -> None:
        if self.busy:
            return
        problem = self.problem()
        if problem:
            self.show_error(problem)
            return
        self.show_error("")
        self._set_busy(True)
        self._task = asyncio.ensure_future(self._attempt(
            self.user_edit.text().strip(), self.password_edit.text(),
            self.provider_box.currentText().strip()))

    async def _attempt(self, user: str, password: str, provider: str) -> None:
        try:
            error = await self._login(user, password, provider)
        except Exception as ex:  # the call says what failed; anything else must reach the user
            error = f"Login failed: {ex}"
        finally:
            self._set_busy(False)
        self.password_edit.clear()  # not kept in a widget either
        if error:
            self.show_error(error)
            self.password_edit.setFocus()
            return
        self.logged_in.emit(user)
        self.accept()

    def _set_busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)
        self.ok_button.setText("Logging in…" if busy else "Log in")
        for widget in (self.user_edit, self.password_edit, self.provider_box):
            widget.setEnabled(not busy)

    def reject(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().reject()


class LoginPrompt:
    """When a password login is configured, asks for it again when the session ends: one
    dialog at a time, for whichever window (main or monitor) holds the session."""

    def __init__(self, window: QWidget, server: str, login: LoginCall) -> None:
        self._window = window
        self._server = server
        self._login = login
        self._config: tuple[str, list[str]] | None = None
        self.dialog: LoginDialog | None = None

    def configure(self, user: str, providers: list[str]) -> None:
        self._config = (user, providers)

    def open(self, reason: str = "") -> LoginDialog | None:
        """The login dialog (window-modal, no nested loop); None without a login configured."""
        if self._config is None:
            return None
        if self.dialog is not None and self.dialog.isVisible():
            return self.dialog
        user, providers = self._config
        self.dialog = LoginDialog(self._window, server=self._server, login=self._login,
                                  user=user, providers=providers, reason=reason)
        self.dialog.open()
        return self.dialog
