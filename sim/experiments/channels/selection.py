"""Which channels a mask update masks and unmasks, on NumPy arrays (no PyTorch).

The SCA pruner (:mod:`sim.experiments.channels.nn.sca`) makes its updates
with :func:`next_mask`, and the window predicts the next update with the same
function from a snapshot's scores, so what it shows is what the update will do.

Channels are numbered over all blocks in order (block 0's first), and
``sizes`` gives each block's channel count. Ties are broken by the lower
channel number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

#: Modes whose mask changes at updates (``random`` draws one at the start; ``none`` has none).
UPDATING_MODES = ("sca", "prune_only")


def block_index(sizes: Sequence[int]) -> NDArray[np.int64]:
    """The block of every channel."""
    return np.repeat(np.arange(len(sizes)), [int(s) for s in sizes])


def target_masked(n_channels: int, n_blocks: int, sparsity: float, mode: str) -> int:
    """Channels masked at ``sparsity`` (every block keeps one at least; none in mode ``none``)."""
    if mode == "none":
        return 0
    return min(round(sparsity * n_channels), n_channels - n_blocks)


def relative_to_mean(
    values: NDArray[np.float64], sizes: Sequence[int], over: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Each block's ``values`` divided by their mean over the block's channels in ``over`` (all of
    them by default); a block whose mean is not positive is left as it is."""
    out = np.asarray(values, np.float64).copy()
    block = block_index(sizes)
    for b in range(len(sizes)):
        mine = block == b
        chosen = out[mine & over] if over is not None else out[mine]
        mean = float(chosen.mean()) if chosen.size else 0.0
        if mean > 0:
            out[mine] /= mean
    return out


def mask_lowest(
    mask: NDArray[np.bool_],
    sizes: Sequence[int],
    score: NDArray[np.float64],
    n: int,
    exempt: NDArray[np.bool_] | None = None,
) -> int:
    """Mask (in place) up to ``n`` kept channels not ``exempt``, lowest ``score`` first, never a
    block's last one; returns how many."""
    block = block_index(sizes)
    kept = np.bincount(block[mask], minlength=len(sizes))
    done = 0
    for i in np.argsort(score, kind="stable"):
        if done == n:
            break
        if not mask[i] or (exempt is not None and exempt[i]) or kept[block[i]] <= 1:
            continue
        mask[i] = False
        kept[block[i]] -= 1
        done += 1
    return done


def unmask_largest(
    mask: NDArray[np.bool_], value: NDArray[np.float64], n: int, candidates: NDArray[np.bool_]
) -> int:
    """Unmask (in place) up to ``n`` of ``candidates``, largest ``value`` first; returns how many."""
    done = 0
    for i in np.argsort(-np.asarray(value, np.float64), kind="stable"):
        if done == n:
            break
        if candidates[i]:
            mask[i] = True
            done += 1
    return done


def next_mask(
    mask: NDArray[np.bool_],
    sizes: Sequence[int],
    importance: NDArray[np.float64],
    grad: NDArray[np.float64],
    *,
    mode: str,
    sparsity: float,
    fraction: float,
    swap: bool,
    normalise: bool = False,
    exempt: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """The mask after an update of ``mode`` from ``mask`` (True: kept), given every channel's
    importance and accumulated ``|dL/dgamma|``.

    1. The mask is brought to ``sparsity``: the lowest importance masked, or the largest
       ``|dL/dgamma|`` unmasked.
    2. With ``swap`` (``sca`` after its first update) a further ``fraction`` of the kept channels is
       masked, lowest importance first and none of ``exempt`` (channels in their grace period), and
       as many of those masked before come back, largest ``|dL/dgamma|`` first; the sparsity stays.

    With ``normalise`` each block's importance is ranked relative to its mean over its kept
    channels and each block's ``|dL/dgamma|`` relative to its mean over its channels.
    """
    before = np.asarray(mask, bool)
    now = before.copy()
    if mode not in UPDATING_MODES or now.size == 0:
        return now
    score = relative_to_mean(importance, sizes, before) if normalise else np.asarray(importance, np.float64)
    value = relative_to_mean(grad, sizes) if normalise else np.asarray(grad, np.float64)
    target = target_masked(now.size, len(sizes), sparsity, mode)
    masked = int((~now).sum())
    if masked < target:
        mask_lowest(now, sizes, score, target - masked)
    elif masked > target:
        unmask_largest(now, value, masked - target, ~before)
    if mode == "sca" and swap:
        was_masked = ~before & ~now
        n_swap = min(round(fraction * int(now.sum())), int(was_masked.sum()))
        if n_swap > 0:
            pruned = mask_lowest(now, sizes, score, n_swap, exempt)
            unmask_largest(now, value, pruned, was_masked)
    return now


def in_grace(regrown_after: NDArray[np.int64], updates: int, grace: int) -> NDArray[np.bool_]:
    """Channels regrown within the last ``grace`` of ``updates`` updates (``regrown_after``: one more
    than the update at which each channel was last regrown, 0 never)."""
    regrown_after = np.asarray(regrown_after, np.int64)
    return (regrown_after > 0) & (updates + 1 - regrown_after <= grace)


def update_fraction(fraction: float, anneal: bool, batches_done: int, batches_planned: int) -> float:
    """The update fraction of an update made after ``batches_done`` of ``batches_planned`` batches:
    ``fraction``, or with ``anneal`` that times ``(1 + cos(pi t)) / 2`` of the progress ``t``."""
    if not anneal:
        return float(fraction)
    done = min(batches_done / max(batches_planned, 1), 1.0)
    return float(fraction) * 0.5 * (1.0 + float(np.cos(np.pi * done)))
