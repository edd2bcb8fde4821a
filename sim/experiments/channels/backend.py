"""The channel-pruning network's backend: a PyTorch :class:`Trainer` behind the engine's API.

One engine step is one training batch (BPTT, the optimiser step, the pruner's
hooks); an epoch's last batch also scores the test set and, by default,
updates the mask. The ``cpu`` backend runs PyTorch on every core of the host
(its intra-op threads); ``cuda`` runs it on the first GPU PyTorch sees. The
state goes in and out as the checked arrays of
:mod:`sim.experiments.channels.nn.state`, so a checkpoint of either resumes on
either (exactly on the device it was saved from).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sim.data.images import ImageDataset
from sim.events import EVENT_DTYPE, FORMED, REMOVED
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.nn.sca import MaskUpdate
from sim.experiments.channels.nn.state import load_state_arrays, state_arrays
from sim.experiments.channels.nn.trainer import BatchResult, Trainer
from sim.experiments.channels.records import BATCH_DTYPE, EPOCH_DTYPE, RECORD_NAMES, UPDATE_DTYPE
from sim.experiments.channels.state import ChannelsState


def cuda_unavailable_reason() -> str | None:
    """Why PyTorch cannot train on a GPU here, or None when it can."""
    if torch.cuda.is_available():
        return None
    build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
    return f"PyTorch {torch.__version__} ({build}) sees no CUDA device"


def cuda_device_name() -> str:
    """The name of the GPU the ``cuda`` backend trains on."""
    return str(torch.cuda.get_device_name(0))


def update_events(step: int, update: MaskUpdate) -> NDArray[np.void]:
    """Structural events of one mask update: a channel is ``pre`` and ``post`` at once, its block
    is the ``projection``; pruned channels are ``REMOVED``, regrown ones ``FORMED``."""
    out = np.zeros(len(update.pruned) + len(update.regrown), EVENT_DTYPE)
    pairs = [*update.pruned, *update.regrown]
    out["step"] = step
    out["projection"] = [block for block, _ in pairs]
    out["pre"] = out["post"] = [channel for _, channel in pairs]
    out["kind"][: len(update.pruned)] = REMOVED
    out["kind"][len(update.pruned) :] = FORMED
    return out


class ChannelsTorchBackend:
    """Trains on ``device`` (``cpu`` or ``cuda``)."""

    def __init__(self, device: str = "cpu") -> None:
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        self.name = device
        self._trainer: Trainer | None = None
        self._records: dict[str, list[NDArray[Any]]] = {name: [] for name in RECORD_NAMES}

    # -- the engine's API -------------------------------------------------------------------------
    def allocate(self, state: ChannelsState, config: ChannelsConfig, seed: int, data: ImageDataset) -> None:
        """A trainer of ``config`` on ``data``, continuing from ``state`` (checked first)."""
        trainer = Trainer(config, data, seed, device=self.name)
        load_state_arrays(trainer, state.arrays)
        self._trainer = trainer

    def set_config(self, config: ChannelsConfig) -> None:
        """Take ``config``'s live parameters from the next batch."""
        self._require().apply_live(config)

    def _require(self) -> Trainer:
        if self._trainer is None:
            raise RuntimeError(f"the {self.name} backend has no network allocated")
        return self._trainer

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Train ``n_steps`` batches; return the mask updates' events (rows wait in
        :meth:`take_records`)."""
        trainer = self._require()
        events = []
        for _ in range(int(n_steps)):
            result = trainer.train_batch()
            self._record(result, trainer)
            if result.update is not None:
                events.append(update_events(result.index, result.update))
        return np.concatenate(events) if events else np.zeros(0, EVENT_DTYPE)

    def _record(self, result: BatchResult, trainer: Trainer) -> None:
        rows = self._records
        accuracy = result.correct / max(result.size, 1)
        rows["batches"].append(
            np.array(
                [(result.index, result.epoch, result.batch, result.loss, accuracy, result.lr)], BATCH_DTYPE
            )
        )
        update = result.update
        if update is not None:
            n = trainer.pruner.n_channels
            sparsity = 1.0 - sum(update.kept) / n
            rows["updates"].append(
                np.array(
                    [
                        (
                            result.index,
                            update.index,
                            result.epoch,
                            len(update.pruned),
                            len(update.regrown),
                            sparsity,
                        )
                    ],
                    UPDATE_DTYPE,
                )
            )
            rows["update_kept"].append(np.array([update.kept], np.int32))
            mask = np.concatenate([m.numpy() for m in trainer.pruner.masks])
            rows["update_masks"].append(mask[None, :])
            rows["update_importance"].append(np.concatenate(update.importance).astype(np.float32)[None, :])
            rows["update_grad"].append(np.concatenate(update.gamma_grad).astype(np.float32)[None, :])
        record = result.record
        if record is not None:
            rows["epochs"].append(
                np.array(
                    [
                        (
                            result.index,
                            record.epoch,
                            record.train_loss,
                            record.train_accuracy,
                            record.test_accuracy,
                            record.channel_sparsity,
                            record.params,
                            record.synops,
                            result.lr,
                        )
                    ],
                    EPOCH_DTYPE,
                )
            )
            rows["epoch_kept"].append(np.array([record.kept], np.int32))

    def take_records(self) -> Mapping[str, NDArray[Any]]:
        """Rows since the last call, by name (:data:`sim.experiments.channels.records.RECORD_NAMES`);
        names without a new row are left out."""
        out = {name: np.concatenate(rows) for name, rows in self._records.items() if rows}
        self._records = {name: [] for name in RECORD_NAMES}
        return out

    def warm_up(self) -> None:
        """Nothing to compile: PyTorch's kernels are built already."""

    def pull_state(self) -> ChannelsState:
        """A host copy of the whole state."""
        return ChannelsState(state_arrays(self._require()))

    def pull_view(self) -> ChannelsState:
        """What a snapshot needs of the state (masks, scores, BN scales, position): no weights."""
        return ChannelsState(state_arrays(self._require(), view=True))

    def push_state(self, state: ChannelsState) -> None:
        """Replace the state by ``state`` (checked first)."""
        load_state_arrays(self._require(), state.arrays)

    def close(self) -> None:
        """Let the trainer go (and the GPU memory it held)."""
        self._trainer = None
        if self.name == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
