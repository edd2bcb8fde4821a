"""The channel-pruning run's metrics: one row per epoch, from the snapshots' epoch records."""

from __future__ import annotations

import math
from typing import Any

#: Columns every run has (``t``: epochs done when the epoch ended); ``kept_<b>`` follow, one per block.
BASE_COLUMNS: tuple[str, ...] = (
    "t",
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_accuracy",
    "channel_sparsity",
    "params",
    "synops",
    "lr",
)


def kept_column(block: int) -> str:
    """The column of the channels block ``block`` (0-based) keeps: ``kept_1`` for the first."""
    return f"kept_{block + 1}"


def columns_for(n_blocks: int) -> tuple[str, ...]:
    """Every column of a network of ``n_blocks`` conv blocks."""
    return (*BASE_COLUMNS, *(kept_column(b) for b in range(n_blocks)))


def epoch_rows(snapshot: Any) -> list[dict[str, float]]:
    """The metrics rows of the epochs completed since the previous snapshot, in order."""
    per_epoch = max(int(snapshot.batches_per_epoch), 1)
    rows = []
    for record, kept in zip(snapshot.epochs, snapshot.epoch_kept, strict=True):
        row = {"t": (float(record["step"]) + 1.0) / per_epoch}
        for name in BASE_COLUMNS[1:]:
            row[name] = float(record[name])
        for b, count in enumerate(kept):
            row[kept_column(b)] = float(count)
        rows.append(row)
    return rows


def last_value(columns: Any, name: str) -> float:
    """The most recent value of column ``name`` that is a number (NaN when there is none)."""
    values = [float(v) for v in columns.get(name, ()) if not math.isnan(float(v))]
    return values[-1] if values else math.nan
