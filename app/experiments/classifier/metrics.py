"""The classifier's metrics: one row per training batch, from the snapshots' batch records."""

from __future__ import annotations

import math
from typing import Any

from sim.experiments.classifier.params import TABLE_NAMES

#: Columns of ``metrics.csv`` (``t``: epochs done when the batch ended; test columns at epoch ends).
METRIC_COLUMNS: tuple[str, ...] = (
    "t",
    "epoch",
    "batch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    *(f"{what}_{t}" for t in TABLE_NAMES for what in ("synapses", "removed", "regrown", "refused")),
)


def steps_per_epoch(snapshot: Any) -> int:
    """Engine steps of one epoch of the run ``snapshot`` belongs to."""
    return int((snapshot.train_batches + snapshot.test_batches) * snapshot.trial_steps)


def batch_rows(snapshot: Any) -> list[dict[str, float]]:
    """The metrics rows of the batches completed since the previous snapshot, in order."""
    per_epoch = steps_per_epoch(snapshot)
    rows = []
    for record in snapshot.batches:
        row = {"t": float(record["step"]) / per_epoch}
        for name in METRIC_COLUMNS[1:]:
            row[name] = float(record[name])
        rows.append(row)
    return rows


def last_test_accuracy(columns: Any) -> float:
    """The most recent test accuracy in a metrics table (NaN when no epoch has ended)."""
    values = [float(v) for v in columns["test_accuracy"] if not math.isnan(float(v))]
    return values[-1] if values else math.nan
