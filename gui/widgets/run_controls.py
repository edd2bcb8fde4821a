"""The run toolbar: run/pause, step, run for, reset, speed, redraw rate, and the achieved speed."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QToolBar, QToolButton, QWidget

from app.commands import SPEED_CHOICES
from app.frame import SimState, Status
from gui.experiment import STEP, StepAction

#: Labels of the speed choices, in the order of :data:`app.commands.SPEED_CHOICES`.
SPEED_LABELS = {None: "Max", 1.0: "1x", 10.0: "10x", 100.0: "100x"}


class RunControls(QToolBar):
    """Toolbar of the run controls. It only emits requests; the window turns them into commands.

    Signals
    -------
    run_toggled(bool)
        True to run, False to pause.
    step_requested(str)
        A step unit of the experiment shown (:class:`gui.experiment.StepAction`).
    run_for_requested(float)
        Model seconds to run for.
    reset_requested()
    speed_changed(object)
        Target multiple of real time, or None for as fast as possible.
    redraw_rate_changed(float)
        Frames per second.
    """

    run_toggled = pyqtSignal(bool)
    step_requested = pyqtSignal(str)
    run_for_requested = pyqtSignal(float)
    reset_requested = pyqtSignal()
    speed_changed = pyqtSignal(object)
    redraw_rate_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Run", parent)
        self.setObjectName("run_controls")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        self.run_action = QAction("Run", self)
        self.run_action.setCheckable(True)
        self.run_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.run_action.setToolTip("Run the simulation until paused (Space toggles run and pause)")
        self.run_action.toggled.connect(self._on_run_toggled)
        self.addAction(self.run_action)

        #: The step actions of the experiment shown, by unit (the first is the Step button's).
        self.step_actions: dict[str, QAction] = {}
        self.step_button = QToolButton(self)
        self.step_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.addWidget(self.step_button)
        self.set_step_actions((STEP,))

        self.addSeparator()
        self.run_for_box = QDoubleSpinBox(self)
        self.run_for_box.setObjectName("run_for_seconds")
        self.run_for_box.setRange(0.001, 1e6)
        self.run_for_box.setDecimals(3)
        self.run_for_box.setValue(10.0)
        self.run_for_box.setSuffix(" s")
        self.run_for_box.setToolTip("Model seconds for 'Run for'")
        self.run_for_action = QAction("Run for", self)
        self.run_for_action.setToolTip("Run for the given model time, then stop")
        self.run_for_action.triggered.connect(lambda: self.run_for_requested.emit(self.run_for_box.value()))
        self.addAction(self.run_for_action)
        self.addWidget(self.run_for_box)

        self.addSeparator()
        self.reset_action = QAction("Reset", self)
        self.reset_action.setShortcut(QKeySequence("Ctrl+R"))
        self.reset_action.setToolTip(
            "Rebuild the network from the current parameters (applies structural changes) (Ctrl+R)"
        )
        self.reset_action.triggered.connect(self.reset_requested.emit)
        self.addAction(self.reset_action)

        self.addSeparator()
        self.addWidget(QLabel(" Speed ", self))
        self.speed_box = QComboBox(self)
        self.speed_box.setObjectName("speed")
        for speed in SPEED_CHOICES:
            self.speed_box.addItem(SPEED_LABELS[speed], speed)
        self.speed_box.setToolTip(
            "Target speed in model seconds per wall second: Max runs as fast as the machine allows"
        )
        self.speed_box.currentIndexChanged.connect(
            lambda i: self.speed_changed.emit(self.speed_box.itemData(i))
        )
        self.addWidget(self.speed_box)
        self.rtf_label = QLabel(self)
        self.rtf_label.setObjectName("achieved_speed")
        self.rtf_label.setMinimumWidth(
            self.rtf_label.fontMetrics().horizontalAdvance("t = 00,000.0000 s   0,000.0x real time")
        )
        self.rtf_label.setToolTip("Speed achieved over the last second: model seconds per wall second")
        self.addWidget(self.rtf_label)

        self.addSeparator()
        self.addWidget(QLabel(" Redraw ", self))
        self.redraw_box = QSpinBox(self)
        self.redraw_box.setObjectName("redraw_rate")
        self.redraw_box.setRange(1, 120)
        self.redraw_box.setValue(60)
        self.redraw_box.setSuffix(" /s")
        self.redraw_box.setToolTip("How often the views redraw while running (frames per wall second)")
        self.redraw_box.valueChanged.connect(lambda v: self.redraw_rate_changed.emit(float(v)))
        self.addWidget(self.redraw_box)
        self.set_status(None, 0.0)

    def _on_run_toggled(self, checked: bool) -> None:
        self.run_action.setText("Pause" if checked else "Run")
        self.run_toggled.emit(checked)

    def show_redraw_rate(self, hz: float) -> None:
        """Show ``hz`` as the redraw rate without announcing a change."""
        self.redraw_box.blockSignals(True)
        self.redraw_box.setValue(round(hz))
        self.redraw_box.blockSignals(False)

    def set_step_actions(self, actions: Sequence[StepAction]) -> None:
        """Offer ``actions`` (an experiment's step units) in place of the current ones."""
        for action in self.step_actions.values():
            self.step_button.removeAction(action)
            action.deleteLater()
        self.step_actions = {}
        for spec in actions:
            action = QAction(spec.text, self)
            action.setShortcut(QKeySequence(spec.shortcut))
            action.setToolTip(f"{spec.tip} ({spec.shortcut})")
            action.triggered.connect(lambda _checked=False, u=spec.unit: self.step_requested.emit(u))
            self.step_actions[spec.unit] = action
            self.step_button.addAction(action)
        self.step_button.setDefaultAction(next(iter(self.step_actions.values())))

    def set_time_unit(self, unit: str) -> None:
        """Count "Run for" in ``unit``: ``s`` (model seconds) or the experiment's own (``epochs``).

        A multiple of real time means nothing for a clock that is not model seconds, so
        the speed is then Max and the choice is disabled.
        """
        self.run_for_box.setSuffix(f" {unit}")
        words = "model seconds" if unit == "s" else unit
        self.run_for_box.setToolTip(f"How long 'Run for' runs, in {words}")
        real_time = unit == "s"
        if not real_time and self.speed_box.currentIndex() != 0:
            self.speed_box.setCurrentIndex(0)  # Max (announced: the thread stops pacing)
        self.speed_box.setEnabled(real_time)
        self.speed_box.setToolTip(
            "Target speed in model seconds per wall second: Max runs as fast as the machine allows"
            if real_time
            else f"This experiment counts {unit}, not model seconds: it runs as fast as the machine allows"
        )

    def set_status(
        self, status: Status | None, t: float, dt_ms: float = 1.0, *, unit: str = "s", step: float = 0.0
    ) -> None:
        """Show the controller's state (signals blocked: this never sends a command).

        The model time ``t`` is shown to the resolution of one time step of ``dt_ms``,
        so stepping once always changes it. With another ``unit`` (an experiment that
        counts its progress in epochs) ``t`` is in that unit and ``step`` is one step's
        share of it.
        """
        running = status is not None and status.state is SimState.RUNNING
        was = self.run_action.blockSignals(True)
        self.run_action.setChecked(running)
        self.run_action.setText("Pause" if running else "Run")
        self.run_action.blockSignals(was)
        usable = status is not None and status.state not in (SimState.STARTING, SimState.CLOSED)
        for action in (self.run_action, self.run_for_action, self.reset_action, *self.step_actions.values()):
            action.setEnabled(usable)
        rtf = None if status is None else status.realtime_factor
        if unit == "s":
            text = format_model_time(t, dt_ms) + (f"   {rtf:,.1f}x real time" if rtf is not None else "")
        else:
            text = format_progress(t, step, unit) + (f"   {rtf:,.3g} {unit}/s" if rtf is not None else "")
        self.rtf_label.setText(text)


def format_progress(t: float, step: float, unit: str) -> str:
    """``t = 2.0413 epochs``: progress ``t`` in ``unit`` with the decimals that show one ``step``."""
    decimals = 1 if step <= 0 else min(9, max(1, math.ceil(-math.log10(step))))
    return f"t = {t:,.{decimals}f} {unit}"


def format_model_time(t: float, dt_ms: float) -> str:
    """``t = 12.3456 s``: model time ``t`` (seconds) with the decimals of a time step of ``dt_ms``."""
    decimals = 0
    step_s = dt_ms / 1000.0
    while decimals < 9 and round(step_s, decimals) != step_s:
        decimals += 1
    return f"t = {t:,.{max(decimals, 1)}f} s"
