"""The toy on the window: two plain pyqtgraph views and its parameter groups."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QVBoxLayout, QWidget

from app.frame import Frame
from gui.context import ViewContext
from gui.experiment import STEP, Experiment, ParameterGroup, StepAction, ViewSpec
from gui.views.base import View


class _PlotView(View[Frame]):
    """A view holding one pyqtgraph plot."""

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.plot = pg.PlotWidget(background="w")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.curve = self.plot.plot(pen=pg.mkPen("#0072B2", width=2))

    def reset(self, config: Any) -> None:
        """Forget the previous network's picture."""
        self.curve.setData([], [])


class ToySynapsesView(_PlotView):
    """The synapse count over time (the history's ``synapses`` column)."""

    key: ClassVar[str] = "toy_synapses"
    title: ClassVar[str] = "Synapses"
    tooltip: ClassVar[str] = "Synapses in the table over model time"

    def draw_frame(self, frame: Frame) -> None:
        """Plot the column so far."""
        table = frame.history.table()
        self.curve.setData(np.asarray(table["t"]), np.asarray(table["synapses"]))


class ToyDegreeView(_PlotView):
    """The in-degree of every neuron now."""

    key: ClassVar[str] = "toy_degree"
    title: ClassVar[str] = "In-degree"
    tooltip: ClassVar[str] = "In-degree of every neuron of the population"

    def draw_frame(self, frame: Frame) -> None:
        """Plot the in-degrees by neuron."""
        degree = np.asarray(frame.snapshot.in_degree, np.float64)
        self.curve.setData(np.arange(len(degree), dtype=np.float64), degree)


#: The toy's window declaration.
GUI_EXPERIMENT = Experiment(
    key="toy",
    title="Toy",
    views=(ViewSpec(ToySynapsesView, "left"), ViewSpec(ToyDegreeView, "right")),
    parameter_groups=(
        ParameterGroup("Rewiring", "rewiring"),
        ParameterGroup("Neuron", "neuron"),
        ParameterGroup("Network", "network"),
        ParameterGroup("Run", "run"),
    ),
    step_actions=(STEP, StepAction("ten", "Step ten", "Shift+Right", "Advance ten steps and stop")),
)
