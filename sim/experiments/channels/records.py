"""What a channel-pruning run reports as it trains: rows per batch, per epoch and per mask update.

A backend returns them from ``take_records()`` by name; snapshots carry those
since the previous one (:data:`RECORD_NAMES`), and the application keeps the
run's whole history. Per-channel records (the mask, the importance the update
ranked by, ``|dL/dgamma|``) are rows of one value per channel of all blocks,
block after block; per-block records one value per block.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: One training batch.
BATCH_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("epoch", np.int32),
        ("batch", np.int32),
        ("loss", np.float64),
        ("accuracy", np.float64),
        ("lr", np.float64),
    ]
)
#: One epoch: its training loss and accuracy, the test accuracy at its end, and the network as it
#: would be compacted then (channel sparsity, parameters, SynOps per sample).
EPOCH_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("epoch", np.int32),
        ("train_loss", np.float64),
        ("train_accuracy", np.float64),
        ("test_accuracy", np.float64),
        ("channel_sparsity", np.float64),
        ("params", np.int64),
        ("synops", np.float64),
        ("lr", np.float64),
    ]
)
#: One mask update: the batch it ended (``step``), its number, channels pruned and regrown.
UPDATE_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("index", np.int32),
        ("epoch", np.int32),
        ("pruned", np.int32),
        ("regrown", np.int32),
        ("channel_sparsity", np.float64),
    ]
)

#: Every record a backend reports, in the order snapshots list them (after ``events``).
RECORD_NAMES: tuple[str, ...] = (
    "batches",
    "epochs",
    "epoch_kept",
    "updates",
    "update_kept",
    "update_masks",
    "update_importance",
    "update_grad",
)


def empty_records(n_blocks: int, n_channels: int) -> dict[str, NDArray[np.generic]]:
    """Every record with no row, shaped for a network of ``n_blocks`` blocks and ``n_channels``."""
    return {
        "batches": np.zeros(0, BATCH_DTYPE),
        "epochs": np.zeros(0, EPOCH_DTYPE),
        "epoch_kept": np.zeros((0, n_blocks), np.int32),
        "updates": np.zeros(0, UPDATE_DTYPE),
        "update_kept": np.zeros((0, n_blocks), np.int32),
        "update_masks": np.zeros((0, n_channels), np.bool_),
        "update_importance": np.zeros((0, n_channels), np.float32),
        "update_grad": np.zeros((0, n_channels), np.float32),
    }
