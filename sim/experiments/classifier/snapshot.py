"""What the window and the reports see of a classifier run: a frozen snapshot of its state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import NDArray

from sim.experiments.classifier.params import (
    A_TRAIN_N,
    C_BATCH,
    C_EPOCH,
    C_T,
    C_UPDATES,
    N_SHOWN,
    SH_EXAMPLE,
)
from sim.experiments.classifier.state import ClassifierState, EpropTable
from sim.snapshot import SnapshotBase, frozen_copy
from sim.synapses import D_N_POST, D_N_PRE, D_ROW_CAP, S_FORMED, S_REFUSED_ROW, S_REMOVED


class TableView(NamedTuple):
    """One table's synapses, read-only: rows (``row_len``, capacity ``row_cap``), targets, weights.

    With ``diagonal`` set (the dense recurrent matrix) the slots ``i -> i`` are held at zero weight
    and are not synapses: :attr:`n_synapses`, :meth:`coo`, :meth:`matrix` and :meth:`mask` leave
    them out.
    """

    n_pre: int
    n_post: int
    row_cap: int
    row_len: NDArray[np.int32]
    post: NDArray[np.int32]
    weight: NDArray[np.float32]
    #: Cumulative synapses formed (regrown), removed (pruned), refused because the row was full.
    formed: int
    removed: int
    refused: int
    diagonal: bool = False
    #: Hidden -> hidden: no neuron connects to itself, so ``n_pre`` of the pairs are not possible.
    recurrent: bool = False

    @property
    def pairs(self) -> int:
        """Pairs a synapse may join (self-connections excluded in a recurrent table)."""
        return self.n_pre * self.n_post - (self.n_pre if self.recurrent else 0)

    @property
    def n_synapses(self) -> int:
        """Synapses present."""
        return int(self.row_len.sum()) - (self.n_pre if self.diagonal else 0)

    def coo(self) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
        """``(pre, post, weight)`` of every synapse, row by row."""
        live = (np.arange(self.row_cap)[None, :] < self.row_len[:, None]).ravel()
        pre = np.repeat(np.arange(self.n_pre, dtype=np.int64), self.row_len)
        post, weight = self.post[live], self.weight[live]
        if self.diagonal:
            keep = pre != post
            return pre[keep], post[keep], weight[keep]
        return pre, post, weight

    def matrix(self) -> NDArray[np.float32]:
        """The weights as a dense ``(n_pre, n_post)`` matrix, 0 where no synapse is."""
        out = np.zeros((self.n_pre, self.n_post), np.float32)
        pre, post, weight = self.coo()
        out[pre, post] = weight
        return out

    def mask(self) -> NDArray[np.bool_]:
        """Where synapses are, as a dense ``(n_pre, n_post)`` matrix."""
        out = np.zeros((self.n_pre, self.n_post), bool)
        pre, post, _ = self.coo()
        out[pre, post] = True
        return out


def table_view(t: EpropTable, recurrent: bool = False, diagonal: bool = False) -> TableView:
    """A read-only view of table ``t``'s synapses (``diagonal``: the dense recurrent matrix)."""
    return TableView(
        n_pre=int(t.dims[D_N_PRE]),
        n_post=int(t.dims[D_N_POST]),
        row_cap=int(t.dims[D_ROW_CAP]),
        row_len=frozen_copy(t.row_len),
        post=frozen_copy(t.post),
        weight=frozen_copy(t.weight),
        formed=int(t.stats[S_FORMED]),
        removed=int(t.stats[S_REMOVED]),
        refused=int(t.stats[S_REFUSED_ROW]),
        diagonal=diagonal,
        recurrent=recurrent,
    )


@dataclass(frozen=True)
class ClassifierSnapshot(SnapshotBase):
    """A classifier run after the last completed step (read-only copies); ``t`` counts epochs."""

    RECORDS: ClassVar[tuple[str, ...]] = ("events", "batches")

    #: Epochs completed; batch of the current epoch (training batches first, then test batches).
    epoch: int
    batch: int
    train_batches: int
    test_batches: int
    #: Steps done of the current trial, and its length.
    trial_step: int
    trial_steps: int
    #: Weight updates made (one per training batch).
    updates: int
    #: Input -> hidden and hidden -> hidden.
    tin: TableView
    trec: TableView
    #: Readout weights (n_hidden, n_out) and biases.
    w_out: NDArray[np.float32]
    b_out: NDArray[np.float32]
    #: Lane 0's last completed trial: hidden spikes (n_steps, n_hidden), readout (n_steps, n_out),
    #: and example, label, prediction, epoch, batch, training (``params.SH_*``; example -1: none yet).
    shown_z: NDArray[np.uint8]
    shown_y: NDArray[np.float32]
    shown_info: NDArray[np.int64]
    #: Every hidden neuron's rate as the regularisation sees it, lane 0 (Hz).
    rates_hz: NDArray[np.float32]
    #: Examples scored so far in the current training batch (0 between batches).
    batch_examples: int
    #: Synapses pruned and regrown since the previous snapshot (EVENT_DTYPE; projection 0: in, 1: rec).
    events: NDArray[np.void]
    #: Rows of the training batches completed since the previous snapshot (records.BATCH_DTYPE).
    batches: NDArray[np.void]

    @property
    def has_example(self) -> bool:
        """Whether a trial has completed, so :attr:`shown_z` holds one."""
        return int(self.shown_info[SH_EXAMPLE]) >= 0


def make_snapshot(
    state: ClassifierState,
    *,
    seq: int,
    t: float,
    backend: str,
    realtime_factor: float | None,
    dt_ms: float,
    dense: bool,
    train_batches: int,
    test_batches: int,
    events: NDArray[np.void],
    batches: NDArray[np.void],
) -> ClassifierSnapshot:
    """A :class:`ClassifierSnapshot` of ``state`` (``dense``: the tables are full matrices)."""
    assert state.shown_info.shape == (N_SHOWN,)
    return ClassifierSnapshot(
        seq=seq,
        step=state.step,
        t=t,
        backend=backend,
        realtime_factor=realtime_factor,
        epoch=int(state.clock[C_EPOCH]),
        batch=int(state.clock[C_BATCH]),
        train_batches=train_batches,
        test_batches=test_batches,
        trial_step=int(state.clock[C_T]),
        trial_steps=int(state.trace_z.shape[0]),
        updates=int(state.clock[C_UPDATES]),
        tin=table_view(state.tin),
        trec=table_view(state.trec, recurrent=True, diagonal=dense),
        w_out=frozen_copy(state.w_out),
        b_out=frozen_copy(state.b_out),
        shown_z=frozen_copy(state.shown_z),
        shown_y=frozen_copy(state.shown_y),
        shown_info=frozen_copy(state.shown_info),
        rates_hz=frozen_copy((state.f_avg[0] * np.float32(1000.0 / dt_ms)).astype(np.float32)),
        batch_examples=int(state.acc[A_TRAIN_N]),
        events=frozen_copy(events),
        batches=frozen_copy(batches),
    )
