"""Connectivity statistics: degrees and connection probability by displacement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.experiments.topomap.analysis._validation import (
    check_count,
    check_grid_size,
    check_ids,
    check_synapses,
    check_weights,
)
from sim.experiments.topomap.geometry import displacement

__all__ = ["DisplacementStats", "by_displacement", "in_degree", "out_degree", "radial_profile"]


def in_degree(post: ArrayLike, n_post: int) -> NDArray[np.int64]:
    """Count the synapses onto each postsynaptic neuron.

    Parameters
    ----------
    post : array_like of int, shape (S,)
        Postsynaptic ids of the synapses.
    n_post : int
        Number of postsynaptic neurons.

    Returns
    -------
    ndarray of int64, shape (n_post,)
        Number of synapses per postsynaptic neuron (multapses count several times).

    Raises
    ------
    ValueError
        If ``n_post`` is negative or an id is outside ``[0, n_post)``.
    """
    n_post = check_count(n_post, "n_post")
    ids = check_ids(post, n_post, "post")
    return np.bincount(ids, minlength=n_post).astype(np.int64)


def out_degree(pre: ArrayLike, n_pre: int) -> NDArray[np.int64]:
    """Count the synapses made by each presynaptic neuron.

    Parameters
    ----------
    pre : array_like of int, shape (S,)
        Presynaptic ids of the synapses.
    n_pre : int
        Number of presynaptic neurons.

    Returns
    -------
    ndarray of int64, shape (n_pre,)
        Number of synapses per presynaptic neuron (multapses count several times).

    Raises
    ------
    ValueError
        If ``n_pre`` is negative or an id is outside ``[0, n_pre)``.
    """
    n_pre = check_count(n_pre, "n_pre")
    ids = check_ids(pre, n_pre, "pre")
    return np.bincount(ids, minlength=n_pre).astype(np.int64)


@dataclass(frozen=True)
class DisplacementStats:
    """Synapse statistics by periodic displacement of the source from the target.

    Attributes
    ----------
    offsets : ndarray of int64, shape (n,)
        Displacement values ``-n//2 .. (n-1)//2``; index ``i`` of the other
        arrays along either axis stands for ``offsets[i]``.
    count : ndarray of int64, shape (n, n)
        ``count[iy, ix]``: synapses whose source lies at ``(dx, dy) =
        (offsets[ix], offsets[iy])`` from the target's own position.
    probability : ndarray of float64, shape (n, n)
        ``count / n**2``: synapses per target neuron at that displacement,
        i.e. the connection probability when there are no multapses.
    mean_weight : ndarray of float64, shape (n, n)
        Mean weight of those synapses (1 when unweighted); NaN where
        ``count == 0``.
    """

    offsets: NDArray[np.int64]
    count: NDArray[np.int64]
    probability: NDArray[np.float64]
    mean_weight: NDArray[np.float64]


def by_displacement(
    pre: ArrayLike, post: ArrayLike, n: int, weights: ArrayLike | None = None
) -> DisplacementStats:
    """Tabulate feed-forward synapses by the displacement of source from target.

    Parameters
    ----------
    pre, post : array_like of int, shape (S,)
        Source-layer and target-layer ids on the ``n x n`` torus.
    n : int
        Side of both square layers.
    weights : array_like of float, shape (S,), optional
        Synapse weights; ``None`` gives every synapse weight 1.

    Returns
    -------
    DisplacementStats
        Offsets, counts, probabilities and mean weights on the ``(dy, dx)`` grid.

    Raises
    ------
    ValueError
        On a bad ``n``, mismatched lengths, out-of-range ids or bad weights.
    """
    n = check_grid_size(n)
    count, total = _tables(pre, post, n, weights)
    mean_weight: NDArray[np.float64] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    half = n // 2
    return DisplacementStats(
        offsets=np.arange(-half, n - half, dtype=np.int64),
        count=count,
        probability=count / float(n * n),
        mean_weight=mean_weight,
    )


def radial_profile(
    pre: ArrayLike,
    post: ArrayLike,
    n: int,
    weights: ArrayLike | None = None,
    bin_width: float = 0.5,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Connection probability and mean weight as a function of periodic distance.

    Distances ``d`` of the ``n x n`` displacements are binned into
    ``[k * bin_width, (k + 1) * bin_width)``; only bins that contain at least
    one displacement are returned.

    Parameters
    ----------
    pre, post : array_like of int, shape (S,)
        Source-layer and target-layer ids on the ``n x n`` torus.
    n : int
        Side of both square layers.
    weights : array_like of float, shape (S,), optional
        Synapse weights; ``None`` gives every synapse weight 1.
    bin_width : float, optional
        Width of the distance bins in grid units (default 0.5).

    Returns
    -------
    bin_centres : ndarray of float64
        Centre of each non-empty bin.
    probability : ndarray of float64
        Synapses in the bin divided by the number of (source, target) pairs
        whose distance falls in the bin (``n**2`` times the number of
        displacements in the bin).
    mean_weight : ndarray of float64
        Mean weight of the synapses in the bin; NaN where there are none.

    Raises
    ------
    ValueError
        On a bad ``n`` or ``bin_width``, mismatched lengths, out-of-range ids
        or bad weights.
    """
    width = float(bin_width)
    if not np.isfinite(width) or width <= 0.0:
        raise ValueError(f"bin_width must be a positive number, got {bin_width!r}")
    n = check_grid_size(n)
    cell_count, cell_weight = _tables(pre, post, n, weights)
    offsets = np.arange(-(n // 2), n - n // 2, dtype=np.int64)
    dx, dy = np.meshgrid(offsets, offsets)
    dist = np.sqrt((dx**2 + dy**2).astype(np.float64)).ravel()
    # A tiny slack keeps distances that are exact bin edges in the upper bin.
    bins = np.floor(dist / width + 1e-9).astype(np.int64)
    n_bins = int(bins.max()) + 1
    pairs = np.bincount(bins, minlength=n_bins) * float(n * n)
    count = np.bincount(bins, weights=cell_count.ravel().astype(np.float64), minlength=n_bins)
    weight_sum = np.bincount(bins, weights=cell_weight.ravel(), minlength=n_bins)
    keep = pairs > 0
    mean_weight: NDArray[np.float64] = np.where(count > 0, weight_sum / np.maximum(count, 1.0), np.nan)
    centres: NDArray[np.float64] = (np.arange(n_bins, dtype=np.float64) + 0.5) * width
    probability: NDArray[np.float64] = count[keep] / pairs[keep]
    return centres[keep], probability, mean_weight[keep]


def _tables(
    pre: ArrayLike, post: ArrayLike, n: int, weights: ArrayLike | None
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Synapse count and summed weight per ``(dy, dx)`` displacement cell (offset ``-n//2`` first)."""
    size = n * n
    pre_arr, post_arr = check_synapses(pre, post, size, size)
    w = check_weights(weights, pre_arr.size)
    half = n // 2
    if pre_arr.size:
        d = displacement(pre_arr, post_arr, n)
        cell = (d[:, 1] + half) * n + (d[:, 0] + half)
    else:
        cell = np.zeros(0, dtype=np.int64)
    count = np.bincount(cell, minlength=size).astype(np.int64).reshape(n, n)
    total = np.bincount(cell, weights=w, minlength=size).astype(np.float64).reshape(n, n)
    return count, total
