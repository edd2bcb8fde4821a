"""Connectivity masks: which input -> hidden and hidden -> hidden pairs hold a synapse, and its weight.

Each table is an image of ``n_pre`` rows by ``n_post`` columns: a pixel per
present synapse, coloured by its signed weight, white where the pair has
none. The synapses pruned and regrown at the end of the newest training
batch are marked. An image larger than its plot in pixels is reduced block
by block keeping each block's strongest synapse
(:class:`~gui.experiments.classifier.views.images.PooledImage`),
so a sparse 700 x 512 table stays readable at any size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.classifier.frame import Frame
from gui.context import ViewContext
from gui.experiments.classifier.views.common import (
    TABLES,
    TURNOVER_COLOURS,
    SignedColourBar,
    Table,
    table_of,
)
from gui.experiments.classifier.views.images import PooledImage
from gui.views._plots import Cell, ResponsiveGrid, add_legend, set_title, setup_axes, view_layout
from gui.views.base import View
from sim.events import FORMED, REMOVED
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.snapshot import ClassifierSnapshot, TableView

__all__ = ["MaskImage", "MasksView", "last_update_step", "newest_batch_events", "signed_image"]

#: Size of the pruned and regrown markers (pixels).
MARKER_SIZE = 10


def signed_image(table: TableView) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``table``'s weights as an ``n_pre x n_post`` image, NaN (drawn white) where no synapse is.

    Returns the image and the weights of the synapses present.
    """
    pre, post, weight = table.coo()
    image = np.full((table.n_pre, table.n_post), np.nan, np.float32)
    image[pre, post] = weight
    return image, weight


def last_update_step(snapshot: ClassifierSnapshot) -> int | None:
    """The step at which the newest training batch ended (its weight update and DEEP R), or None.

    An epoch is its training batches, a trial each, then its test batches;
    DEEP R runs at the end of every training batch.
    """
    trial, train = snapshot.trial_steps, snapshot.train_batches * snapshot.trial_steps
    per_epoch = train + snapshot.test_batches * trial
    start = snapshot.epoch * per_epoch
    done = snapshot.step - start
    if done >= train:
        return start + train
    if done >= trial:
        return start + (done // trial) * trial
    return start - per_epoch + train if snapshot.epoch > 0 else None


def newest_batch_events(events: NDArray[np.void], snapshot: ClassifierSnapshot) -> NDArray[np.void]:
    """``events`` of the newest training batch of ``snapshot`` (none when that batch rewired nothing)."""
    step = last_update_step(snapshot)
    return events[events["step"] == step] if step is not None else events[:0]


class MaskImage:
    """One table's mask on a plot: the signed weights, a colour bar, the last batch's rewiring marked.

    Presynaptic neuron ``i`` is row ``i`` (the y axis, 0 at the top) and
    postsynaptic neuron ``j`` column ``j`` (the x axis); the pixel of pair
    ``(i, j)`` is centred on the point ``(j, i)``.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to draw in (axes already labelled).
    """

    def __init__(self, plot: Any) -> None:
        self.plot = plot
        plot.invertY(True)
        self.picture = PooledImage(plot)
        self.item = self.picture.item
        self.colours = SignedColourBar(plot, self.item, "weight")
        add_legend(plot)
        self.pruned = pg.ScatterPlotItem(
            size=MARKER_SIZE,
            symbol="x",
            pen=pg.mkPen("w", width=0.6),
            brush=pg.mkBrush(TURNOVER_COLOURS["pruned"]),
            name="pruned",
        )
        self.regrown = pg.ScatterPlotItem(
            size=MARKER_SIZE + 1,
            symbol="+",
            pen=pg.mkPen("w", width=0.6),
            brush=pg.mkBrush(TURNOVER_COLOURS["regrown"]),
            name="regrown",
        )
        for markers in (self.pruned, self.regrown):
            plot.addItem(markers)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_pre, n_post)`` of the table shown."""
        return self.picture.shape

    @property
    def image(self) -> NDArray[np.float32]:
        """The full-resolution image (``n_pre x n_post``; NaN where no synapse is)."""
        return self.picture.values

    @property
    def levels(self) -> tuple[float, float]:
        """The weights of the two ends of the colour scale."""
        return self.colours.levels

    def set_shape(self, n_pre: int, n_post: int) -> None:
        """Show an empty ``n_pre x n_post`` table and fit the plot to it."""
        self.colours.reset()
        for markers in (self.pruned, self.regrown):
            markers.setData(pos=np.zeros((0, 2)))
        self.picture.set_shape(n_pre, n_post)

    def set_table(self, table: TableView) -> None:
        """Show ``table``'s synapses on a colour range that suits their weights."""
        image, weights = signed_image(table)
        self.colours.follow(weights)
        self.picture.set_values(image, self.colours.levels)

    def set_events(self, events: NDArray[np.void]) -> None:
        """Mark the synapses pruned (kind 0) and regrown (kind 1) among ``events`` of this table."""
        for markers, kind in ((self.pruned, REMOVED), (self.regrown, FORMED)):
            mine = events[events["kind"] == kind]
            pos = np.column_stack([mine["post"], mine["pre"]]).astype(np.float64)
            markers.setData(pos=pos)


