"""The topographic grid plot: a net of receptive-field centres over the ideal grid.

:class:`GridNetVisual` draws, in the plane of the source grid, the ideal grid
(faint lines at integer positions), the net (one line segment per link
between neighbouring target neurons), a marker per neuron and a ring round
the selected one. :class:`RegionVisual` is the translucent rectangle of a
drag. Both take plain arrays; what to draw is computed elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vispy.scene.visuals import create_visual_node
from vispy.visuals import CompoundVisual, LineVisual, MarkersVisual, MeshVisual

from gui.visuals.dots import DotsVisual

__all__ = ["GridNet", "GridNetVisual", "Region", "RegionVisual", "ideal_grid_segments"]

RGBA = tuple[float, float, float, float]

#: Faint grey of the ideal grid.
IDEAL_GRID_COLOUR: RGBA = (0.86, 0.86, 0.86, 1.0)
#: Colour of the net lines.
NET_COLOUR: RGBA = (0.35, 0.35, 0.40, 0.9)
#: Colour of the ring round the selected neuron.
SELECTION_COLOUR: RGBA = (0.85, 0.05, 0.05, 1.0)


def ideal_grid_segments(side: int) -> NDArray[np.float32]:
    """Return the ``(4 n, 2)`` end points of the lines at integer positions across ``[-0.5, n - 0.5]``."""
    k = np.arange(side, dtype=np.float32)
    lo, hi = -0.5, side - 0.5
    vertical = np.stack([np.stack([k, np.full(side, lo)], 1), np.stack([k, np.full(side, hi)], 1)], 1)
    horizontal = vertical[:, :, ::-1]
    return np.ascontiguousarray(np.concatenate([vertical, horizontal]).reshape(-1, 2), dtype=np.float32)


def marker_size(side: int) -> float:
    """Marker diameter in pixels for a grid of side ``side`` (smaller markers on larger grids)."""
    return float(np.clip(160.0 / side, 3.0, 10.0))


class GridNetVisual(CompoundVisual):
    """Receptive-field centres joined into a net, over the ideal grid.

    Coordinates are grid units ``(x, y)`` on the plotted square
    ``[-0.5, n - 0.5]^2``.

    Parameters
    ----------
    side : int
        Grid side n (draws the ideal grid and sizes the markers).
    """

    def __init__(self, side: int = 16) -> None:
        self._ideal = LineVisual(method="gl", color=IDEAL_GRID_COLOUR, connect="segments", antialias=False)
        self._net = LineVisual(method="gl", color=NET_COLOUR, connect="segments", antialias=False)
        self._markers = DotsVisual()
        self._ring = MarkersVisual(scaling="fixed")
        self._side = 0
        self._positions = np.zeros((0, 2), np.float32)
        super().__init__([self._ideal, self._net, self._markers, self._ring])
        for visual in (self._ideal, self._net):
            visual.set_gl_state("translucent", depth_test=False)
        self._ring.set_gl_state("translucent", depth_test=False)
        self.set_side(side)

    @property
    def side(self) -> int:
        """Grid side n."""
        return self._side

    @property
    def positions(self) -> NDArray[np.float32]:
        """Marker positions last set, ``(N, 2)`` (a copy)."""
        return self._positions.copy()

    def set_side(self, side: int) -> None:
        """Resize to an ``n x n`` grid: redraw the ideal grid and clear the net."""
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self._side = int(side)
        self._ideal.set_data(pos=ideal_grid_segments(side), color=IDEAL_GRID_COLOUR, connect="segments")
        self._net.visible = False
        self._markers.visible = False
        self._ring.visible = False
        self._positions = np.zeros((0, 2), np.float32)

    def set_net(self, positions: ArrayLike, segments: ArrayLike, colours: ArrayLike) -> None:
        """Draw the markers and the net.

        Parameters
        ----------
        positions : array_like, shape (N, 2)
            Marker positions.
        segments : array_like, shape (2 S, 2)
            Net segment end points, two rows per segment.
        colours : array_like, shape (N, 4)
            Marker face colours (RGBA in [0, 1]).
        """
        pos = np.array(positions, dtype=np.float32).reshape(-1, 2)
        seg = np.array(segments, dtype=np.float32).reshape(-1, 2)
        self._positions = pos
        self._net.visible = len(seg) > 0
        if len(seg):
            self._net.set_data(pos=seg, color=NET_COLOUR, connect="segments")
        self._markers.visible = len(pos) > 0
        if len(pos):
            self._markers.set_data(pos, colours, size=marker_size(self._side))

    def set_selected(self, position: Sequence[float] | None) -> None:
        """Ring the marker at ``position`` (grid units), or none."""
        self._ring.visible = position is not None
        if position is not None:
            size = marker_size(self._side)
            self._ring.set_data(
                pos=np.array([position], dtype=np.float32),
                size=2.0 * size + 6.0,
                edge_width=2.5,
                face_color=(1.0, 1.0, 1.0, 0.0),
                edge_color=SELECTION_COLOUR,
            )


class RegionVisual(CompoundVisual):
    """A translucent axis-aligned rectangle with an outline (the region of a drag)."""

    def __init__(self) -> None:
        self._fill = MeshVisual(
            vertices=np.zeros((4, 2), np.float32),
            faces=np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
            color=(1.0, 0.0, 0.0, 0.25),
        )
        self._outline = LineVisual(method="gl", connect="strip", antialias=False)
        self._rect = (0.0, 0.0, 0.0, 0.0)
        super().__init__([self._fill, self._outline])
        self._fill.set_gl_state("translucent", depth_test=False, cull_face=False)
        self._outline.set_gl_state("translucent", depth_test=False)

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """The rectangle ``(x0, y0, x1, y1)`` last set."""
        return self._rect

    def set_rect(self, x0: float, y0: float, x1: float, y1: float, colour: RGBA) -> None:
        """Show the rectangle with corners ``(x0, y0)`` and ``(x1, y1)`` filled with ``colour``."""
        self._rect = (float(x0), float(y0), float(x1), float(y1))
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
        self._fill.set_data(vertices=corners, faces=np.array([[0, 1, 2], [0, 2, 3]], np.uint32), color=colour)
        edge = (colour[0], colour[1], colour[2], min(1.0, 3.0 * colour[3]))
        self._outline.set_data(pos=np.concatenate([corners, corners[:1]]), color=edge)


#: Scene-graph node of :class:`GridNetVisual`.
GridNet = create_visual_node(GridNetVisual)
#: Scene-graph node of :class:`RegionVisual`.
Region = create_visual_node(RegionVisual)
