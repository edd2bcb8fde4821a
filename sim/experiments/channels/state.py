"""A channel-pruning network's whole state on the host: named arrays of a layout fixed by the
configuration (:func:`sim.experiments.channels.nn.state.state_layout`).

Names: ``model/<parameter or buffer>``, ``optimiser/<i>/<moment>``,
``pruner/<block>/<mask|gamma_init|grad_sum|v_abs_sum|rate_sum|passes|regrown_after>``,
``position`` (:data:`POSITION_FIELDS`) and ``loss_sum``. Nothing here needs
PyTorch: snapshots, checks and reports read the arrays as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Entries of ``position``: epoch, batch of the epoch, batches trained, correct and seen this epoch,
#: mask updates, gradient passes since the last update, whether an update is due before the next batch.
POSITION_FIELDS = ("epoch", "batch", "batches_done", "correct", "seen", "updates", "grad_passes", "pending")
#: Shape and dtype of every array, by name.
Layout = dict[str, tuple[tuple[int, ...], np.dtype[Any]]]
P_EPOCH, P_BATCH, P_DONE, P_CORRECT, P_SEEN, P_UPDATES, P_GRAD_PASSES, P_PENDING = range(len(POSITION_FIELDS))


@dataclass
class ChannelsState:
    """A trainer's state as arrays (copies: the backend keeps its own)."""

    arrays: dict[str, NDArray[np.generic]]

    @property
    def position(self) -> NDArray[np.int64]:
        """:data:`POSITION_FIELDS`."""
        return np.asarray(self.arrays["position"], np.int64)

    @property
    def step(self) -> int:
        """Batches trained."""
        return int(self.position[P_DONE])

    @property
    def n_blocks(self) -> int:
        """Conv blocks (the layers whose channels are masked)."""
        return sum(1 for name in self.arrays if name.startswith("pruner/") and name.endswith("/mask"))

    def block(self, b: int, key: str) -> NDArray[np.generic]:
        """``pruner/<b>/<key>``."""
        return self.arrays[f"pruner/{b}/{key}"]

    def masks(self) -> list[NDArray[np.bool_]]:
        """Every block's mask (True: kept)."""
        return [np.asarray(self.block(b, "mask"), np.bool_) for b in range(self.n_blocks)]

    def importance(self, use_rate: bool = False) -> list[NDArray[np.float64]]:
        """Every block's mean ``|V|`` per channel since the last update (plus the spike rate with
        ``use_rate``), as the next update will rank them."""
        out = []
        for b in range(self.n_blocks):
            passes = max(int(self.block(b, "passes")), 1)
            score = np.asarray(self.block(b, "v_abs_sum"), np.float64) / passes
            if use_rate:
                score = score + np.asarray(self.block(b, "rate_sum"), np.float64) / passes
            out.append(score)
        return out

    def gamma_grad(self) -> list[NDArray[np.float64]]:
        """Every block's mean ``|dL/dgamma|`` per channel since the last update."""
        passes = max(int(self.position[P_GRAD_PASSES]), 1)
        return [np.asarray(self.block(b, "grad_sum"), np.float64) / passes for b in range(self.n_blocks)]

    def regrown_after(self) -> NDArray[np.int64]:
        """Every channel (all blocks): one more than the update at which it was last regrown, 0 never."""
        return np.concatenate(
            [np.asarray(self.block(b, "regrown_after"), np.int64) for b in range(self.n_blocks)]
        )

    def bn(self, b: int, key: str) -> NDArray[np.float32]:
        """BatchNorm ``weight`` (gamma) or ``bias`` (beta) of block ``b``."""
        names = [n for n in self.arrays if n.startswith("model/") and n.endswith(f".bn.{key}")]
        return np.asarray(self.arrays[sorted(names, key=_block_order)[b]])

    def copy(self) -> ChannelsState:
        """A deep copy."""
        return ChannelsState({k: np.array(v, copy=True) for k, v in self.arrays.items()})


def _block_order(name: str) -> tuple[int, ...]:
    """Sort key of ``model/...`` names by the numbers in them (module order)."""
    return tuple(int(part) for part in name.split("/")[-1].split(".") if part.isdigit())


def state_problem(
    arrays: Mapping[str, NDArray[np.generic]], layout: Layout, batches_per_epoch: int, batch_size: int
) -> str | None:
    """The first thing wrong with ``arrays`` as a state of ``layout`` on a data set of
    ``batches_per_epoch`` batches of ``batch_size`` images, or None."""
    missing = sorted(set(layout) - set(arrays))
    if missing:
        return f"{missing[0]}: missing"
    for name, (shape, dtype) in layout.items():
        value = np.asarray(arrays[name])
        if value.shape != shape or value.dtype != dtype:
            return f"{name}: expected {dtype} {shape}, got {value.dtype} {value.shape}"
        if np.issubdtype(dtype, np.floating) and not np.all(np.isfinite(value)):
            return f"{name}: holds a value that is not finite"
        if name.endswith("/mask") and not value.any():
            return f"{name}: masks every channel of its block (one must stay)"
        if np.issubdtype(dtype, np.integer) and np.any(value < 0):
            return f"{name}: holds a negative count"
    epoch, batch, done, correct, seen, updates, _passes, pending = (int(v) for v in arrays["position"])
    for name in layout:
        if name.endswith("/regrown_after") and np.any(np.asarray(arrays[name]) > updates):
            return f"{name}: names an update after the {updates} made"
    if pending not in (0, 1):
        return f"position[{P_PENDING}] = {pending}: an update is due (1) or not (0)"
    if batch >= batches_per_epoch:
        return f"position[{P_BATCH}] = {batch}: an epoch of this data set has {batches_per_epoch} batches"
    if correct > seen or seen > batch * batch_size:
        return f"position: {correct} correct of {seen} seen do not fit {batch} batches of {batch_size}"
    if done < epoch * batches_per_epoch + batch:
        return f"position: {done} batches trained cannot reach epoch {epoch}, batch {batch}"
    return None
