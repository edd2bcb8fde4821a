"""Importance: what the next mask update ranks by, and the gradients that decide what comes back.

Three plots: the distribution of the importance of the kept channels (the
paper's Figure 4a), with the channels the next update would mask if it were
made now in red; every channel's importance by block (kept blue, masked
grey, next to go red); and the distribution of the mean ``|dL/dgamma|`` of
the masked channels, the regrowth candidates, against the kept ones' on a
logarithmic axis, with the ones the next update would bring back in green.
The prediction replays the pruner's rule on the scores gathered so far
(:func:`~gui.experiments.channels.views.common.predict_update`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.channels.frame import Frame
from gui.context import ViewContext
from gui.experiments.channels.views.common import (
    STATE_COLOURS,
    TURNOVER_COLOURS,
    count_ceiling,
    gradient_now,
    predict_update,
    score_name,
    step_histogram,
)
from gui.views._plots import (
    FINE_STEPS,
    Cell,
    ResponsiveGrid,
    add_legend,
    set_title,
    setup_axes,
    stable_ceiling,
    view_layout,
)
from gui.views.base import View
from sim.experiments.channels.config import ChannelsConfig

__all__ = ["ImportanceView", "log_histogram"]

#: Bins of the importance histogram.
BINS = 30
#: Bins per decade of the gradient histograms.
BINS_PER_DECADE = 6
#: Horizontal spread of a block's points in the strip plot (block units).
JITTER = 0.3


def log_histogram(
    values: NDArray[np.float64], low: float, high: float, per_decade: int = BINS_PER_DECADE
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Counts of ``values`` in bins even on a log scale from decade ``low`` to ``high`` (log10).

    Values of zero (or below the first edge) count in the first bin, values
    above the last in the last. Returns the edges (in the values' units) and
    the counts.
    """
    n = max(1, round((high - low) * per_decade))
    edges = np.linspace(low, high, n + 1)
    v = np.log10(np.maximum(np.asarray(values, np.float64), 10.0**low))
    counts = np.histogram(np.clip(v, low, high), bins=edges)[0].astype(np.float64)
    return 10.0**edges, counts


