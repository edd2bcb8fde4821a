"""Weights and degrees: each table's weight histogram by sign; both tables' in- and out-degree histograms."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.classifier.frame import Frame
from gui.context import ViewContext
from gui.experiments.classifier.views.common import (
    SIGN_COLOURS,
    TABLE_COLOURS,
    TABLES,
    Table,
    coloured,
    count_ceiling,
    degree_ceiling,
    integer_edges,
    step_histogram,
    symmetric_limit,
    table_of,
)
from gui.views._plots import (
    FINE_STEPS,
    Cell,
    ReferenceLine,
    ResponsiveGrid,
    set_title,
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.experiments.classifier.config import ClassifierConfig

__all__ = ["WeightsView", "signed_histogram"]

#: Bins of each sign's half of a weight histogram.
HALF_BINS = 30


def signed_histogram(
    weights: NDArray[np.float32], limit: float, half_bins: int = HALF_BINS
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Histograms of the negative and the non-negative weights on ``[-limit, 0]`` and ``[0, limit]``.

    Weights beyond ``limit`` count in the outermost bins.

    Returns
    -------
    negative_edges, negative_counts, positive_edges, positive_counts : ndarray of float64
    """
    w = np.clip(np.asarray(weights, np.float64), -limit, limit)
    positive_edges = np.linspace(0.0, limit, half_bins + 1)
    negative_edges = -positive_edges[::-1]
    negative = np.histogram(w[w < 0.0], bins=negative_edges)[0].astype(np.float64)
    positive = np.histogram(w[w >= 0.0], bins=positive_edges)[0].astype(np.float64)
    return negative_edges, negative, positive_edges, positive


