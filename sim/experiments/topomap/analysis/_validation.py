"""Input checks shared by the analysis modules."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray


def check_grid_size(n: object, name: str = "n") -> int:
    """Return ``n`` as an ``int`` after checking that it is a positive integer."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if int(n) <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def check_count(size: object, name: str) -> int:
    """Return ``size`` as an ``int`` after checking that it is a non-negative integer."""
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
        raise ValueError(f"{name} must be a non-negative integer, got {size!r}")
    if int(size) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {size!r}")
    return int(size)


def check_ids(ids: ArrayLike, upper: int, name: str) -> NDArray[np.int64]:
    """Return ``ids`` as a 1-D ``int64`` array after checking ``0 <= ids < upper``."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of neuron ids, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.bool_)):
        raise ValueError(f"{name} must hold integer neuron ids, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    lo = int(out.min())
    hi = int(out.max())
    if lo < 0 or hi >= upper:
        raise ValueError(f"{name} holds ids out of range [0, {upper}): min {lo}, max {hi}")
    return out


def check_weights(weights: ArrayLike | None, size: int, name: str = "weights") -> NDArray[np.float64] | None:
    """Return ``weights`` as a 1-D ``float64`` array of length ``size`` (``None`` passes through).

    Weights must be finite and non-negative.
    """
    if weights is None:
        return None
    arr = np.asarray(weights, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size != size:
        raise ValueError(f"{name} has length {arr.size} but there are {size} synapses")
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if arr.size and float(arr.min()) < 0.0:
        raise ValueError(f"{name} must be non-negative")
    return arr


def check_synapses(
    pre: ArrayLike, post: ArrayLike, n_pre: int, n_post: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Check a pair of ``pre``/``post`` id arrays of equal length against their layer sizes."""
    pre_arr = check_ids(pre, n_pre, "pre")
    post_arr = check_ids(post, n_post, "post")
    if pre_arr.size != post_arr.size:
        raise ValueError(f"pre and post must have the same length, got {pre_arr.size} and {post_arr.size}")
    return pre_arr, post_arr
