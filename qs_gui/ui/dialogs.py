"""Modal confirmations for destructive or far-reaching actions, built to be testable.

Why it is built this way: a modal ``exec_()`` blocks, so tests could not drive it. Each helper is
split in two: ``make_*`` builds and returns the dialog (tests type into it and inspect buttons),
and the convenience function runs it through :func:`run_dialog`, the one place that calls
``exec_()``; tests can replace ``run_dialog`` to inject the operator's answer.

Destructive confirmations default to the safe answer (No / Cancel), so a stray Enter never
destroys anything; the typed confirmation only enables OK once the exact word is typed.
"""

from __future__ import annotations

from PyQt5.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

__all__ = [
    "KeepNewestDialog",
    "TypedConfirmDialog",
    "ask_keep_newest",
    "confirm",
    "confirm_typed",
    "make_confirm_box",
    "make_keep_newest_dialog",
    "make_typed_confirm_dialog",
    "run_dialog",
]


def run_dialog(dialog: QDialog) -> int:
    """Run ``dialog`` modally and return its result code (tests replace this to answer)."""
    return dialog.exec_()


# ----- yes / no ------------------------------------------------------------------------------
def make_confirm_box(
    parent: QWidget | None, title: str, text: str, *, destructive: bool
) -> QMessageBox:
    """A Yes/No question; a destructive one shows a warning icon and defaults to No."""
    box = QMessageBox(parent)
    box.setObjectName("confirmBox")
    box.setWindowTitle(title)
    box.setText(text)
    box.setIcon(QMessageBox.Warning if destructive else QMessageBox.Question)
    box.setStandardButtons(QMessageBox.Yes | QMessageBox.No)
    box.setDefaultButton(QMessageBox.No if destructive else QMessageBox.Yes)
    box.setEscapeButton(QMessageBox.No)
    return box


def confirm(parent: QWidget | None, title: str, text: str, *, destructive: bool) -> bool:
    """True when the operator answers Yes."""
    box = make_confirm_box(parent, title, text, destructive=destructive)
    try:
        return run_dialog(box) == QMessageBox.Yes
    finally:
        box.deleteLater()


# ----- typed word ----------------------------------------------------------------------------
class TypedConfirmDialog(QDialog):
    """OK is enabled only while the line edit holds exactly ``word``."""

    def __init__(self, parent: QWidget | None, title: str, text: str, word: str) -> None:
        super().__init__(parent)
        self.setObjectName("typedConfirmDialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.word = word
        message = QLabel(text, wordWrap=True)
        prompt = QLabel(f"Type <b>{_escape(word)}</b> to confirm:")
        self.line_edit = QLineEdit(objectName="confirmWord")
        self.line_edit.setPlaceholderText(word)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button: QPushButton = buttons.button(QDialogButtonBox.Ok)
        self.cancel_button: QPushButton = buttons.button(QDialogButtonBox.Cancel)
        self.ok_button.setText(word[:1].upper() + word[1:] if word else "OK")
        # OK is the default button but disabled: Enter does nothing until the word is typed.
        self.ok_button.setDefault(True)
        self.cancel_button.setAutoDefault(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.line_edit.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        for widget in (message, prompt, self.line_edit, buttons):
            layout.addWidget(widget)
        self._update()

    def matches(self) -> bool:
        return bool(self.word) and self.line_edit.text().strip() == self.word

    def _update(self) -> None:
        self.ok_button.setEnabled(self.matches())

    def accept(self) -> None:
        if self.matches():  # also guards programmatic accept() and a disabled-button bypass
            super().accept()


def make_typed_confirm_dialog(
    parent: QWidget | None, title: str, text: str, word: str
) -> TypedConfirmDialog:
    return TypedConfirmDialog(parent, title, text, word)


def confirm_typed(parent: QWidget | None, title: str, text: str, word: str) -> bool:
    """True only when the operator typed ``word`` (e.g. "destroy") and pressed OK."""
    dialog = make_typed_confirm_dialog(parent, title, text, word)
    try:
        return run_dialog(dialog) == QDialog.Accepted and dialog.matches()
    finally:
        dialog.deleteLater()


# ----- history trim --------------------------------------------------------------------------
class KeepNewestDialog(QDialog):
    """Choose how many of the newest history items to keep (0 = clear all)."""

    def __init__(self, parent: QWidget | None, total: int, default: int | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keepNewestDialog")
        self.setWindowTitle("Trim history")
        self.setModal(True)
        self.total = max(0, int(total))
        self.spin = QSpinBox(objectName="keepNewest", minimum=0, maximum=self.total)
        self.spin.setSpecialValueText("0 (clear all)")
        self.spin.setValue(min(self.total, 10) if default is None else default)
        self.summary = QLabel(objectName="keepNewestSummary", wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button: QPushButton = buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Remove")
        # Destructive: Enter must not remove anything by accident.
        self.ok_button.setAutoDefault(False)
        buttons.button(QDialogButtonBox.Cancel).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.spin.valueChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"The history holds {self._items(self.total)}."))
        layout.addWidget(QLabel("Keep the newest N items:"))
        for widget in (self.spin, self.summary, buttons):
            layout.addWidget(widget)
        self._update()

    @staticmethod
    def _items(n: int) -> str:
        return f"{n} item{'s' if n != 1 else ''}"

    def _update(self) -> None:
        keep = self.spin.value()
        removed = self.total - keep
        if removed <= 0:
            text = "Nothing will be removed."
        elif keep == 0:
            text = f"All {self._items(self.total)} will be removed."
        else:
            text = f"The oldest {self._items(removed)} will be removed."
        self.summary.setText(text)
        self.ok_button.setEnabled(removed > 0)


def make_keep_newest_dialog(
    parent: QWidget | None, total: int, default: int | None = None
) -> KeepNewestDialog:
    return KeepNewestDialog(parent, total, default)


def ask_keep_newest(parent: QWidget | None, total: int, default: int | None = None) -> int | None:
    """How many newest items to keep (0 = clear all), or None when cancelled."""
    dialog = make_keep_newest_dialog(parent, total, default)
    try:
        if run_dialog(dialog) != QDialog.Accepted:
            return None
        return dialog.spin.value()
    finally:
        dialog.deleteLater()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DialogPrompts:
    """The operator's answers through modal dialogs over ``parent`` (the Prompts of Commands)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def confirm(self, title: str, text: str, *, destructive: bool = False) -> bool:
        return confirm(self.parent, title, text, destructive=destructive)

    def confirm_typed(self, title: str, text: str, word: str) -> bool:
        return confirm_typed(self.parent, title, text, word)

    def keep_newest(self, total: int) -> int | None:
        return ask_keep_newest(self.parent, total)
