"""Synapse geometry and a depth-tested line rasteriser on the CPU.

Software OpenGL (Mesa's llvmpipe, under Xvfb or on a machine without a GPU
driver) pays several microseconds per long, one-pixel line: it walks every
4 x 4 pixel block a line crosses. A plain DDA walk in Numba draws the same
lines five to ten times faster, so on software renderers the connectivity
view rasterises its synapse tables here and hands OpenGL one image (see
:class:`gui.visuals.layers.RasterSynapseLayer`).

* :func:`synapse_points`: the 3-D points of a synapse vertex array, exactly
  as the vertex shader of :class:`~gui.visuals.layers.SynapseLinesVisual`
  places them (grid positions from neuron ids, nearest periodic image, arcs).
* :func:`weight_colours`: the colour of each vertex by weight, faded into the background.
* :func:`draw_segments`: rasterises segments into an RGBA image with a depth buffer.
* :func:`draw_synapses`: all of these in one pass over a synapse vertex array
  (what the connectivity view uses).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "colour_table",
    "draw_segments",
    "draw_synapses",
    "pack_rgba",
    "project",
    "synapse_points",
    "transform_matrix",
    "weight_colours",
]


def synapse_points(
    vertices: NDArray[np.float32],
    side: int,
    z_pre: float,
    z_post: float,
    arc: float = 0.0,
    periodic: bool = True,
) -> NDArray[np.float64]:
    """Return the ``(V, 3)`` points of synapse vertices ``(pre id, post id, t, weight)``.

    Neuron ``id`` sits at ``(id % side, id // side, z)``; with ``periodic``
    the presynaptic end is moved to its periodic image nearest the
    postsynaptic neuron; ``arc`` lifts the point at ``t`` by
    ``arc * 4 t (1 - t)`` times the synapse's length in the plane.
    """
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    return _synapse_points(v, side, z_pre, z_post, arc, periodic)


def weight_colours(
    weights: NDArray[np.floating],
    lut: NDArray[np.float32],
    clim: tuple[float, float],
    alpha: float,
    background: tuple[float, float, float],
) -> NDArray[np.float64]:
    """Return ``(V, 3)`` RGB colours: ``lut`` at each weight's place in ``clim``, mixed into ``background``.

    The lookup interpolates linearly between entries, as the texture of the
    OpenGL shader does.
    """
    if len(lut) < 2:
        raise ValueError(f"the lookup table needs at least 2 entries, got {len(lut)}")
    lo, hi = clim
    value = np.clip((np.asarray(weights, dtype=np.float64) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    place = value * (len(lut) - 1)
    below = np.minimum(np.floor(place).astype(np.int64), len(lut) - 2)
    frac = (place - below)[:, None]
    table = np.asarray(lut, dtype=np.float64)[:, :3]
    rgb = table[below] * (1.0 - frac) + table[below + 1] * frac
    return alpha * rgb + (1.0 - alpha) * np.asarray(background, dtype=np.float64)


def transform_matrix(transform: Any) -> NDArray[np.float64]:
    """Return the 4 x 4 matrix ``M`` of a linear VisPy transform: ``mapped = [x, y, z, 1] @ M``."""
    return np.asarray(transform.map(np.eye(4)), dtype=np.float64)


def project(points: NDArray[np.float64], matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map ``(V, 3)`` points with ``matrix`` and divide by ``w``: ``(V, 3)`` pixel x, y and depth.

    Points at or behind the eye (``w <= 0``) come out as NaN (the rasteriser skips their segments).
    """
    return _project(np.ascontiguousarray(points, dtype=np.float64), np.asarray(matrix, dtype=np.float64))


def pack_rgba(rgb: NDArray[np.float64]) -> NDArray[np.uint32]:
    """Pack ``(K, 3)`` RGB in [0, 1] into opaque RGBA words (bytes R, G, B, A in memory order)."""
    c = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint32)
    packed = c[:, 0] | (c[:, 1] << 8) | (c[:, 2] << 16) | np.uint32(255 << 24)
    return packed.astype(np.uint32, copy=False)


