"""The toy experiment's state: one synapse table, a leaky count per neuron and the step counter.

:func:`build_state` draws the initial wiring from the seed with Philox;
:func:`expected_layout`, :func:`state_to_arrays` and :func:`state_from_arrays`
are the checkpoint's view of a state, and :func:`state_problem` names the
first value of a state read from a file that the kernels must not be given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.philox import below, key_from_seed, philox4x32
from sim.synapses import N_STATS, SynapseTable, TableArrays, empty_table
from tests.support.toy.config import MAX_LEAK_SHIFT, MAX_WEIGHT, ToyConfig

#: Philox purpose codes of the toy (the second counter word's low 16 bits).
PURPOSE_BUILD = 1
PURPOSE_COUNT = 2
PURPOSE_REWIRE = 3
#: Steps are counted below this: the random counters hold step bits 0..47 (``sim.philox``).
STEP_LIMIT = 2**48
#: Cumulative table counters stay below this.
COUNTER_LIMIT = 2**62
#: Initial counts are drawn from [0, INITIAL_COUNT).
INITIAL_COUNT = 16
#: Counts stay below this: a count settles below (in-degree + 1) << leak_shift, which is at most
#: (largest column capacity + 1) << largest leak_shift, and an initial count is below INITIAL_COUNT.
COUNT_LIMIT = (int(ToyConfig.param_spec("connectivity.col_capacity").hi or 0) + 1) << MAX_LEAK_SHIFT
#: Name of the table's arrays in a checkpoint (``state.table.post``, ...).
TABLE = "table"
_DIM_NAMES = ("n_pre", "n_post", "row_cap", "col_cap")


@dataclass
class ToyState:
    """Everything a toy run needs to continue bit for bit (host arrays)."""

    #: The N x N synapse table; ``weight`` is its per-synapse variable.
    table: TableArrays
    #: The leaky count of every neuron (int32, shape (N,)).
    count: NDArray[np.int32]
    #: Steps completed.
    step: int

    def copy(self) -> ToyState:
        """A deep copy."""
        return ToyState(TableArrays._make(a.copy() for a in self.table), self.count.copy(), self.step)


def build_state(config: ToyConfig, seed: int) -> ToyState:
    """A new toy network: ``connectivity.fan_out`` draws of a postsynaptic partner per row.

    Draw ``a`` of row ``i`` is word 0 of Philox counter ``(i, PURPOSE_BUILD, a, 0)``; a partner
    drawn twice, or a full column, leaves the row one synapse shorter. Initial counts come from
    counter ``(j, PURPOSE_COUNT, 0, 0)``.
    """
    n, c = config.network.n, config.connectivity
    table = SynapseTable.empty(n, n, c.row_capacity, c.col_capacity)
    key = key_from_seed(seed)
    if c.fan_out:
        rows, attempts = np.meshgrid(np.arange(n), np.arange(c.fan_out), indexing="ij")
        counters = np.stack([rows, np.full_like(rows, PURPOSE_BUILD), attempts, np.zeros_like(rows)], axis=-1)
        partners = below(philox4x32(counters, key)[..., 0], n)
        for i in range(n):
            for j in partners[i]:
                if int(j) not in table.row(i)[0]:
                    table.add(i, int(j), config.rewiring.weight)
    ids = np.arange(n)
    counters = np.stack([ids, np.full_like(ids, PURPOSE_COUNT), np.zeros_like(ids), np.zeros_like(ids)], -1)
    count = below(philox4x32(counters, key)[:, 0], INITIAL_COUNT).astype(np.int32)
    return ToyState(table.arrays, count, 0)


# --------------------------------------------------------------------------- the checkpoint's view


def expected_layout(config: ToyConfig) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every state array of ``config`` (computed, nothing allocated)."""
    n, c = config.network.n, config.connectivity
    sizes = {"row_len": n, "col_len": n, "col_syn": n * c.col_capacity, "dims": 4, "stats": N_STATS}
    layout: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {
        "step": ((1,), np.dtype(np.int64)),
        "count": ((n,), np.dtype(np.int32)),
    }
    for name, arr in empty_table(1, 1, 1, 1)._asdict().items():
        # Every array not sized above is per synapse: one entry per slot of the rows.
        layout[f"{TABLE}.{name}"] = ((sizes.get(name, n * c.row_capacity),), arr.dtype)
    return layout


def state_to_arrays(state: ToyState) -> dict[str, NDArray[Any]]:
    """``{name: array}`` of the whole state (the names of :func:`expected_layout`)."""
    out: dict[str, NDArray[Any]] = {"step": np.array([state.step], np.int64), "count": state.count}
    for name, arr in state.table._asdict().items():
        out[f"{TABLE}.{name}"] = arr
    return out


