"""What the window and the reports see of a channel-pruning run: a frozen snapshot of its state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.experiments.channels.layers import Conv, Layer, blocks, parameter_count
from sim.experiments.channels.records import RECORD_NAMES, empty_records
from sim.experiments.channels.state import P_BATCH, P_EPOCH, P_UPDATES, ChannelsState
from sim.snapshot import SnapshotBase, frozen_copy


def block_label(index: int, block: Conv) -> str:
    """A block's short name: its position and its layer token (``2: 32C3``)."""
    return f"{index + 1}: {block.channels}C{block.kernel}"


@dataclass(frozen=True)
class ChannelsSnapshot(SnapshotBase):
    """The mask, the scores the next update will rank by, and what happened since the last snapshot.

    Per-channel arrays are of all blocks, block after block (``offsets`` splits them); the
    records (:data:`RECORD_NAMES`) hold the rows since the engine's previous snapshot.
    """

    RECORDS: ClassVar[tuple[str, ...]] = ("events", *RECORD_NAMES)

    #: Epoch under way and batches of it done; batches per epoch.
    epoch: int
    batch: int
    batches_per_epoch: int
    #: Mask updates so far.
    n_updates: int
    #: Short names of the conv blocks, and their channels.
    labels: tuple[str, ...]
    sizes: tuple[int, ...]
    #: Every channel: kept (True) or masked; mean |V| and mean |dL/dgamma| since the last update;
    #: BN scale gamma now.
    mask: NDArray[np.bool_]
    importance: NDArray[np.float64]
    gamma_grad: NDArray[np.float64]
    gamma: NDArray[np.float32]
    #: Every channel: one more than the update at which it was last regrown (0: never).
    regrown_after: NDArray[np.int64]
    #: Trained parameters of the dense network and of this one compacted.
    params_dense: int
    params: int
    #: Mode and target sparsity it trains with.
    mode: str
    sparsity: float
    events: NDArray[np.void]
    batches: NDArray[np.void]
    epochs: NDArray[np.void]
    epoch_kept: NDArray[np.int32]
    updates: NDArray[np.void]
    update_kept: NDArray[np.int32]
    update_masks: NDArray[np.bool_]
    update_importance: NDArray[np.float32]
    update_grad: NDArray[np.float32]

    @property
    def offsets(self) -> NDArray[np.int64]:
        """Where each block's channels start in the per-channel arrays (and where the last ends)."""
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    @property
    def kept(self) -> tuple[int, ...]:
        """Channels each block keeps."""
        return tuple(int(part.sum()) for part in self.split(self.mask))

    @property
    def channel_sparsity(self) -> float:
        """Share of all channels masked."""
        return 1.0 - float(self.mask.mean()) if len(self.mask) else 0.0

    def split(self, values: NDArray[Any]) -> list[NDArray[Any]]:
        """A per-channel array (last axis) cut into its blocks."""
        return np.split(values, self.offsets[1:-1], axis=-1)


def make_snapshot(
    state: ChannelsState,
    *,
    layers: tuple[Layer, ...],
    in_shape: tuple[int, int, int],
    mode: str,
    sparsity: float,
    use_rate: bool,
    batches_per_epoch: int,
    seq: int,
    t: float,
    backend: str,
    realtime_factor: float | None,
    events: NDArray[np.void],
    records: Mapping[str, NDArray[Any]],
) -> ChannelsSnapshot:
    """A :class:`ChannelsSnapshot` of ``state`` with the records since the previous one."""
    convs = blocks(layers)
    sizes = tuple(b.channels for b in convs)
    masks = state.masks()
    rows = dict(empty_records(len(sizes), sum(sizes)))
    rows.update({k: v for k, v in records.items() if k in rows})
    position = state.position
    return ChannelsSnapshot(
        seq=seq,
        step=state.step,
        t=t,
        backend=backend,
        realtime_factor=realtime_factor,
        epoch=int(position[P_EPOCH]),
        batch=int(position[P_BATCH]),
        batches_per_epoch=int(batches_per_epoch),
        n_updates=int(position[P_UPDATES]),
        labels=tuple(block_label(i, b) for i, b in enumerate(convs)),
        sizes=sizes,
        mask=frozen_copy(np.concatenate(masks)),
        importance=frozen_copy(np.concatenate(state.importance(use_rate))),
        gamma_grad=frozen_copy(np.concatenate(state.gamma_grad())),
        gamma=frozen_copy(np.concatenate([state.bn(b, "weight") for b in range(len(sizes))])),
        regrown_after=frozen_copy(state.regrown_after()),
        params_dense=parameter_count(layers, in_shape),
        params=parameter_count(layers, in_shape, [int(m.sum()) for m in masks]),
        mode=mode,
        sparsity=float(sparsity),
        events=frozen_copy(np.asarray(events)),
        **{name: frozen_copy(np.asarray(rows[name])) for name in RECORD_NAMES},
    )
