"""Activity of one example: the hidden layer's spikes and the readout's traces; every hidden neuron's rate."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QWidget

from app.experiments.classifier.frame import Frame
from gui.context import ViewContext
from gui.experiments.classifier.views.common import (
    count_ceiling,
    step_histogram,
)
from gui.experiments.classifier.views.images import PooledImage
from gui.views._plots import (
    COLOURS,
    Cell,
    ReferenceLine,
    ResponsiveGrid,
    add_legend,
    set_title,
    setup_axes,
    stable_ceiling,
    view_layout,
)
from gui.views.base import View
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.params import (
    SH_BATCH,
    SH_EPOCH,
    SH_EXAMPLE,
    SH_LABEL,
    SH_PREDICTION,
    SH_TRAINING,
)
from sim.experiments.classifier.snapshot import ClassifierSnapshot

__all__ = ["ActivityView", "example_caption", "rate_bins"]

#: Bins of the rate histogram.
RATE_BINS = 40
#: Top of the rate axis before there are data (Hz).
RATE_AXIS_START = 50.0
#: Colours of the label's and the (wrong) prediction's readout traces, and of the other classes'.
LABEL_COLOUR = COLOURS["counts"]
PREDICTION_COLOUR = "#d62728"
OTHER_COLOUR = "#b0b0b0"


def example_caption(info: NDArray[np.int64]) -> tuple[str, str, str]:
    """What to say of the example shown: which one, when it ran, and its label and prediction.

    ``info`` is a snapshot's ``shown_info`` (``params.SH_*``).
    """
    example = int(info[SH_EXAMPLE])
    if example < 0:
        return "no trial completed yet", "", ""
    kind = "training" if int(info[SH_TRAINING]) else "test"
    label, prediction = int(info[SH_LABEL]), int(info[SH_PREDICTION])
    verdict = "correct" if label == prediction else "wrong"
    return (
        f"{kind} example {example}",
        f"epoch {int(info[SH_EPOCH])}, batch {int(info[SH_BATCH])}",
        f"label {label}, prediction {prediction}: {verdict}",
    )


def rate_bins(top: float, bins: int = RATE_BINS) -> NDArray[np.float64]:
    """Edges of ``bins`` equal bins from 0 to ``top`` Hz."""
    return np.linspace(0.0, float(top), int(bins) + 1)


class ActivityView(View[Frame]):
    """The last trial of batch lane 0: hidden spike raster, readout traces; the hidden rates.

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
        "One example as the network saw it: the spikes of every hidden neuron during the trial, and the "
        "readout of every class (the label's thick, a wrong prediction's dashed). The histogram shows "
        "every hidden neuron's firing rate as the rate regularisation sees it, and its target."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        raster = self.graphics.addPlot(row=0, col=0)
        readout = self.graphics.addPlot(row=1, col=0)
        rates = self.graphics.addPlot(row=2, col=0)
        setup_axes(
            raster,
            "Hidden spikes",
            "time in the trial (ms)",
            "hidden neuron",
            "A black mark for every spike of every hidden neuron during the example's trial.",
        )
        setup_axes(
            readout,
            "Readout",
            "time in the trial (ms)",
            "readout (a.u.)",
            "The leaky readout of every class during the trial; the prediction is the class whose "
            "readout sums highest over the trial. Thick: the true label's; dashed: the prediction's, "
            "when it is wrong.",
        )
        setup_axes(
            rates,
            "Hidden firing rates",
            "rate (Hz)",
            "hidden neurons",
            "How many hidden neurons fire at each rate, the rate being the slow average the firing-rate "
            "regularisation pulls towards its target (dashed).",
        )
        self.raster = PooledImage(raster, origin=(0.0, -0.5))
        self.raster.item.setLookupTable(np.array([[0, 0, 0, 255], [0, 0, 0, 255]], np.uint8))
        add_legend(readout)
        self.others = pg.PlotDataItem(
            np.zeros(0),
            np.zeros(0),
            pen=pg.mkPen(OTHER_COLOUR, width=1),
            name="other classes",
            connect="finite",
        )
        readout.addItem(self.others)
        self.label_trace = pg.PlotDataItem(
            np.zeros(0), np.zeros(0), pen=pg.mkPen(LABEL_COLOUR, width=3), name="true label"
        )
        readout.addItem(self.label_trace)
        self.prediction_trace = pg.PlotDataItem(
            np.zeros(0),
            np.zeros(0),
            pen=pg.mkPen(PREDICTION_COLOUR, width=2.5, style=pg.QtCore.Qt.PenStyle.DashLine),
            name="wrong prediction",
        )
        readout.addItem(self.prediction_trace)
        readout.getViewBox().setDefaultPadding(0.0)
        add_legend(rates)
        rates.showGrid(x=False, y=False)
        self.histogram = step_histogram(rates, "hidden neurons", COLOURS["target"])
        self.target = ReferenceLine(rates, PREDICTION_COLOUR, angle=90)
        self.plots = {"raster": raster, "readout": readout, "rates": rates}
        self._readout_range = (0.0, 0.0)
        self._rates_range = (0.0, 0.0)
        self._trial: tuple[int, ...] = ()
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [raster, readout, rates],
            [1.6, 1.8, 1.8],
            [
                (Cell(0, 0, weight=1.4), Cell(1, 0), Cell(2, 0)),
                (Cell(0, 0, 2, 1), Cell(0, 1), Cell(1, 1)),
                (Cell(0, 0), Cell(0, 1), Cell(0, 2)),
            ],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ClassifierConfig) -> None:
        """Clear everything: the next frame gives the sizes."""
        super().reset(config)
        self.raster.set_shape(0, 0)
        for curve in (self.others, self.label_trace, self.prediction_trace):
            curve.setData(np.zeros(0), np.zeros(0))
        self.histogram.setData(np.zeros(2), np.zeros(1))
        self._readout_range = (0.0, 0.0)
        self._rates_range = (0.0, 0.0)
        self._trial = ()
        for key, text in (
            ("raster", "Hidden spikes"),
            ("readout", "Readout"),
            ("rates", "Hidden firing rates"),
        ):
            set_title(self.plots[key], text)

    def draw_frame(self, frame: Frame) -> None:
        """Show the example of the newest completed trial and the rates now."""
        snap, config = frame.snapshot, frame.config
        dt = float(config.network.dt)
        steps, n_hidden = snap.shown_z.shape
        if self.raster.shape != (n_hidden, steps) or self.raster.pixel[0] != dt:
            self.raster.set_geometry((0.0, -0.5), (dt, 1.0))
            self.raster.set_shape(n_hidden, steps)
            self.plots["readout"].setXRange(0.0, steps * dt, padding=0.0)
            self._trial = ()
        self._draw_rates(snap, config)
        if not snap.has_example:
            set_title(self.plots["raster"], "Hidden spikes: no trial completed yet")
            return
        # the example changes only when a trial ends: redraw it then (frames come more often)
        trial = tuple(int(v) for v in snap.shown_info)
        if trial != self._trial:
            self._trial = trial
            self._draw_example(snap, dt)

    def _draw_example(self, snap: ClassifierSnapshot, dt: float) -> None:
        z = np.asarray(snap.shown_z)
        spikes = np.where(z.T > 0, np.float32(1.0), np.float32(np.nan))
        self.raster.set_values(spikes, (0.0, 1.0))
        steps, n_hidden = z.shape
        count = int(z.sum())
        rate = 1000.0 * count / max(n_hidden * steps * dt, 1e-12)
        which, when, verdict = example_caption(snap.shown_info)
        set_title(
            self.plots["raster"], f"Hidden spikes of {which}<br>{when}: {count:,} spikes, {rate:.1f} Hz"
        )
        y = np.asarray(snap.shown_y, np.float64)
        t = (np.arange(steps, dtype=np.float64) + 0.5) * dt
        label, prediction = int(snap.shown_info[SH_LABEL]), int(snap.shown_info[SH_PREDICTION])
        n_out = y.shape[1]
        others = [k for k in range(n_out) if k not in (label, prediction)]
        # every other class as one item: the traces separated by NaN
        xs = np.concatenate([np.append(t, np.nan) for _ in others]) if others else np.zeros(0)
        ys = np.concatenate([np.append(y[:, k], np.nan) for k in others]) if others else np.zeros(0)
        self.others.setData(xs, ys)
        self.label_trace.setData(t, y[:, label] if 0 <= label < n_out else np.zeros(steps))
        wrong = prediction != label and 0 <= prediction < n_out
        self.prediction_trace.setData(t if wrong else np.zeros(0), y[:, prediction] if wrong else np.zeros(0))
        set_title(self.plots["readout"], f"Readout: {verdict}")
        low = stable_ceiling(self._readout_range[0], 1.1 * max(-float(y.min(initial=0.0)), 0.0), 0.1)
        high = stable_ceiling(self._readout_range[1], 1.1 * max(float(y.max(initial=0.0)), 0.0), 0.1)
        if (low, high) != self._readout_range:
            self._readout_range = (low, high)
            self.plots["readout"].setYRange(-low, high, padding=0.0)

    def _draw_rates(self, snap: ClassifierSnapshot, config: ClassifierConfig) -> None:
        rates = np.asarray(snap.rates_hz, np.float64)
        target = float(config.learning.f_target)
        top = stable_ceiling(self._rates_range[0], max(float(rates.max(initial=0.0)), 1.2 * target), 10.0)
        edges = rate_bins(top)
        counts = np.histogram(np.clip(rates, 0.0, top), bins=edges)[0].astype(np.float64)
        self.histogram.setData(edges, counts)
        y_top = count_ceiling(self._rates_range[1], counts)
        if (top, y_top) != self._rates_range:
            self._rates_range = (top, y_top)
            self.plots["rates"].setRange(xRange=(0.0, top), yRange=(0.0, y_top), padding=0.0)
        self.target.show(target, f"target {target:g} Hz")
        mean = float(rates.mean()) if rates.size else 0.0
        set_title(self.plots["rates"], f"Hidden firing rates: mean {mean:.1f} Hz")
