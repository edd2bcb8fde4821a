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

Memory and time follow the synapses. The synapses are grouped by target
(a stable counting sort) and every in-star is projected and searched on its
own, in buffers of ``O(n)``, so memory is ``O(S + N)`` for ``S`` synapses and
``N = n * n`` neurons. Each window sum visits only the occupied cells of the
window and keeps NumPy's pairwise grouping of all its cells: the empty cells
add ``+0.0`` to partial sums of non-negative terms, which changes none of
them, so the results equal the whole-window sums bit for bit at a cost of
``O(n c)`` per axis of an in-star with ``c`` occupied columns (or rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.experiments.topomap.analysis._validation import (
    check_count,
    check_grid_size,
    check_ids,
    check_synapses,
    check_weights,
)

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
    pre: ArrayLike,
    post: ArrayLike,
    n: int,
    weights: ArrayLike | None = None,
    *,
    neurons: ArrayLike | None = None,
) -> ReceptiveFields:
    """Measure receptive-field spread and offset of every target neuron (or of some).

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
    neurons : array_like of int, shape (M,), optional
        Measure only these target neurons (e.g. the one a view shows); the
        results then hold one entry per listed neuron, in this order, equal
        to that neuron's entry of the whole network's results. By default
        every neuron, in id order.

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
    Memory is ``O(S + N)`` for ``N = n * n`` neurons (``O(S + M + n)`` for
    ``M`` listed neurons): the synapses are grouped by target and each
    in-star is projected and searched on its own in buffers of ``O(n)``.
    The search visits only the occupied cells of a window, so time is
    ``O(S + N_in * n * c)`` for ``N_in`` neurons with input and ``c``
    occupied columns (or rows) per in-star.
    """
    n = check_grid_size(n)
    size = n * n
    pre_arr, post_arr = check_synapses(pre, post, size, size)
    w = check_weights(weights, pre_arr.size)
    inverse: NDArray[np.intp] | None = None
    if neurons is None:
        own = np.arange(size, dtype=np.int64)
        group = post_arr
    else:
        own, inverse = np.unique(check_ids(neurons, size, "neurons"), return_inverse=True)
        # Keep the listed neurons' synapses, in synapse order, grouped by position in ``own``.
        where = np.minimum(np.searchsorted(own, post_arr), max(own.size - 1, 0))
        keep = np.flatnonzero(own[where] == post_arr) if own.size else np.zeros(0, dtype=np.int64)
        pre_arr, group = pre_arr[keep], where[keep].astype(np.int64)
        w = None if w is None else w[keep]
    count = own.size

    starts, order = _group_by_target(group, count)
    plan = _SearchPlan.of(n)
    sigma = np.zeros((count, 2), dtype=np.float64)
    raw = np.zeros((count, 2), dtype=np.float64)
    has_input = np.zeros(count, dtype=np.bool_)
    _measure_in_stars(
        pre_arr,
        np.zeros(0, dtype=np.float64) if w is None else w,
        w is not None,
        starts,
        order,
        n,
        plan.moment,
        plan.cell,
        plan.cells,
        plan.squared,
        plan.leaf_of,
        plan.leaf_start,
        plan.leaf_count,
        plan.program,
        sigma,
        raw,
        has_input,
    )
    del starts, order

    own_xy = np.stack([own % n, own // n], axis=1).astype(np.float64)
    centre = own_xy.copy()
    ad = np.zeros(count, dtype=np.float64)
    active = np.flatnonzero(has_input)
    if active.size:
        offset = np.empty((active.size, 2), dtype=np.float64)
        for axis in range(2):
            centre[active, axis] = raw[active, axis] % n
            offset[:, axis] = _wrap(raw[active, axis] - own_xy[active, axis], n)
        ad[active] = np.sqrt(offset[:, 0] ** 2 + offset[:, 1] ** 2)

    fields = ReceptiveFields(
        sigma_aff=(sigma[:, 0] + sigma[:, 1]) / 2.0,
        ad=ad,
        centre=centre,
        sigma_x=sigma[:, 0].copy(),
        sigma_y=sigma[:, 1].copy(),
        has_input=has_input,
    )
    if inverse is None:
        return fields
    return ReceptiveFields(
        sigma_aff=fields.sigma_aff[inverse],
        ad=fields.ad[inverse],
        centre=fields.centre[inverse],
        sigma_x=fields.sigma_x[inverse],
        sigma_y=fields.sigma_y[inverse],
        has_input=fields.has_input[inverse],
    )


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


#: Longest run NumPy sums with eight partial sums; it splits longer ones in two.
_PAIRWISE_BLOCK = 128


@dataclass(frozen=True)
class _SearchPlan:
    """The constant tables of the centre search for one grid side ``n``.

    ``moment`` and ``cell`` are the integer search's weights of the squared
    positions and of the cells, ``cells`` and ``squared`` (11 rows) the fine
    search's. The summation order is NumPy's pairwise order over the window's
    ``length`` cells: the window splits into ``leaf_start``/``leaf_count``
    runs of at most 128 cells, summed with eight partial sums each and
    combined as the postfix ``program`` says (a leaf's index pushes its sum,
    -1 adds the two topmost); ``leaf_of`` gives the run of every cell.
    """

    moment: NDArray[np.float64]
    cell: NDArray[np.float64]
    cells: NDArray[np.float64]
    squared: NDArray[np.float64]
    leaf_of: NDArray[np.int64]
    leaf_start: NDArray[np.int64]
    leaf_count: NDArray[np.int64]
    program: NDArray[np.int64]

    @classmethod
    def of(cls, n: int) -> _SearchPlan:
        """The plan for an ``n x n`` grid."""
        k = _half_width(n)
        length = 2 * k + 1
        positions = np.arange(-k, k + 1, dtype=np.float64)
        # Integer search: the cell weights are 1, 1/2 or 0 here, so folding them into
        # the squared positions gives the same products bit for bit.
        cell = _cell_weights(n, 0.0)
        # Fine search: for offset f, cell weights w_f and squared distances d_f.
        cells = np.stack([_cell_weights(n, float(f)) for f in _FINE_OFFSETS])
        squared = (positions[None, :] - _FINE_OFFSETS[:, None]) ** 2
        leaves: list[tuple[int, int]] = []
        program: list[int] = []
        # NumPy's pairwise sum: runs up to 128 directly, longer ones as two halves (rounded to 8).
        stack: list[tuple[int, int, bool]] = [(0, length, False)]
        while stack:
            start, count, combine = stack.pop()
            if combine:
                program.append(-1)
            elif count <= _PAIRWISE_BLOCK:
                program.append(len(leaves))
                leaves.append((start, count))
            else:
                half = count // 2
                half -= half % 8
                stack += [(start, count, True), (start + half, count - half, False), (start, half, False)]
        leaf_of = np.empty(length, dtype=np.int64)
        for index, (start, count) in enumerate(leaves):
            leaf_of[start : start + count] = index
        return cls(
            moment=cell * positions**2,
            cell=cell,
            cells=cells,
            squared=squared,
            leaf_of=leaf_of,
            leaf_start=np.array([s for s, _ in leaves], dtype=np.int64),
            leaf_count=np.array([c for _, c in leaves], dtype=np.int64),
            program=np.array(program, dtype=np.int64),
        )


def _axis_centre(proj: NDArray[np.float64], n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Minimum-variance centre of each row of ``proj`` (rows with positive mass).

    Returns the minimal spread and the centre, an integer centre in
    ``[0, n)`` plus a fine offset in ``[-0.5, 0.5]``.
    """
    rows = proj.shape[0]
    sigma = np.empty(rows, dtype=np.float64)
    raw = np.empty(rows, dtype=np.float64)
    plan = _SearchPlan.of(n)
    _search_rows(
        np.ascontiguousarray(proj, dtype=np.float64),
        n,
        plan.moment,
        plan.cell,
        plan.cells,
        plan.squared,
        plan.leaf_of,
        plan.leaf_start,
        plan.leaf_count,
        plan.program,
        sigma,
        raw,
    )
    return sigma, raw


@numba.njit(cache=True, nogil=True)
def _group_by_target(post: NDArray[np.int64], size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Synapse indices grouped by target, each group in synapse order (a stable counting sort).

    Target ``j``'s synapses are ``order[starts[j]:starts[j + 1]]``.
    """
    starts = np.zeros(size + 1, dtype=np.int64)
    for s in range(post.shape[0]):
        starts[post[s] + 1] += 1
    for j in range(size):
        starts[j + 1] += starts[j]
    fill = starts[:-1].copy()
    order = np.empty(post.shape[0], dtype=np.int64)
    for s in range(post.shape[0]):
        j = post[s]
        order[fill[j]] = s
        fill[j] += 1
    return starts, order


@numba.njit(cache=True, nogil=True)
def _measure_in_stars(
    pre: NDArray[np.int64],
    weights: NDArray[np.float64],
    weighted: bool,
    starts: NDArray[np.int64],
    order: NDArray[np.int64],
    n: int,
    moment: NDArray[np.float64],
    cell: NDArray[np.float64],
    cells: NDArray[np.float64],
    squared: NDArray[np.float64],
    leaf_of: NDArray[np.int64],
    leaf_start: NDArray[np.int64],
    leaf_count: NDArray[np.int64],
    program: NDArray[np.int64],
    sigma: NDArray[np.float64],
    raw: NDArray[np.float64],
    has_input: NDArray[np.bool_],
) -> None:
    """Project every in-star on both axes and search its centres (``sigma``, ``raw``: (N, 2)).

    A projection is accumulated in synapse order, as ``numpy.bincount`` does,
    into a buffer of ``n`` cells that is cleared again after use.
    """
    proj = np.zeros((2, n), dtype=np.float64)
    seen = np.zeros(n, dtype=np.bool_)
    cols = np.empty(n, dtype=np.int64)
    vals = np.empty(n, dtype=np.float64)
    scratch = _new_scratch(n, leaf_start.shape[0])
    for j in range(starts.shape[0] - 1):
        first, last = starts[j], starts[j + 1]
        if first == last:
            continue
        for t in range(first, last):
            s = order[t]
            v = weights[s] if weighted else 1.0
            proj[0, pre[s] % n] += v
            proj[1, pre[s] // n] += v
        for axis in range(2):
            m = 0
            for t in range(first, last):
                c = pre[order[t]] % n if axis == 0 else pre[order[t]] // n
                if not seen[c] and proj[axis, c] > 0.0:
                    seen[c] = True
                    cols[m] = c
                    m += 1
            if m > 0:
                _sort_columns(cols, m, proj[axis], seen)
                for q in range(m):
                    vals[q] = proj[axis, cols[q]]
                has_input[j] = True
                sigma[j, axis], raw[j, axis] = _search_axis(
                    cols,
                    vals,
                    m,
                    n,
                    moment,
                    cell,
                    cells,
                    squared,
                    leaf_of,
                    leaf_start,
                    leaf_count,
                    program,
                    scratch,
                )
            for t in range(first, last):
                c = pre[order[t]] % n if axis == 0 else pre[order[t]] // n
                proj[axis, c] = 0.0
                seen[c] = False


@numba.njit(cache=True, nogil=True)
def _search_rows(
    proj: NDArray[np.float64],
    n: int,
    moment: NDArray[np.float64],
    cell: NDArray[np.float64],
    cells: NDArray[np.float64],
    squared: NDArray[np.float64],
    leaf_of: NDArray[np.int64],
    leaf_start: NDArray[np.int64],
    leaf_count: NDArray[np.int64],
    program: NDArray[np.int64],
    sigma: NDArray[np.float64],
    raw: NDArray[np.float64],
) -> None:
    """:func:`_search_axis` on every row of dense projections ``proj`` (rows, n)."""
    cols = np.empty(n, dtype=np.int64)
    vals = np.empty(n, dtype=np.float64)
    scratch = _new_scratch(n, leaf_start.shape[0])
    for r in range(proj.shape[0]):
        m = 0
        for c in range(n):
            if proj[r, c] != 0.0:
                cols[m] = c
                vals[m] = proj[r, c]
                m += 1
        sigma[r], raw[r] = _search_axis(
            cols, vals, m, n, moment, cell, cells, squared, leaf_of, leaf_start, leaf_count, program, scratch
        )


@numba.njit(cache=True, nogil=True)
def _sort_columns(cols: NDArray[np.int64], m: int, row: NDArray[np.float64], seen: NDArray[np.bool_]) -> None:
    """Sort ``cols[:m]`` (distinct cells of one projection) in place.

    Few cells: insertion sort; many: read them off the marks in cell order.
    """
    n = row.shape[0]
    if m * m <= n:
        for a in range(1, m):
            c = cols[a]
            b = a - 1
            while b >= 0 and cols[b] > c:
                cols[b + 1] = cols[b]
                b -= 1
            cols[b + 1] = c
        return
    q = 0
    for c in range(n):
        if seen[c]:
            cols[q] = c
            q += 1


class _ScratchArrays(NamedTuple):
    """Working arrays of one centre search (sized by the grid, not the network)."""

    pos: NDArray[np.int64]  # positions of the occupied cells of the extended projection
    val: NDArray[np.float64]  # their values
    spread: NDArray[np.float64]  # spread of every candidate centre
    acc: NDArray[np.float64]  # the eight partial sums of a run, first sum
    acc2: NDArray[np.float64]  # and second sum
    top: NDArray[np.float64]  # per run of the window: its first sum
    bottom: NDArray[np.float64]  # and its second sum
    stack: NDArray[np.float64]  # for combining the runs' first sums
    stack2: NDArray[np.float64]  # and their second sums


@numba.njit(cache=True, nogil=True)
def _new_scratch(n: int, leaves: int) -> _ScratchArrays:
    """Working arrays for an ``n x n`` grid whose window sums split into ``leaves`` runs."""
    return _ScratchArrays(
        np.empty(3 * n, dtype=np.int64),
        np.empty(3 * n, dtype=np.float64),
        np.empty(max(n, _FINE_OFFSETS.size), dtype=np.float64),
        np.empty(8, dtype=np.float64),
        np.empty(8, dtype=np.float64),
        np.empty(leaves, dtype=np.float64),
        np.empty(leaves, dtype=np.float64),
        np.empty(leaves, dtype=np.float64),
        np.empty(leaves, dtype=np.float64),
    )


@numba.njit(cache=True, nogil=True)
def _search_axis(
    cols: NDArray[np.int64],
    vals: NDArray[np.float64],
    m: int,
    n: int,
    moment: NDArray[np.float64],
    cell: NDArray[np.float64],
    cells: NDArray[np.float64],
    squared: NDArray[np.float64],
    leaf_of: NDArray[np.int64],
    leaf_start: NDArray[np.int64],
    leaf_count: NDArray[np.int64],
    program: NDArray[np.int64],
    scratch: _ScratchArrays,
) -> tuple[float, float]:
    """The integer then the fine search of one projection, given by its nonzero cells.

    ``cols[:m]`` (ascending) and ``vals[:m]`` are the occupied cells of a
    projection of ``n`` cells. Every spread is ``sqrt(sum(x w d) / sum(x w))``
    over the window's cells, each product formed as NumPy forms it, each sum
    in NumPy's pairwise order (:func:`_spread_sums`) and each minimum found as
    ``numpy.argmin`` finds it, so the results equal a NumPy evaluation of the
    same formulas over the whole window bit for bit. Returns the minimal
    spread and the centre (integer centre plus fine offset).
    """
    length = moment.shape[0]
    k = (length - 1) // 2
    extent = n + length - 1
    pos, val, spread, acc, acc2 = scratch.pos, scratch.val, scratch.spread, scratch.acc, scratch.acc2
    # A window of up to 128 cells is one run: sum it directly.
    one_run = leaf_start.shape[0] == 1
    # The extended projection ext[e] = proj[(e - k) % n], e in [0, extent): its occupied
    # cells in ascending order (copies before the wrap, the projection, copies after it).
    count = 0
    for q in range(m):
        e = cols[q] + k - n
        if e >= 0:
            pos[count] = e
            val[count] = vals[q]
            count += 1
    for q in range(m):
        pos[count] = cols[q] + k
        val[count] = vals[q]
        count += 1
    for q in range(m):
        e = cols[q] + k + n
        if e < extent:
            pos[count] = e
            val[count] = vals[q]
            count += 1
    # Integer search: the window of centre p is ext[p:p + length]; its occupied cells pos[lo:hi].
    lo = 0
    hi = 0
    for p in range(n):
        while lo < count and pos[lo] < p:
            lo += 1
        while hi < count and pos[hi] < p + length:
            hi += 1
        if one_run:
            top, bottom, _ = _run_sums(pos, val, lo, hi, p, 0, length, moment, cell, False, acc, acc2)
        else:
            top, bottom, runs = _spread_sums(
                pos, val, lo, hi, p, moment, cell, False, leaf_of, leaf_start, leaf_count, acc, acc2
            )
            if runs > 2:
                top, bottom = _tree_sums(
                    pos,
                    val,
                    lo,
                    hi,
                    p,
                    moment,
                    cell,
                    False,
                    leaf_of,
                    leaf_start,
                    leaf_count,
                    program,
                    scratch,
                )
        spread[p] = np.sqrt(top / bottom)
    best = _first_argmin(spread, n)
    # Fine search around the best integer centre.
    lo = 0
    while lo < count and pos[lo] < best:
        lo += 1
    hi = lo
    while hi < count and pos[hi] < best + length:
        hi += 1
    offsets = cells.shape[0]
    for f in range(offsets):
        a, b = cells[f], squared[f]
        if one_run:
            top, bottom, _ = _run_sums(pos, val, lo, hi, best, 0, length, a, b, True, acc, acc2)
        else:
            top, bottom, runs = _spread_sums(
                pos, val, lo, hi, best, a, b, True, leaf_of, leaf_start, leaf_count, acc, acc2
            )
            if runs > 2:
                top, bottom = _tree_sums(
                    pos, val, lo, hi, best, a, b, True, leaf_of, leaf_start, leaf_count, program, scratch
                )
        spread[f] = np.sqrt(top / bottom)
    k_best = _first_argmin(spread, offsets)
    return spread[k_best], best + (k_best - 5) / 10.0


@numba.njit(inline="always", cache=True, nogil=True)
def _spread_sums(
    pos: NDArray[np.int64],
    val: NDArray[np.float64],
    lo: int,
    hi: int,
    p: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    fine: bool,
    leaf_of: NDArray[np.int64],
    leaf_start: NDArray[np.int64],
    leaf_count: NDArray[np.int64],
    acc: NDArray[np.float64],
    acc2: NDArray[np.float64],
) -> tuple[float, float, int]:
    """The numerator and denominator sums of the spread of the window ``ext[p:p + length]``.

    The window's occupied cells are ``pos[lo:hi]`` (ascending), with values
    ``x``; the terms are ``x * a`` and ``x * b`` (integer search: ``a`` the
    moments, ``b`` the cell weights) or, with ``fine``, ``(x * a) * b`` and
    ``x * a`` (fine search: ``a`` the cell weights, ``b`` the squared
    distances). Each sum is NumPy's pairwise ``sum`` over all the window's
    cells: every empty cell's term is ``+0.0``, and adding ``+0.0`` leaves a
    partial sum of non-negative terms unchanged, so only the occupied cells
    are visited. NumPy splits a window of more than 128 cells into runs
    (``leaf_of``, ``leaf_start``, ``leaf_count``); each run is summed by
    :func:`_run_sums`. Runs without occupied cells sum to ``+0.0``, so one
    occupied run gives its own sums and two give the sum of both, wherever
    the pairwise tree joins them. Returns the sums and the number of
    occupied runs: with three or more the sums are not valid, and
    :func:`_tree_sums` combines the runs in NumPy's order.
    """
    top = 0.0
    bottom = 0.0
    touched = 0
    q = lo
    while q < hi:
        which = leaf_of[pos[q] - p]
        run_top, run_bottom, q = _run_sums(
            pos, val, q, hi, p, leaf_start[which], leaf_count[which], a, b, fine, acc, acc2
        )
        top += run_top
        bottom += run_bottom
        touched += 1
    return top, bottom, touched


@numba.njit(cache=True, nogil=True)
def _tree_sums(
    pos: NDArray[np.int64],
    val: NDArray[np.float64],
    lo: int,
    hi: int,
    p: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    fine: bool,
    leaf_of: NDArray[np.int64],
    leaf_start: NDArray[np.int64],
    leaf_count: NDArray[np.int64],
    program: NDArray[np.int64],
    scratch: _ScratchArrays,
) -> tuple[float, float]:
    """The sums of :func:`_spread_sums` for a window with occupied cells in three or more runs.

    The runs' sums are combined as NumPy combines them: the postfix
    ``program`` pushes a run's sums (its index) or adds the two topmost (-1).
    """
    top, bottom = scratch.top, scratch.bottom
    top[:] = 0.0
    bottom[:] = 0.0
    q = lo
    while q < hi:
        which = leaf_of[pos[q] - p]
        top[which], bottom[which], q = _run_sums(
            pos, val, q, hi, p, leaf_start[which], leaf_count[which], a, b, fine, scratch.acc, scratch.acc2
        )
    stack, stack2 = scratch.stack, scratch.stack2
    held = 0
    for op in program:
        if op < 0:
            held -= 1
            stack[held - 1] = stack[held - 1] + stack[held]
            stack2[held - 1] = stack2[held - 1] + stack2[held]
        else:
            stack[held] = top[op]
            stack2[held] = bottom[op]
            held += 1
    return stack[0], stack2[0]


@numba.njit(inline="always", cache=True, nogil=True)
def _run_sums(
    pos: NDArray[np.int64],
    val: NDArray[np.float64],
    first: int,
    last: int,
    p: int,
    start: int,
    count: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    fine: bool,
    acc: NDArray[np.float64],
    acc2: NDArray[np.float64],
) -> tuple[float, float, int]:
    """Both sums (see :func:`_spread_sums`) over one run of ``count`` window cells from cell ``start``.

    The run's occupied cells are those of ``pos[first:last]`` before cell
    ``start + count``; returns the sums and the index of the first occupied
    cell after the run. NumPy sums a run of fewer than 8 cells in turn; a
    longer one with eight partial sums, cell ``start + c`` going to sum
    ``c % 8`` for ``c`` below the last multiple of 8, combined pairwise, and
    then the remaining cells in turn.
    """
    top = 0.0
    bottom = 0.0
    q = first
    if count >= 8:
        stop = count - count % 8
        for r in range(8):
            acc[r] = 0.0
            acc2[r] = 0.0
        while q < last:
            i = pos[q] - p
            c = i - start
            if c >= stop:
                break
            if fine:
                weighted = val[q] * a[i]
                acc[c & 7] += weighted * b[i]
                acc2[c & 7] += weighted
            else:
                acc[c & 7] += val[q] * a[i]
                acc2[c & 7] += val[q] * b[i]
            q += 1
        top = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        bottom = ((acc2[0] + acc2[1]) + (acc2[2] + acc2[3])) + ((acc2[4] + acc2[5]) + (acc2[6] + acc2[7]))
    while q < last:
        i = pos[q] - p
        if i - start >= count:
            break
        if fine:
            weighted = val[q] * a[i]
            top += weighted * b[i]
            bottom += weighted
        else:
            top += val[q] * a[i]
            bottom += val[q] * b[i]
        q += 1
    return top, bottom, q


@numba.njit(inline="always", cache=True, nogil=True)
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