class ImportanceView(View[Frame]):
    """The importance of kept channels, every channel's by block, and ``|dL/dgamma|`` masked vs kept.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "importance"
    title = "Importance"
    tooltip = (
        "What the next mask update ranks by. Top: the importance (mean |V| since the last update) of "
        "the kept channels; red: those the update would mask if it were made now (the lowest). Middle: "
        "every channel's importance by block. Bottom: the mean |dL/d\u03b3| of the masked channels "
        "(the regrowth candidates; green: those that would come back) against the kept ones'."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        histogram = self.graphics.addPlot(row=0, col=0)
        self.histogram_plot = histogram
        self._score = "mean |V|"
        strip = self.graphics.addPlot(row=1, col=0)
        grads = self.graphics.addPlot(row=2, col=0)
        setup_axes(
            histogram,
            "Importance of kept channels",
            "importance (mean |V|)",
            "channels",
            "How many kept channels have each importance (mean |V| over time steps, samples and "
            "positions since the last mask update; plus the spike rate with pruning.use_rate). Red: the "
            "channels the next update would mask if it were made now.",
        )
        setup_axes(
            strip,
            "Importance by block",
            "conv block",
            "importance",
            "Every channel's importance, one column of points per conv block: kept blue, masked grey, "
            "masked next red.",
        )
        setup_axes(
            grads,
            "|dL/d\u03b3| of masked and kept channels",
            "mean |dL/d\u03b3| (log scale)",
            "channels",
            "Mean |dL/d\u03b3| of the BatchNorm scale since the last update: how much the loss would fall "
            "if the channel came back. Green: the masked channels the next update would bring back "
            "(the largest).",
        )
        for plot in (histogram, strip, grads):
            plot.showGrid(x=False, y=True, alpha=0.2)
            add_legend(plot)
        self.kept_histogram = step_histogram(histogram, "kept", STATE_COLOURS["kept"])
        self.pruned_histogram = step_histogram(histogram, "masked next", TURNOVER_COLOURS["pruned"])
        self.strip_masked = pg.ScatterPlotItem(
            size=5, pen=pg.mkPen(STATE_COLOURS["masked"], width=1), brush=None, name="masked"
        )
        self.strip_kept = pg.ScatterPlotItem(
            size=5, pen=None, brush=pg.mkBrush(STATE_COLOURS["kept"]), name="kept"
        )
        self.strip_next = pg.ScatterPlotItem(
            size=6, pen=None, brush=pg.mkBrush(TURNOVER_COLOURS["pruned"]), name="masked next"
        )
        for item in (self.strip_masked, self.strip_kept, self.strip_next):
            strip.addItem(item)
        grads.setLogMode(x=True, y=False)
        self.masked_grads = step_histogram(grads, "masked", STATE_COLOURS["masked"])
        self.regrown_grads = step_histogram(grads, "regrown next", TURNOVER_COLOURS["regrown"])
        self.kept_grads = step_histogram(grads, "kept", STATE_COLOURS["kept"], fill=False)
        self.plots = {"histogram": histogram, "strip": strip, "grads": grads}
        for plot in self.plots.values():
            plot.disableAutoRange()
            plot.getViewBox().setDefaultPadding(0.0)
        #: The channels the next update would mask and bring back (over all blocks), from the last frame.
        self.next_pruned = np.zeros(0, bool)
        self.next_regrown = np.zeros(0, bool)
        self._ranges: dict[str, tuple[float, float, float, float]] = {}
        self._drawn: int | None = None
        self._blocks = 0
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [histogram, strip, grads],
            [1.8, 1.8, 1.8],
            [
                (Cell(0, 0), Cell(1, 0), Cell(2, 0)),
                (Cell(0, 0), Cell(0, 1), Cell(1, 0, 1, 2)),
                (Cell(0, 0), Cell(0, 1), Cell(0, 2)),
            ],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ChannelsConfig) -> None:
        """Clear the plots."""
        super().reset(config)
        for item in (
            self.kept_histogram,
            self.pruned_histogram,
            self.masked_grads,
            self.regrown_grads,
            self.kept_grads,
        ):
            item.setData(np.zeros(2), np.zeros(1))
        for scatter in (self.strip_kept, self.strip_masked, self.strip_next):
            scatter.setData(pos=np.zeros((0, 2)))
        self.next_pruned = self.next_regrown = np.zeros(0, bool)
        self._ranges = {}
        self._drawn = None
        self._blocks = 0

    def draw_frame(self, frame: Frame) -> None:
        """Redraw the distributions (once per snapshot)."""
        snap = frame.snapshot
        if self._drawn == snap.seq:
            return
        self._drawn = snap.seq
        score = score_name(frame.config)
        if score != self._score:
            self._score = score
            self.histogram_plot.setLabel("bottom", f"importance ({score})")
        mask = np.asarray(snap.mask, bool)
        importance = np.asarray(frame.grid_importance, np.float64)
        grad, at_update = gradient_now(snap, frame.history.records.last_gamma_grad)
        gathered = bool(np.any(np.asarray(snap.importance) > 0))
        if gathered:  # the scores the next update would rank by exist
            self.next_pruned, self.next_regrown = predict_update(snap, frame.config)
        else:
            self.next_pruned = self.next_regrown = np.zeros(len(mask), bool)
        self._draw_histogram(importance, mask, gathered)
        self._draw_strip(frame, importance, mask)
        self._draw_grads(grad, mask, at_update)

    def _draw_histogram(
        self, importance: NDArray[np.float64], mask: NDArray[np.bool_], gathered: bool
    ) -> None:
        kept = importance[mask]
        top = float(kept.max()) if kept.size else 0.0
        previous = self._ranges.get("histogram", (0.0, 0.0, 0.0, 0.0))
        x_top = stable_ceiling(previous[1], top, 1e-6, FINE_STEPS)
        edges = np.linspace(0.0, x_top, BINS + 1)
        counts = np.histogram(np.clip(kept, 0.0, x_top), bins=edges)[0].astype(np.float64)
        going = importance[self.next_pruned]
        next_counts = np.histogram(np.clip(going, 0.0, x_top), bins=edges)[0].astype(np.float64)
        self.kept_histogram.setData(edges, counts)
        self.pruned_histogram.setData(*_trimmed(edges, next_counts))
        y_top = count_ceiling(previous[3], counts)
        self._set_range("histogram", 0.0, x_top, 0.0, y_top)
        title = f"Importance of {kept.size:,} kept"
        if not gathered:
            title += "<br>(the last update's scores)"
        elif going.size:
            title += f"<br>{going.size:,} would be masked now"
        elif kept.size:
            title += f"<br>median {float(np.median(kept)):.3g}"
        set_title(self.plots["histogram"], title)

    def _draw_strip(self, frame: Frame, importance: NDArray[np.float64], mask: NDArray[np.bool_]) -> None:
        snap = frame.snapshot
        n = len(importance)
        block = np.repeat(np.arange(len(snap.sizes), dtype=np.float64), snap.sizes) + 1.0
        # a steady spread: each channel keeps its place in its column
        jitter = ((np.arange(n) * 0.6180339887) % 1.0 - 0.5) * 2.0 * JITTER
        x = block + jitter
        staying = mask & ~self.next_pruned
        self.strip_kept.setData(x=x[staying], y=importance[staying])
        self.strip_next.setData(x=x[self.next_pruned], y=importance[self.next_pruned])
        self.strip_masked.setData(x=x[~mask], y=importance[~mask])
        if len(snap.sizes) != self._blocks:
            self._blocks = len(snap.sizes)
            axis = self.plots["strip"].getAxis("bottom")
            axis.setTicks([[(i + 1.0, str(i + 1)) for i in range(self._blocks)], []])
        top = float(importance.max()) if n else 0.0
        previous = self._ranges.get("strip", (0.0, 0.0, 0.0, 0.0))
        y_top = stable_ceiling(previous[3], 1.05 * top, 1e-6, FINE_STEPS)
        self._set_range("strip", 0.4, self._blocks + 0.6, 0.0, y_top)
        means = [
            float(p[m].mean()) if m.any() else math.nan
            for p, m in zip(snap.split(importance), snap.split(mask), strict=True)
        ]
        finite = [v for v in means if math.isfinite(v)]
        title = "Importance by block"
        if finite:
            title += f"<br>kept means {min(finite):.2g} to {max(finite):.2g}"
        set_title(self.plots["strip"], title)

    def _draw_grads(self, grad: NDArray[np.float64], mask: NDArray[np.bool_], at_update: bool) -> None:
        positive = grad[grad > 0]
        if positive.size:
            high = math.ceil(math.log10(float(positive.max())) + 1e-9)
            low = math.floor(math.log10(float(np.percentile(positive, 1.0))))
            low = max(min(low, high - 1), high - 8)
        else:
            low, high = -6, -1
        previous = self._ranges.get("grads")
        if previous is not None and previous[0] <= low and previous[1] >= high and previous[1] - high <= 2:
            low, high = int(previous[0]), int(previous[1])
        edges, masked = log_histogram(grad[~mask], low, high)
        _edges, coming = log_histogram(grad[self.next_regrown], low, high)
        _edges, kept = log_histogram(grad[mask], low, high)
        self.masked_grads.setData(edges, masked)
        self.regrown_grads.setData(*_trimmed(edges, coming))
        self.kept_grads.setData(edges, kept)
        y_top = count_ceiling(previous[3] if previous is not None else 0.0, np.concatenate([masked, kept]))
        self._set_range("grads", float(low), float(high), 0.0, y_top)
        title = "|dL/d\u03b3| of masked and kept"
        if at_update:
            title += "<br>(the last update's values)"
        elif self.next_regrown.any():
            title += f"<br>{int(self.next_regrown.sum()):,} would come back now"
        set_title(self.plots["grads"], title)

    def _set_range(self, key: str, x0: float, x1: float, y0: float, y1: float) -> None:
        """Show ``[x0, x1] x [y0, y1]`` on plot ``key`` (log10 units on a log axis), if it changed."""
        if self._ranges.get(key) != (x0, x1, y0, y1):
            self._ranges[key] = (x0, x1, y0, y1)
            self.plots[key].setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)


def _trimmed(
    edges: NDArray[np.float64], counts: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The bins of a histogram from its first to its last non-empty one (an overlay drawn only
    where it has channels); one empty bin when all are empty."""
    filled = np.flatnonzero(counts)
    if not filled.size:
        return edges[:2], np.zeros(1)
    first, last = int(filled[0]), int(filled[-1])
    return edges[first : last + 2], counts[first : last + 1]
