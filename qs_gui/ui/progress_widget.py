"""Status-bar progress of the running scan: a thin bar and "seq 7/10 · ETA 3 s".

A thin view over :class:`~qs_gui.core.progress.Progress`: all arithmetic (fraction, ETA,
elapsed, text) lives in core, so this widget only maps a snapshot to two child widgets and
skips the update when the snapshot did not change what is shown.
"""

from __future__ import annotations

from PyQt5.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from qs_gui.core.progress import Progress

__all__ = ["ProgressWidget"]

_STEPS = 1000  # bar resolution


class ProgressWidget(QWidget):
    """Progress bar + text; hidden until a run is known (``set_progress(None)`` hides it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scanProgress")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("scanProgressBar")
        self.bar.setRange(0, _STEPS)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(120)
        self.bar.setMaximumHeight(14)
        self.label = QLabel(self)
        self.label.setObjectName("scanProgressText")
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self._shown: tuple | None = None
        self.progress: Progress | None = None
        self.setVisible(False)

    def set_progress(self, progress: Progress | None) -> None:
        """Show ``progress`` (a run's snapshot) or hide the widget for None."""
        self.progress = progress
        if progress is None:
            self._shown = None
            self.setVisible(False)
            return
        fraction = progress.fraction
        if progress.done and progress.exit_status == "success" and fraction is None:
            fraction = 1.0  # a finished run of unknown length is complete
        busy = fraction is None and not progress.done
        key = (progress.run_uid, progress.text(), None if fraction is None else
               round(fraction * _STEPS), busy)  # fmt: skip
        if key == self._shown:
            return
        self._shown = key
        if busy:
            self.bar.setRange(0, 0)  # indeterminate: length unknown, still running
        else:
            self.bar.setRange(0, _STEPS)
            self.bar.setValue(round((fraction or 0.0) * _STEPS))
        self.label.setText(progress.text())
        self.setToolTip(f"{progress.run_label}: {progress.text()}")
        self.setVisible(True)

    @property
    def percent(self) -> float | None:
        """The bar's position in percent (None while indeterminate); for tests and tooltips."""
        if self.bar.maximum() == 0:
            return None
        return 100.0 * self.bar.value() / self.bar.maximum()
