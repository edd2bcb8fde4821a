"""Channel masks: every output channel of every conv block as a cell, kept or masked, by importance.

One row of cells per conv block (the blocks' channel counts differ: rows of
different length, left-aligned). Kept channels are coloured by their
importance (the mean ``|V|`` the next update ranks by), masked ones dark
grey; the channels the newest mask update pruned are red, those it regrew
green (filled cells: an outline would hide a cell a few pixels wide, and the
first update masks most of them). A block too long for the plot's width wraps onto
several lines, so VGG-16's 4,224 channels (13 blocks of up to 512) stay
cells a few pixels wide (:class:`GridLayout`); the whole grid is one image,
whatever its size. Hovering a cell tells its block, channel, importance,
``|dL/dgamma|`` and ``gamma``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QFont, QFontMetrics
from PyQt6.QtWidgets import QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from app.experiments.channels.frame import Frame
from gui.context import ViewContext
from gui.experiments.channels.views.common import (
    STATE_COLOURS,
    TURNOVER_COLOURS,
    coloured,
    gradient_now,
    mode_text,
    score_name,
)
from gui.views._plots import FINE_STEPS, nice_ceiling, set_title, setup_axes, span_title
from gui.views.base import View
from sim.experiments.channels.config import ChannelsConfig

__all__ = ["ChannelMasksView", "GridLayout", "choose_layout", "colour_top", "importance_colour_map"]

#: Smallest cell side (pixels) at which blocks are left on one line each: below it, long blocks
#: wrap onto as many lines as make the cells largest.
MIN_CELL = 16.0
#: A wrapped layout whose cells are this share of the largest possible is preferred if its lines
#: are longer.
NEAR_BEST = 0.7
#: Cells may be at most this many times taller than wide (room below the grid stays white).
MAX_CELL_ASPECT = 2.0


def colour_top(current: float, largest: float) -> float:
    """The top of the colour scale for a largest importance of ``largest``: ``current`` while that
    lies within 70 % to 100 % of it, else the next round value above ``largest`` (1, 1.25, 1.5, 2,
    ... times a power of ten), so the scale follows the values closely but does not flicker."""
    if not (math.isfinite(largest) and largest > 0.0):
        return current if current > 0.0 else 1.0
    if 0.7 * current <= largest <= current:
        return current
    return nice_ceiling(largest, 1e-9, FINE_STEPS)


def importance_colour_map() -> pg.ColorMap:
    """Light blue (low importance) to dark blue (high): apart from the grey of masked cells and from
    the red and green of the channels the newest update pruned and regrew."""
    colours = ["#d4e6f7", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b"]
    return pg.ColorMap(
        np.linspace(0.0, 1.0, len(colours)), [pg.mkColor(c) for c in colours], name="importance"
    )


@dataclass(frozen=True)
class GridLayout:
    """Where each channel's cell lies: blocks one under the other, ``width`` cells to a line.

    A block of more than ``width`` channels wraps onto more lines (channel
    ``c`` of a block at line ``c // width`` of the block, column
    ``c % width``); wrapped blocks are parted by an empty line.
    """

    sizes: tuple[int, ...]
    width: int

    @property
    def wraps(self) -> bool:
        """Whether some block takes more than one line."""
        return any(s > self.width for s in self.sizes)

    @property
    def gap(self) -> int:
        """Empty lines between two blocks (one when blocks wrap, else none)."""
        return 1 if self.wraps else 0

    @property
    def block_lines(self) -> tuple[int, ...]:
        """Lines each block takes."""
        return tuple(max(1, math.ceil(s / self.width)) for s in self.sizes)

    @property
    def first_lines(self) -> tuple[int, ...]:
        """The line each block starts at."""
        starts, line = [], 0
        for n in self.block_lines:
            starts.append(line)
            line += n + self.gap
        return tuple(starts)

    @property
    def lines(self) -> int:
        """Lines of the whole grid."""
        return sum(self.block_lines) + self.gap * max(len(self.sizes) - 1, 0)

    def cells(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(line, column)`` of every channel, block after block."""
        lines, cols = [], []
        for start, size in zip(self.first_lines, self.sizes, strict=True):
            c = np.arange(size, dtype=np.int64)
            lines.append(start + c // self.width)
            cols.append(c % self.width)
        if not lines:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(lines), np.concatenate(cols)

    def lookup(self) -> NDArray[np.int64]:
        """A ``lines x width`` table of the channel (index over all blocks) in every cell; -1: none."""
        table = np.full((self.lines, self.width), -1, np.int64)
        line, col = self.cells()
        table[line, col] = np.arange(len(line))
        return table


def choose_layout(sizes: Sequence[int], width_px: float, height_px: float) -> GridLayout:
    """The layout of ``sizes`` for a plot of ``width_px`` x ``height_px`` pixels.

    Blocks stay on one line each while cells are at least :data:`MIN_CELL`
    pixels on their shorter side. Else the longest block is halved
    (quartered, ...) onto more lines: of the widths that give the largest
    cells (to within :data:`NEAR_BEST`), the widest, so lines stay long.
    """
    sizes = tuple(int(s) for s in sizes)
    longest = max(sizes, default=1)
    candidates: list[tuple[GridLayout, float]] = []
    k = 1
    while True:
        width = max(1, math.ceil(longest / k))
        layout = GridLayout(sizes, width)
        side = min(width_px / width, height_px / max(layout.lines, 1))
        if k == 1 and side >= MIN_CELL:
            return layout
        candidates.append((layout, side))
        if width <= 4:
            break
        k *= 2
    best = max(side for _layout, side in candidates)
    return next(layout for layout, side in candidates if side >= NEAR_BEST * best)


class ChannelMasksView(View[Frame]):
    """The layers x channels grid: kept channels by importance, masked ones grey, the newest update's
    changes marked.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "channel_masks"
    title = "Channel masks"
    tooltip = (
        "Every output channel of every conv block: one row per block (long blocks wrap onto more "
        "lines). Kept channels are coloured by their importance (mean |V| since the last mask update, "
        "which the next update ranks by), masked channels are dark grey. Red: masked at the newest "
        "update; green: regrown at it. Hover a cell for its numbers."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        plot = self.graphics.addPlot(row=0, col=0)
        setup_axes(plot, "Channel masks", "channel", "")
        plot.showGrid(x=False, y=False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.invertY(True)
        plot.disableAutoRange()
        view_box = plot.getViewBox()
        view_box.setDefaultPadding(0.0)
        view_box.setMouseEnabled(x=False, y=False)
        self.plot = plot
        #: Masked cells (dark grey) under the importance image.
        self.background = pg.ImageItem(axisOrder="row-major")
        #: Kept cells' importance (NaN, transparent, elsewhere).
        self.item = pg.ImageItem(axisOrder="row-major")
        for item in (self.background, self.item):
            plot.addItem(item)
        self.bar = pg.ColorBarItem(
            values=(0.0, 1.0),
            colorMap=importance_colour_map(),
            interactive=False,
            label="importance (mean |V|)",
            width=12,
            colorMapMenu=False,
        )
        self._score = "mean |V|"
        self.bar.setImageItem(self.item, insert_in=plot)
        self.bar.axis.enableAutoSIPrefix(False)
        self.bar.axis.setStyle(hideOverlappingLabels=False)
        span_title(plot)
        self.hover_label = QLabel()
        self.hover_label.setObjectName("channel_hover")
        self.hover_label.setWordWrap(True)
        self.hover_label.setTextFormat(Qt.TextFormat.RichText)
        self.hover_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.hover_label.setMinimumHeight(QFontMetrics(self.hover_label.font()).height() * 2 + 4)
        self._hover_hint()
        plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        view_box.sigResized.connect(self._on_resized)
        #: The layout in use, and the channel in every cell.
        self.layout_: GridLayout | None = None
        self._lookup = np.zeros((0, 0), np.int64)
        #: Top of the colour scale (0 until values chose it).
        self.top = 0.0
        #: Channels marked as pruned and regrown (indices over all blocks).
        self.pruned = np.zeros(0, np.int64)
        self.regrown = np.zeros(0, np.int64)
        self._drawn: int | None = None
        self._ticks: list[tuple[float, str]] = []
        self._colour_ticks: list[tuple[float, str]] = []
        self._colour_label = ""
        self._set_colour_top(1.0)
        self.top = 0.0
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.setSpacing(2)
        box.addWidget(self.graphics, 1)
        box.addWidget(self.hover_label)

    def export_widget(self) -> QWidget:
        """The grid without the hover line: what an export shows."""
        return self.graphics

    # -- state ------------------------------------------------------------------------------------
    @property
    def cells_shown(self) -> int:
        """Cells that stand for a channel."""
        return int((self._lookup >= 0).sum())

    @property
    def row_labels(self) -> list[str]:
        """The label of every block's row: its name and the channels it keeps (``2: 32C3  19/32``)."""
        return [text for _pos, text in self._ticks]

    def image_values(self) -> NDArray[np.float32]:
        """The importance image (``lines x width``; NaN where no kept channel is)."""
        image = self.item.image
        return np.zeros((0, 0), np.float32) if image is None else np.asarray(image, np.float32)

    def reset(self, config: ChannelsConfig) -> None:
        """Forget the grid (the next frame gives the blocks)."""
        super().reset(config)
        self.layout_ = None
        self._lookup = np.zeros((0, 0), np.int64)
        self._drawn = None
        self.top = 0.0
        self.pruned = self.regrown = np.zeros(0, np.int64)
        self.background.clear()
        self.item.clear()
        set_title(self.plot, "Channel masks")
        self._hover_hint()

    # -- drawing ----------------------------------------------------------------------------------
    def draw_frame(self, frame: Frame) -> None:
        """Draw the mask, the importance and the newest update's changes (once per snapshot)."""
        snap = frame.snapshot
        score = score_name(frame.config)
        if score != self._score:
            self._score = score
            self.bar.getAxis("left").setLabel(f"importance ({score})")
        layout = self._layout_for(snap.sizes)
        if layout != self.layout_:
            self._set_layout(layout)
            self._drawn = None
        if self._drawn == snap.seq:
            return
        self._drawn = snap.seq
        mask = np.asarray(snap.mask, bool)
        importance = np.asarray(frame.grid_importance, np.float64)
        line, col = layout.cells()
        kept_values = importance[mask]
        top = float(kept_values.max()) if kept_values.size else 0.0
        self._set_colour_top(colour_top(self.top, top))
        self.pruned, self.regrown = np.asarray(frame.last_pruned), np.asarray(frame.last_regrown)
        coloured_cells = mask.copy()
        coloured_cells[self.regrown] = False  # regrown cells are green instead
        image = np.full((layout.lines, layout.width), np.nan, np.float32)
        image[line[coloured_cells], col[coloured_cells]] = importance[coloured_cells]
        self.item.setImage(image, autoLevels=False, levels=(0.0, self.top))
        back = np.zeros((layout.lines, layout.width, 4), np.ubyte)
        for cells, colour in (
            (~mask, STATE_COLOURS["masked"]),
            (self.pruned, TURNOVER_COLOURS["pruned"]),
            (self.regrown, TURNOVER_COLOURS["regrown"]),
        ):
            c = pg.mkColor(colour)
            back[line[cells], col[cells]] = (c.red(), c.green(), c.blue(), 255)
        self.background.setImage(back, autoLevels=False, levels=(0, 255))
        for item in (self.background, self.item):
            item.setRect(0.0, 0.0, float(layout.width), float(layout.lines))
        self._set_ticks(snap.labels, snap.kept, snap.sizes)
        self._set_caption(frame)

    def _layout_for(self, sizes: Sequence[int]) -> GridLayout:
        view_box = self.plot.getViewBox()
        width, height = view_box.width(), view_box.height()
        if width < 20 or height < 20:  # not laid out yet
            width, height = 600.0, 400.0
        return choose_layout(sizes, width, height)

    def _set_layout(self, layout: GridLayout) -> None:
        self.layout_ = layout
        self._lookup = layout.lookup()
        view_box = self.plot.getViewBox()
        height = float(layout.lines)
        w_px, h_px = max(view_box.width(), 1.0), max(view_box.height(), 1.0)
        cell_w = w_px / layout.width
        shown = max(height, h_px / (MAX_CELL_ASPECT * cell_w))  # cells no taller than the aspect allows
        view_box.setLimits(xMin=0.0, xMax=float(layout.width), yMin=0.0, yMax=shown)
        self.plot.setRange(xRange=(0.0, float(layout.width)), yRange=(0.0, shown), padding=0.0)
        bottom = self.plot.getAxis("bottom")
        bottom.setLabel(f"channel (a line holds {layout.width})" if layout.wraps else "channel")

    def _on_resized(self, *_args: object) -> None:
        frame = self.frame
        if frame is None or not self.isVisible():
            return
        layout = self._layout_for(frame.snapshot.sizes)
        if layout != self.layout_:
            self._drawn = None
            self.redraw()
        elif self.layout_ is not None:
            self._set_layout(self.layout_)  # the range follows the new aspect

    def _set_colour_top(self, top: float) -> None:
        if top == self.top:
            return
        self.top = top
        self.bar.setLevels((0.0, top))
        ticks = [(0.0, "0"), (top / 2.0, f"{top / 2.0:.3g}"), (top, f"{top:.3g}")]
        if ticks != self._colour_ticks:
            self._colour_ticks = ticks
            self.bar.axis.setTicks([ticks, []])
            metrics = QFontMetrics(self.bar.axis.style["tickFont"] or QFont())
            self.bar.axis.setWidth(max(metrics.horizontalAdvance(t) for _p, t in ticks) + 16)

    def _set_ticks(self, labels: Sequence[str], kept: Sequence[int], sizes: Sequence[int]) -> None:
        assert self.layout_ is not None
        ticks = []
        for start, lines, label, k, n in zip(
            self.layout_.first_lines, self.layout_.block_lines, labels, kept, sizes, strict=True
        ):
            ticks.append((start + lines / 2.0, f"{label}  {k}/{n}"))
        if ticks == self._ticks:
            return
        self._ticks = ticks
        axis = self.plot.getAxis("left")
        axis.setTicks([ticks, []])
        metrics = QFontMetrics(axis.style["tickFont"] or QFont())
        axis.setWidth(max((metrics.horizontalAdvance(t) for _p, t in ticks), default=20) + 14)
        axis.setLabel("")

    def _set_caption(self, frame: Frame) -> None:
        snap = frame.snapshot
        kept, total = int(np.sum(snap.mask)), len(snap.mask)
        first = f"{mode_text(snap.mode)}: {kept:,} of {total:,} kept, sparsity {snap.channel_sparsity:.2f}"
        if snap.n_updates == 0:
            second = "no mask update yet"
        else:
            pruned = coloured(f"{len(self.pruned)} pruned", TURNOVER_COLOURS["pruned"])
            regrown = coloured(f"{len(self.regrown)} regrown", TURNOVER_COLOURS["regrown"])
            second = f"update {snap.n_updates}: {pruned}, {regrown}"
        set_title(self.plot, f"{first}<br>{second}")

    # -- hover ------------------------------------------------------------------------------------
    def _hover_hint(self) -> None:
        self.hover_label.setText(
            "Hover a cell: its block and channel, importance, |dL/d\u03b3| and \u03b3. "
            "Colour scale: 0 to a round value above the largest importance now."
        )

    def channel_at(self, x: float, y: float) -> int:
        """The channel (index over all blocks) of the cell at plot point ``(x, y)``; -1 for none."""
        if not self._lookup.size or not (math.isfinite(x) and math.isfinite(y)):
            return -1
        line, col = math.floor(y), math.floor(x)
        if 0 <= line < self._lookup.shape[0] and 0 <= col < self._lookup.shape[1]:
            return int(self._lookup[line, col])
        return -1

    def describe(self, channel: int) -> str:
        """What the hover line says of ``channel`` (index over all blocks) in the newest frame."""
        frame = self.frame
        if frame is None or channel < 0:
            return ""
        snap = frame.snapshot
        offsets = snap.offsets
        block = int(np.searchsorted(offsets, channel, side="right") - 1)
        within = channel - int(offsets[block])
        kept = bool(snap.mask[channel])
        state = "kept" if kept else "masked"
        if channel in self.pruned:
            state += ", pruned at the last update"
        elif channel in self.regrown:
            state += ", regrown at the last update"
        grad, at_update = gradient_now(snap, frame.history.records.last_gamma_grad)
        when = " (at the last update)" if at_update else ""
        return (
            f"<b>block {snap.labels[block]}, channel {within}</b> ({state}) · importance "
            f"{frame.grid_importance[channel]:.4g} · |dL/d\u03b3| {grad[channel]:.3g}{when} · "
            f"\u03b3 {float(snap.gamma[channel]):.3g}"
        )

    def _on_mouse_moved(self, pos: QPointF) -> None:
        view_box = self.plot.getViewBox()
        if not view_box.sceneBoundingRect().contains(pos):
            return
        point = view_box.mapSceneToView(pos)
        channel = self.channel_at(point.x(), point.y())
        text = self.describe(channel)
        if not text:
            return
        self.hover_label.setText(text)
        views = self.graphics
        QToolTip.showText(views.mapToGlobal(views.mapFromScene(pos)), text.replace(" · ", "<br>"), views)
