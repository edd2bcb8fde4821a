"""Learning: training loss and accuracy per batch, test loss and accuracy per epoch, chance and references."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.classifier.frame import Frame
from gui.context import ViewContext
from gui.experiments.classifier.views.common import EPOCH_LABEL, training_progress
from gui.views._plots import (
    COLOURS,
    FINE_STEPS,
    HistoryWatch,
    ReferenceLine,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    make_curve,
    set_title,
    setup_axes,
    stable_ceiling,
    view_layout,
)
from gui.views.base import View
from sim.experiments.classifier.config import ClassifierConfig

__all__ = ["ACCURACY_REFERENCES", "LearningView", "chance_level", "epoch_points"]

#: Published test accuracies (fractions) by data set name: label -> accuracy, e.g.
#: ``{"nmnist": {"dense": 0.972, "static sparse": 0.953}}``. None is known for the data sets
#: the classifier ships with yet; a data set listed here gets dashed lines in the accuracy plot.
ACCURACY_REFERENCES: dict[str, Mapping[str, float]] = {}
#: Colours of the reference lines, in the order of their labels.
REFERENCE_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf")
#: Epochs the time axes span before there are data.
EMPTY_EPOCHS = 1.0
#: Top of the accuracy axis (%): a little room above 100.
ACCURACY_TOP = 105.0
#: Top of the loss axis before there are data.
LOSS_AXIS_START = 2.5
#: Colours of the training (per batch) and test (per epoch) curves.
TRAIN_COLOUR = COLOURS["counts"]
TEST_COLOUR = "#d62728"


def chance_level(n_classes: int) -> float:
    """Accuracy (%) of guessing among ``n_classes`` classes."""
    return 100.0 / n_classes if n_classes > 0 else math.nan


def epoch_points(t: NDArray[np.float64], values: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """The rows that carry a test measurement (finite ``values``): one per epoch completed."""
    ok = np.isfinite(values)
    return t[ok], values[ok]


class LearningView(View[Frame]):
    """Loss and accuracy over training, the test set once per epoch.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "learning"
    title = "Learning"
    tooltip = (
        "How well the network classifies. Lines: the loss and the accuracy of every training batch "
        "(noisy: a batch is a few examples). Dots: the whole test set, after every epoch. Dashed: "
        "the accuracy of guessing (chance) and published references where known."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        loss = self.graphics.addPlot(row=0, col=0)
        accuracy = self.graphics.addPlot(row=1, col=0)
        setup_axes(
            loss,
            "Loss",
            EPOCH_LABEL,
            "cross-entropy loss",
            "Cross-entropy of the softmax of the readout summed over each trial, averaged over each "
            "training batch (line) and over the test set at the end of each epoch (dots).",
        )
        setup_axes(
            accuracy,
            "Accuracy",
            EPOCH_LABEL,
            "accuracy (%)",
            "Share of examples classified correctly: each training batch (line) and the test set at the "
            "end of each epoch (dots).",
        )
        for plot in (loss, accuracy):
            add_legend(plot)
        self.train_loss = make_curve(loss, "training (per batch)", TRAIN_COLOUR)
        self.test_loss = _points(loss, "test (per epoch)", TEST_COLOUR)
        self.train_accuracy = make_curve(accuracy, "training (per batch)", TRAIN_COLOUR)
        self.test_accuracy = _points(accuracy, "test (per epoch)", TEST_COLOUR)
        self.chance = ReferenceLine(accuracy, COLOURS["initial"])
        self.references = [ReferenceLine(accuracy, colour) for colour in REFERENCE_COLOURS]
        self.loss_extent = SteadyExtent(loss, EMPTY_EPOCHS, LOSS_AXIS_START)
        # accuracy: always 0 to a little over 100 % (so 100 is labelled and reached curves show);
        # the time axis follows the data in steps
        accuracy.disableAutoRange()
        accuracy.getViewBox().setLimits(xMin=0.0)
        self.plots = {"loss": loss, "accuracy": accuracy}
        self._accuracy_x = 0.0
        self._set_accuracy_x(EMPTY_EPOCHS)
        self._rows = HistoryWatch()
        self._config: ClassifierConfig | None = None
        self.arrangement = ResponsiveGrid.pair(self.graphics, loss, accuracy)
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ClassifierConfig) -> None:
        """Clear the curves and show the chance level and the references of the new configuration."""
        super().reset(config)
        self._rows.forget()
        for curve in (self.train_loss, self.test_loss, self.train_accuracy, self.test_accuracy):
            curve.setData(np.zeros(0), np.zeros(0))
        self.loss_extent.set_empty(EMPTY_EPOCHS, LOSS_AXIS_START)
        self._accuracy_x = 0.0
        self._set_accuracy_x(EMPTY_EPOCHS)
        set_title(self.plots["loss"], "Loss")
        set_title(self.plots["accuracy"], "Accuracy")
        self._config = None
        self.chance.hide()
        for line in self.references:
            line.hide()

    def draw_frame(self, frame: Frame) -> None:
        """Update the curves when the history has new rows."""
        self._show_references(frame.config, int(frame.snapshot.w_out.shape[1]))
        history = frame.history
        if not self._rows.news(history):
            return
        table = history.table()
        t = training_progress(table, frame.snapshot.train_batches)
        self.train_loss.setData(t, table["train_loss"])
        self.test_loss.setData(*epoch_points(t, table["test_loss"]))
        self.train_accuracy.setData(t, 100.0 * table["train_accuracy"])
        t_test, test = epoch_points(t, 100.0 * table["test_accuracy"])
        self.test_accuracy.setData(t_test, test)
        self.loss_extent.cover(t, table["train_loss"], table["test_loss"])
        if t.size:
            grow = 1.0 + SteadyExtent.MARGIN
            self._set_accuracy_x(
                stable_ceiling(self._accuracy_x, float(t.max()) * grow, EMPTY_EPOCHS, FINE_STEPS)
            )
        if test.size:
            epochs = test.size
            text = f"Accuracy: test {test[-1]:.1f}% after {epochs} epoch{'s' if epochs != 1 else ''}"
            set_title(self.plots["accuracy"], text)
        if t.size:
            set_title(self.plots["loss"], f"Loss: last batch {table['train_loss'][-1]:.3f}")

    def _set_accuracy_x(self, x_max: float) -> None:
        """Show epochs 0 to ``x_max`` (and 0 to :data:`ACCURACY_TOP` %) on the accuracy plot."""
        if x_max != self._accuracy_x:
            self._accuracy_x = x_max
            self.plots["accuracy"].setRange(xRange=(0.0, x_max), yRange=(0.0, ACCURACY_TOP), padding=0.0)

    def _show_references(self, config: ClassifierConfig, n_classes: int) -> None:
        """The chance level of ``n_classes`` classes and the references known for the data set."""
        if config is self._config:
            return
        self._config = config
        chance = chance_level(n_classes)
        if math.isfinite(chance):
            self.chance.show(chance, f"chance: {chance:.1f}%")
        else:
            self.chance.hide()
        known = sorted(ACCURACY_REFERENCES.get(config.data.name, {}).items())
        for i, line in enumerate(self.references):
            if i < len(known):
                label, value = known[i]
                line.show(100.0 * value, f"{label}: {100.0 * value:.1f}%")
            else:
                line.hide()


def _points(plot: pg.PlotItem, name: str, colour: str) -> pg.PlotDataItem:
    """Markers without a line (one per epoch)."""
    item = pg.PlotDataItem(
        np.zeros(0),
        np.zeros(0),
        name=name,
        pen=None,
        symbol="o",
        symbolSize=7,
        symbolPen=pg.mkPen("w", width=1),
        symbolBrush=pg.mkBrush(colour),
    )
    plot.addItem(item)
    return item
