"""Lesions: cut the synapses of a region of the target layer, or silence its neurons.

A lesion edits a host copy of the :class:`~sim.experiments.topomap.state.NetworkState`; the engine
then pushes the edited state to its backend (:meth:`Engine.replace_state`).
Regions are rectangles on the target grid in grid units: neuron ``(x, y)``
(column, row) lies inside ``x0 <= x <= x1`` and ``y0 <= y <= y1``.

* :func:`cut_synapses` removes every FF synapse onto a neuron of the region
  and every LAT synapse from or onto one. The tables stay consistent (the
  same removal the rewiring uses) and the removal is not counted as
  rewiring: the tables' ``removed`` counters are left as they were, so
  elimination rates show only what the network itself did.
* :func:`silence` holds the region's neurons in their refractory state, so
  they neither integrate nor fire, until :func:`restore` releases them.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.experiments.topomap.state import NetworkState, ProjectionTable
from sim.synapses import S_REMOVED, remove_synapse

#: Refractory steps that mark a silenced neuron (about 12 days of model time at dt = 1 ms).
SILENCED_STEPS = 2**30

__all__ = ["SILENCED_STEPS", "cut_synapses", "region_mask", "restore", "silence", "silenced"]


def region_mask(side: int, x0: float, y0: float, x1: float, y1: float) -> NDArray[np.bool_]:
    """Boolean mask over the ``side * side`` neuron ids of the rectangle ``[x0, x1] x [y0, y1]``.

    The corners may come in any order; the rectangle is clipped to the grid.
    """
    if side < 1:
        raise ValueError(f"side must be positive, got {side}")
    for name, value in (("x0", x0), ("y0", y0), ("x1", x1), ("y1", y1)):
        if not np.isfinite(value):
            raise ValueError(f"region corner {name} must be finite, got {value}")
    xa, xb = sorted((float(x0), float(x1)))
    ya, yb = sorted((float(y0), float(y1)))
    ids = np.arange(side * side)
    x, y = ids % side, ids // side
    return np.asarray((x >= xa) & (x <= xb) & (y >= ya) & (y <= yb))


@njit(cache=True, nogil=True)
def _cut(t: ProjectionTable, pre_mask: NDArray[np.bool_], post_mask: NDArray[np.bool_]) -> int:
    """Remove every synapse whose pre is in ``pre_mask`` or post in ``post_mask``; return how many."""
    row_cap = t.dims[2]
    removed = 0
    for i in range(t.row_len.shape[0]):
        # Backwards: the row's last synapse (already kept) fills each hole.
        for k in range(t.row_len[i] - 1, -1, -1):
            if pre_mask[i] or post_mask[t.post[i * row_cap + k]]:
                remove_synapse(t, i, k)
                removed += 1
    return removed


def cut_synapses(state: NetworkState, mask: NDArray[np.bool_]) -> tuple[int, int]:
    """Remove the FF synapses onto, and LAT synapses from or onto, the neurons in ``mask``.

    Edits ``state`` in place and returns the numbers of FF and LAT synapses removed.
    """
    mask = _check_mask(state, mask)
    none = np.zeros(state.ff.row_len.shape[0], np.bool_)
    counts = []
    for table, pre_mask in ((state.ff, none), (state.lat, mask)):
        before = int(table.stats[S_REMOVED])
        counts.append(int(_cut(table, pre_mask, mask)))
        table.stats[S_REMOVED] = before
    return counts[0], counts[1]


def silence(state: NetworkState, mask: NDArray[np.bool_]) -> int:
    """Hold the target neurons in ``mask`` silent (refractory) until :func:`restore`; return how many."""
    mask = _check_mask(state, mask)
    state.neurons.refrac[mask] = SILENCED_STEPS
    return int(mask.sum())


def restore(state: NetworkState, limit: int) -> int:
    """Release every silenced neuron (refractory count above ``limit`` steps); return how many."""
    held = silenced(state, limit)
    state.neurons.refrac[held] = 0
    return int(held.sum())


def silenced(state: NetworkState, limit: int) -> NDArray[np.bool_]:
    """Mask of the target neurons held silent (refractory for more than ``limit`` steps)."""
    return np.asarray(state.neurons.refrac > limit)


def _check_mask(state: NetworkState, mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    mask = np.asarray(mask)
    n = state.neurons.v.shape[0]
    if mask.dtype != np.bool_ or mask.shape != (n,):
        raise ValueError(f"region mask must be a boolean array of {n} neurons, got {mask.dtype} {mask.shape}")
    return mask
