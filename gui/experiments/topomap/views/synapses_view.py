"""Synapse numbers: totals and turnover over time, and the feed-forward in-degree of every neuron."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike, NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.topomap.frame import Frame, History
from gui.context import ViewContext
from gui.views._plots import (
    COLOURS,
    TIME_LABEL,
    Cell,
    ColourRange,
    GridImagePlot,
    HistoryWatch,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    make_curve,
    nice_ceiling,
    set_title,
    setup_axes,
    stable_ceiling,
    view_layout,
)
from gui.views.base import View
from sim.experiments.topomap.config import ModelConfig

__all__ = [
    "InDegreeTheory",
    "SynapsesView",
    "in_degree_colour_range",
    "in_degree_theory",
    "turnover_rates",
]

#: Record intervals the time axes span before there are data.
EMPTY_RECORDS = 10
#: Synapses per target neuron the totals axis spans before there are data.
TOTALS_AXIS_PER_NEURON = 16
#: Top of the turnover axis before there are data (events per second).
TURNOVER_AXIS_START = 10.0


@dataclass(frozen=True)
class InDegreeTheory:
    """The expected number of neurons with each in-degree.

    Attributes
    ----------
    k : ndarray of int64
        In-degrees ``0, 1, ..., k_max``.
    neurons : ndarray of float64
        Expected number of neurons with in-degree ``k``.
    label : str
        What distribution this is, for the legend.
    mean : float
        The observed mean in-degree the distribution is fitted to.
    """

    k: NDArray[np.int64]
    neurons: NDArray[np.float64]
    label: str
    mean: float


def in_degree_theory(in_degree: ArrayLike, s_max: int | None) -> InDegreeTheory:
    """The in-degree distribution expected when every slot fills independently.

    With the slot scheme each target neuron has ``s_max`` slots, shared by FF
    and LAT, that the rewiring fills and empties one at a time; at
    equilibrium each slot holds an FF synapse with the same probability
    ``p``, so the FF in-degree is binomial with ``s_max`` trials. ``p`` is
    estimated as the observed mean in-degree divided by ``s_max``. Without a
    slot limit (the pair scheme) every (source, target) pair is connected
    independently with a small probability, and the in-degree is close to
    Poisson with the observed mean.

    Parameters
    ----------
    in_degree : array_like of int, shape (N,)
        FF in-degree of every target neuron.
    s_max : int or None
        Slots per target neuron, or None without a slot limit.

    Returns
    -------
    InDegreeTheory
        Expected neuron counts per in-degree; they sum to ``N`` (binomial)
        or to ``N`` up to a negligible tail (Poisson).
    """
    degrees = np.asarray(in_degree, dtype=np.float64)
    n_neurons = degrees.size
    mean = float(degrees.mean()) if n_neurons else 0.0
    if s_max is not None:
        if s_max < 1:
            raise ValueError(f"s_max must be positive, got {s_max}")
        p = min(max(mean / s_max, 0.0), 1.0)
        k = np.arange(s_max + 1, dtype=np.int64)
        pmf = _binomial_pmf(k, s_max, p)
        label = f"binomial, n = s_max = {s_max}"
    else:
        k_max = max(int(degrees.max(initial=0.0)), math.ceil(mean + 6.0 * math.sqrt(mean) + 6.0))
        k = np.arange(k_max + 1, dtype=np.int64)
        pmf = _poisson_pmf(k, mean)
        label = "Poisson, observed mean"
    return InDegreeTheory(k=k, neurons=pmf * n_neurons, label=label, mean=mean)


def _binomial_pmf(k: NDArray[np.int64], n: int, p: float) -> NDArray[np.float64]:
    if p <= 0.0 or p >= 1.0:
        return (k == (0 if p <= 0.0 else n)).astype(np.float64)
    log_pmf = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
        for i in k.tolist()
    ]
    return np.exp(np.array(log_pmf, np.float64))


def _poisson_pmf(k: NDArray[np.int64], mean: float) -> NDArray[np.float64]:
    if mean <= 0.0:
        return (k == 0).astype(np.float64)
    log_pmf = [i * math.log(mean) - mean - math.lgamma(i + 1) for i in k.tolist()]
    return np.exp(np.array(log_pmf, np.float64))


def in_degree_colour_range(config: ModelConfig) -> ColourRange:
    """The fixed colour range of the FF in-degree heatmap: 0 to the most synapses a target neuron can hold.

    With the slot scheme that is ``rewiring.s_max`` (slots shared by FF and
    LAT); otherwise the synapse table's capacity per target neuron,
    ``connectivity.col_capacity``. Neither can be exceeded, so nothing clips.
    """
    if config.rewiring.scheme == "slot":
        return ColourRange(float(config.rewiring.s_max), 0.0, clips=False)
    return ColourRange(float(config.connectivity.col_capacity), 0.0, clips=False)


def turnover_rates(table: dict[str, NDArray[np.float64]]) -> tuple[NDArray[np.float64], ...]:
    """Formations and eliminations per second from the rows of a history table.

    Row ``i`` counts the events since row ``i - 1``, so the rate is the count
    divided by the time between the rows; the first row (no interval) is left
    out.

    Returns
    -------
    t, formations, eliminations : ndarray of float64
        Time of each row after the first, and the two rates (events/s) up to it.
    """
    t = table["t"]
    if t.size < 2:
        empty = np.zeros(0, np.float64)
        return empty, empty, empty
    dt = np.diff(t)
    ok = dt > 0.0
    return t[1:][ok], table["formations"][1:][ok] / dt[ok], table["eliminations"][1:][ok] / dt[ok]


class SynapsesView(View[Frame]):
    """Synapse totals and turnover over time, and the FF in-degree as a heatmap and histogram.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "synapses"
    title = "Synapses"
    tooltip = (
        "How many synapses there are and how fast they turn over. Rewiring forms and removes synapses "
        "all the time; the totals settle where formation and elimination balance."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        totals = self.graphics.addPlot(row=0, col=0)
        turnover = self.graphics.addPlot(row=0, col=1)
        heatmap = self.graphics.addPlot(row=1, col=0)
        histogram = self.graphics.addPlot(row=1, col=1)
        setup_axes(
            totals,
            "Synapse totals",
            TIME_LABEL,
            "synapses",
            "Number of feed-forward (source to target) and lateral (target to target) synapses.",
        )
        setup_axes(
            turnover,
            "Rewiring (FF + LAT)",
            TIME_LABEL,
            "events/s",
            "Synapses formed and removed per second of model time, both projections together, "
            "averaged between history records.",
        )
        setup_axes(
            heatmap,
            "FF in-degree per neuron",
            "target x (grid units)",
            "target y",
            "Number of feed-forward synapses onto each target neuron, at its position on the grid.",
        )
        setup_axes(
            histogram,
            "FF in-degrees",
            "FF in-degree (synapses)",
            "target neurons",
            "How many target neurons have each number of feed-forward synapses (bars), and the "
            "distribution expected if every synapse slot filled independently (line).",
        )
        for plot in (totals, turnover, histogram):
            add_legend(plot)
        # The histogram changes every frame; grid lines would make each repaint several times costlier.
        histogram.showGrid(x=False, y=False)
        self.ff_curve = make_curve(totals, "FF", COLOURS["ff"])
        self.lat_curve = make_curve(totals, "LAT", COLOURS["lat"])
        self.formed_curve = make_curve(turnover, "formed", COLOURS["formed"])
        self.removed_curve = make_curve(turnover, "removed", COLOURS["removed"])
        self.totals_extent = SteadyExtent(totals)
        self.turnover_extent = SteadyExtent(turnover)
        self.in_degree = GridImagePlot(heatmap, "FF synapses")
        self.histogram = pg.PlotDataItem(
            np.zeros(2),
            np.zeros(1),
            stepMode="center",
            fillLevel=0.0,
            brush=pg.mkBrush(31, 119, 180, 110),
            pen=pg.mkPen(COLOURS["ff"], width=1),
            name="observed",
        )
        histogram.addItem(self.histogram)
        self.theory_curve = pg.PlotDataItem(
            np.zeros(0),
            np.zeros(0),
            pen=pg.mkPen("k", width=1.5),
            symbol="o",
            symbolSize=4,
            symbolBrush="k",
            name="theory",
        )
        histogram.addItem(self.theory_curve)
        self._histogram_plot = histogram
        self._rows = HistoryWatch()
        self._s_max: int | None = None
        self._theory_label = "theory"
        self._histogram_range = (0.0, 0.0)
        #: The theory drawn at the last frame.
        self.theory: InDegreeTheory | None = None
        # two by two in a squarish view, a column in a tall one, a row in a wide one
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [totals, turnover, heatmap, histogram],
            [1.6, 1.6, 1.15, 1.4],
            [
                (Cell(0, 0), Cell(0, 1), Cell(1, 0), Cell(1, 1)),
                (Cell(0, 0), Cell(1, 0), Cell(2, 0, weight=1.6), Cell(3, 0)),
                (Cell(0, 0), Cell(0, 1), Cell(0, 2), Cell(0, 3)),
            ],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ModelConfig) -> None:
        """Clear the curves and size the heatmap for the new grid."""
        super().reset(config)
        self._configure(config)

    def _configure(self, config: ModelConfig) -> None:
        self._rows.forget()
        for curve in (
            self.ff_curve,
            self.lat_curve,
            self.formed_curve,
            self.removed_curve,
            self.theory_curve,
        ):
            curve.setData(np.zeros(0), np.zeros(0))
        window = EMPTY_RECORDS * config.run.record_interval
        self.totals_extent.set_empty(window, nice_ceiling(TOTALS_AXIS_PER_NEURON * config.n_neurons))
        self.turnover_extent.set_empty(window, TURNOVER_AXIS_START)
        self.histogram.setData(np.zeros(2), np.zeros(1))
        self.in_degree.set_side(config.side)
        slot = config.rewiring.scheme == "slot"
        self._s_max = int(config.rewiring.s_max) if slot else None
        colours = in_degree_colour_range(config)
        self.in_degree.set_default_range(colours)
        self._histogram_range = (0.0, 0.0)
        self._histogram_plot.setRange(xRange=(-0.5, colours.high + 0.5), yRange=(0.0, 10.0), padding=0.0)
        self.theory = None

    def draw_frame(self, frame: Frame) -> None:
        """Update the curves (when the history has new rows) and the in-degree plots."""
        if frame.side != self.in_degree.side:
            self._configure(frame.config)
        self._draw_history(frame.history)
        degree = np.asarray(frame.snapshot.ff.in_degree)
        self._draw_in_degree(degree, frame.config.rewiring.enabled)

    def _draw_history(self, history: History) -> None:
        if not self._rows.news(history):
            return
        table = history.table()
        t = table["t"]
        self.ff_curve.setData(t, table["ff_synapses"])
        self.lat_curve.setData(t, table["lat_synapses"])
        t_rate, formed, removed = turnover_rates(table)
        self.formed_curve.setData(t_rate, formed)
        self.removed_curve.setData(t_rate, removed)
        self.totals_extent.cover(t, table["ff_synapses"], table["lat_synapses"])
        self.turnover_extent.cover(t, formed, removed)

    def _draw_in_degree(self, degree: NDArray[np.int32], rewiring: bool) -> None:
        self.in_degree.set_values(degree)
        theory = in_degree_theory(degree, self._s_max)
        k_max = max(int(degree.max(initial=0)), int(theory.k[-1]))
        counts = np.bincount(degree, minlength=k_max + 1)[: k_max + 1].astype(np.float64)
        self.histogram.setData(np.arange(k_max + 2, dtype=np.float64) - 0.5, counts)
        # The theory describes the balance of formation and elimination: none without rewiring.
        if rewiring:
            self.theory_curve.setData(theory.k.astype(np.float64), theory.neurons)
        else:
            self.theory_curve.setData(np.zeros(0), np.zeros(0))
        label = theory.label if rewiring else ""
        if label != self._theory_label:
            legend = self._histogram_plot.legend
            legend.removeItem(self.theory_curve)
            if label:
                legend.addItem(self.theory_curve, label)
            self._theory_label = label
        # Fixed ranges that change rarely: an axis that moves every frame is costly to redraw.
        top = max(float(counts.max(initial=0.0)), float(theory.neurons.max(initial=0.0)))
        x_max = stable_ceiling(self._histogram_range[0], float(k_max), 10.0)
        y_max = stable_ceiling(self._histogram_range[1], top * 1.15, 10.0)
        if (x_max, y_max) != self._histogram_range:
            self._histogram_range = (x_max, y_max)
            self._histogram_plot.setRange(xRange=(-0.5, x_max + 0.5), yRange=(0.0, y_max), padding=0.0)
        set_title(self._histogram_plot, f"FF in-degrees (mean {theory.mean:.1f})")
        self.theory = theory
