"""Pure functions that turn frames and snapshots into the data of the VisPy visuals.

Nothing here needs a window or an OpenGL context, so everything is tested
directly: the topographic net with its periodic links, colours by value,
the vertex arrays of :class:`~gui.visuals.layers.SynapseLinesVisual`, and
picking the point nearest a click.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from app.experiments.topomap.frame import Frame
from gui.visuals.layers import colormap_lut
from sim.experiments.topomap.geometry import periodic_delta

__all__ = [
    "NO_INPUT_COLOUR",
    "MapData",
    "clip_segments",
    "grid_links",
    "grid_neuron_at",
    "map_data",
    "nearest_point",
    "net_segments",
    "nice_upper",
    "normalised_rect",
    "star_mask",
    "synapse_vertices",
    "value_colours",
    "wrap_into_plot",
]

#: Colour of neurons without feed-forward input.
NO_INPUT_COLOUR = (0.72, 0.72, 0.72, 1.0)

#: Mantissas of the round upper ends of colour ranges.
_ROUND_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)

ColourBy = Literal["sigma_aff", "ad"]
CentresFrom = Literal["counts", "weights"]


# -- the topographic net ------------------------------------------------------------------------------
def wrap_into_plot(xy: ArrayLike, side: int) -> NDArray[np.float64]:
    """Return torus positions moved into the plotted square ``[-0.5, n - 0.5)`` on both axes."""
    return (np.asarray(xy, dtype=np.float64) + 0.5) % side - 0.5


def grid_links(side: int) -> NDArray[np.int64]:
    """Return the ``(2 N, 2)`` neuron id pairs linking every neuron to its right and lower neighbour.

    Neighbours wrap around the torus: the right neighbour of the last column
    is the first column of the same row, the lower neighbour of the last row
    the first row of the same column.
    """
    ids = np.arange(side * side, dtype=np.int64)
    col, row = ids % side, ids // side
    right = row * side + (col + 1) % side
    down = ((row + 1) % side) * side + col
    return np.concatenate([np.stack([ids, right], axis=1), np.stack([ids, down], axis=1)])


def clip_segments(
    p0: NDArray[np.float64], p1: NDArray[np.float64], lo: float, hi: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Clip 2-D segments to the square ``[lo, hi]^2`` (Liang-Barsky).

    Parameters
    ----------
    p0, p1 : ndarray of float64, shape (S, 2)
        Start and end points.
    lo, hi : float
        Bounds of the square on both axes.

    Returns
    -------
    q0, q1 : ndarray of float64, shape (S, 2)
        The clipped end points (meaningless where ``keep`` is False).
    keep : ndarray of bool, shape (S,)
        Whether some part of the segment lies inside the square.
    """
    d = p1 - p0
    t0 = np.zeros(len(p0))
    t1 = np.ones(len(p0))
    keep = np.ones(len(p0), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(2):
            for p, q in ((-d[:, axis], p0[:, axis] - lo), (d[:, axis], hi - p0[:, axis])):
                parallel = p == 0.0
                keep &= ~(parallel & (q < 0.0))
                r = q / p
                entering = ~parallel & (p < 0.0)
                leaving = ~parallel & (p > 0.0)
                t0 = np.where(entering, np.maximum(t0, r), t0)
                t1 = np.where(leaving, np.minimum(t1, r), t1)
    keep &= t0 <= t1
    return p0 + t0[:, None] * d, p0 + t1[:, None] * d, keep


def net_segments(
    centres: ArrayLike, side: int, links: NDArray[np.int64] | None = None
) -> NDArray[np.float32]:
    """Return the line segments of the topographic net on the plotted square.

    Each link joins neuron ``i`` to the periodic image of neuron ``j`` nearest
    to it, so neighbours whose centres lie on opposite sides of the wrap are
    joined by a short line that leaves the square, never by one across the
    whole plot. Such a link is also drawn from ``j``'s side (entering the
    square at the opposite edge), and every segment is clipped to the square
    ``[-0.5, n - 0.5]^2``.

    Parameters
    ----------
    centres : array_like, shape (N, 2)
        Receptive-field centres ``(x, y)`` in grid units, any periodic image.
    side : int
        Grid side n (``N = n * n``).
    links : ndarray of int, shape (L, 2), optional
        Neuron pairs to join; :func:`grid_links` by default.

    Returns
    -------
    ndarray of float32, shape (2 S, 2)
        Segment end points, two consecutive rows per segment.
    """
    c = wrap_into_plot(centres, side)
    pairs = grid_links(side) if links is None else np.asarray(links, dtype=np.int64)
    a, b = c[pairs[:, 0]], c[pairs[:, 1]]
    d = periodic_delta(a, b, side)
    crossing = np.any(np.abs(a + d - b) > 1e-9, axis=1)
    p0 = np.concatenate([a, b[crossing] - d[crossing]])
    p1 = np.concatenate([a + d, b[crossing]])
    q0, q1, keep = clip_segments(p0, p1, -0.5, side - 0.5)
    out = np.empty((2 * int(keep.sum()), 2), dtype=np.float32)
    out[0::2] = q0[keep]
    out[1::2] = q1[keep]
    return out


# -- colours ------------------------------------------------------------------------------------------
def nice_upper(value: float) -> float:
    """Round ``value`` up to a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten).

    Values that are not positive and finite give 1.
    """
    if not math.isfinite(value) or value <= 0.0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for mantissa in _ROUND_MANTISSAS:
        step = mantissa * 10.0**exponent
        if step >= value * (1.0 - 1e-12):
            return step
    return 10.0 ** (exponent + 1)  # pragma: no cover (the loop always returns)


def value_colours(
    values: ArrayLike,
    lo: float,
    hi: float,
    colormap: str = "viridis",
    valid: ArrayLike | None = None,
    invalid_colour: tuple[float, float, float, float] = NO_INPUT_COLOUR,
) -> NDArray[np.float32]:
    """Return RGBA colours (float32, ``(N, 4)``) of ``values`` on ``colormap`` over ``[lo, hi]``.

    Values outside the range take the colour of the nearer end; entries where
    ``valid`` is False (or values that are not finite) get ``invalid_colour``.
    """
    v = np.asarray(values, dtype=np.float64)
    lut = colormap_lut(colormap)
    span = hi - lo if hi > lo else 1.0
    finite = np.isfinite(v)
    t = np.clip((np.where(finite, v, lo) - lo) / span, 0.0, 1.0)
    out = lut[np.rint(t * (len(lut) - 1)).astype(np.int64)]
    bad = ~finite if valid is None else ~finite | ~np.asarray(valid, dtype=bool)
    out[bad] = invalid_colour
    return out


@dataclass(frozen=True)
class MapData:
    """What the topographic map draws for one frame.

    Attributes
    ----------
    positions : ndarray of float32, shape (N, 2)
        Marker positions (receptive-field centres on the plotted square).
    segments : ndarray of float32, shape (2 S, 2)
        Net segments, two rows each.
    colours : ndarray of float32, shape (N, 4)
        Marker colours.
    values : ndarray of float64, shape (N,)
        The coloured quantity per neuron.
    value_range : (float, float)
        Values at the two ends of the colormap.
    has_input : ndarray of bool, shape (N,)
        Neurons with feed-forward input (the others are grey, at their own position).
    """

    positions: NDArray[np.float32]
    segments: NDArray[np.float32]
    colours: NDArray[np.float32]
    values: NDArray[np.float64]
    value_range: tuple[float, float]
    has_input: NDArray[np.bool_]


def map_data(
    frame: Frame,
    colour_by: ColourBy = "sigma_aff",
    centres_from: CentresFrom = "counts",
    colormap: str = "viridis",
    value_range: tuple[float, float] | None = None,
) -> MapData:
    """Compute the topographic map of ``frame`` (receptive fields of counts or weights).

    Markers are coloured over ``value_range``; values beyond it take the
    colour of the nearer end. A view passes a range fixed per quantity, so a
    colour means the same value in every frame. Without one the range runs
    from 0 to the largest value rounded up by :func:`nice_upper` (this
    frame's own scale).
    """
    rf = frame.rf_counts if centres_from == "counts" else frame.rf_weights
    values = np.asarray(rf.sigma_aff if colour_by == "sigma_aff" else rf.ad, dtype=np.float64)
    has_input = np.asarray(rf.has_input, dtype=bool)
    if value_range is None:
        top = float(values[has_input].max()) if has_input.any() else 0.0
        value_range = (0.0, nice_upper(top))
    value_range = (float(value_range[0]), float(value_range[1]))
    return MapData(
        positions=wrap_into_plot(rf.centre, frame.side).astype(np.float32),
        segments=net_segments(rf.centre, frame.side),
        colours=value_colours(values, *value_range, colormap=colormap, valid=has_input),
        values=values.copy(),
        value_range=value_range,
        has_input=has_input.copy(),
    )


# -- synapses -----------------------------------------------------------------------------------------
def synapse_vertices(
    pre: ArrayLike, post: ArrayLike, weight: ArrayLike, segments: int = 1
) -> NDArray[np.float32]:
    """Return the vertex array of :class:`~gui.visuals.layers.SynapseLinesVisual` for some synapses.

    Parameters
    ----------
    pre, post : array_like of int, shape (S,)
        Presynaptic and postsynaptic neuron ids.
    weight : array_like of float, shape (S,)
        Synapse weights.
    segments : int
        Line segments per synapse (1 for straight lines, more for arcs).

    Returns
    -------
    ndarray of float32, shape (2 * segments * S, 4)
        ``(pre, post, t, weight)`` per vertex; synapse ``k`` owns rows
        ``2 * segments * k`` to ``2 * segments * (k + 1) - 1``, with ``t``
        running from 0 (presynaptic end) to 1 (postsynaptic end).
    """
    if segments < 1:
        raise ValueError(f"segments must be positive, got {segments}")
    pre_a, post_a, weight_a = np.asarray(pre), np.asarray(post), np.asarray(weight)
    n = pre_a.shape[0]
    if post_a.shape != (n,) or weight_a.shape != (n,):
        raise ValueError(
            f"pre, post and weight must have one value per synapse, got shapes "
            f"{pre_a.shape}, {post_a.shape} and {weight_a.shape}"
        )
    per = 2 * segments
    knots = np.linspace(0.0, 1.0, segments + 1, dtype=np.float32)
    t = np.empty(per, dtype=np.float32)
    t[0::2], t[1::2] = knots[:-1], knots[1:]
    out = np.empty((n * per, 4), dtype=np.float32)
    _fill_vertices(pre_a, post_a, weight_a, t, out)
    return out


@numba.njit(cache=True, nogil=True)
def _fill_vertices(
    pre: NDArray[np.integer],
    post: NDArray[np.integer],
    weight: NDArray[np.floating],
    t: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:
    """Write ``(pre, post, t, weight)`` for each synapse and each of its ``len(t)`` vertices."""
    per = t.shape[0]
    for k in range(pre.shape[0]):
        p, q, w = np.float32(pre[k]), np.float32(post[k]), np.float32(weight[k])
        for j in range(per):
            row = k * per + j
            out[row, 0] = p
            out[row, 1] = q
            out[row, 2] = t[j]
            out[row, 3] = w


def star_mask(pre: ArrayLike, post: ArrayLike, *, source: int = -1, target: int = -1) -> NDArray[np.bool_]:
    """Return which synapses start at neuron ``source`` or end at neuron ``target`` (-1: none)."""
    pre_a, post_a = np.asarray(pre), np.asarray(post)
    mask = np.zeros(pre_a.shape[0], dtype=bool)
    if source >= 0:
        mask |= pre_a == source
    if target >= 0:
        mask |= post_a == target
    return mask


# -- picking ------------------------------------------------------------------------------------------
def nearest_point(points: ArrayLike, xy: ArrayLike, max_distance: float = math.inf) -> int:
    """Return the index of the point nearest ``xy``, or -1 if none lies within ``max_distance``.

    Ties go to the lowest index; points that are not finite are never picked.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not len(p):
        return -1
    d2 = np.sum((p - np.asarray(xy, dtype=np.float64).reshape(1, 2)) ** 2, axis=1)
    d2[~np.isfinite(d2)] = np.inf
    best = int(np.argmin(d2))
    return best if d2[best] <= max_distance**2 else -1


def grid_neuron_at(x: float, y: float, side: int) -> int:
    """Return the id of the neuron whose grid position ``(col, row)`` is nearest ``(x, y)`` on the torus."""
    col = math.floor(x + 0.5) % side
    row = math.floor(y + 0.5) % side
    return row * side + col


def normalised_rect(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """Return the rectangle with corners ordered: ``(min x, min y, max x, max y)``."""
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
