"""Firing activity: source and target rates on the grid, the stimulus location, mean rates over time."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
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
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.experiments.topomap.config import BASE_SIDE, ModelConfig

__all__ = ["ActivityView", "rate_colour_range", "source_rate_ceiling", "stimulus_centres"]

#: Top of the rate axis of the mean-rate plot before there are data (Hz).
RATE_AXIS_START = 50.0
#: Record intervals the time axis of the mean-rate plot spans before there are data.
EMPTY_RECORDS = 10


def source_rate_ceiling(config: ModelConfig) -> float:
    """The highest rate (Hz) a source neuron is driven at: the top of the source colour scale."""
    stim = config.stimulus
    if stim.input == "correlated":
        return max(stim.f_base + stim.f_peak, 1.0)
    return max(2.0 * stim.flat_rate, 1.0)


def rate_colour_range(config: ModelConfig) -> ColourRange:
    """The fixed colour range of both rate images: 0 to the highest rate the input drives (Hz).

    Source and target share it, so a colour means the same rate in both.
    Rates measured over a short frame, and target rates, can exceed it:
    they take the top colour (the bar reads "≥").
    """
    return ColourRange(source_rate_ceiling(config), 0.0, clips=True)


def stimulus_centres(config: ModelConfig, stimulus: tuple[int, int]) -> NDArray[np.float64]:
    """Grid positions ``(x, y)`` of every blob of the correlated stimulus.

    With ``stimulus.tiled`` the 16 x 16 pattern repeats, so a ``16 k`` grid
    has ``k * k`` blobs; otherwise there is one. Uncorrelated input has none.
    """
    if config.stimulus.input != "correlated":
        return np.zeros((0, 2), np.float64)
    side = config.side
    tile = BASE_SIDE if config.stimulus.tiled else side
    offsets = np.arange(0, side, tile, dtype=np.float64)
    gx, gy = np.meshgrid(offsets + stimulus[0], offsets + stimulus[1])
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


class ActivityView(View[Frame]):
    """Source and target firing rates on the grid, with the stimulus, and mean rates over time.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "activity"
    title = "Activity"
    tooltip = (
        "Which neurons fire. The stimulus is a moving blob of high firing in the source layer; target "
        "neurons that receive synapses from the blob fire in turn. Rates are measured since the previous "
        "frame, so they flicker when frames are short."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        source_plot = self.graphics.addPlot(row=0, col=0)
        target_plot = self.graphics.addPlot(row=0, col=1)
        rates_plot = self.graphics.addPlot(row=1, col=0, colspan=2)
        setup_axes(
            source_plot,
            "Source layer firing",
            "source x (grid units)",
            "source y",
            "Firing rate of every source (input) neuron since the previous frame. The red cross marks "
            "the centre of the stimulus blob (not shown with uncorrelated input).",
        )
        setup_axes(
            target_plot,
            "Target layer firing",
            "target x (grid units)",
            "target y",
            "Firing rate of every target neuron since the previous frame. With a good map the active "
            "target neurons sit where the stimulus is in the source layer.",
        )
        setup_axes(
            rates_plot,
            "Mean firing rates",
            TIME_LABEL,
            "rate (Hz)",
            "Mean firing rate of each layer between history records.",
        )
        # A square-root scale: the background rate of the source cells (a few Hz) shows next to the
        # stimulus peak (over 100 Hz), which a linear scale would leave black.
        self.source_image = GridImagePlot(source_plot, "rate (Hz)", colour_map="inferno", sqrt=True)
        self.target_image = GridImagePlot(target_plot, "rate (Hz)", colour_map="inferno", sqrt=True)
        self.source_image.link_user_range(self.target_image)
        self.stimulus_marker = pg.ScatterPlotItem(
            size=18, symbol="+", pen=pg.mkPen(COLOURS["marker"], width=2.5), brush=None
        )
        source_plot.addItem(self.stimulus_marker)
        add_legend(rates_plot)
        self.source_curve = make_curve(rates_plot, "source layer", COLOURS["source"])
        self.target_curve = make_curve(rates_plot, "target layer", COLOURS["target"])
        self.rates_extent = SteadyExtent(rates_plot, y_empty=RATE_AXIS_START)
        self._rows = HistoryWatch()
        # images side by side above the rates in a wide view, everything in a column in a tall one
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [source_plot, target_plot, rates_plot],
            [1.2, 1.2, 2.0],
            [
                (Cell(0, 0), Cell(0, 1), Cell(1, 0, 1, 2)),
                (Cell(0, 0), Cell(1, 0), Cell(2, 0)),
                (Cell(0, 0), Cell(0, 1), Cell(0, 2)),
            ],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ModelConfig) -> None:
        """Clear the curves and size the images for the new grid."""
        super().reset(config)
        self._configure(config)

    def _configure(self, config: ModelConfig) -> None:
        self._rows.forget()
        self.source_curve.setData(np.zeros(0), np.zeros(0))
        self.target_curve.setData(np.zeros(0), np.zeros(0))
        self.rates_extent.set_empty(EMPTY_RECORDS * config.run.record_interval, RATE_AXIS_START)
        self.source_image.set_side(config.side)
        self.target_image.set_side(config.side)
        for image in (self.source_image, self.target_image):
            image.set_default_range(rate_colour_range(config))
        self.stimulus_marker.setData(pos=np.zeros((0, 2)))

    def draw_frame(self, frame: Frame) -> None:
        """Update the rate images, the stimulus marker and (when new rows arrived) the mean rates."""
        config = frame.config
        if frame.side != self.source_image.side:
            self._configure(config)
        for image in (self.source_image, self.target_image):
            image.set_default_range(rate_colour_range(config))
        self.source_image.set_values(frame.source_rates)
        self.target_image.set_values(frame.target_rates)
        self.stimulus_marker.setData(pos=stimulus_centres(config, frame.snapshot.stimulus))
        self._draw_history(frame.history)

    def _draw_history(self, history: History) -> None:
        if not self._rows.news(history):
            return
        table = history.table()
        # The first row has no interval to measure a rate over.
        t = table["t"][1:]
        self.source_curve.setData(t, table["rate_source"][1:])
        self.target_curve.setData(t, table["rate_target"][1:])
        self.rates_extent.cover(t, table["rate_source"][1:], table["rate_target"][1:])