def state_from_arrays(arrays: dict[str, NDArray[Any]]) -> ToyState:
    """Inverse of :func:`state_to_arrays` (copies, so the state owns writable arrays)."""
    table = TableArrays._make(np.array(arrays[f"{TABLE}.{name}"]) for name in TableArrays._fields)
    return ToyState(table, np.array(arrays["count"], np.int32), int(arrays["step"][0]))


# --------------------------------------------------------------------------- checking values


def _first(bad: NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _ints_outside(name: str, a: NDArray[Any], lo: int, hi: int, why: str = "") -> str | None:
    i = _first((a < lo) | (a > hi))
    return None if i is None else f"{name}[{i}] = {int(a[i])} is outside [{lo}, {hi}]{why}"


def state_problem(state: ToyState, config: ToyConfig) -> str | None:
    """The first value of ``state`` that the toy kernels of ``config`` must not be given, or None.

    The message names the checkpoint entry and its index, e.g.
    ``state.table.post[40] = 99 is outside [0, 31] (postsynaptic neuron ids)``.
    """
    if not 0 <= state.step < STEP_LIMIT:
        return f"state.step[0] = {state.step} is outside [0, {STEP_LIMIT - 1}]"
    problem = _ints_outside("state.count", state.count, 0, COUNT_LIMIT - 1, " (leaky counts)")
    return problem or _table_problem(f"state.{TABLE}.", state.table, config)


def _table_problem(p: str, t: TableArrays, config: ToyConfig) -> str | None:
    """Every index of ``t`` in range and the table consistent; ranges are checked in NumPy first,
    so that the compiled invariant check reads nothing out of bounds."""
    n, rc, cc = config.network.n, config.connectivity.row_capacity, config.connectivity.col_capacity
    for k, want in enumerate((n, n, rc, cc)):
        if t.dims[k] != want:
            return f"{p}dims[{k}] = {int(t.dims[k])} ({_DIM_NAMES[k]}), but the configuration's is {want}"
    problem = (
        _ints_outside(p + "stats", t.stats, 0, COUNTER_LIMIT - 1)
        or _ints_outside(p + "row_len", t.row_len, 0, rc, " (connectivity.row_capacity)")
        or _ints_outside(p + "col_len", t.col_len, 0, cc, " (connectivity.col_capacity)")
    )
    if problem is not None:
        return problem
    live = (np.arange(rc)[None, :] < t.row_len[:, None]).ravel()
    s_live = np.flatnonzero(live)
    for name in ("post", "weight", "col_pos"):
        arr = getattr(t, name)
        s = _first((arr != 0) & ~live)
        if s is not None:
            return f"{p}{name}[{s}] = {arr[s]} lies past the end of row {s // rc}, where storage is zero"
    post = t.post[s_live]
    i = _first((post < 0) | (post >= n))
    if i is not None:
        return f"{p}post[{s_live[i]}] = {int(post[i])} is outside [0, {n - 1}] (postsynaptic neuron ids)"
    weight = t.weight[s_live]
    i = _first(~np.isfinite(weight) | (weight < 0.0) | (weight > MAX_WEIGHT))
    if i is not None:
        return f"{p}weight[{s_live[i]}] = {weight[i]} is not a weight in [0, {MAX_WEIGHT}]"
    in_degree = np.bincount(post, minlength=n)
    j = _first(in_degree != t.col_len)
    if j is not None:
        return (
            f"{p}col_len[{j}] = {int(t.col_len[j])}, but {int(in_degree[j])} synapses in the rows end there"
        )
    col_pos = t.col_pos[s_live]
    i = _first((col_pos < 0) | (col_pos >= t.col_len[post]))
    if i is not None:
        return f"{p}col_pos[{s_live[i]}] = {int(col_pos[i])} is outside its column's length"
    col_live = (np.arange(cc)[None, :] < t.col_len[:, None]).ravel()
    c = _first((t.col_syn != 0) & ~col_live)
    if c is not None:
        return (
            f"{p}col_syn[{c}] = {int(t.col_syn[c])} lies past the end of column {c // cc}, "
            "where storage is zero"
        )
    back = t.col_syn[post.astype(np.int64) * cc + col_pos]
    i = _first(back != s_live)
    if i is not None:
        c = int(post[i]) * cc + int(col_pos[i])
        return f"{p}col_syn[{c}] = {int(back[i])} does not point back to synapse {int(s_live[i])}"
    try:
        SynapseTable(t).check()
    except AssertionError as exc:
        return f"{p[:-1]} synapse table is corrupt ({exc})"
    return None
