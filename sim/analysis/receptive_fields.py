"""Receptive-field spread and offset by Bamford et al.'s minimum-variance method.

For every target neuron the feed-forward in-star (synapse count or summed
weight per source neuron) is projected onto the x and y axes of the source
grid. On each axis the receptive-field centre is the position that minimises
the spread of the projection on the torus:

1. integer search: for every candidate centre ``p`` take a window of ``n + 1``
   cells at positions ``-n/2 .. n/2`` around ``p`` (``n`` even), weighting the
   two outermost cells, which are the same source column, by 1/2 so that every
   source counts once; the spread is the weighted standard deviation of the
   positions; the first candidate with the smallest spread wins;
2. fine search: around the best integer centre, offsets ``f`` from -0.5 to
   +0.5 in steps of 0.1 (``numpy.linspace(-0.5, 0.5, 11)``) weight the first
   window cell by ``0.5 - f`` and the last one by ``0.5 + f`` and measure
   positions from ``f``; again the first smallest spread wins and the centre
   is ``p + (k - 5) / 10`` for the winning index ``k``.

``sigma_aff`` is the mean of the two minimal spreads and ``AD`` the periodic
Euclidean distance from the centre to the neuron's own position.

Floating-point details matter because many neurons have exact ties between
candidate centres that rounding breaks one way or the other. They follow the
analysis code of Bogdan et al. 2018 (a port of Bamford's MATLAB), which this
module reproduces on Bamford's published 2009 initial connectivity to the
last bit: projections accumulated in synapse order, per-window sums as NumPy's
pairwise ``sum`` over the ``n + 1`` window cells, standard deviations
compared after the square root, ``argmin`` keeping the first minimum.
The reference builds each projection from a 2-D window of the in-star, so on
other data its rounding can break an exact tie differently: with all weights
equal to a non-power-of-two constant about one neuron in a thousand gets a
centre 0.1 cell away (same spread); counts and generic weights agree.

For odd ``n`` (not covered by the reference) the window is ``n + 2`` cells
long and each cell is weighted by its overlap with the interval
``[f - n/2, f + n/2]``, which again counts every source exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.analysis._validation import check_count, check_grid_size, check_synapses, check_weights

__all__ = ["ReceptiveFields", "in_star", "receptive_fields"]

#: Offsets of the fine search, exactly as the reference computes them.
_FINE_OFFSETS: NDArray[np.float64] = np.linspace(-0.5, 0.5, 11)


@dataclass(frozen=True)
class ReceptiveFields:
    """Per-neuron receptive-field statistics of a feed-forward projection.

    Attributes
    ----------
    sigma_aff : ndarray of float64, shape (N,)
        ``(sigma_x + sigma_y) / 2`` per target neuron (0 without input).
    ad : ndarray of float64, shape (N,)
        Periodic Euclidean distance of the centre from the neuron's own
        position (0 without input).
    centre : ndarray of float64, shape (N, 2)
        Receptive-field centre ``(x, y)`` in grid units, in ``[0, n)``; the
        neuron's own position when it has no input.
    sigma_x, sigma_y : ndarray of float64, shape (N,)
        Minimal spread along each axis (0 without input).
    has_input : ndarray of bool, shape (N,)
        Whether the neuron has at least one feed-forward synapse (of positive
        weight when weights are given).
    """

    sigma_aff: NDArray[np.float64]
    ad: NDArray[np.float64]
    centre: NDArray[np.float64]
    sigma_x: NDArray[np.float64]
    sigma_y: NDArray[np.float64]
    has_input: NDArray[np.bool_]

    @property
    def mean_sigma_aff(self) -> float:
        """Mean ``sigma_aff`` over all neurons (a neuron without input counts 0)."""
        return float(np.mean(self.sigma_aff)) if self.sigma_aff.size else 0.0

    @property
    def mean_ad(self) -> float:
        """Mean ``AD`` over all neurons (a neuron without input counts 0)."""
        return float(np.mean(self.ad)) if self.ad.size else 0.0


def in_star(
    pre: ArrayLike, post: ArrayLike, n: int, neuron: int, weights: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Return the feed-forward in-star of one target neuron as an image.

    Parameters
    ----------
    pre, post : array_like of int, shape (S,)
        Source-layer and target-layer ids of the feed-forward synapses on the
        ``n x n`` torus (row-major ids).
    n : int
        Side of both square layers.
    neuron : int
        Target neuron id.
    weights : array_like of float, shape (S,), optional
        Synapse weights; ``None`` counts every synapse once.

    Returns
    -------
    ndarray of float64, shape (n, n)
        ``image[row, col]``: number (or summed weight) of the neuron's
        synapses from source ``row * n + col``.
    """
    n = check_grid_size(n)
    size = n * n
    pre_arr, post_arr = check_synapses(pre, post, size, size)
    w = check_weights(weights, pre_arr.size)
    neuron = check_count(neuron, "neuron")
    if neuron >= size:
        raise ValueError(f"neuron must be in [0, {size}), got {neuron}")
    mask = post_arr == neuron
    sel_w = None if w is None else w[mask]
    image = np.bincount(pre_arr[mask], weights=sel_w, minlength=size).astype(np.float64)
    return image.reshape(n, n)