def colour_table(
    lut: NDArray[np.float32], alpha: float, background: tuple[float, float, float]
) -> NDArray[np.uint32]:
    """Return ``lut`` mixed into ``background`` by ``alpha`` as packed opaque RGBA words."""
    table = np.asarray(lut, dtype=np.float64)[:, :3]
    return pack_rgba(alpha * table + (1.0 - alpha) * np.asarray(background, np.float64))


@numba.njit(cache=True, nogil=True)
def _grid_point(neuron: float, side: float) -> tuple[float, float]:
    row = np.floor((neuron + 0.5) / side)
    return neuron - row * side, row


@numba.njit(cache=True, nogil=True)
def _synapse_point(
    vertex: NDArray[np.float32], side: int, z_pre: float, z_post: float, arc: float, periodic: bool
) -> tuple[float, float, float]:
    """The point of one vertex ``(pre id, post id, t, weight)`` (see :func:`synapse_points`)."""
    pre_x, pre_y = _grid_point(vertex[0], side)
    post_x, post_y = _grid_point(vertex[1], side)
    if periodic:
        dx, dy = pre_x - post_x, pre_y - post_y
        pre_x = post_x + dx - side * np.floor(dx / side + 0.5)
        pre_y = post_y + dy - side * np.floor(dy / side + 0.5)
    t = vertex[2]
    z = z_pre + (z_post - z_pre) * t
    if arc != 0.0:
        z += arc * 4.0 * t * (1.0 - t) * np.hypot(post_x - pre_x, post_y - pre_y)
    return pre_x + (post_x - pre_x) * t, pre_y + (post_y - pre_y) * t, z


@numba.njit(cache=True, nogil=True)
def _synapse_points(
    vertices: NDArray[np.float32], side: int, z_pre: float, z_post: float, arc: float, periodic: bool
) -> NDArray[np.float64]:
    out = np.empty((vertices.shape[0], 3), dtype=np.float64)
    for v in range(vertices.shape[0]):
        out[v, 0], out[v, 1], out[v, 2] = _synapse_point(vertices[v], side, z_pre, z_post, arc, periodic)
    return out


@numba.njit(cache=True, nogil=True)
def _to_pixels(x: float, y: float, z: float, m: NDArray[np.float64]) -> tuple[float, float, float]:
    """Map a point with the 4 x 4 matrix ``m`` (row vectors) and divide by w (NaN behind the eye)."""
    w = x * m[0, 3] + y * m[1, 3] + z * m[2, 3] + m[3, 3]
    if w <= 0.0:
        return np.nan, np.nan, np.nan
    return (
        (x * m[0, 0] + y * m[1, 0] + z * m[2, 0] + m[3, 0]) / w,
        (x * m[0, 1] + y * m[1, 1] + z * m[2, 1] + m[3, 1]) / w,
        (x * m[0, 2] + y * m[1, 2] + z * m[2, 2] + m[3, 2]) / w,
    )


