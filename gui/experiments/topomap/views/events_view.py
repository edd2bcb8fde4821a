"""Rewiring events by distance: where synapses form and where they disappear."""

from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QCheckBox, QWidget

from app.experiments.topomap.frame import Frame
from gui.context import ViewContext
from gui.views._plots import (
    COLOURS,
    HistoryWatch,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    controls_row,
    set_title,
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.events import FF, LAT
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.geometry import distance

__all__ = ["EventsView", "events_per_pair", "pairs_per_distance"]

#: Index of the kinds in ``History.events_by_distance[projection]``.
_FORMED_INDEX, _REMOVED_INDEX = 0, 1
#: Projection code and plot title, in the order of ``History.events_by_distance``.
_PROJECTIONS = ((FF, "FF (source to target)"), (LAT, "LAT (target to target)"))


@functools.lru_cache(maxsize=8)
def _pairs_per_distance(side: int, n_bins: int) -> NDArray[np.int64]:
    d = distance(0, np.arange(side * side), side)
    bins = np.minimum(np.floor(d + 1e-9).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins).astype(np.int64)
    counts.setflags(write=False)
    return counts


def pairs_per_distance(side: int, n_bins: int) -> NDArray[np.int64]:
    """Neurons of an ``side x side`` torus in each unit-width distance bin around any one neuron.

    Bin ``b`` holds distances in ``[b, b + 1)``, the last bin everything
    beyond (as in :attr:`app.frame.History.events_by_distance`). The bins sum
    to ``side * side``; on a torus every neuron sees the same counts, so
    ``side * side`` times these are the neuron pairs at each distance.

    Returns
    -------
    ndarray of int64, shape (n_bins,)
        Read-only (cached per grid size).
    """
    if side < 1 or n_bins < 1:
        raise ValueError(f"side and n_bins must be positive, got {side} and {n_bins}")
    return _pairs_per_distance(int(side), int(n_bins))


def events_per_pair(events: NDArray[np.int64], side: int, autapses: bool = True) -> NDArray[np.float64]:
    """Events in each distance bin divided by the number of (pre, post) neuron pairs at that distance.

    Parameters
    ----------
    events : ndarray of int, shape (n_bins,)
        Events per distance bin.
    side : int
        Grid side of both layers.
    autapses : bool
        Whether a neuron can pair with itself (distance 0); False for lateral
        synapses when autapses are not allowed.

    Returns
    -------
    ndarray of float64
        Events per pair; 0 where there are no pairs.
    """
    pairs = pairs_per_distance(side, events.shape[0]).astype(np.float64) * side * side
    if not autapses:
        pairs[0] -= side * side
    out = np.zeros(events.shape[0], np.float64)
    np.divide(events, pairs, out=out, where=pairs > 0)
    return out


class EventsView(View[Frame]):
    """Synapses formed and removed, by the distance between the two neurons, for FF and LAT.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "events"
    title = "Events"
    tooltip = (
        "Every synapse formed or removed since the network was built, by the grid distance between "
        "its two neurons. Formation is likelier between nearby neurons, so formations gather at short "
        "distances while eliminations follow the synapses that exist."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.per_pair_box = QCheckBox("Per neuron pair")
        self.per_pair_box.setObjectName("events_per_pair")
        self.per_pair_box.setToolTip(
            "Divide by the number of neuron pairs at each distance. There are few pairs at short "
            "distance and many far apart, so this shows how likely a given pair is to gain or lose "
            "a synapse."
        )
        self.per_pair_box.toggled.connect(self._on_per_pair_changed)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plots: dict[int, pg.PlotItem] = {}
        self.formed_curves: dict[int, pg.PlotDataItem] = {}
        self.removed_curves: dict[int, pg.PlotDataItem] = {}
        self.extents: dict[int, SteadyExtent] = {}
        for row, (code, name) in enumerate(_PROJECTIONS):
            plot = self.graphics.addPlot(row=row, col=0)
            setup_axes(
                plot,
                name,
                "pre-post distance (grid units)",
                "events",
                f"{name.split()[0]} synapses formed (green) and removed (red) since the build, by the "
                "periodic grid distance between presynaptic and postsynaptic neuron (bins 1 grid unit wide).",
            )
            add_legend(plot)
            plot.getAxis("left").setWidth(60)  # the same for both plots, so their x axes line up
            self.plots[code] = plot
            self.extents[code] = SteadyExtent(plot, x_empty=_max_distance(16), y_empty=10.0)
            self.formed_curves[code] = self._step_curve(plot, "formed", COLOURS["formed"], (44, 160, 44, 60))
            self.removed_curves[code] = self._step_curve(plot, "removed", COLOURS["removed"], None)
        self._events = HistoryWatch(lambda history: history.total_events)
        self._autapses = True
        self.arrangement = ResponsiveGrid.pair(
            self.graphics, *[self.plots[code] for code, _name in _PROJECTIONS]
        )
        view_layout(self, self.graphics, controls_row(self.per_pair_box))

    @staticmethod
    def _step_curve(
        plot: pg.PlotItem, name: str, colour: str, fill: tuple[int, ...] | None
    ) -> pg.PlotDataItem:
        opts: dict[str, object] = {"stepMode": "center", "pen": pg.mkPen(colour, width=2), "name": name}
        if fill is not None:
            opts.update(fillLevel=0.0, brush=pg.mkBrush(*fill))
        curve = pg.PlotDataItem(np.zeros(2), np.zeros(1), **opts)
        plot.addItem(curve)
        return curve

    @property
    def per_pair(self) -> bool:
        """Whether events are divided by the number of neuron pairs at each distance."""
        return self.per_pair_box.isChecked()

    def export_widget(self) -> QWidget:
        """The plots without the options row: what an export shows."""
        return self.graphics

    def reset(self, config: ModelConfig) -> None:
        """Clear the curves; the next frame draws the new network's events."""
        super().reset(config)
        self._events.forget()
        self._autapses = config.connectivity.allow_autapses
        for curves in (self.formed_curves, self.removed_curves):
            for curve in curves.values():
                curve.setData(np.zeros(2), np.zeros(1))
        for extent in self.extents.values():
            extent.set_empty(_max_distance(config.side), 10.0)

    def draw_frame(self, frame: Frame) -> None:
        """Redraw the curves when events arrived since the last draw."""
        history = frame.history
        self._autapses = frame.config.connectivity.allow_autapses
        if not self._events.news(history):
            return
        edges = np.asarray(history.distance_edges, np.float64)
        per_pair = self.per_pair
        for index, (code, name) in enumerate(_PROJECTIONS):
            formed = history.events_by_distance[index, _FORMED_INDEX]
            removed = history.events_by_distance[index, _REMOVED_INDEX]
            if per_pair:
                autapses = self._autapses or code == FF
                y_formed = events_per_pair(formed, history.side, autapses)
                y_removed = events_per_pair(removed, history.side, autapses)
            else:
                y_formed, y_removed = formed.astype(np.float64), removed.astype(np.float64)
            self.formed_curves[code].setData(edges, y_formed)
            self.removed_curves[code].setData(edges, y_removed)
            self.extents[code].cover(edges, y_formed, y_removed)
            plot = self.plots[code]
            set_title(plot, f"{name}<br>{int(formed.sum())} formed, {int(removed.sum())} removed")
            plot.setLabel("left", "events per neuron pair" if per_pair else "events")

    def _on_per_pair_changed(self, checked: bool) -> None:
        self._events.forget()
        for extent in self.extents.values():
            extent.reset()  # the values change scale: start the axis afresh
        self.redraw()


def _max_distance(side: int) -> float:
    """The largest distance between two neurons of a ``side x side`` torus, rounded up (grid units)."""
    return float(math.floor(math.hypot(side // 2, side // 2)) + 1)
