"""A run's records, kept as they arrive: batches, epochs and mask updates, bounded in memory.

Snapshots carry the rows since the previous snapshot; :class:`RunRecords`
appends them, so the window and the headless figures have the whole run. The
per-channel rows of the updates (mask, importance, ``|dL/dgamma|``) are kept
for at most :data:`MAX_CHANNEL_ROWS` updates: when full, every other one is
dropped and from then on only every second (fourth, ...) update is kept, so
a long run with frequent updates still fits and still spans its whole length.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.events import EVENT_DTYPE, FORMED, REMOVED
from sim.experiments.channels.records import BATCH_DTYPE, EPOCH_DTYPE, UPDATE_DTYPE

#: Updates whose per-channel rows are kept at most.
MAX_CHANNEL_ROWS = 512


class Rows:
    """Rows appended in chunks; :meth:`array` joins them once per change."""

    def __init__(self, empty: NDArray[Any]) -> None:
        self._chunks: list[NDArray[Any]] = [empty]
        self._joined: NDArray[Any] | None = empty

    def append(self, rows: NDArray[Any]) -> None:
        """Add ``rows`` (same dtype and trailing shape)."""
        if len(rows):
            self._chunks.append(np.array(rows, copy=True))
            self._joined = None

    def array(self) -> NDArray[Any]:
        """Every row so far."""
        if self._joined is None:
            self._joined = np.concatenate(self._chunks)
            self._chunks = [self._joined]
        return self._joined

    def __len__(self) -> int:
        return len(self.array())


class ThinnedRows:
    """Per-update rows of one value per channel, at most ``cap`` of them spread over the run."""

    def __init__(self, n_channels: int, dtype: Any, cap: int = MAX_CHANNEL_ROWS) -> None:
        self.cap = max(2, int(cap))
        self.stride = 1
        self._values = np.zeros((0, n_channels), dtype)
        self._index = np.zeros(0, np.int64)

    def append(self, index: NDArray[np.integer], values: NDArray[Any]) -> None:
        """Add the rows ``values`` of updates ``index`` (those the stride keeps)."""
        keep = np.asarray(index) % self.stride == 0
        self._index = np.concatenate([self._index, np.asarray(index, np.int64)[keep]])
        self._values = np.concatenate([self._values, np.asarray(values)[keep]])
        while len(self._index) > self.cap:
            self.stride *= 2
            keep = self._index % self.stride == 0
            self._index, self._values = self._index[keep], self._values[keep]

    @property
    def index(self) -> NDArray[np.int64]:
        """Update numbers of the rows kept."""
        return self._index

    @property
    def values(self) -> NDArray[Any]:
        """The rows kept, ``(rows, channels)``."""
        return self._values


class RunRecords:
    """Everything a run reported, from the snapshots in order (also a headless run's event stats)."""

    def __init__(self, sizes: tuple[int, ...], labels: tuple[str, ...], cap: int = MAX_CHANNEL_ROWS) -> None:
        self.sizes = tuple(int(s) for s in sizes)
        self.labels = tuple(labels)
        n_blocks, n_channels = len(self.sizes), sum(self.sizes)
        self.batches = Rows(np.zeros(0, BATCH_DTYPE))
        self.epochs = Rows(np.zeros(0, EPOCH_DTYPE))
        self.epoch_kept = Rows(np.zeros((0, n_blocks), np.int32))
        self.updates = Rows(np.zeros(0, UPDATE_DTYPE))
        self.update_kept = Rows(np.zeros((0, n_blocks), np.int32))
        self.masks = ThinnedRows(n_channels, np.bool_, cap)
        self.importance = ThinnedRows(n_channels, np.float32, cap)
        self.gamma_grad = ThinnedRows(n_channels, np.float32, cap)
        #: The first snapshot's mask (the start of the mask-over-time figure).
        self.initial_mask: NDArray[np.bool_] | None = None
        #: The scores the newest update ranked by (kept whatever the thinning keeps), or None.
        self.last_importance: NDArray[np.float32] | None = None
        self.last_gamma_grad: NDArray[np.float32] | None = None
        #: Channels pruned (``REMOVED``) and regrown (``FORMED``) at the newest update.
        self.last_events: NDArray[np.void] = np.zeros(0, EVENT_DTYPE)
        self.removed = 0
        self.formed = 0

    def add(self, events: NDArray[np.void]) -> None:
        """A headless run's event chunks: counted from the snapshots instead (see :meth:`observe`)."""

    def observe(self, snapshot: Any) -> None:
        """Append the records of ``snapshot`` (each snapshot once, in order)."""
        if self.initial_mask is None:
            self.initial_mask = np.array(snapshot.mask, copy=True)
        self.batches.append(snapshot.batches)
        self.epochs.append(snapshot.epochs)
        self.epoch_kept.append(snapshot.epoch_kept)
        self.updates.append(snapshot.updates)
        self.update_kept.append(snapshot.update_kept)
        index = np.asarray(snapshot.updates["index"], np.int64)
        self.masks.append(index, snapshot.update_masks)
        self.importance.append(index, snapshot.update_importance)
        self.gamma_grad.append(index, snapshot.update_grad)
        if len(index):
            self.last_importance = np.array(snapshot.update_importance[-1], copy=True)
            self.last_gamma_grad = np.array(snapshot.update_grad[-1], copy=True)
        events = snapshot.events
        self.removed += int((events["kind"] == REMOVED).sum())
        self.formed += int((events["kind"] == FORMED).sum())
        if len(snapshot.updates):  # the newest update's events (none when it changed nothing)
            newest = int(snapshot.updates["step"].max())
            self.last_events = np.array(events[events["step"] == newest], copy=True)

    def regrown_per_update(self) -> NDArray[np.int32]:
        """Channels regrown at every update (0 at the first, which only prunes)."""
        return np.asarray(self.updates.array()["regrown"], np.int32)
