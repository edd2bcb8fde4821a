"""Images of matrices larger than their plot: reduced block by block so that no entry drops out of sight.

Qt draws an image larger than its place on screen by skipping rows and
columns, so most synapses of a sparse 700 x 512 table, or most spikes of a
long raster, would vanish. A :class:`PooledImage` instead reduces the matrix
to about one block per screen pixel of the range shown, keeping each
block's entry of largest magnitude (:func:`strongest_per_block`), and
redoes it when the plot is resized or zoomed; zoomed in far enough, it
shows every entry.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtCore import QRectF

__all__ = ["PooledImage", "strongest_per_block"]


def strongest_per_block(image: NDArray[np.float32], rows: int, cols: int) -> NDArray[np.float32]:
    """Reduce ``image`` by ``rows x cols`` blocks, keeping each block's value of largest magnitude.

    NaN (nothing there) counts as nothing: a block is NaN only if all of its
    pixels are. The last blocks are partial when the sides are not
    multiples of the block size, so every entry falls in some block.
    """
    rows, cols = max(1, int(rows)), max(1, int(cols))
    if rows == 1 and cols == 1:
        return image
    n, m = image.shape
    out_n, out_m = math.ceil(n / rows), math.ceil(m / cols)
    padded = np.full((out_n * rows, out_m * cols), np.nan, np.float32)
    padded[:n, :m] = image
    blocks = padded.reshape(out_n, rows, out_m, cols).transpose(0, 2, 1, 3).reshape(out_n, out_m, rows * cols)
    magnitude = np.abs(blocks)
    magnitude[np.isnan(magnitude)] = -1.0
    pick = magnitude.argmax(axis=2)
    return np.take_along_axis(blocks, pick[..., None], axis=2)[..., 0]


class PooledImage:
    """A matrix drawn on a plot, entry ``[row, col]`` over ``x0 + col * dx`` and ``y0 + row * dy``.

    NaN entries are transparent. The plot's range is limited to the matrix
    and fitted to it by :meth:`set_shape`; :meth:`set_values` draws new
    values with the levels given.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to draw in (axes already labelled).
    origin : tuple of float
        ``(x0, y0)``: where the corner of entry ``[0, 0]`` lies.
    pixel : tuple of float
        ``(dx, dy)``: the width and height of one entry in plot units.
    """

    def __init__(
        self, plot: Any, origin: tuple[float, float] = (-0.5, -0.5), pixel: tuple[float, float] = (1.0, 1.0)
    ) -> None:
        self.plot = plot
        plot.showGrid(x=False, y=False)
        plot.hideButtons()
        plot.disableAutoRange()
        view_box = plot.getViewBox()
        view_box.setDefaultPadding(0.0)
        self.item = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.item)
        self.origin = (float(origin[0]), float(origin[1]))
        self.pixel = (float(pixel[0]), float(pixel[1]))
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.shape = (0, 0)
        self._values = np.zeros((0, 0), np.float32)
        self._blocks = (0, 0)
        view_box.sigRangeChanged.connect(self._on_range_changed)
        view_box.sigResized.connect(self._on_range_changed)

    @property
    def values(self) -> NDArray[np.float32]:
        """The matrix at full resolution (NaN: nothing there)."""
        return self._values

    @property
    def blocks(self) -> tuple[int, int]:
        """Rows and columns of the matrix per pixel of the picture drawn."""
        return self._blocks

    def set_geometry(self, origin: tuple[float, float], pixel: tuple[float, float]) -> None:
        """Entry ``[0, 0]``'s corner at ``origin``, entries ``pixel`` in size (from the next set_shape)."""
        self.origin = (float(origin[0]), float(origin[1]))
        self.pixel = (float(pixel[0]), float(pixel[1]))

    def set_shape(self, rows: int, cols: int) -> None:
        """Show an empty ``rows x cols`` matrix and fit the plot to it."""
        self.shape = (int(rows), int(cols))
        self._values = np.full(self.shape, np.nan, np.float32)
        self._blocks = (0, 0)
        if not self._values.size:
            self.item.clear()
            return
        (x0, y0), (dx, dy) = self.origin, self.pixel
        x1, y1 = x0 + cols * dx, y0 + rows * dy
        view_box = self.plot.getViewBox()
        view_box.setLimits(xMin=x0, xMax=x1, yMin=y0, yMax=y1, minXRange=dx, minYRange=dy)
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
        self._show()

    def set_values(self, values: NDArray[np.float32], levels: tuple[float, float] | None = None) -> None:
        """Draw ``values`` (of the shape set), coloured with ``levels`` (default: those in use)."""
        if values.shape != self.shape:
            raise ValueError(f"expected a {self.shape} matrix, got {values.shape}")
        if levels is not None:
            self.levels = (float(levels[0]), float(levels[1]))
        self._values = values
        self._show()

    def block_size(self) -> tuple[int, int]:
        """Rows and columns of the matrix per screen pixel of the range shown (1 when zoomed in)."""
        view_box = self.plot.getViewBox()
        (x0, x1), (y0, y1) = view_box.viewRange()
        width, height = max(view_box.width(), 1.0), max(view_box.height(), 1.0)
        dx, dy = self.pixel
        rows = math.ceil(abs(y1 - y0) / abs(dy) / height - 1e-9)
        cols = math.ceil(abs(x1 - x0) / abs(dx) / width - 1e-9)
        return max(1, rows), max(1, cols)

    def _show(self) -> None:
        if not self._values.size:
            return
        rows, cols = self.block_size()
        self._blocks = (rows, cols)
        shown = strongest_per_block(self._values, rows, cols)
        self.item.setImage(shown, autoLevels=False, levels=self.levels)
        # each block drawn over the entries it stands for (a partial last block reaches past the edge)
        (x0, y0), (dx, dy) = self.origin, self.pixel
        self.item.setRect(QRectF(x0, y0, shown.shape[1] * cols * dx, shown.shape[0] * rows * dy))

    def _on_range_changed(self, *_args: object) -> None:
        if self._values.size and self.block_size() != self._blocks:
            self._show()
