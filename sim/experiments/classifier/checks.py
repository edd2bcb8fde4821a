"""Checking a classifier state read from a file before any of it reaches a kernel.

:func:`state_problem` names the first value (checkpoint entry and index) that
the kernels of a configuration must not be given: an index out of range, a
table whose rows, targets or in-degrees disagree, a lane pointing outside its
example's spikes, an order that is not a permutation, a clock past its
epoch's batches, or a float that is not finite.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.data import SpikeDataset
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.data import DataSizes
from sim.experiments.classifier.params import (
    C_BATCH,
    C_EPOCH,
    C_STEP,
    C_T,
    C_UPDATES,
    TABLE_NAMES,
    TABLE_REC,
)
from sim.experiments.classifier.state import ClassifierState, EpropTable, table_shapes

#: Steps, epochs and updates stay below this (Philox counters hold 32 bits of them).
CLOCK_LIMIT = 2**32
_DIMS = ("n_pre", "n_post", "row_cap", "col_cap")


def _first(bad: NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _outside(name: str, a: NDArray[Any], lo: int, hi: int, why: str = "") -> str | None:
    flat = a.ravel()
    i = _first((flat < lo) | (flat > hi))
    return None if i is None else f"{name}[{i}] = {int(flat[i])} is outside [{lo}, {hi}]{why}"


def _table_problem(
    p: str, t: EpropTable, want: tuple[int, int, int], dense: bool, recurrent: bool
) -> str | None:
    n_pre, n_post, rc = want
    for k, value in enumerate((n_pre, n_post, rc, 0)):
        if t.dims[k] != value:
            return f"{p}dims[{k}] = {int(t.dims[k])} ({_DIMS[k]}), but the configuration's is {value}"
    problem = _outside(p + "stats", t.stats, 0, 2**62) or _outside(
        p + "row_len", t.row_len, 0, rc, " (row capacity)"
    )
    if problem:
        return problem
    live = (np.arange(rc)[None, :] < t.row_len[:, None]).ravel()
    for name in ("post", "weight", "adam_m", "adam_v", "grad", "elig", "elig_a"):
        arr = getattr(t, name)
        stored = arr.reshape(-1, live.size)
        bad = _first(((stored != 0) & ~live[None, :]).any(axis=0))
        if bad is not None:
            return f"{p}{name}[{bad}] lies past the end of row {bad // rc}, where storage is zero"
        if arr.dtype.kind == "f":
            i = _first(~np.isfinite(arr.ravel()))
            if i is not None:
                return f"{p}{name}[{i}] = {arr.ravel()[i]} is not finite"
    s_live = np.flatnonzero(live)
    post = t.post[s_live]
    i = _first((post < 0) | (post >= n_post))
    if i is not None:
        return f"{p}post[{s_live[i]}] = {int(post[i])} is outside [0, {n_post - 1}] (target ids)"
    pre = s_live // rc
    if dense:
        i = _first(post != s_live % rc)
        if i is not None:
            return f"{p}post[{s_live[i]}] = {int(post[i])}: a dense row holds every target in order"
        if t.row_len.min(initial=n_post) != n_post:
            return f"{p}row_len: a dense table's rows are full"
        if recurrent:
            diagonal = t.weight[np.arange(n_pre) * rc + np.arange(n_pre)]
            i = _first(diagonal != 0)
            if i is not None:
                return f"{p}weight[{i * rc + i}] = {diagonal[i]}: the diagonal is held at zero"
    else:
        if recurrent:
            i = _first(post == pre)
            if i is not None:
                return f"{p}post[{s_live[i]}] = {int(post[i])} connects neuron {int(pre[i])} to itself"
        pair = pre.astype(np.int64) * n_post + post
        if np.unique(pair).size != pair.size:
            return f"{p}post: a pair appears twice in one row (no multapses)"
    in_degree = np.bincount(post, minlength=n_post)
    j = _first(in_degree != t.col_len)
    if j is not None:
        return f"{p}col_len[{j}] = {int(t.col_len[j])}, but {int(in_degree[j])} synapses end there"
    return None


def state_problem(
    state: ClassifierState, config: ClassifierConfig, sizes: DataSizes, data: SpikeDataset
) -> str | None:
    """The first value of ``state`` that the kernels of ``config`` must not be given, or None.

    The message names the checkpoint entry and index, e.g.
    ``state.rec.post[40] = 3 connects neuron 3 to itself``.
    """
    b = config.data.batch_size
    train_b, test_b = sizes.train_batches(b), sizes.test_batches(b)
    clock = state.clock
    for slot, name, hi in (
        (C_STEP, "step", CLOCK_LIMIT - 1),
        (C_EPOCH, "epoch", CLOCK_LIMIT - 1),
        (C_BATCH, "batch", train_b + test_b - 1),
        (C_T, "trial step", config.data.n_steps - 1),
        (C_UPDATES, "updates", CLOCK_LIMIT - 1),
    ):
        if not 0 <= clock[slot] <= hi:
            return f"state.clock[{slot}] = {int(clock[slot])} ({name}) is outside [0, {hi}]"
    for code, (name, want) in enumerate(zip(TABLE_NAMES, table_shapes(config, sizes), strict=True)):
        shape = (want.n_pre, want.n_post, want.row_cap)
        problem = _table_problem(
            f"state.{name}.", state.tables()[code], shape, config.dense, code == TABLE_REC
        )
        if problem:
            return problem
    for f in fields(state):
        value = getattr(state, f.name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and f.name not in ("acc", "pending"):
            i = _first(~np.isfinite(value.ravel()))
            if i is not None:
                return f"state.{f.name}[{i}] = {value.ravel()[i]} is not finite"
    if np.sort(state.order).tolist() != list(range(sizes.n_train)):
        return f"state.order is not an order of the {sizes.n_train} training examples"
    problem = _outside("state.refrac", state.refrac, 0, round(config.network.refractory / config.network.dt))
    if problem:
        return problem
    i = _first((state.z != 0) & (state.z != 1))
    if i is not None:
        return f"state.z[{i}] is not 0 or 1"
    training = clock[C_BATCH] < train_b
    split = data.train if training else data.test
    for lane in range(b):
        ex = int(state.lane_example[lane])
        if training:
            expected = int(state.order[clock[C_BATCH] * b + lane])
        else:
            idx = (int(clock[C_BATCH]) - train_b) * b + lane
            expected = idx if idx < sizes.n_test else -1
        if ex != expected:
            return f"state.lane_example[{lane}] = {ex}, but the batch's example for that lane is {expected}"
        if ex >= 0:
            lo, hi = int(split.offsets[ex]), int(split.offsets[ex + 1])
            if not lo <= state.lane_ptr[lane] <= hi:
                ptr = int(state.lane_ptr[lane])
                return f"state.lane_ptr[{lane}] = {ptr} is outside its example's spikes [{lo}, {hi}]"
    return None