class MasksView(View[Frame]):
    """The two tables' connectivity as images, with the newest batch's rewiring marked.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "masks"
    title = "Connectivity masks"
    tooltip = (
        "Which pairs of neurons hold a synapse. Rows: the presynaptic neuron; columns: the postsynaptic "
        "hidden neuron. A coloured pixel is a synapse (blue negative, red positive weight, grey near "
        "zero), white is no synapse. DEEP R prunes a synapse whose weight changes sign (black x) and "
        "regrows as many at random free pairs (green +): the marks show the newest batch's."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.images: dict[str, MaskImage] = {}
        plots = []
        for col, table in enumerate(TABLES):
            plot = self.graphics.addPlot(row=0, col=col)
            setup_axes(
                plot,
                f"{table.title}",
                table.post_label,
                table.pre_label,
                f"{table.title} synapses: a pixel per synapse, coloured by its weight; white: no synapse. "
                "Marked: the synapses pruned (x) and regrown (+) at the end of the newest batch.",
            )
            self.images[table.name] = MaskImage(plot)
            plots.append(plot)
        #: Synapses of each table at the last frame.
        self.synapses: dict[str, int] = {}
        #: The weight updates and the DEEP R switch of the tables drawn.
        self._drawn: tuple[int, bool] | None = None
        self.arrangement = ResponsiveGrid(
            self.graphics,
            plots,
            [1.25, 1.25],
            [(Cell(0, 0), Cell(0, 1)), (Cell(0, 0), Cell(1, 0))],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ClassifierConfig) -> None:
        """Forget the tables (the next frame gives their sizes)."""
        super().reset(config)
        for image in self.images.values():
            image.set_shape(0, 0)
        self.synapses = {}
        self._drawn = None

    def draw_frame(self, frame: Frame) -> None:
        """Show both tables' weights and the newest batch's pruned and regrown synapses.

        Tables change only at a weight update (the end of a training batch):
        frames between two updates leave the picture as it is.
        """
        deep_r = frame.config.rewiring.enabled and not frame.config.dense
        drawn = (int(frame.snapshot.updates), deep_r)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        events = newest_batch_events(frame.history.last_events, frame.snapshot)
        for table in TABLES:
            view = table_of(frame.snapshot, table)
            image = self.images[table.name]
            if image.shape != (view.n_pre, view.n_post):
                image.set_shape(view.n_pre, view.n_post)
            image.set_table(view)
            mine = events[events["projection"] == table.code]
            image.set_events(mine)
            self.synapses[table.name] = view.n_synapses
            self._set_title(image, table, view.n_synapses, view.pairs, mine, deep_r)

    @staticmethod
    def _set_title(
        image: MaskImage, table: Table, synapses: int, pairs: int, events: NDArray[np.void], deep_r: bool
    ) -> None:
        share = 100.0 * synapses / pairs if pairs else 0.0
        first = f"{table.title}: {synapses:,} synapses ({share:.1f}%)"
        if not deep_r:
            second = "DEEP R off: no rewiring"
        else:
            pruned = int((events["kind"] == REMOVED).sum())
            regrown = int((events["kind"] == FORMED).sum())
            second = f"last batch: {pruned:,} pruned, {regrown:,} regrown"
        set_title(image.plot, f"{first}<br>{second}")
