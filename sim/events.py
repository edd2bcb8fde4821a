"""Rewiring events: one record per synapse formed or removed."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Projection codes used in event records and synapse tables.
FF: int = 0
LAT: int = 1
PROJECTION_NAMES: tuple[str, str] = ("ff", "lat")

#: Event kinds.
REMOVED: int = 0
FORMED: int = 1

#: One rewiring event: the step at which it happened, the presynaptic and
#: postsynaptic neuron ids, the projection (``FF`` or ``LAT``) and the kind
#: (``FORMED`` or ``REMOVED``).
EVENT_DTYPE = np.dtype(
    [("step", np.int64), ("pre", np.int32), ("post", np.int32), ("projection", np.int8), ("kind", np.int8)]
)


#: Columns of the kernels' event buffer (int64 rows; both backends): step, pre, post,
#: projection, kind.
EV_STEP, EV_PRE, EV_POST, EV_PROJ, EV_KIND = 0, 1, 2, 3, 4
EV_COLS = 5


def empty_events(size: int = 0) -> NDArray[np.void]:
    """Return an event array of ``size`` zeroed records."""
    return np.zeros(size, dtype=EVENT_DTYPE)


def events_from_rows(rows: NDArray[np.int64]) -> NDArray[np.void]:
    """Event records from rows of the kernels' event buffer (columns ``EV_*``)."""
    out = np.empty(len(rows), EVENT_DTYPE)
    out["step"] = rows[:, EV_STEP]
    out["pre"] = rows[:, EV_PRE]
    out["post"] = rows[:, EV_POST]
    out["projection"] = rows[:, EV_PROJ]
    out["kind"] = rows[:, EV_KIND]
    return out
