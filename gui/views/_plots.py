"""Building blocks of the pyqtgraph views: grid images, time curves, reference lines, legends.

Every plot item is made once and then only fed new data, so a redraw costs
a ``setData`` or ``setImage`` call. Grid images put neuron ``(x, y)`` at the
point ``(x, y)``, row 0 at the top, with fixed colour levels and a colour bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike, NDArray
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGraphicsItem, QHBoxLayout, QVBoxLayout, QWidget

from app.frame import History

__all__ = [
    "COLOURS",
    "TIME_LABEL",
    "GridImagePlot",
    "HistoryWatch",
    "ReferenceLine",
    "SteadyExtent",
    "add_legend",
    "controls_row",
    "dashed_pen",
    "finite_max",
    "make_curve",
    "nice_ceiling",
    "set_title",
    "setup_axes",
    "stable_ceiling",
    "view_layout",
]

#: Colours shared by all views, so FF is the same blue everywhere.
COLOURS: dict[str, str] = {
    "ff": "#1f77b4",
    "lat": "#ff7f0e",
    "formed": "#2ca02c",
    "removed": "#d62728",
    "counts": "#1f77b4",
    "weights": "#ff7f0e",
    "source": "#9467bd",
    "target": "#17becf",
    "initial": "#7f7f7f",
    "marker": "#e41a1c",
    "own": "#ffffff",
}

#: Label of every time axis.
TIME_LABEL = "model time (s)"


def view_layout(view: QWidget, graphics: QWidget, controls: QWidget | None = None) -> None:
    """Lay out a view: an optional row of controls above its plots, with small margins."""
    layout = QVBoxLayout(view)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.setSpacing(2)
    if controls is not None:
        layout.addWidget(controls)
    layout.addWidget(graphics, 1)


def controls_row(*widgets: QWidget) -> QWidget:
    """A row of control widgets, packed to the left."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(4, 0, 4, 0)
    for widget in widgets:
        layout.addWidget(widget)
    layout.addStretch(1)
    return row


def dashed_pen(colour: str, width: float = 1.5) -> Any:
    """A dashed pen for reference values."""
    return pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine)


def set_title(plot: Any, title: str) -> None:
    """Set the title of ``plot`` (HTML; lines separated by ``<br>``) unless it is already ``title``.

    Skipping unchanged titles keeps per-frame updates from re-laying out the plot.
    """
    if plot.titleLabel.text == title and plot.titleLabel.isVisible():
        return
    plot.setTitle(title, size="10pt")
    height = 16 * (title.count("<br>") + 1) + 8
    if height > 30:
        plot.titleLabel.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)


def setup_axes(plot: Any, title: str, x_label: str, y_label: str, tooltip: str = "") -> None:
    """Give ``plot`` a title, axis labels (with units) and a tooltip."""
    set_title(plot, title)
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for side in ("bottom", "left"):
        axis = plot.getAxis(side)
        # Units are in the labels; no "(x0.001)" rescaling of the tick values.
        axis.enableAutoSIPrefix(False)
        # Tick labels are costly to draw: keep the drawn axis until its range or size changes.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    if tooltip:
        plot.setToolTip(tooltip)


def add_legend(plot: Any, corner: str = "left") -> Any:
    """Add a semi-transparent legend in the top ``corner`` (left or right) of ``plot``.

    Curves added to the plot afterwards with a name join it.
    """
    offset = (5, 5) if corner == "left" else (-5, 5)
    return plot.addLegend(
        offset=offset, brush=pg.mkBrush(255, 255, 255, 200), pen=pg.mkPen("#999999"), labelTextSize="8pt"
    )


def make_curve(plot: Any, name: str | None, colour: str, **opts: Any) -> Any:
    """A curve of ``plot`` that is fed with ``setData``: clipped to the view, downsampled when dense."""
    curve = pg.PlotDataItem(
        np.zeros(0), np.zeros(0), name=name, pen=pg.mkPen(colour, width=1.5), clipToView=True, **opts
    )
    curve.setDownsampling(auto=True, method="peak")
    plot.addItem(curve)
    return curve


#: Mantissas of :func:`nice_ceiling`: colour levels and histogram ranges.
NICE_STEPS = (1.0, 2.0, 5.0)
#: Finer mantissas, about a quarter apart: the ranges of plots over time.
FINE_STEPS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


