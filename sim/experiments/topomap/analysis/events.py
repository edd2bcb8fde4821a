"""Statistics of rewiring events (see :mod:`sim.events` for the record layout)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.events import FF, FORMED, LAT, REMOVED
from sim.experiments.topomap.analysis._validation import check_grid_size, check_ids
from sim.experiments.topomap.geometry import distance

__all__ = ["event_rates", "events_by_distance"]

_FIELDS = ("step", "pre", "post", "projection", "kind")
#: Relative slack for times that fall on a bin edge up to rounding.
_SLACK = 1e-9


def _select(events: NDArray[np.void], projection: int | None) -> NDArray[np.void]:
    """Check the event array and keep the events of one projection (all when ``None``)."""
    arr = np.asarray(events)
    if arr.ndim != 1 or arr.dtype.names is None or any(f not in arr.dtype.names for f in _FIELDS):
        raise ValueError(f"events must be a 1-D structured array with fields {_FIELDS}")
    if projection is None:
        return arr
    if projection not in (FF, LAT):
        raise ValueError(f"projection must be None, {FF} (FF) or {LAT} (LAT), got {projection!r}")
    selected: NDArray[np.void] = arr[arr["projection"] == projection]
    return selected


def _positive(value: float, name: str) -> float:
    out = float(value)
    if not math.isfinite(out) or out <= 0.0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return out


def event_rates(
    events: NDArray[np.void],
    dt: float,
    bin_seconds: float,
    t_end: float | None = None,
    projection: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Rates of synapse formation and elimination over time.

    An event at step ``s`` happens at time ``s * dt``. Time ``[0, t_end]`` is
    cut into bins ``[k * bin_seconds, (k + 1) * bin_seconds)``; the last bin
    may be shorter and also holds events at exactly ``t_end``. Each count is
    divided by the length of its bin (within ``[0, t_end]``).

    Parameters
    ----------
    events : ndarray of ``sim.events.EVENT_DTYPE``
        Rewiring events.
    dt : float
        Seconds per simulation step.
    bin_seconds : float
        Bin width in seconds.
    t_end : float, optional
        End of the observation in seconds; default the time of the last
        event. Events after ``t_end`` are ignored.
    projection : {None, 0, 1}, optional
        Only events of this projection (``FF = 0``, ``LAT = 1``); all when ``None``.

    Returns
    -------
    t_bins : ndarray of float64
        Start time of each bin in seconds (empty when there is nothing to bin).
    formations_per_s, eliminations_per_s : ndarray of float64
        Events of kind ``FORMED`` / ``REMOVED`` per second in each bin.

    Raises
    ------
    ValueError
        On a malformed event array, a non-positive ``dt`` or ``bin_seconds``,
        a negative ``t_end`` or an unknown ``projection``.
    """
    dt = _positive(dt, "dt")
    bin_seconds = _positive(bin_seconds, "bin_seconds")
    sel = _select(events, projection)
    times = sel["step"].astype(np.float64) * dt
    if t_end is None:
        if np.asarray(events).size == 0:
            empty = np.zeros(0, dtype=np.float64)
            return empty, empty.copy(), empty.copy()
        end = float(np.asarray(events)["step"].max()) * dt
    else:
        end = float(t_end)
        if not math.isfinite(end) or end < 0.0:
            raise ValueError(f"t_end must be a non-negative number, got {t_end!r}")
    # The slack keeps rounding noise (0.30000000000000004 / 0.1) from adding a sliver of a bin.
    n_bins = max(1, math.ceil(end / bin_seconds - _SLACK))
    starts = np.arange(n_bins, dtype=np.float64) * bin_seconds
    widths = np.minimum(starts + bin_seconds, end) - starts
    widths = np.where(widths > 0.0, widths, bin_seconds)
    keep = (times >= 0.0) & (times <= end)
    index = np.minimum(np.floor(times[keep] / bin_seconds + _SLACK).astype(np.int64), n_bins - 1)
    kinds = sel["kind"][keep]
    formed = np.bincount(index[kinds == FORMED], minlength=n_bins).astype(np.float64)
    removed = np.bincount(index[kinds == REMOVED], minlength=n_bins).astype(np.float64)
    return starts, formed / widths, removed / widths


def events_by_distance(
    events: NDArray[np.void],
    n: int,
    bins: int | ArrayLike | None = None,
    projection: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Histogram of formed and removed synapses by periodic pre-post distance.

    Both ends of every synapse lie on the same ``n x n`` torus (the source
    layer for ``FF``, the target layer for ``LAT``), so the distance is the
    periodic Euclidean distance between the ``pre`` and ``post`` grid positions.

    Parameters
    ----------
    events : ndarray of ``sim.events.EVENT_DTYPE``
        Rewiring events.
    n : int
        Side of the square layers.
    bins : int or array_like of float, optional
        Number of equal bins over ``[0, max distance]`` or explicit bin edges,
        as for :func:`numpy.histogram`. Default: unit-width bins
        ``0, 1, 2, ...`` covering the largest possible distance.
    projection : {None, 0, 1}, optional
        Only events of this projection; all when ``None``.

    Returns
    -------
    bin_edges : ndarray of float64
        Edges of the distance bins.
    formed_counts, removed_counts : ndarray of int64
        Number of ``FORMED`` / ``REMOVED`` events per bin.

    Raises
    ------
    ValueError
        On a malformed event array, a bad ``n``, ids out of range or an
        unknown ``projection``.
    """
    n = check_grid_size(n)
    sel = _select(events, projection)
    pre = check_ids(sel["pre"], n * n, "events['pre']")
    post = check_ids(sel["post"], n * n, "events['post']")
    dist = distance(pre, post, n) if pre.size else np.zeros(0, dtype=np.float64)
    max_dist = math.hypot(n // 2, n // 2)
    edges_in: int | NDArray[np.float64]
    if bins is None:
        edges_in = np.arange(0.0, math.floor(max_dist) + 2.0)
    elif isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins <= 0:
            raise ValueError(f"bins must be positive, got {bins}")
        edges_in = np.linspace(0.0, max_dist, int(bins) + 1)
    else:
        edges_in = np.asarray(bins, dtype=np.float64)
        if edges_in.ndim != 1 or edges_in.size < 2 or np.any(np.diff(edges_in) <= 0):
            raise ValueError("bins must be a positive integer or increasing bin edges")
    kinds = sel["kind"]
    formed, edges = np.histogram(dist[kinds == FORMED], bins=edges_in)
    removed, _ = np.histogram(dist[kinds == REMOVED], bins=edges)
    return edges.astype(np.float64), formed.astype(np.int64), removed.astype(np.int64)