def receptive_fields(
    pre: ArrayLike, post: ArrayLike, n: int, weights: ArrayLike | None = None
) -> ReceptiveFields:
    """Measure receptive-field spread and offset of every target neuron.

    Parameters
    ----------
    pre, post : array_like of int, shape (S,)
        Source-layer and target-layer ids of the feed-forward synapses on the
        ``n x n`` torus (row-major ids, position ``(x, y) = (col, row)``).
    n : int
        Side of both square layers.
    weights : array_like of float, shape (S,), optional
        Non-negative synapse weights; ``None`` counts every synapse once
        (multapses count several times). Weights are summed in synapse order.

    Returns
    -------
    ReceptiveFields
        Per-neuron ``sigma_aff``, ``ad``, ``centre``, ``sigma_x``,
        ``sigma_y`` and ``has_input``.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, ``pre``/``post``/``weights``
        differ in length, ids are out of range, or weights are negative or
        not finite.

    Notes
    -----
    Cost is ``O(S + N * n * n)`` for ``N = n * n`` neurons: about 1 s at
    ``n = 112``.
    """
    n = check_grid_size(n)
    size = n * n
    pre_arr, post_arr = check_synapses(pre, post, size, size)
    w = check_weights(weights, pre_arr.size)

    # Axis projections of every in-star, accumulated in synapse order.
    proj_x = _project(post_arr * n + pre_arr % n, w, size * n).reshape(size, n)
    proj_y = _project(post_arr * n + pre_arr // n, w, size * n).reshape(size, n)
    total = proj_x.sum(axis=1)
    has_input = total > 0.0

    own = np.arange(size, dtype=np.int64)
    own_xy = np.stack([own % n, own // n], axis=1).astype(np.float64)
    sigma = np.zeros((size, 2), dtype=np.float64)
    centre = own_xy.copy()
    ad = np.zeros(size, dtype=np.float64)

    active = np.flatnonzero(has_input)
    if active.size:
        offset = np.empty((active.size, 2), dtype=np.float64)
        for axis, proj in enumerate((proj_x, proj_y)):
            sigma[active, axis], raw = _axis_centre(proj[active], n)
            centre[active, axis] = raw % n
            offset[:, axis] = _wrap(raw - own_xy[active, axis], n)
        ad[active] = np.sqrt(offset[:, 0] ** 2 + offset[:, 1] ** 2)

    return ReceptiveFields(
        sigma_aff=(sigma[:, 0] + sigma[:, 1]) / 2.0,
        ad=ad,
        centre=centre,
        sigma_x=sigma[:, 0].copy(),
        sigma_y=sigma[:, 1].copy(),
        has_input=has_input,
    )


def _project(index: NDArray[np.int64], weights: NDArray[np.float64] | None, size: int) -> NDArray[np.float64]:
    """Sum ``weights`` (or ones) into ``size`` bins, in input order."""
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64)


def _half_width(n: int) -> int:
    """Distance of the outermost window cell from the window centre."""
    return n // 2 if n % 2 == 0 else n // 2 + 1


def _cell_weights(n: int, f: float) -> NDArray[np.float64]:
    """Weight of each window cell for a centre offset ``f`` in ``[-0.5, 0.5]``."""
    k = _half_width(n)
    if n % 2 == 0:
        weights = np.ones(2 * k + 1, dtype=np.float64)
        weights[0] = 0.5 - f
        weights[-1] = 0.5 + f
        return weights
    # Odd n: overlap of each unit cell with the interval [f - n/2, f + n/2].
    pos = np.arange(-k, k + 1, dtype=np.float64)
    lo = np.maximum(pos - 0.5, f - n / 2.0)
    hi = np.minimum(pos + 0.5, f + n / 2.0)
    overlap: NDArray[np.float64] = np.maximum(hi - lo, 0.0)
    return overlap


def _axis_centre(proj: NDArray[np.float64], n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Minimum-variance centre of each row of ``proj`` (rows with positive mass).

    Returns the minimal spread and the centre, an integer centre in
    ``[0, n)`` plus a fine offset in ``[-0.5, 0.5]``.
    """
    rows = proj.shape[0]
    k = _half_width(n)
    length = 2 * k + 1
    positions = np.arange(-k, k + 1, dtype=np.float64)
    # ext[:, j] = proj[:, (j - k) % n], so the window around centre p is ext[:, p:p + length].
    ext = np.ascontiguousarray(proj[:, (np.arange(n + length - 1) - k) % n])
    # Integer search: the cell weights are 1, 1/2 or 0 here, so folding them into
    # the squared positions gives the same products bit for bit.
    cell = _cell_weights(n, 0.0)
    moment = cell * positions**2
    # Fine search: for offset f, cell weights w_f and squared distances d_f.
    cells = np.stack([_cell_weights(n, float(f)) for f in _FINE_OFFSETS])
    squared = (positions[None, :] - _FINE_OFFSETS[:, None]) ** 2
    sigma = np.empty(rows, dtype=np.float64)
    raw = np.empty(rows, dtype=np.float64)
    _centre_search(ext, n, moment, cell, cells, squared, sigma, raw)
    return sigma, raw


@numba.njit(cache=True, nogil=True)
def _centre_search(
    ext: NDArray[np.float64],
    n: int,
    moment: NDArray[np.float64],
    cell: NDArray[np.float64],
    cells: NDArray[np.float64],
    squared: NDArray[np.float64],
    sigma: NDArray[np.float64],
    raw: NDArray[np.float64],
) -> None:
    """The integer then the fine search of :func:`_axis_centre`, row by row.

    Every spread is ``sqrt(sum(x w d) / sum(x w))`` with each product formed
    as NumPy forms it, each sum taken in NumPy's pairwise order
    (:func:`_pairwise_dot`) and each minimum found as ``numpy.argmin``
    finds it, so the results equal a NumPy evaluation of the same formulas
    bit for bit.
    """
    length = moment.shape[0]
    offsets = cells.shape[0]
    ones = np.ones(length, dtype=np.float64)
    weighted = np.empty(length, dtype=np.float64)
    spread = np.empty(max(n, offsets), dtype=np.float64)
    for r in range(ext.shape[0]):
        x = ext[r]
        for p in range(n):
            spread[p] = np.sqrt(_pairwise_dot(x, p, moment, length) / _pairwise_dot(x, p, cell, length))
        best = _first_argmin(spread, n)
        for i in range(offsets):
            # NumPy forms (x w_f) d_f, so the weighted values are rounded before the second product
            for j in range(length):
                weighted[j] = x[best + j] * cells[i, j]
            num = _pairwise_dot(weighted, 0, squared[i], length)
            spread[i] = np.sqrt(num / _pairwise_dot(weighted, 0, ones, length))
        k_best = _first_argmin(spread, offsets)
        sigma[r] = spread[k_best]
        raw[r] = best + (k_best - 5) / 10.0


#: Longest run NumPy sums with eight partial sums; it splits longer ones in two.
_PAIRWISE_BLOCK = 128


@numba.njit(cache=True, nogil=True)
def _block_dot(x: NDArray[np.float64], offset: int, w: NDArray[np.float64], start: int, count: int) -> float:
    """``sum(x[offset + i] * w[i] for i in [start, start + count))`` as NumPy sums up to 128 terms.

    Below 8 terms one running sum; otherwise eight partial sums over blocks
    of eight, combined pairwise, then the remainder added in turn.
    """
    if count < 8:
        total = -0.0
        for i in range(start, start + count):
            total += x[offset + i] * w[i]
        return total
    y = x[offset:]
    r0, r1 = y[start] * w[start], y[start + 1] * w[start + 1]
    r2, r3 = y[start + 2] * w[start + 2], y[start + 3] * w[start + 3]
    r4, r5 = y[start + 4] * w[start + 4], y[start + 5] * w[start + 5]
    r6, r7 = y[start + 6] * w[start + 6], y[start + 7] * w[start + 7]
    i = start + 8
    stop = start + count - count % 8
    while i < stop:
        r0 += y[i] * w[i]
        r1 += y[i + 1] * w[i + 1]
        r2 += y[i + 2] * w[i + 2]
        r3 += y[i + 3] * w[i + 3]
        r4 += y[i + 4] * w[i + 4]
        r5 += y[i + 5] * w[i + 5]
        r6 += y[i + 6] * w[i + 6]
        r7 += y[i + 7] * w[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + count:
        total += y[i] * w[i]
        i += 1
    return total


@numba.njit(cache=True, nogil=True)
def _pairwise_dot(x: NDArray[np.float64], offset: int, w: NDArray[np.float64], count: int) -> float:
    """``numpy.sum(x[offset:offset + count] * w[:count])`` in NumPy's own summation order."""
    if count <= _PAIRWISE_BLOCK:
        return _block_dot(x, offset, w, 0, count)
    return _long_pairwise_dot(x, offset, w, count)


@numba.njit(cache=True, nogil=True)
def _long_pairwise_dot(x: NDArray[np.float64], offset: int, w: NDArray[np.float64], count: int) -> float:
    """:func:`_pairwise_dot` above 128 terms: NumPy splits the run in two (halves rounded to 8).

    The recursion runs on an explicit stack (Numba's cache does not keep
    recursive functions).
    """
    starts = np.empty(64, dtype=np.int64)
    counts = np.empty(64, dtype=np.int64)
    combine = np.empty(64, dtype=np.bool_)
    values = np.empty(64, dtype=np.float64)
    top, held = 0, 0
    starts[0], counts[0], combine[0] = 0, count, False
    while top >= 0:
        start, part, join = starts[top], counts[top], combine[top]
        top -= 1
        if join:
            held -= 1
            values[held - 1] = values[held - 1] + values[held]
        elif part <= _PAIRWISE_BLOCK:
            values[held] = _block_dot(x, offset, w, start, part)
            held += 1
        else:
            half = part // 2
            half -= half % 8
            # post-order: left, right, then their sum
            starts[top + 1], counts[top + 1], combine[top + 1] = start, part, True
            starts[top + 2], counts[top + 2], combine[top + 2] = start + half, part - half, False
            starts[top + 3], counts[top + 3], combine[top + 3] = start, half, False
            top += 3
    return values[0]


@numba.njit(cache=True, nogil=True)
def _first_argmin(values: NDArray[np.float64], count: int) -> int:
    """``numpy.argmin(values[:count])``: the first smallest value, or the first NaN."""
    best = 0
    smallest = values[0]
    for i in range(1, count):
        if np.isnan(smallest):
            break
        if not values[i] >= smallest:
            best = i
            smallest = values[i]
    return best


def _wrap(delta: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Shift offsets in ``(-n - 1/2, n + 1/2)`` into ``[-n/2, n/2]``."""
    half = n / 2.0
    shifted: NDArray[np.float64] = np.where(delta > half, delta - n, delta)
    wrapped: NDArray[np.float64] = np.where(shifted < -half, shifted + n, shifted)
    return wrapped
