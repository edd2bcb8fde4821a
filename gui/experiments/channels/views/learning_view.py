"""Learning: the training loss of every batch, training and test accuracy of every epoch, chance."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

from app.experiments.channels.frame import Frame
from gui.context import ViewContext
from gui.experiments.channels.views.common import EPOCH_LABEL, epochs_of_batches, points
from gui.views._plots import (
    COLOURS,
    FINE_STEPS,
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
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.layers import Readout, parse_layers

__all__ = ["LearningView", "chance_level"]

#: Epochs the time axes span before there are data.
EMPTY_EPOCHS = 1.0
#: Top of the accuracy axis (%): a little room above 100.
ACCURACY_TOP = 105.0
#: Top of the loss axis before there are data.
LOSS_AXIS_START = 2.0
#: Colours of the training curves (per batch and per epoch) and of the test points.
BATCH_COLOUR = "#9ecae1"
TRAIN_COLOUR = COLOURS["counts"]
TEST_COLOUR = "#d62728"


def chance_level(config: ChannelsConfig) -> float:
    """Accuracy (%) of guessing among the readout's classes."""
    readout = parse_layers(config.network.layers)[-1]
    classes = readout.classes if isinstance(readout, Readout) else 0
    return 100.0 / classes if classes > 0 else math.nan


class LearningView(View[Frame]):
    """Loss per batch; accuracy per batch, per epoch on the training set and on the test set.

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
        "How well the pruned network learns. Loss: the cross-entropy of every training batch. "
        "Accuracy: every batch (light line), the training set over each epoch and the test set at its "
        "end (dots); dashed: chance."
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
            "Cross-entropy of the readout averaged over the T time steps, for every training batch.",
        )
        setup_axes(
            accuracy,
            "Accuracy",
            EPOCH_LABEL,
            "accuracy (%)",
            "Share of images classified correctly: every training batch (light line), the training set "
            "over each epoch and the whole test set at each epoch's end (dots).",
        )
        for plot in (loss, accuracy):
            add_legend(plot)
        self.batch_loss = make_curve(loss, "training batch", TRAIN_COLOUR)
        self.batch_accuracy = make_curve(accuracy, "training batch", BATCH_COLOUR)
        self.train_accuracy = points(accuracy, "training (epoch)", TRAIN_COLOUR, line=True)
        self.test_accuracy = points(accuracy, "test (epoch)", TEST_COLOUR, line=True)
        self.chance = ReferenceLine(accuracy, COLOURS["initial"])
        self.loss_extent = SteadyExtent(loss, EMPTY_EPOCHS, LOSS_AXIS_START)
        accuracy.disableAutoRange()
        accuracy.getViewBox().setDefaultPadding(0.0)
        accuracy.getViewBox().setLimits(xMin=0.0)
        self.plots = {"loss": loss, "accuracy": accuracy}
        self._accuracy_x = 0.0
        self._set_accuracy_x(EMPTY_EPOCHS)
        self._drawn: tuple[int, int, int] | None = None
        self._config: ChannelsConfig | None = None
        self.arrangement = ResponsiveGrid.pair(self.graphics, loss, accuracy)
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ChannelsConfig) -> None:
        """Clear the curves."""
        super().reset(config)
        for curve in (self.batch_loss, self.batch_accuracy, self.train_accuracy, self.test_accuracy):
            curve.setData(np.zeros(0), np.zeros(0))
        self.loss_extent.set_empty(EMPTY_EPOCHS, LOSS_AXIS_START)
        self._accuracy_x = 0.0
        self._set_accuracy_x(EMPTY_EPOCHS)
        self._drawn = None
        self._config = None
        self.chance.hide()
        set_title(self.plots["loss"], "Loss")
        set_title(self.plots["accuracy"], "Accuracy")

    def draw_frame(self, frame: Frame) -> None:
        """Update the curves when batches or epochs were added."""
        if frame.config is not self._config:
            self._config = frame.config
            chance = chance_level(frame.config)
            if math.isfinite(chance):
                self.chance.show(chance, f"chance: {chance:.0f}%")
        records = frame.history.records
        drawn = (id(frame.history), len(records.batches), len(records.epochs))
        if drawn == self._drawn:
            return
        self._drawn = drawn
        batches = records.batches.array()
        per_epoch = frame.snapshot.batches_per_epoch
        t = epochs_of_batches(batches["step"], per_epoch)
        self.batch_loss.setData(t, batches["loss"])
        self.batch_accuracy.setData(t, 100.0 * batches["accuracy"])
        epochs = records.epochs.array()
        te = epochs_of_batches(epochs["step"], per_epoch)
        self.train_accuracy.setData(te, 100.0 * epochs["train_accuracy"])
        self.test_accuracy.setData(te, 100.0 * epochs["test_accuracy"])
        self.loss_extent.cover(t, batches["loss"])
        if t.size:
            grow = 1.0 + SteadyExtent.MARGIN
            self._set_accuracy_x(
                stable_ceiling(self._accuracy_x, float(t.max()) * grow, EMPTY_EPOCHS, FINE_STEPS)
            )
            text = f"Loss: last batch {float(batches['loss'][-1]):.3f}"
            if len(records.epochs):
                last_epoch = records.epochs.array()[-1]
                text += (
                    f"<br>epoch {int(last_epoch['epoch']) + 1}: mean {float(last_epoch['train_loss']):.3f}"
                )
            set_title(self.plots["loss"], text)
        if len(epochs):
            n = len(epochs)
            last = epochs[-1]
            set_title(
                self.plots["accuracy"],
                f"Accuracy after {n} epoch{'s' if n != 1 else ''}<br>"
                f"test {100.0 * last['test_accuracy']:.1f}%, "
                f"training {100.0 * last['train_accuracy']:.1f}%",
            )

    def _set_accuracy_x(self, x_max: float) -> None:
        """Show epochs 0 to ``x_max`` (and 0 to :data:`ACCURACY_TOP` %) on the accuracy plot."""
        if x_max != self._accuracy_x:
            self._accuracy_x = x_max
            self.plots["accuracy"].setRange(xRange=(0.0, x_max), yRange=(0.0, ACCURACY_TOP), padding=0.0)