@numba.njit(cache=True, nogil=True)
def _project(points: NDArray[np.float64], matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.empty((points.shape[0], 3), dtype=np.float64)
    for i in range(points.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = _to_pixels(points[i, 0], points[i, 1], points[i, 2], matrix)
    return out


@numba.njit(cache=True, nogil=True)
def draw_synapses(
    image: NDArray[np.uint32],
    depth: NDArray[np.float32],
    vertices: NDArray[np.float32],
    side: int,
    z_pre: float,
    z_post: float,
    arc: float,
    periodic: bool,
    matrix: NDArray[np.float64],
    colours: NDArray[np.uint32],
    clim: tuple[float, float],
) -> int:
    """Rasterise a synapse vertex array in one pass; returns the pixels written.

    The same picture as :func:`synapse_points`, :func:`project`,
    :func:`weight_colours` and :func:`draw_segments` in turn, without the
    intermediate arrays. ``colours`` is a packed lookup table from
    :func:`colour_table`, indexed by the nearest entry to each weight's
    place in ``clim``.
    """
    n_colours = colours.shape[0]
    span = max(clim[1] - clim[0], 1e-12)
    ends = np.empty((2, 3), dtype=np.float64)
    written = 0
    for v in range(vertices.shape[0]):
        x, y, z = _synapse_point(vertices[v], side, z_pre, z_post, arc, periodic)
        px, py, pz = _to_pixels(x, y, z, matrix)
        ends[v % 2, 0], ends[v % 2, 1], ends[v % 2, 2] = px, py, pz
        if v % 2 == 1:
            value = min(max((vertices[v, 3] - clim[0]) / span, 0.0), 1.0)
            colour = colours[int(value * (n_colours - 1) + 0.5)]
            written += _segment(image, depth, ends, colour)
    return written


@numba.njit(cache=True, nogil=True)
def _clip(p: float, q: float, t0: float, t1: float) -> tuple[bool, float, float]:
    """One Liang-Barsky boundary test: the segment part ``[t0, t1]`` inside ``p t <= q``."""
    if p == 0.0:
        return q >= 0.0, t0, t1
    r = q / p
    if p < 0.0:
        if r > t1:
            return False, t0, t1
        return True, max(t0, r), t1
    if r < t0:
        return False, t0, t1
    return True, t0, min(t1, r)


@numba.njit(cache=True, nogil=True)
def draw_segments(
    image: NDArray[np.uint32],
    depth: NDArray[np.float32],
    points: NDArray[np.float64],
    colours: NDArray[np.uint32],
) -> int:
    """Rasterise segments into ``image`` where they are nearer than ``depth``; returns pixels written.

    Parameters
    ----------
    image : ndarray of uint32, shape (H, W)
        Packed RGBA; pixel ``(x, y)`` is ``image[y, x]``.
    depth : ndarray of float32, shape (H, W)
        Depth buffer (smaller is nearer), updated with each pixel drawn.
    points : ndarray of float64, shape (2 K, 3)
        Segment ends ``(x, y, depth)`` in pixel units, two rows per segment;
        pixel ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``.
    colours : ndarray of uint32, shape (K,)
        Packed colour of each segment.
    """
    written = 0
    for k in range(colours.shape[0]):
        written += _segment(image, depth, points[2 * k : 2 * k + 2], colours[k])
    return written


@numba.njit(cache=True, nogil=True)
def _segment(
    image: NDArray[np.uint32], depth: NDArray[np.float32], ends: NDArray[np.float64], colour: int
) -> int:
    """Rasterise the segment between the two rows of ``ends`` (DDA, clipped to the image)."""
    h, w = depth.shape
    x0, y0, z0 = ends[0, 0], ends[0, 1], ends[0, 2]
    dx, dy, dz = ends[1, 0] - x0, ends[1, 1] - y0, ends[1, 2] - z0
    if not (np.isfinite(x0) and np.isfinite(y0) and np.isfinite(dx) and np.isfinite(dy)):
        return 0
    # clip to the image [0, w) x [0, h)
    ok, t0, t1 = _clip(-dx, x0, 0.0, 1.0)
    if ok:
        ok, t0, t1 = _clip(dx, w - 1e-6 - x0, t0, t1)
    if ok:
        ok, t0, t1 = _clip(-dy, y0, t0, t1)
    if ok:
        ok, t0, t1 = _clip(dy, h - 1e-6 - y0, t0, t1)
    if not ok or t0 > t1:
        return 0
    xa, ya, za = x0 + t0 * dx, y0 + t0 * dy, z0 + t0 * dz
    span = t1 - t0
    steps = int(max(abs(dx * span), abs(dy * span))) + 1
    sx, sy, sz = dx * span / steps, dy * span / steps, dz * span / steps
    written = 0
    for _ in range(steps + 1):
        xi, yi = int(xa), int(ya)
        if 0 <= xi < w and 0 <= yi < h and za < depth[yi, xi]:
            depth[yi, xi] = za
            image[yi, xi] = colour
            written += 1
        xa += sx
        ya += sy
        za += sz
    return written