def nice_ceiling(value: float, minimum: float = 1.0, steps: tuple[float, ...] = NICE_STEPS) -> float:
    """The smallest of ``steps`` (by default 1, 2 and 5) times a power of ten that is at least ``value``.

    Never below ``minimum``. Used for colour levels and axis ranges that change
    rarely and to round values.
    """
    value = max(float(value), float(minimum))
    if not math.isfinite(value) or value <= 0.0:
        return float(minimum)
    exponent = math.floor(math.log10(value))
    for mantissa in (*steps, 10.0):
        candidate = mantissa * 10.0**exponent
        if candidate >= value * (1.0 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)  # pragma: no cover (the loop always returns)


def stable_ceiling(
    current: float, value: float, minimum: float = 1.0, steps: tuple[float, ...] = NICE_STEPS
) -> float:
    """An axis or colour maximum that follows ``value`` but changes rarely.

    Returns ``current`` while ``value`` lies between 40 % and 100 % of it,
    else the :func:`nice_ceiling` of ``value``, so a plot keeps its scale
    while the data fluctuate and rescales when they grow or shrink a lot.
    """
    if 0.4 * current <= value <= current:
        return current
    return nice_ceiling(value, minimum, steps)


class SteadyExtent:
    """Keeps a plot's automatic range still while its curves grow point by point.

    An invisible item spans ``[0, x_max] x [0, y_max]``; both maxima follow
    the data in steps about a quarter apart (:data:`FINE_STEPS`), so the range,
    and with it the axes, whose tick labels are costly to lay out, changes
    when the data outgrow a step rather than at every new point. Zooming and
    panning by hand work as in any plot, and the plot's "A" button returns
    to the steady range.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot whose range to steady.
    """

    #: Fraction by which the extent exceeds the data at least.
    MARGIN = 0.02
    #: Room :meth:`cover` leaves above the largest value.
    HEADROOM = 1.1

    def __init__(self, plot: Any) -> None:
        self.item = pg.PlotCurveItem(np.zeros(2), np.zeros(2), pen=pg.mkPen(None))
        self.item.setZValue(-100)
        plot.addItem(self.item)
        self.x_max = 0.0
        self.y_max = 0.0

    def follow(self, x_max: float, y_max: float, minimum: float = 1e-3) -> None:
        """Cover the data up to ``(x_max, y_max)`` (non-finite values are ignored).

        A small margin keeps the data off the edge, where the curves' pen
        width would widen the range again.
        """
        grow = 1.0 + self.MARGIN
        x = (
            self.x_max
            if not math.isfinite(x_max)
            else stable_ceiling(self.x_max, x_max * grow, minimum, FINE_STEPS)
        )
        y = (
            self.y_max
            if not math.isfinite(y_max)
            else stable_ceiling(self.y_max, y_max * grow, minimum, FINE_STEPS)
        )
        if (x, y) != (self.x_max, self.y_max):
            self.x_max, self.y_max = x, y
            self.item.setData(np.array([0.0, x]), np.array([0.0, y]))

    def cover(self, x: ArrayLike, *ys: ArrayLike) -> None:
        """Cover curves over ``x`` with values ``ys`` (and 10 % headroom above the largest value)."""
        self.follow(finite_max(x), self.HEADROOM * finite_max(*ys))

    def reset(self) -> None:
        """Forget the data: the extent is a point at the origin again."""
        self.x_max = self.y_max = 0.0
        self.item.setData(np.zeros(2), np.zeros(2))


class HistoryWatch:
    """Tells a view whether the history has news since it last drew it: another history, or more of it.

    Parameters
    ----------
    size : callable
        How much a history holds (default: its number of rows).
    """

    def __init__(self, size: Callable[[History], int] = lambda history: len(history.rows)) -> None:
        self._size = size
        self._history: History | None = None
        self._drawn = -1

    def forget(self) -> None:
        """Count the next history as news."""
        self._history, self._drawn = None, -1

    def news(self, history: History) -> bool:
        """Whether ``history`` differs from the one last seen; it counts as seen from now on."""
        size = self._size(history)
        if history is self._history and size == self._drawn:
            return False
        self._history, self._drawn = history, size
        return True


def finite_max(*values: ArrayLike) -> float:
    """The largest finite value among ``values`` (NaN when there is none)."""
    best = -math.inf
    for v in values:
        arr = np.asarray(v, dtype=np.float64).ravel()
        arr = arr[np.isfinite(arr)]
        if arr.size:
            best = max(best, float(arr.max()))
    return best if math.isfinite(best) else math.nan


