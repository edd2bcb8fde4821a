"""Rewiring events counted by the distance between their neurons, chunk by chunk."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from sim.events import EVENT_DTYPE, FF, FORMED, LAT, REMOVED
from sim.experiments.topomap.geometry import distance


class EventCounts:
    """Rewiring events by projection, kind and unit-width distance bin, accumulated chunk by chunk.

    Parameters
    ----------
    side : int
        Grid side of the network (both layers are ``side x side`` tori).
    """

    def __init__(self, side: int) -> None:
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self.side = int(side)
        n_bins = math.floor(math.hypot(side // 2, side // 2)) + 1
        #: Edges of the unit-width distance bins: 0, 1, ..., n_bins.
        self.edges = np.arange(n_bins + 1, dtype=np.float64)
        #: Counts by (projection FF/LAT, kind FORMED/REMOVED, distance bin).
        self.counts = np.zeros((2, 2, n_bins), np.int64)
        #: Events counted.
        self.total = 0

    def add(self, events: NDArray[np.void]) -> None:
        """Count ``events`` (:data:`~sim.events.EVENT_DTYPE`)."""
        if not len(events):
            return
        if events.dtype != EVENT_DTYPE:
            raise ValueError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
        n_bins = self.counts.shape[2]
        d = distance(events["pre"], events["post"], self.side)
        bins = np.minimum(np.floor(d + 1e-9).astype(np.int64), n_bins - 1)
        for p, proj in enumerate((FF, LAT)):
            for k, kind in enumerate((FORMED, REMOVED)):
                sel = (events["projection"] == proj) & (events["kind"] == kind)
                self.counts[p, k] += np.bincount(bins[sel], minlength=n_bins)
        self.total += len(events)

    def of(self, projection: int) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
        """``(edges, formed, removed)`` of one projection (``FF`` or ``LAT``)."""
        p = (FF, LAT).index(projection)
        return self.edges, self.counts[p, 0].copy(), self.counts[p, 1].copy()