class WeightsView(View[Frame]):
    """Weight distributions by sign, and how many synapses each neuron sends and receives.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "weights"
    title = "Weights and degrees"
    tooltip = (
        "The weights of each table by sign (a synapse whose weight crosses zero is pruned by DEEP R), "
        "and the degrees: how many synapses each hidden neuron receives (in-degree) and each neuron "
        "sends (out-degree, at most the row capacity)."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plots: dict[str, pg.PlotItem] = {}
        self.histograms: dict[str, pg.PlotDataItem] = {}
        for col, table in enumerate(TABLES):
            plot = self.graphics.addPlot(row=0, col=col)
            setup_axes(
                plot,
                f"{table.title} weights",
                "weight",
                "synapses",
                f"How many {table.title.lower()} synapses have each weight: negative (blue) and "
                "positive (red). Weights beyond the axis count in its outermost bars.",
            )
            plot.showGrid(x=False, y=False)
            self.histograms[f"negative_{table.name}"] = step_histogram(
                plot, "negative", SIGN_COLOURS["negative"]
            )
            self.histograms[f"positive_{table.name}"] = step_histogram(
                plot, "positive", SIGN_COLOURS["positive"]
            )
            self.plots[f"weights_{table.name}"] = plot
        in_degree = self.graphics.addPlot(row=1, col=0)
        out_degree = self.graphics.addPlot(row=1, col=1)
        setup_axes(
            in_degree,
            "In-degrees of hidden neurons",
            "in-degree (synapses received)",
            "hidden neurons",
            "How many hidden neurons receive each number of synapses, from the inputs and from the "
            "hidden layer.",
        )
        setup_axes(
            out_degree,
            "Out-degrees (row lengths)",
            "out-degree (synapses sent)",
            "neurons",
            "How many input (and hidden) neurons send each number of synapses: the length of their row "
            "in the table, which can never exceed the row capacity (dashed).",
        )
        self.capacity: dict[str, ReferenceLine] = {}
        for plot, kind in ((in_degree, "in"), (out_degree, "out")):
            plot.showGrid(x=False, y=False)
            for table in TABLES:
                name = _neurons(table)
                self.histograms[f"{kind}_degree_{table.name}"] = step_histogram(
                    plot, name, TABLE_COLOURS[table.name]
                )
            self.plots[f"{kind}_degree"] = plot
        for table in TABLES:
            self.capacity[table.name] = ReferenceLine(out_degree, TABLE_COLOURS[table.name], angle=90)
        self.capacity["both"] = ReferenceLine(out_degree, "#000000", angle=90)
        self._limits: dict[str, float] = {}
        self._ranges: dict[str, tuple[float, float]] = {}
        #: The weight updates of the tables drawn.
        self._updates: int | None = None
        plots = [self.plots[k] for k in ("weights_in", "weights_rec", "in_degree", "out_degree")]
        self.arrangement = ResponsiveGrid(
            self.graphics,
            plots,
            [1.4, 1.4, 1.4, 1.4],
            [
                (Cell(0, 0), Cell(0, 1), Cell(1, 0), Cell(1, 1)),
                (Cell(0, 0), Cell(1, 0), Cell(2, 0), Cell(3, 0)),
                (Cell(0, 0), Cell(0, 1), Cell(0, 2), Cell(0, 3)),
            ],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ClassifierConfig) -> None:
        """Clear the histograms and their ranges."""
        super().reset(config)
        for item in self.histograms.values():
            item.setData(np.zeros(2), np.zeros(1))
        for line in self.capacity.values():
            line.hide()
        self._limits = {}
        self._ranges = {}
        self._updates = None

    def draw_frame(self, frame: Frame) -> None:
        """Update every histogram from the snapshot's tables (they change only at a weight update)."""
        if frame.snapshot.updates == self._updates:
            return
        self._updates = int(frame.snapshot.updates)
        for table in TABLES:
            self._draw_weights(frame, table)
        self._draw_degrees(frame)

    def _draw_weights(self, frame: Frame, table: Table) -> None:
        view = table_of(frame.snapshot, table)
        _pre, _post, weights = view.coo()
        magnitude = float(np.abs(weights).max(initial=0.0))
        limit = symmetric_limit(self._limits.get(table.name, 0.0), magnitude, steps=FINE_STEPS)
        self._limits[table.name] = limit
        neg_edges, negative, pos_edges, positive = signed_histogram(weights, limit)
        self.histograms[f"negative_{table.name}"].setData(neg_edges, negative)
        self.histograms[f"positive_{table.name}"].setData(pos_edges, positive)
        key = f"weights_{table.name}"
        top = count_ceiling(self._ranges.get(key, (0.0, 0.0))[1], np.concatenate([negative, positive]))
        self._set_range(key, (-limit, limit), limit, top)
        n_negative = int((weights < 0.0).sum())
        negative_text = coloured(f"{n_negative:,} negative", SIGN_COLOURS["negative"])
        positive_text = coloured(f"{weights.size - n_negative:,} positive", SIGN_COLOURS["positive"])
        set_title(self.plots[key], f"{table.title} weights<br>{negative_text} \u00b7 {positive_text}")

    def _draw_degrees(self, frame: Frame) -> None:
        caps = {}
        for kind in ("in", "out"):
            key = f"{kind}_degree"
            degrees = {}
            for table in TABLES:
                out, into = frame.degrees(table.name)
                degrees[table.name] = into if kind == "in" else out
            top_degree = max(int(d.max(initial=0)) for d in degrees.values())
            if kind == "out":
                for table in TABLES:
                    caps[table.name] = table_of(frame.snapshot, table).row_cap
                top_degree = max(top_degree, *caps.values())
            x_top = degree_ceiling(self._ranges.get(key, (0.0, 0.0))[0], float(top_degree))
            counts_top = 0.0
            for table in TABLES:
                counts = np.bincount(degrees[table.name], minlength=int(x_top) + 1)[: int(x_top) + 1]
                self.histograms[f"{key}_{table.name}"].setData(
                    integer_edges(int(x_top)), counts.astype(np.float64)
                )
                counts_top = max(counts_top, float(counts.max(initial=0)))
            y_top = count_ceiling(self._ranges.get(key, (0.0, 0.0))[1], [counts_top])
            self._set_range(key, (-0.5, x_top + 0.5), x_top, y_top)
            means = " \u00b7 ".join(
                coloured(f"{_neurons(t)} {degrees[t.name].mean():.1f}", TABLE_COLOURS[t.name])
                for t in TABLES
                if degrees[t.name].size
            )
            if kind == "in":
                title = "In-degrees of hidden neurons"
            else:
                shared = set(caps.values())
                title = (
                    f"Out-degrees, capacity {shared.pop()} (dashed)"
                    if len(shared) == 1
                    else "Out-degrees, row capacities dashed"
                )
            set_title(self.plots[key], f"{title}<br>mean: {means}")
        # one black line when both tables have the same capacity, else one per table in its colour
        same = len(set(caps.values())) == 1
        for name, line in self.capacity.items():
            if same and name == "both":
                line.show(caps["in"], "")
            elif not same and name != "both":
                line.show(caps[name], "")
            else:
                line.hide()

    def _set_range(self, key: str, x_range: tuple[float, float], x_top: float, y_top: float) -> None:
        """Show ``x_range`` and counts up to ``y_top`` on plot ``key``, remembering the axis tops.

        Only when they changed: an axis that moves every frame is costly to redraw.
        """
        if self._ranges.get(key) != (x_top, y_top):
            self._ranges[key] = (x_top, y_top)
            self.plots[key].setRange(xRange=x_range, yRange=(0.0, y_top), padding=0.0)


def _neurons(table: Table) -> str:
    """Whose synapses a table holds (its presynaptic neurons), for the degree titles."""
    return "inputs" if table.name == "in" else "hidden"