class GridImagePlot:
    """An ``n x n`` image of one value per neuron on a grid, with a colour bar and fixed levels.

    Neuron ``(x, y)`` (id ``y * n + x``) is the pixel centred on the point
    ``(x, y)``; row 0 is at the top.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to draw in (its axes get labels and a locked aspect ratio).
    colour_label : str
        Label of the colour bar, with its unit.
    colour_map : str
        Name of a pyqtgraph colour map.
    """

    def __init__(self, plot: Any, colour_label: str, colour_map: str = "viridis") -> None:
        self.plot = plot
        self._side = 0
        plot.setAspectLocked(True)
        plot.invertY(True)
        plot.showGrid(x=False, y=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setPos(-0.5, -0.5)
        plot.addItem(self.item)
        self.bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=colour_map, interactive=False, label=colour_label, width=12
        )
        self.bar.setImageItem(self.item, insert_in=plot)
        self.bar.axis.enableAutoSIPrefix(False)
        self._colour_label = colour_label

    @property
    def side(self) -> int:
        """Grid side of the image (0 before :meth:`set_side`)."""
        return self._side

    @property
    def levels(self) -> tuple[float, float]:
        """The colour levels ``(low, high)``."""
        low, high = self.bar.levels()
        return float(low), float(high)

    @property
    def values(self) -> NDArray[np.float32]:
        """The image shown, ``values[row, col]`` (a copy)."""
        image = self.item.image
        return np.zeros((0, 0), np.float32) if image is None else np.array(image, np.float32)

    def set_side(self, side: int) -> None:
        """Show an ``side x side`` grid of zeros and fit the view to it."""
        self._side = int(side)
        self.item.setImage(np.zeros((side, side), np.float32), autoLevels=False, levels=self.levels)
        self.plot.setRange(xRange=(-0.5, side - 0.5), yRange=(-0.5, side - 0.5), padding=0.0)

    def set_values(self, values: ArrayLike) -> None:
        """Show one value per neuron (``n * n`` values in id order, or an ``n x n`` array)."""
        image = np.array(values, dtype=np.float32).reshape(self._side, self._side)
        self.item.setImage(image, autoLevels=False)

    def set_colour_label(self, label: str) -> None:
        """Change the label of the colour bar (no change if equal)."""
        if label != self._colour_label:
            self.bar.getAxis("left").setLabel(label)
            self._colour_label = label

    def set_levels(self, low: float, high: float) -> None:
        """Map ``low`` to the first and ``high`` to the last colour (no change if equal)."""
        if (float(low), float(high)) != self.levels:
            self.bar.setLevels((float(low), float(high)))


class _LegendSample(pg.PlotDataItem):
    """The legend entry of a line: clicking the entry shows or hides the line as for a curve."""

    def __init__(self, line: Any, pen: Any) -> None:
        super().__init__(pen=pen)
        self._line = line

    def setVisible(self, visible: bool) -> None:
        """Show or hide the line with its entry."""
        super().setVisible(visible)
        self._line.setVisible(visible)


class ReferenceLine:
    """A dashed horizontal line at a reference value, with its own legend entry while shown.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot (with a legend) to draw in.
    colour : str
        Colour of the dashed line.
    """

    def __init__(self, plot: Any, colour: str) -> None:
        self.plot = plot
        pen = dashed_pen(colour)
        self.line = pg.InfiniteLine(angle=0, pen=pen, movable=False)
        self.line.setVisible(False)
        plot.addItem(self.line)
        # The legend draws its sample from a curve item; this one is never added to the plot.
        self._sample = _LegendSample(self.line, pen)
        self._label: str | None = None
        self._value = math.nan

    @property
    def label(self) -> str | None:
        """The legend label while shown, else None."""
        return self._label

    @property
    def value(self) -> float:
        """The value drawn (NaN while hidden)."""
        return self._value

    def show(self, value: float, label: str) -> None:
        """Draw the line at ``value`` and list it in the legend as ``label``."""
        self._value = float(value)
        self.line.setValue(self._value)
        # A line the user switched off by clicking its legend entry stays off.
        self.line.setVisible(self._sample.isVisible())
        if label != self._label:
            legend = self.plot.legend
            if self._label is not None and legend is not None:
                legend.removeItem(self._sample)
            if legend is not None:
                legend.addItem(self._sample, label)
            self._label = label

    def hide(self) -> None:
        """Remove the line and its legend entry."""
        self.line.setVisible(False)
        self._value = math.nan
        if self._label is not None and self.plot.legend is not None:
            self.plot.legend.removeItem(self._sample)
        self._label = None

    @property
    def visible(self) -> bool:
        """Whether the line is drawn."""
        return bool(self.line.isVisible())
