"""Cost: parameters and synaptic operations of the network as it would be compacted, epoch by epoch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

from app.experiments.channels.frame import Frame
from gui.context import ViewContext
from gui.experiments.channels.views.common import EPOCH_LABEL, points, si
from gui.views._plots import (
    COLOURS,
    HistoryWatch,
    ReferenceLine,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    finite_max,
    set_title,
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.experiments.channels.config import ChannelsConfig

__all__ = ["CostView"]

#: Epochs the time axes span before there are data.
EMPTY_EPOCHS = 1.0
#: Colours of the parameter and SynOps curves, and of the present value.
PARAMS_COLOUR = "#6a3d9a"
SYNOPS_COLOUR = "#ff7f00"
NOW_COLOUR = "#e41a1c"


class CostView(View[Frame]):
    """Parameters (against the dense network's) and SynOps per sample of the network compacted now.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "cost"
    title = "Cost"
    tooltip = (
        "What the network would cost if it were compacted (its masked channels removed): trained "
        "parameters at every epoch's end and now, against the dense network's (dashed), and synaptic "
        "operations per sample (spikes times fan-out, over the test set at every epoch's end)."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        params = self.graphics.addPlot(row=0, col=0)
        synops = self.graphics.addPlot(row=1, col=0)
        setup_axes(
            params,
            "Parameters",
            EPOCH_LABEL,
            "trained parameters",
            "Conv weights, BatchNorm scales and shifts, readout weights and biases of the network "
            "compacted at every epoch's end (line) and now (dot); dashed: the dense network.",
        )
        setup_axes(
            synops,
            "SynOps per sample",
            EPOCH_LABEL,
            "synaptic operations per sample",
            "Spikes times fan-out of the compact network per test image, at every epoch's end.",
        )
        for plot in (params, synops):
            add_legend(plot)
            _si_ticks(plot.getAxis("left"))
        self.params = points(params, "epoch end", PARAMS_COLOUR, size=5, line=True)
        self.now = points(params, "now", NOW_COLOUR, size=9)
        self.dense = ReferenceLine(params, COLOURS["initial"])
        self.synops = points(synops, "epoch end", SYNOPS_COLOUR, size=5, line=True)
        self.extents = {
            "params": SteadyExtent(params, EMPTY_EPOCHS, 1.0),
            "synops": SteadyExtent(synops, EMPTY_EPOCHS, 1.0),
        }
        self.plots = {"params": params, "synops": synops}
        self._rows = HistoryWatch()
        self._drawn_seq: int | None = None
        self.arrangement = ResponsiveGrid.pair(self.graphics, params, synops)
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ChannelsConfig) -> None:
        """Clear the curves."""
        super().reset(config)
        self._rows.forget()
        self._drawn_seq = None
        for curve in (self.params, self.now, self.synops):
            curve.setData(np.zeros(0), np.zeros(0))
        for extent in self.extents.values():
            extent.reset()
        self.dense.hide()
        set_title(self.plots["params"], "Parameters")
        set_title(self.plots["synops"], "SynOps per sample")

    def draw_frame(self, frame: Frame) -> None:
        """Update the present parameters, and the curves when an epoch ended."""
        snap = frame.snapshot
        if snap.seq == self._drawn_seq:
            return
        self._drawn_seq = snap.seq
        dense, now = float(snap.params_dense), float(snap.params)
        self.dense.show(dense, f"dense: {si(dense)}")
        self.now.setData([float(snap.t)], [now])
        news = self._rows.news(frame.history)
        table = frame.history.table()
        t = np.asarray(table["t"], np.float64)
        if news:
            self.params.setData(t, table["params"])
            self.synops.setData(t, table["synops"])
        x_max = finite_max(t, snap.t)
        self.extents["params"].follow(x_max, 1.1 * max(dense, now))
        self.extents["synops"].follow(x_max, 1.1 * finite_max(table["synops"]))
        share = now / dense if dense > 0 else float("nan")
        set_title(
            self.plots["params"], f"Parameters if compacted<br>now {si(now)} of {si(dense)} ({share:.0%})"
        )
        if t.size:
            set_title(
                self.plots["synops"],
                f"SynOps per sample<br>epoch {len(t)}: {si(float(table['synops'][-1]))}",
            )


def _si_ticks(axis: Any) -> None:
    """Label ``axis``'s ticks with k, M and G (``1.5M``), not with exponents."""

    def tick_strings(values: list[float], _scale: float, _spacing: float) -> list[str]:
        return [si(v) for v in values]

    axis.tickStrings = tick_strings
