"""What the channel views draw: a snapshot with its per-block arrays, and the whole run's records.

:class:`History` keeps one metrics row per epoch (the rows of the headless
``metrics.csv``) and every batch, epoch and mask update the snapshots
reported (:class:`~app.experiments.channels.records.RunRecords`): the
controller merges the records of snapshots nobody took, so none is missing
whatever frames the window drops.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from app import frame
from app.experiments.channels.metrics import columns_for, epoch_rows
from app.experiments.channels.records import RunRecords
from sim.events import FORMED, REMOVED
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.snapshot import ChannelsSnapshot

__all__ = ["Frame", "History"]


class History(frame.History):
    """One row per epoch since the network was built, and every record of the run."""

    def __init__(self, snapshot: ChannelsSnapshot, record_interval: float = 1.0) -> None:
        super().__init__(columns_for(len(snapshot.sizes)), lambda _frame, _previous: {}, record_interval)
        self.records = RunRecords(snapshot.sizes, snapshot.labels)

    def add(self, frame: frame.Frame) -> bool:
        """Append the records of ``frame``, and a row for every epoch it ended; True if any was."""
        self.account(frame)
        rows = epoch_rows(frame.snapshot)
        for row in rows:
            self.rows.append(row)
        return bool(rows)

    def account(self, frame: frame.Frame) -> None:
        """Keep ``frame``'s records."""
        self.records.observe(frame.snapshot)


class Frame(frame.Frame):
    """A channel snapshot as the views see it."""

    snapshot: ChannelsSnapshot
    config: ChannelsConfig
    history: History
    previous: ChannelsSnapshot | None

    @cached_property
    def grid_importance(self) -> NDArray[np.float64]:
        """Every channel's importance as the grid colours it: the scores gathered since the last
        update, or right after an update (nothing gathered yet) the scores it ranked by."""
        now = np.asarray(self.snapshot.importance, np.float64)
        last = self.history.records.last_importance
        if np.any(now > 0) or last is None:
            return now
        return np.asarray(last, np.float64)

    def _last(self, kind: int) -> NDArray[np.int64]:
        events = self.history.records.last_events
        chosen = events[events["kind"] == kind]
        offsets = self.snapshot.offsets
        return (offsets[chosen["projection"].astype(np.int64)] + chosen["pre"].astype(np.int64)).astype(
            np.int64
        )

    @cached_property
    def last_pruned(self) -> NDArray[np.int64]:
        """Channels (indices over all blocks) the newest update masked."""
        return self._last(REMOVED)

    @cached_property
    def last_regrown(self) -> NDArray[np.int64]:
        """Channels (indices over all blocks) the newest update brought back."""
        return self._last(FORMED)
