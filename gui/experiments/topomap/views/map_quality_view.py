"""Map quality over time: receptive-field spread and offset, with published reference values."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.topomap.frame import Frame
from gui.context import ViewContext
from gui.views._plots import (
    COLOURS,
    TIME_LABEL,
    HistoryWatch,
    ReferenceLine,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    make_curve,
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.experiments.topomap.analysis.reference import BAMFORD_2010, bamford_case
from sim.experiments.topomap.config import ModelConfig

__all__ = ["MapQualityView", "finite_points", "first_finite"]

#: Top of the value axes (grid units) before there are data.
METRIC_AXIS_START = 4.0
#: Record intervals the time axes span before there are data.
EMPTY_RECORDS = 10

#: (history column, legend name, colour key) of the curves of each plot.
_METRICS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "sigma_aff": (("sigma_aff_conn", "counts", "counts"), ("sigma_aff_weight", "weights", "weights")),
    "ad": (("ad_conn", "counts", "counts"), ("ad_weight", "weights", "weights")),
}


def finite_points(
    t: NDArray[np.float64], values: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The rows of ``(t, values)`` where the value is finite (rows without a measurement dropped)."""
    ok = np.isfinite(values)
    return t[ok], values[ok]


def first_finite(values: NDArray[np.float64]) -> float:
    """The first finite entry of ``values``, or NaN if there is none."""
    ok = np.flatnonzero(np.isfinite(values))
    return float(values[ok[0]]) if ok.size else math.nan


class MapQualityView(View[Frame]):
    """sigma_aff and AD (from synapse counts and from weights) over time.

    Dashed lines mark Bamford et al. 2010's values after 300 s for the case
    the configuration runs, where they apply
    (:func:`sim.experiments.topomap.analysis.reference.bamford_case`), and grey
    dashed lines the initial value. Legends sit above the plots, off the data.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "map_quality"
    title = "Map quality"
    tooltip = (
        "How good the topographic map is. sigma_aff: how spread out each neuron's receptive field is "
        "(smaller = sharper). AD: how far the receptive-field centre lies from where the neuron sits "
        "(smaller = more accurate map). Both are network means in grid units, from synapse counts "
        "and from weights; dashed: the initial value and, for Bamford's own network (the bamford2010 and "
        "bogdan2018 presets), Bamford et al. 2010's published value for the case (number)."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        sigma_plot = self.graphics.addPlot(row=0, col=0)
        ad_plot = self.graphics.addPlot(row=1, col=0)
        setup_axes(
            sigma_plot,
            "Receptive-field spread &sigma;<sub>aff</sub>",
            TIME_LABEL,
            "&sigma;<sub>aff</sub> (grid units)",
            "Mean spread of the receptive fields: the standard deviation of each neuron's feed-forward "
            "inputs around their centre. It falls as receptive fields sharpen.",
        )
        setup_axes(
            ad_plot,
            "Receptive-field offset AD",
            TIME_LABEL,
            "AD (grid units)",
            "Mean distance between each neuron's receptive-field centre and its own position on the grid. "
            "Small values mean neighbouring target neurons listen to neighbouring source neurons.",
        )
        self.plots = {"sigma_aff": sigma_plot, "ad": ad_plot}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.references: dict[str, ReferenceLine] = {}
        self.initial: dict[str, ReferenceLine] = {}
        self.extents = {
            metric: SteadyExtent(plot, y_empty=METRIC_AXIS_START) for metric, plot in self.plots.items()
        }
        for metric, columns in _METRICS.items():
            plot = self.plots[metric]
            add_legend(plot)
            for column, name, colour in columns:
                curve = make_curve(plot, name, COLOURS[colour], symbol="o", symbolSize=4)
                curve.setSymbolPen(None)
                curve.setSymbolBrush(COLOURS[colour])
                self.curves[column] = curve
                self.references[column] = ReferenceLine(plot, COLOURS[colour])
            self.initial[metric] = ReferenceLine(plot, COLOURS["initial"])
        self._rows = HistoryWatch()
        self._case: int | None = None
        self._case_shown = False
        self.arrangement = ResponsiveGrid.pair(self.graphics, sigma_plot, ad_plot)
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ModelConfig) -> None:
        """Clear the curves and show the reference values of the new configuration."""
        super().reset(config)
        self._rows.forget()
        for curve in self.curves.values():
            curve.setData(np.zeros(0), np.zeros(0))
        for line in self.initial.values():
            line.hide()
        for extent in self.extents.values():
            extent.set_empty(EMPTY_RECORDS * config.run.record_interval, METRIC_AXIS_START)
        self._case_shown = False
        self._show_references(config)

    def draw_frame(self, frame: Frame) -> None:
        """Update the curves when the history has new rows, and the references if the case changed."""
        self._show_references(frame.config)
        history = frame.history
        if not self._rows.news(history):
            return
        table = history.table()
        t = table["t"]
        for column, curve in self.curves.items():
            curve.setData(*finite_points(t, table[column]))
        for metric, columns in _METRICS.items():
            start = first_finite(table[columns[0][0]])
            if math.isfinite(start):
                self.initial[metric].show(start, f"initial: {start:.2f}")
            else:
                self.initial[metric].hide()
            values = [table[column] for column, _name, _colour in columns]
            lines = [self.references[column] for column, _name, _colour in columns] + [self.initial[metric]]
            marks = [line.value for line in lines if line.visible]
            self.extents[metric].cover(t, *values, marks)

    def _show_references(self, config: ModelConfig) -> None:
        case = bamford_case(config)
        if self._case_shown and case == self._case:
            return
        self._case, self._case_shown = case, True
        values = None if case is None else BAMFORD_2010[case]
        for columns in _METRICS.values():
            for column, _name, _colour in columns:
                line = self.references[column]
                if values is None:
                    line.hide()
                else:
                    line.show(values[column], f"Bamford 2010, case {case}: {values[column]:.2f}")
