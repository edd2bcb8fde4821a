"""Building blocks of the pyqtgraph views: grid images, time curves, reference lines, legends.

Every plot item is made once and then only fed new data, so a redraw costs
a ``setData`` or ``setImage`` call. Grid images put neuron ``(x, y)`` at the
point ``(x, y)``, row 0 at the top, with fixed colour levels and a colour bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike, NDArray
from PyQt6.QtCore import QEvent, QObject, QRectF, QSizeF, Qt
from PyQt6.QtGui import QFont, QFontMetrics
from PyQt6.QtWidgets import QGraphicsItem, QInputDialog, QMenu, QVBoxLayout, QWidget

from app.frame import History
from gui.views.flow_layout import FlowLayout

__all__ = [
    "COLOURS",
    "TIME_LABEL",
    "Cell",
    "ColourRange",
    "GridImagePlot",
    "HistoryWatch",
    "OutsideLegend",
    "ReferenceLine",
    "ResponsiveGrid",
    "SteadyExtent",
    "add_legend",
    "colour_ticks",
    "controls_row",
    "dashed_pen",
    "finite_max",
    "make_curve",
    "nice_ceiling",
    "set_title",
    "setup_axes",
    "span_title",
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
#: Pixels a tick label may reach past the end of its axis.
LABEL_OVERHANG = 7


def view_layout(view: QWidget, graphics: QWidget, controls: QWidget | None = None) -> None:
    """Lay out a view: an optional row of controls above its plots, with small margins."""
    layout = QVBoxLayout(view)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.setSpacing(2)
    if controls is not None:
        layout.addWidget(controls)
    layout.addWidget(graphics, 1)


def controls_row(*widgets: QWidget) -> QWidget:
    """A row of control widgets, packed to the left, that wraps onto more lines when the view is narrow."""
    row = QWidget()
    layout = FlowLayout(row, margins=(4, 0, 4, 0))
    for widget in widgets:
        layout.addWidget(widget)
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


def span_title(plot: Any) -> None:
    """Let the title of ``plot`` span every column of the plot (axes and colour bar too).

    A title then only needs the plot's whole width, not the data area's, and
    never makes the plot wider than its share of the view.
    """
    layout = plot.layout
    layout.removeItem(plot.titleLabel)
    layout.addItem(plot.titleLabel, 0, 0, 1, layout.columnCount())


class _Axis(pg.AxisItem):
    """An axis whose label at the low end may reach :data:`LABEL_OVERHANG` pixels past it, grid or not.

    pyqtgraph hides the label of a tick at the very end of the range (the 0
    of a plot that starts at 0) when the plot has a grid; this axis draws it,
    into the corner between the two axes.
    """

    def boundingRect(self) -> QRectF:
        """The axis, its grid lines and the room its low-end label may take."""
        rect = super().boundingRect()
        m = float(LABEL_OVERHANG)
        if self.orientation in ("left", "right"):
            return rect.adjusted(0.0, 0.0, 0.0, m)  # below the bottom (y grows downwards)
        return rect.adjusted(-m, 0.0, 0.0, 0.0)


def setup_axes(plot: Any, title: str, x_label: str, y_label: str, tooltip: str = "") -> None:
    """Give ``plot`` a title, axis labels (with units) and a tooltip."""
    plot.setAxisItems({"left": _Axis("left"), "bottom": _Axis("bottom")})
    set_title(plot, title)
    span_title(plot)
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for side in ("bottom", "left"):
        axis = plot.getAxis(side)
        # Units are in the labels; no "(x0.001)" rescaling of the tick values.
        axis.enableAutoSIPrefix(False)
        # Tick labels are costly to draw: keep the drawn axis until its range or size changes.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # the label of a tick at the very end of the range (the 0 of a plot starting at 0) may
        # reach half its height past the axis (see _Axis)
        axis.setStyle(hideOverlappingLabels=LABEL_OVERHANG)
    if tooltip:
        plot.setToolTip(tooltip)


class OutsideLegend(pg.LegendItem):
    """A legend in a row between a plot's title and its data area, so it never covers the data.

    It takes the place of the plot's (hidden) top axis in the plot's layout and
    lays its entries out in as many columns as fit the plot's width, wrapping
    onto more rows in a narrow plot. Curves added to the plot with a name join
    it, as with ``PlotItem.addLegend``; clicking an entry shows or hides its curve.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to label.
    """

    #: Room taken by an entry besides its label: the sample and the spacing (pixels).
    ENTRY_EXTRA = 30.0

    def __init__(self, plot: Any) -> None:
        super().__init__(offset=None, frame=False, labelTextSize="8pt", horSpacing=6, verSpacing=-6)
        self._plot = plot
        top = plot.getAxis("top")
        plot.layout.removeItem(top)
        top.hide()
        plot.layout.addItem(self, 1, 1)
        plot.legend = self
        plot.geometryChanged.connect(self._fit)

    @property
    def plot(self) -> Any:
        """The plot the legend labels."""
        return self._plot

    def addItem(self, item: Any, name: str) -> None:
        """Add an entry for ``item`` labelled ``name``."""
        super().addItem(item, name)
        self._fit()

    def removeItem(self, item: Any) -> None:
        """Remove the entry of ``item`` (an item or its label)."""
        super().removeItem(item)
        self._fit()

    def updateSize(self) -> None:
        """Let the plot's layout size the legend (instead of a fixed geometry)."""
        self.updateGeometry()

    def sizeHint(self, which: Qt.SizeHint, constraint: QSizeF | None = None) -> QSizeF:
        """As the entries need, except that the legend may be as narrow as its widest entry.

        The plot's width then decides the number of columns, not the other way round.
        """
        hint = super().sizeHint(which, QSizeF() if constraint is None else constraint)
        if which == Qt.SizeHint.MinimumSize:
            return QSizeF(max(self._entry_widths(), default=0.0), hint.height())
        return hint

    def _entry_widths(self) -> list[float]:
        return [label.itemRect().width() + self.ENTRY_EXTRA for _sample, label in self.items]

    def _fit(self) -> None:
        """Use as many columns as fit the width of the plot's data area."""
        widths = self._entry_widths()
        if not widths:
            return
        room = self._plot.width() - self._plot.getAxis("left").width() - 8.0
        columns = len(widths)
        while columns > 1 and _row_width(widths, columns) > room:
            columns -= 1
        if columns != self.columnCount:
            self.setColumnCount(columns)
        self.updateGeometry()


