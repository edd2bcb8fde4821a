"""Kept channels per layer over the mask updates (the paper's Figure 3b), and each update's turnover."""

from __future__ import annotations

import itertools

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.channels.frame import Frame
from gui.context import ViewContext
from gui.experiments.channels.views.common import TURNOVER_COLOURS, block_colours, coloured, points
from gui.views._plots import (
    COLOURS,
    FINE_STEPS,
    Cell,
    ReferenceLine,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    finite_max,
    set_title,
    setup_axes,
    stable_ceiling,
    view_layout,
)
from gui.views.base import View
from sim.experiments.channels.config import ChannelsConfig

__all__ = ["KeptView", "kept_shares"]

#: Updates the axes span before there are any.
EMPTY_UPDATES = 5.0
#: Top of the kept-share axis (%): a little room above 100.
SHARE_TOP = 105.0
#: Blocks whose legend entries are their labels (``2: 32C3``); more get their numbers only.
LONG_LEGEND = 6
#: Top of the turnover axis before there are data (channels).
TURNOVER_AXIS_START = 5.0


def kept_shares(frame: Frame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Update numbers (0: the start, 1: the first update, ...) and each block's kept share (%).

    Returns ``(x, shares)`` with ``shares`` of shape ``(updates + 1, blocks)``:
    the first row is the initial mask (every channel, or a random mask's).
    """
    records = frame.history.records
    sizes = np.asarray(frame.snapshot.sizes, np.float64)
    initial = records.initial_mask
    offsets = frame.snapshot.offsets
    if initial is None:
        first = np.full(len(sizes), 100.0)
    else:
        first = np.array([initial[a:b].sum() for a, b in itertools.pairwise(offsets)], np.float64)
        first = 100.0 * first / np.maximum(sizes, 1.0)
    kept = np.asarray(records.update_kept.array(), np.float64)
    index = np.asarray(records.updates.array()["index"], np.float64)
    shares = np.vstack([first[None, :], 100.0 * kept / np.maximum(sizes, 1.0)])
    return np.concatenate([[0.0], index + 1.0]), shares


class KeptView(View[Frame]):
    """The share of each block's channels kept after every mask update, and the channels each update
    pruned and regrew.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "kept"
    title = "Kept per layer"
    tooltip = (
        "How many of each conv block's channels are kept after every mask update (the paper's "
        "Figure 3b: deeper blocks give up more). The ranking is global, so blocks differ; the dashed "
        "line is the share kept overall, 1 - s. Below: channels each update masked and regrew."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        shares = self.graphics.addPlot(row=0, col=0)
        turnover = self.graphics.addPlot(row=1, col=0)
        setup_axes(
            shares,
            "Kept channels per block",
            "mask update",
            "channels kept (%)",
            "Share of each block's channels kept after every mask update (0: the start). Colours go "
            "from light (the first block) to dark (the last); a network of many blocks lists their "
            "numbers.",
        )
        setup_axes(
            turnover,
            "Changed per update",
            "mask update",
            "channels",
            "Channels each mask update masked (pruned) and brought back (regrown). The first update "
            "only prunes, down to the sparsity s; later ones swap a fraction p of the kept channels.",
        )
        for plot in (shares, turnover):
            add_legend(plot)
        shares.disableAutoRange()
        shares.getViewBox().setDefaultPadding(0.0)
        shares.getViewBox().setLimits(xMin=0.0)
        self.overall = ReferenceLine(shares, COLOURS["initial"])
        self.pruned = points(turnover, "pruned", TURNOVER_COLOURS["pruned"], size=6, line=True)
        self.regrown = points(turnover, "regrown", TURNOVER_COLOURS["regrown"], size=6, line=True)
        self.turnover_extent = SteadyExtent(turnover, EMPTY_UPDATES, TURNOVER_AXIS_START)
        self.plots = {"shares": shares, "turnover": turnover}
        #: One curve per block (made at the first frame of a network).
        self.curves: list[pg.PlotDataItem] = []
        self._x_top = 0.0
        self._set_x_top(EMPTY_UPDATES)
        self._drawn: tuple[int, int] | None = None
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [shares, turnover],
            [1.5, 1.8],
            [(Cell(0, 0, weight=1.4), Cell(1, 0)), (Cell(0, 0), Cell(0, 1))],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ChannelsConfig) -> None:
        """Clear the curves (the next frame makes one per block)."""
        super().reset(config)
        plot = self.plots["shares"]
        for curve in self.curves:
            plot.removeItem(curve)
            if plot.legend is not None:
                plot.legend.removeItem(curve)
        self.curves = []
        for item in (self.pruned, self.regrown):
            item.setData(np.zeros(0), np.zeros(0))
        self.overall.hide()
        self.turnover_extent.reset()
        self._x_top = 0.0
        self._set_x_top(EMPTY_UPDATES)
        self._drawn = None
        set_title(plot, "Kept channels per block")
        set_title(self.plots["turnover"], "Changed per update")

    def draw_frame(self, frame: Frame) -> None:
        """Update the curves when an update was made (or the network is new)."""
        snap = frame.snapshot
        records = frame.history.records
        drawn = (id(frame.history), len(records.updates))
        if drawn == self._drawn and len(self.curves) == len(snap.sizes):
            self._show_overall(snap.mode, snap.sparsity)
            return
        self._drawn = drawn
        if len(self.curves) != len(snap.sizes):
            self._make_curves(snap.labels)
        x, shares = kept_shares(frame)
        for b, curve in enumerate(self.curves):
            curve.setData(x, shares[:, b])
        updates = records.updates.array()
        ux = np.asarray(updates["index"], np.float64) + 1.0
        pruned = np.asarray(updates["pruned"], np.float64)
        regrown = np.asarray(updates["regrown"], np.float64)
        self.pruned.setData(ux, pruned)
        self.regrown.setData(ux, regrown)
        self._set_x_top(stable_ceiling(self._x_top, 1.02 * float(x[-1]) + 0.5, EMPTY_UPDATES, FINE_STEPS))
        self.turnover_extent.follow(finite_max(ux, EMPTY_UPDATES), 1.1 * finite_max(pruned, regrown, 1.0))
        self._show_overall(snap.mode, snap.sparsity)
        shallow, deep = shares[-1, 0], shares[-1, -1]
        if len(ux):
            text = f"Kept after update {int(ux[-1])}<br>first block {shallow:.0f}%, last {deep:.0f}%"
        else:
            text = "Kept channels per block<br>no mask update yet"
        set_title(self.plots["shares"], text)
        if len(ux):
            p = coloured(f"{int(pruned[-1])} pruned", TURNOVER_COLOURS["pruned"])
            r = coloured(f"{int(regrown[-1])} regrown", TURNOVER_COLOURS["regrown"])
            set_title(self.plots["turnover"], f"Changed at update {int(ux[-1])}<br>{p}, {r}")

    def _make_curves(self, labels: tuple[str, ...]) -> None:
        plot = self.plots["shares"]
        for curve in self.curves:
            plot.removeItem(curve)
            if plot.legend is not None:
                plot.legend.removeItem(curve)
        self.curves = []
        short = len(labels) > LONG_LEGEND  # block numbers only: the legend stays a few rows high
        for b, (label, colour) in enumerate(zip(labels, block_colours(len(labels)), strict=True)):
            curve = pg.PlotDataItem(
                np.zeros(0),
                np.zeros(0),
                name=f"{b + 1}" if short else label,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=4,
                symbolPen=None,
                symbolBrush=pg.mkBrush(colour),
            )
            plot.addItem(curve)
            self.curves.append(curve)

    def _show_overall(self, mode: str, sparsity: float) -> None:
        if mode == "none":
            self.overall.hide()
        else:
            kept = 100.0 * (1.0 - sparsity)
            self.overall.show(kept, f"overall: {kept:.0f}%")

    def _set_x_top(self, top: float) -> None:
        if top != self._x_top:
            self._x_top = top
            self.plots["shares"].setRange(xRange=(0.0, top), yRange=(0.0, SHARE_TOP), padding=0.0)
