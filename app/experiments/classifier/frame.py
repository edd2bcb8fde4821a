"""What the classifier's views draw: a snapshot with its masks and degrees, and the run's batches.

:class:`History` keeps one row per training batch (the rows of the headless
``metrics.csv``), taken from every frame's batch records: the controller
merges the records of snapshots nobody took, so no batch is ever missing
whatever frames the window drops. It also keeps the pruned and regrown
synapses of the newest batch, which the connectivity masks mark.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from app import frame
from app.experiments.classifier.metrics import METRIC_COLUMNS, batch_rows
from sim.events import EVENT_DTYPE
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.snapshot import ClassifierSnapshot

__all__ = ["Frame", "History"]


class Frame(frame.Frame):
    """A classifier snapshot as the views see it, with its dense masks computed once on demand."""

    snapshot: ClassifierSnapshot
    config: ClassifierConfig
    history: History
    previous: ClassifierSnapshot | None

    @cached_property
    def weights_in(self) -> NDArray[np.float32]:
        """Input -> hidden weights as a (n_in, n_hidden) matrix, 0 where no synapse is."""
        return self.snapshot.tin.matrix()

    @cached_property
    def weights_rec(self) -> NDArray[np.float32]:
        """Hidden -> hidden weights as a (n_hidden, n_hidden) matrix, 0 where no synapse is."""
        return self.snapshot.trec.matrix()

    @cached_property
    def mask_in(self) -> NDArray[np.bool_]:
        """Where input -> hidden synapses are."""
        return self.snapshot.tin.mask()

    @cached_property
    def mask_rec(self) -> NDArray[np.bool_]:
        """Where hidden -> hidden synapses are."""
        return self.snapshot.trec.mask()

    def degrees(self, table: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Out-degree of every presynaptic and in-degree of every postsynaptic neuron of ``table``
        (``in`` or ``rec``)."""
        view = self.snapshot.tin if table == "in" else self.snapshot.trec
        pre, post, _ = view.coo()
        return (
            np.bincount(pre, minlength=view.n_pre).astype(np.int64),
            np.bincount(post, minlength=view.n_post).astype(np.int64),
        )


class History(frame.History):
    """One row per training batch since the network was built, and the newest batch's rewiring."""

    def __init__(self, record_interval: float = 1.0) -> None:
        super().__init__(METRIC_COLUMNS, lambda _frame, _previous: {}, record_interval)
        #: The synapses pruned (kind 0) and regrown (kind 1) at the end of the newest batch.
        self.last_events: NDArray[np.void] = np.zeros(0, EVENT_DTYPE)

    def add(self, frame: frame.Frame) -> bool:
        """Append a row for every batch record of ``frame``; True if any was added."""
        self.account(frame)
        rows = batch_rows(frame.snapshot)
        for row in rows:
            self.rows.append(row)
        return bool(rows)

    def account(self, frame: frame.Frame) -> None:
        """Keep the events of the newest batch among ``frame``'s."""
        events = frame.snapshot.events
        if len(events):
            self.last_events = events[events["step"] == events["step"].max()]