def _row_width(widths: Sequence[float], columns: int) -> float:
    """Width of a grid of entries of ``widths`` laid out row by row in ``columns`` columns."""
    return sum(max(widths[c::columns]) for c in range(columns))


def add_legend(plot: Any) -> OutsideLegend:
    """Give ``plot`` a legend above its data area (see :class:`OutsideLegend`).

    Curves added to the plot afterwards with a name join it.
    """
    return OutsideLegend(plot)


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

    The plot never shows negative values (every quantity drawn this way is
    a time, a count, a rate or a distance), and without data it shows the
    empty extent ``[0, x_empty] x [0, y_empty]`` (see :meth:`set_empty`), not
    a range around a point. The time axis never shrinks below ``x_empty``.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot whose range to steady.
    x_empty, y_empty : float
        The extent shown before there are data.
    """

    #: Fraction by which the extent exceeds the data at least.
    MARGIN = 0.02
    #: Room :meth:`cover` leaves above the largest value.
    HEADROOM = 1.1

    def __init__(self, plot: Any, x_empty: float = 10.0, y_empty: float = 1.0) -> None:
        self.item = pg.PlotCurveItem(np.zeros(2), np.zeros(2), pen=pg.mkPen(None))
        self.item.setZValue(-100)
        plot.addItem(self.item)
        view_box = plot.getViewBox()
        view_box.setDefaultPadding(0.0)
        view_box.setLimits(xMin=0.0, yMin=0.0)
        self.x_empty = float(x_empty)
        self.y_empty = float(y_empty)
        self.x_max = 0.0
        self.y_max = 0.0
        self.reset()

    def set_empty(self, x_empty: float, y_empty: float) -> None:
        """Set the extent shown without data (and the smallest time extent); resets the extent."""
        self.x_empty, self.y_empty = float(x_empty), float(y_empty)
        self.reset()

    def follow(self, x_max: float, y_max: float, minimum: float = 1e-3) -> None:
        """Cover the data up to ``(x_max, y_max)`` (non-finite values are ignored).

        A small margin keeps the data off the edge, where the curves' pen
        width would widen the range again.
        """
        grow = 1.0 + self.MARGIN
        x = (
            self.x_max
            if not math.isfinite(x_max)
            else max(self.x_empty, stable_ceiling(self.x_max, x_max * grow, minimum, FINE_STEPS))
        )
        y = (
            self.y_max
            if not math.isfinite(y_max)
            else stable_ceiling(self.y_max, y_max * grow, minimum, FINE_STEPS)
        )
        self._set(x, y)

    def cover(self, x: ArrayLike, *ys: ArrayLike) -> None:
        """Cover curves over ``x`` with values ``ys`` (and 10 % headroom above the largest value)."""
        self.follow(finite_max(x), self.HEADROOM * finite_max(*ys))

    def reset(self) -> None:
        """Forget the data: the extent is the empty extent again."""
        self._set(self.x_empty, self.y_empty)

    def _set(self, x: float, y: float) -> None:
        if (x, y) != (self.x_max, self.y_max):
            self.x_max, self.y_max = x, y
            self.item.setData(np.array([0.0, x]), np.array([0.0, y]))


class HistoryWatch:
    """Tells a view whether the history has news since it last drew it: another history, or more of it.

    Parameters
    ----------
    size : callable
        How much a history holds (default: its number of rows).
    """

    def __init__(self, size: Callable[[Any], int] = lambda history: len(history.rows)) -> None:
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


@dataclass(frozen=True)
class ColourRange:
    """The fixed colour range of one quantity.

    Attributes
    ----------
    high : float
        Value of the top colour.
    low : float
        Value of the bottom colour.
    clips : bool
        Whether values above ``high`` can occur: they take the top colour,
        and the colour bar labels its top "≥ high".
    """

    high: float
    low: float = 0.0
    clips: bool = True


#: Fraction of a colour bar's length that two tick labels keep between them.
TICK_GAP = 0.12


def colour_ticks(colours: ColourRange, sqrt: bool = False, n: int = 5) -> list[tuple[float, str]]:
    """Tick positions and labels of a colour bar of ``colours``.

    Positions are in the units of the colour levels: the values themselves,
    or their square roots for a square-root scale (``sqrt``). Both ends are
    labelled; the top reads "≥ high" when values beyond it clip to the top
    colour. Between them come round values (1, 2 or 5 times a power of ten),
    about ``n`` of them on a linear scale, spaced by at least
    :data:`TICK_GAP` of the bar on a square-root scale.
    """
    low, high = float(colours.low), float(colours.high)
    top = ("\u2265" if colours.clips else "") + f"{high:.4g}"
    if not high > low:
        return [(_level(low, sqrt), f"{low:.4g}")]

    def position(v: float) -> float:
        return (_level(v, sqrt) - _level(low, sqrt)) / (_level(high, sqrt) - _level(low, sqrt))

    if sqrt:
        exponents = range(math.floor(math.log10(max(high, 1e-12))) - 3, math.floor(math.log10(high)) + 1)
        candidates = sorted(
            (m * 10.0**e for e in exponents for m in NICE_STEPS if low < m * 10.0**e < high), reverse=True
        )
    else:
        step = nice_ceiling((high - low) / n, minimum=1e-12)
        first = math.ceil(low / step + 1e-9) * step
        candidates = [v for v in np.arange(first, high, step).tolist() if low < v < high]
    kept = [low, high]
    for v in candidates:
        if all(abs(position(v) - position(k)) >= TICK_GAP for k in kept):
            kept.append(v)
    ticks = [(_level(v, sqrt), f"{v:.4g}") for v in sorted(kept[2:])]
    return [(_level(low, sqrt), f"{low:.4g}"), *ticks, (_level(high, sqrt), top)]


def _level(value: float, sqrt: bool) -> float:
    """The colour level of ``value``: itself, or its square root (0 below 0) on a square-root scale."""
    return math.sqrt(max(value, 0.0)) if sqrt else float(value)


class _ColourBar(pg.ColorBarItem):
    """A colour bar whose context menu sets the colour range of its image."""

    def __init__(self, owner: GridImagePlot, **kwargs: Any) -> None:
        super().__init__(colorMapMenu=False, **kwargs)
        self._owner = owner

    def mouseClickEvent(self, ev: Any) -> None:
        """Right click: the colour range menu."""
        if ev.button() == Qt.MouseButton.RightButton:
            self._owner.range_menu().popup(ev.screenPos().toPoint())
            ev.accept()


class GridImagePlot:
    """An ``n x n`` image of one value per neuron on a grid, with a colour bar and a fixed colour range.

    Neuron ``(x, y)`` (id ``y * n + x``) is the pixel centred on the point
    ``(x, y)``; row 0 is at the top. The image fills the plot: the axes span
    the grid exactly, and zooming and panning stay within it.

    The colour range is fixed per quantity (:meth:`set_default_range`, from
    the model) and can be set by the user (the colour bar's context menu,
    or :meth:`set_user_high`); values beyond it take the colour of the nearer
    end. The bar's tick labels give the range and say when it clips.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to draw in.
    colour_label : str
        Label of the colour bar, with its unit.
    colour_map : str
        Name of a pyqtgraph colour map.
    sqrt : bool
        Colour by the square root of the value (the bar's ticks still read
        values): small values are told apart from zero next to large ones.
    """

    def __init__(self, plot: Any, colour_label: str, colour_map: str = "viridis", sqrt: bool = False) -> None:
        self.plot = plot
        self._side = 0
        self.sqrt = bool(sqrt)
        plot.setAspectLocked(False)
        plot.invertY(True)
        plot.showGrid(x=False, y=False)
        plot.hideButtons()
        plot.disableAutoRange()
        plot.getViewBox().setDefaultPadding(0.0)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setPos(-0.5, -0.5)
        plot.addItem(self.item)
        self.bar = _ColourBar(
            self, values=(0.0, 1.0), colorMap=colour_map, interactive=False, label=colour_label, width=12
        )
        self.bar.setImageItem(self.item, insert_in=plot)
        self.bar.axis.enableAutoSIPrefix(False)
        # the label of the top end sits at the bar's end: draw it even where it reaches past the axis
        self.bar.axis.setStyle(hideOverlappingLabels=False)
        span_title(plot)
        self._colour_label = colour_label
        self._values = np.zeros((0, 0), np.float32)
        self._default = ColourRange(1.0, clips=False)
        self._user_high: float | None = None
        self._range = ColourRange(math.nan)
        self._menu: QMenu | None = None
        #: Called with the new top value when the user sets the range (to link images of one quantity).
        self.user_range_changed: list[Callable[[float | None], None]] = []
        self._apply_range()

    @property
    def side(self) -> int:
        """Grid side of the image (0 before :meth:`set_side`)."""
        return self._side

    @property
    def levels(self) -> tuple[float, float]:
        """The values ``(low, high)`` of the two ends of the colour scale."""
        return float(self._range.low), float(self._range.high)

    @property
    def colour_range(self) -> ColourRange:
        """The colour range in use (the user's top value, if set, over the default range)."""
        return self._range

    @property
    def default_range(self) -> ColourRange:
        """The colour range chosen from the model."""
        return self._default

    @property
    def values(self) -> NDArray[np.float32]:
        """The image shown, ``values[row, col]`` (a copy), in the units of the quantity."""
        return np.array(self._values, np.float32)

    def set_side(self, side: int) -> None:
        """Show an ``side x side`` grid of zeros and fit the plot to it."""
        self._side = int(side)
        self._values = np.zeros((side, side), np.float32)
        self.item.setImage(self._values, autoLevels=False, levels=self.bar.levels())
        lo, hi = -0.5, side - 0.5
        view_box = self.plot.getViewBox()
        view_box.setLimits(xMin=lo, xMax=hi, yMin=lo, yMax=hi, minXRange=1.0, minYRange=1.0)
        self.plot.setRange(xRange=(lo, hi), yRange=(lo, hi), padding=0.0)

    def set_values(self, values: ArrayLike) -> None:
        """Show one value per neuron (``n * n`` values in id order, or an ``n x n`` array)."""
        image = np.array(values, dtype=np.float32).reshape(self._side, self._side)
        self._values = image
        shown = np.sqrt(np.maximum(image, 0.0)) if self.sqrt else image
        self.item.setImage(shown, autoLevels=False)

    def set_colour_label(self, label: str) -> None:
        """Change the label of the colour bar (no change if equal)."""
        if label != self._colour_label:
            self.bar.getAxis("left").setLabel(label)
            self._colour_label = label

    def set_default_range(self, colours: ColourRange) -> None:
        """Set the colour range chosen from the model (a top value set by the user still wins)."""
        self._default = colours
        self._apply_range()

    def set_levels(self, low: float, high: float, clips: bool | None = None) -> None:
        """Map ``low`` to the first and ``high`` to the last colour: the default range (see above)."""
        self.set_default_range(ColourRange(high, low, self._default.clips if clips is None else clips))

    def set_user_high(self, high: float | None) -> None:
        """Set the top of the colour range by hand (None: back to the default range)."""
        if high is not None and not (math.isfinite(high) and high > self._default.low):
            raise ValueError(f"the top of the colour range must be above {self._default.low:g}, got {high}")
        self._user_high = None if high is None else float(high)
        self._apply_range()
        for callback in self.user_range_changed:
            callback(self._user_high)

    @property
    def user_high(self) -> float | None:
        """The top of the colour range set by hand, or None."""
        return self._user_high

    def link_user_range(self, other: GridImagePlot) -> None:
        """Make a top value set by hand on either image apply to both (images of one quantity)."""

        def follow(target: GridImagePlot) -> Callable[[float | None], None]:
            def apply(high: float | None) -> None:
                if target.user_high != high:
                    target.set_user_high(high)

            return apply

        self.user_range_changed.append(follow(other))
        other.user_range_changed.append(follow(self))

    def _apply_range(self) -> None:
        default = self._default
        if self._user_high is None:
            colours = default
        else:
            # beyond a top set by hand values clip, unless they cannot exceed it
            clips = default.clips or self._user_high < default.high
            colours = ColourRange(self._user_high, default.low, clips)
        if colours == self._range:
            return
        self._range = colours
        low, high = _level(colours.low, self.sqrt), _level(colours.high, self.sqrt)
        self.bar.setLevels((low, high))
        ticks = colour_ticks(colours, self.sqrt)
        self.bar.axis.setTicks([ticks, []])
        # wide enough for the longest label (the axis draws no label that does not fit)
        metrics = QFontMetrics(self.bar.axis.style["tickFont"] or QFont())
        self.bar.axis.setWidth(max(metrics.horizontalAdvance(text) for _pos, text in ticks) + 16)

    # -- the context menu -------------------------------------------------------------------------
    def range_menu(self) -> QMenu:
        """The colour bar's context menu: set the colour range, or return to the default one."""
        if self._menu is None:
            self._menu = QMenu()
            self._menu.addAction("Colour range…", self._ask_range)
            self._menu.addAction("Default colour range", lambda: self.set_user_high(None))
        default = self._default
        back = self._menu.actions()[1]
        back.setText(f"Default colour range ({default.low:g} to {default.high:g})")
        back.setEnabled(self._user_high is not None)
        return self._menu

    def _ask_range(self) -> None:
        views = self.plot.scene().views() if self.plot.scene() is not None else []
        parent = views[0] if views else None
        high, ok = QInputDialog.getDouble(
            parent,
            "Colour range",
            f"Value of the top colour ({self._colour_label}); the bottom is {self._default.low:g}:",
            self._range.high,
            self._default.low + 1e-6,
            1e9,
            4,
        )
        if ok:
            self.set_user_high(high)


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
    """A dashed line at a reference value (a published value, a capacity, a target), with its own
    legend entry while shown.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to draw in; the entry goes to its legend, if it has one.
    colour : str
        Colour of the dashed line.
    angle : float
        0 for a horizontal line at a y value, 90 for a vertical one at an x value.
    """

    def __init__(self, plot: Any, colour: str, angle: float = 0.0) -> None:
        self.plot = plot
        pen = dashed_pen(colour)
        self.line = pg.InfiniteLine(angle=angle, pen=pen, movable=False)
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
        """Draw the line at ``value`` and list it in the legend as ``label`` (none when empty)."""
        self._value = float(value)
        self.line.setValue(self._value)
        # A line the user switched off by clicking its legend entry stays off.
        self.line.setVisible(self._sample.isVisible())
        if label != self._label:
            legend = self.plot.legend
            if self._label and legend is not None:
                legend.removeItem(self._sample)
            if legend is not None and label:
                legend.addItem(self._sample, label)
            self._label = label

    def hide(self) -> None:
        """Remove the line and its legend entry."""
        self.line.setVisible(False)
        self._value = math.nan
        if self._label and self.plot.legend is not None:
            self.plot.legend.removeItem(self._sample)
        self._label = None

    @property
    def visible(self) -> bool:
        """Whether the line is drawn."""
        return bool(self.line.isVisible())


@dataclass(frozen=True)
class Cell:
    """Where a plot goes in a grid arrangement: its row and column and how many it spans.

    ``weight`` is the relative height of the cell's row (a row takes the
    largest weight of its cells): an image in a column of time plots gets a
    taller row, to stay near square.
    """

    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    weight: float = 1.0


def _row_weights(cells: Sequence[Cell]) -> list[float]:
    """Relative height of each row of an arrangement."""
    rows = max(c.row + c.rowspan for c in cells)
    weights = [0.0] * rows
    for c in cells:
        if c.rowspan == 1:
            weights[c.row] = max(weights[c.row], c.weight)
    return [w if w > 0.0 else 1.0 for w in weights]


class ResponsiveGrid(QObject):
    """Arranges the plots of a ``GraphicsLayoutWidget`` in the grid that suits the widget's shape.

    Each arrangement puts every plot in a :class:`Cell`. Whenever the widget
    is resized, the arrangement whose cells come nearest the plots' preferred
    shapes (width over height), and that gives every plot at least its
    minimum size, is chosen: two images side by side in a wide view, one
    above the other in a tall one, so that images stay near square and no plot
    is squeezed below the size its titles and axes need.

    Parameters
    ----------
    graphics : pyqtgraph.GraphicsLayoutWidget
        The widget whose central layout holds the plots.
    plots : sequence of pyqtgraph.PlotItem
        The plots, already added to the layout (in the first arrangement).
    aspects : sequence of float
        Preferred width over height of each plot's cell.
    arrangements : sequence of sequences of Cell
        Candidate arrangements; each gives one cell per plot.
    """

    def __init__(
        self,
        graphics: Any,
        plots: Sequence[Any],
        aspects: Sequence[float],
        arrangements: Sequence[Sequence[Cell]],
    ) -> None:
        super().__init__(graphics)
        if not arrangements or any(len(a) != len(plots) for a in arrangements) or len(aspects) != len(plots):
            raise ValueError("every arrangement needs one cell per plot, and every plot an aspect")
        self.graphics = graphics
        self.plots = list(plots)
        self.aspects = [float(a) for a in aspects]
        self.arrangements = [tuple(a) for a in arrangements]
        self._current = -1
        self.arrange(0)
        graphics.installEventFilter(self)

    @classmethod
    def pair(cls, graphics: Any, first: Any, second: Any, aspect: float = 1.6) -> ResponsiveGrid:
        """Two plots of preferred shape ``aspect``: one above the other, or side by side."""
        return cls(
            graphics,
            [first, second],
            [aspect, aspect],
            [(Cell(0, 0), Cell(1, 0)), (Cell(0, 0), Cell(0, 1))],
        )

    @property
    def current(self) -> int:
        """Index of the arrangement in use."""
        return self._current

    def score(self, index: int, width: float, height: float) -> float:
        """How badly arrangement ``index`` suits a widget of ``width`` x ``height`` (lower is better).

        Each plot adds how far (as a log ratio) its cell's shape is from its
        preferred shape; a cell smaller than the plot's minimum size adds 10
        and the missing fraction.
        """
        cells = self.arrangements[index]
        weights = _row_weights(cells)
        cols = max(c.col + c.colspan for c in cells)
        total = 0.0
        for plot, aspect, cell in zip(self.plots, self.aspects, cells, strict=True):
            w = width * cell.colspan / cols
            h = height * sum(weights[cell.row : cell.row + cell.rowspan]) / sum(weights)
            minimum = plot.effectiveSizeHint(Qt.SizeHint.MinimumSize)
            short = max(0.0, minimum.width() - w) / max(w, 1.0) + max(0.0, minimum.height() - h) / max(h, 1.0)
            if short > 0.0:
                total += 10.0 + short
            total += abs(math.log(max(w, 1.0) / max(h, 1.0) / aspect))
        return total

    def best(self, width: float, height: float) -> int:
        """The arrangement that suits a widget of ``width`` x ``height`` best (the current one on a tie)."""
        scores = [self.score(i, width, height) for i in range(len(self.arrangements))]
        best = min(range(len(scores)), key=lambda i: (scores[i], i != self._current))
        return best

    def arrange(self, index: int) -> None:
        """Put the plots in arrangement ``index``."""
        if index == self._current:
            return
        layout = self.graphics.ci.layout
        for plot in self.plots:
            layout.removeItem(plot)
        for plot, cell in zip(self.plots, self.arrangements[index], strict=True):
            layout.addItem(plot, cell.row, cell.col, cell.rowspan, cell.colspan)
        weights = _row_weights(self.arrangements[index])
        cols = max(c.col + c.colspan for c in self.arrangements[index])
        for r in range(layout.rowCount()):
            layout.setRowStretchFactor(r, round(10 * weights[r]) if r < len(weights) else 0)
        for c in range(layout.columnCount()):
            layout.setColumnStretchFactor(c, 1 if c < cols else 0)
        self._current = index

    def update(self) -> None:
        """Choose the arrangement for the widget's present size."""
        size = self.graphics.viewport().size()
        if size.width() > 1 and size.height() > 1:
            self.arrange(self.best(size.width(), size.height()))

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        """Re-arrange when the widget is resized."""
        if event is not None and event.type() == QEvent.Type.Resize:
            size = event.size()  # type: ignore[attr-defined]
            if size.width() > 1 and size.height() > 1:
                self.arrange(self.best(size.width(), size.height()))
        return False


def step_histogram(plot: Any, name: str | None, colour: str, fill: bool = True) -> pg.PlotDataItem:
    """A histogram item of ``plot`` fed with ``setData(edges, counts)`` (bars drawn as steps)."""
    c = pg.mkColor(colour)
    brush = pg.mkBrush(c.red(), c.green(), c.blue(), 110)
    item = pg.PlotDataItem(
        np.zeros(2),
        np.zeros(1),
        stepMode="center",
        fillLevel=0.0 if fill else None,
        brush=brush if fill else None,
        pen=pg.mkPen(colour, width=1.5),
        name=name,
    )
    plot.addItem(item)
    return item


def count_ceiling(current: float, counts: ArrayLike, minimum: float = 5.0) -> float:
    """A steady top for a histogram's count axis: room above the highest bar, rarely changing."""
    top = float(np.max(np.asarray(counts, np.float64), initial=0.0))
    return stable_ceiling(current, 1.15 * top, minimum, FINE_STEPS)
