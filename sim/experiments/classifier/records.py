"""One record per training batch: what it learned and how each table was rewired.

A backend emits a row when a training batch ends, except for an epoch's last
training batch, whose row waits (in the state's ``pending``) until the
epoch's test batches have run and carries the test accuracy. Rows travel to
the window and the headless run as a snapshot's appendable record
(``batches``), merged like the rewiring events when a snapshot is not taken.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.experiments.classifier.params import TABLE_NAMES

#: Fields of a batch row, in the order of the state's ``pending`` array (``held`` first).
BATCH_FIELDS: tuple[str, ...] = (
    "held",
    "epoch",
    "batch",
    "step",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    *(f"{what}_{t}" for t in TABLE_NAMES for what in ("synapses", "removed", "regrown", "refused")),
)
N_BATCH_FIELDS = len(BATCH_FIELDS)
#: Index of each field in a pending row.
FIELD = {name: i for i, name in enumerate(BATCH_FIELDS)}
#: The same indices as constants, for compiled code.
(
    R_HELD,
    R_EPOCH,
    R_BATCH,
    R_STEP,
    R_TRAIN_LOSS,
    R_TRAIN_ACCURACY,
    R_TEST_LOSS,
    R_TEST_ACCURACY,
    R_SYNAPSES_IN,
    R_REMOVED_IN,
    R_REGROWN_IN,
    R_REFUSED_IN,
    R_SYNAPSES_REC,
    R_REMOVED_REC,
    R_REGROWN_REC,
    R_REFUSED_REC,
) = range(16)
assert N_BATCH_FIELDS == 16

#: A batch record (``held`` is not part of it). Test loss and accuracy are NaN but at an epoch's end.
BATCH_DTYPE = np.dtype(
    [
        ("epoch", np.int32),
        ("batch", np.int32),
        ("step", np.int64),
        ("train_loss", np.float64),
        ("train_accuracy", np.float64),
        ("test_loss", np.float64),
        ("test_accuracy", np.float64),
        *(
            (f"{what}_{t}", np.int64)
            for t in TABLE_NAMES
            for what in ("synapses", "removed", "regrown", "refused")
        ),
    ]
)


def empty_batches(size: int = 0) -> NDArray[np.void]:
    """A batch-record array of ``size`` zeroed records."""
    return np.zeros(size, BATCH_DTYPE)


def record_from_row(row: NDArray[np.float64]) -> NDArray[np.void]:
    """One batch record from a row of :data:`BATCH_FIELDS` values."""
    out = empty_batches(1)
    for name in BATCH_DTYPE.names or ():
        out[name] = row[FIELD[name]]
    return out
