"""The topographic map's snapshot: frozen host copies of what its views and reports need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.events import FF
from sim.experiments.topomap.state import (
    S_N_SPK_SRC,
    S_N_SPK_TGT,
    S_STIM_X,
    S_STIM_Y,
    NetworkState,
    ProjectionTable,
)
from sim.snapshot import SnapshotBase, frozen_copy
from sim.synapses import S_FORMED, S_REFUSED_COL, S_REFUSED_ROW, S_REMOVED, table_to_coo

_frozen = frozen_copy


@dataclass(frozen=True)
class Synapses:
    """The synapses of one projection as parallel arrays (read-only copies)."""

    pre: NDArray[np.int32]
    post: NDArray[np.int32]
    weight: NDArray[np.float32]
    in_degree: NDArray[np.int32]
    formed: int
    removed: int
    refused: int

    @classmethod
    def of(cls, t: ProjectionTable) -> Synapses:
        """Copy a table into a read-only record."""
        pre, post, weight = table_to_coo(t)
        return cls(
            _frozen(pre),
            _frozen(post),
            _frozen(weight),
            _frozen(t.col_len),
            int(t.stats[S_FORMED]),
            int(t.stats[S_REMOVED]),
            int(t.stats[S_REFUSED_ROW] + t.stats[S_REFUSED_COL]),
        )

    @property
    def count(self) -> int:
        """Number of synapses."""
        return int(self.pre.shape[0])


@dataclass(frozen=True)
class Snapshot(SnapshotBase):
    """The network after the last completed step, as read-only host copies.

    Cumulative quantities (spike counts, formed and removed synapses) grow
    monotonically, so a consumer that drops snapshots loses no count: it takes
    differences between the snapshots it does see. ``events`` holds the
    rewiring events since the engine's previous snapshot.
    """

    RECORDS: ClassVar[tuple[str, ...]] = ("events",)

    dt_ms: float
    side: int
    ff: Synapses
    lat: Synapses
    v: NDArray[np.float32]
    spikes_src: NDArray[np.int64]
    spikes_tgt: NDArray[np.int64]
    last_spikes_src: NDArray[np.int32]
    last_spikes_tgt: NDArray[np.int32]
    stimulus: tuple[int, int]
    events: NDArray[np.void]
    attempts: tuple[int, int] = field(default=(0, 0))

    @property
    def n_neurons(self) -> int:
        """Neurons per layer."""
        return self.side * self.side

    def projection(self, code: int) -> Synapses:
        """``ff`` for FF (0), ``lat`` for LAT (1)."""
        return self.ff if code == FF else self.lat


def make_snapshot(
    state: NetworkState,
    *,
    seq: int,
    dt_ms: float,
    side: int,
    backend: str,
    realtime_factor: float | None,
    events: NDArray[np.void],
    attempts: tuple[int, int],
) -> Snapshot:
    """Build a :class:`Snapshot` from a host copy of the state."""
    nrn, ist = state.neurons, state.istate
    return Snapshot(
        seq=seq,
        step=state.step,
        t=state.step * dt_ms * 1e-3,
        dt_ms=dt_ms,
        side=side,
        backend=backend,
        realtime_factor=realtime_factor,
        ff=Synapses.of(state.ff),
        lat=Synapses.of(state.lat),
        v=_frozen(nrn.v),
        spikes_src=_frozen(nrn.count_src),
        spikes_tgt=_frozen(nrn.count_tgt),
        last_spikes_src=_frozen(nrn.spk_src[: ist[S_N_SPK_SRC]]),
        last_spikes_tgt=_frozen(nrn.spk_tgt[: ist[S_N_SPK_TGT]]),
        stimulus=(int(ist[S_STIM_X]), int(ist[S_STIM_Y])),
        events=_frozen(events),
        attempts=attempts,
    )
