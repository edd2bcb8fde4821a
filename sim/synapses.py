"""GeNN-style ragged synapse tables with a maintained column index.

A table stores one projection. Each presynaptic row ``i`` has a length
``row_len[i]`` and a fixed capacity ``row_cap``; synapse ``k`` of row ``i``
lives at flat index ``s = i * row_cap + k`` of the parallel per-synapse arrays
(``post``, ``weight``, ``col_pos``). Adding appends to the row; removing moves
the row's last synapse into the hole, every per-synapse array together, and
clears the vacated slot, so the storage past a row's or column's length is
always zero and two tables with the same history are equal as arrays.

The column index lists, per postsynaptic neuron ``j``, the flat indices of its
afferent synapses: ``col_syn[j * col_cap + c]`` for ``c < col_len[j]``, and
``col_pos[s]`` is the position of synapse ``s`` in its column. Both are kept
current in O(1) per change, so ``col_len`` is always the in-degree and a
postsynaptic spike reaches its afferents without scanning rows.

A row or column that is full refuses a new synapse and counts the refusal in
``stats``; nothing is ever written out of bounds.

The functions taking :class:`TableArrays` are Numba-compiled and shared by the
CPU kernels; :class:`SynapseTable` wraps them for host code and tests.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.errors import ConfigError

# Indices into TableArrays.dims
D_N_PRE, D_N_POST, D_ROW_CAP, D_COL_CAP = 0, 1, 2, 3
# Indices into TableArrays.stats (cumulative counters)
S_FORMED, S_REMOVED, S_REFUSED_ROW, S_REFUSED_COL = 0, 1, 2, 3
N_STATS = 4


class TableArrays(NamedTuple):
    """The arrays of one synapse table (what kernels receive)."""

    row_len: NDArray[np.int32]  # (n_pre,)
    post: NDArray[np.int32]  # (n_pre * row_cap,)
    weight: NDArray[np.float32]  # (n_pre * row_cap,)
    col_pos: NDArray[np.int32]  # (n_pre * row_cap,)
    col_len: NDArray[np.int32]  # (n_post,) the in-degree
    col_syn: NDArray[np.int32]  # (n_post * col_cap,)
    dims: NDArray[np.int64]  # (4,) n_pre, n_post, row_cap, col_cap
    stats: NDArray[np.int64]  # (4,) formed, removed, refused (row full), refused (column full)


#: Flat synapse indices are int32: a table holds fewer than this many slots.
MAX_TABLE_SLOTS = 2**31


def empty_table(n_pre: int, n_post: int, row_cap: int, col_cap: int) -> TableArrays:
    """Allocate an empty table.

    Raises
    ------
    ConfigError
        If a size or capacity is not positive, or the rows would hold
        ``n_pre * row_cap >= 2**31`` slots (flat synapse indices are int32).
        The error names ``connectivity.row_capacity`` or
        ``connectivity.col_capacity`` when a capacity is at fault; it is a
        ``ValueError`` as well.
    """
    if min(n_pre, n_post) < 1:
        raise ConfigError(f"table sizes must be positive, got {n_pre} x {n_post} neurons")
    for key, cap in (("row_capacity", row_cap), ("col_capacity", col_cap)):
        if cap < 1:
            raise ConfigError(f"must be positive, got {cap}", path=f"connectivity.{key}")
    if n_pre * row_cap >= MAX_TABLE_SLOTS:
        raise ConfigError(
            f"{n_pre} rows x {row_cap} synapses is {n_pre * row_cap} slots, more than a table "
            f"can index (2**31); lower it or network.scale",
            path="connectivity.row_capacity",
        )
    return TableArrays(
        row_len=np.zeros(n_pre, np.int32),
        post=np.zeros(n_pre * row_cap, np.int32),
        weight=np.zeros(n_pre * row_cap, np.float32),
        col_pos=np.zeros(n_pre * row_cap, np.int32),
        col_len=np.zeros(n_post, np.int32),
        col_syn=np.zeros(n_post * col_cap, np.int32),
        dims=np.array([n_pre, n_post, row_cap, col_cap], np.int64),
        stats=np.zeros(N_STATS, np.int64),
    )


@njit(cache=True, nogil=True)
def add_synapse(t: TableArrays, pre: np.int64, post: np.int64, weight: np.float32) -> bool:
    """Append synapse ``pre -> post``; refuse (and count) if its row or column is full."""
    row_cap = t.dims[D_ROW_CAP]
    col_cap = t.dims[D_COL_CAP]
    k = t.row_len[pre]
    if k >= row_cap:
        t.stats[S_REFUSED_ROW] += 1
        return False
    c = t.col_len[post]
    if c >= col_cap:
        t.stats[S_REFUSED_COL] += 1
        return False
    s = pre * row_cap + k
    t.post[s] = post
    t.weight[s] = weight
    t.col_pos[s] = c
    t.col_syn[post * col_cap + c] = s
    t.row_len[pre] = k + 1
    t.col_len[post] = c + 1
    t.stats[S_FORMED] += 1
    return True


@njit(cache=True, nogil=True)
def remove_synapse(t: TableArrays, pre: np.int64, k: np.int64) -> None:
    """Remove synapse ``k`` of row ``pre``: the row's last synapse fills the hole."""
    row_cap = t.dims[D_ROW_CAP]
    col_cap = t.dims[D_COL_CAP]
    s = pre * row_cap + k
    j = t.post[s]
    # Column of j: its last entry fills the removed entry's place.
    c = t.col_pos[s]
    cl = t.col_len[j] - 1
    moved = t.col_syn[j * col_cap + cl]
    t.col_syn[j * col_cap + c] = moved
    t.col_pos[moved] = c
    t.col_syn[j * col_cap + cl] = 0
    t.col_len[j] = cl
    # Row: its last synapse fills the hole.
    last = t.row_len[pre] - 1
    sl = pre * row_cap + last
    if k != last:
        t.post[s] = t.post[sl]
        t.weight[s] = t.weight[sl]
        t.col_pos[s] = t.col_pos[sl]
        t.col_syn[t.post[s] * col_cap + t.col_pos[s]] = s
    t.post[sl] = 0
    t.weight[sl] = 0.0
    t.col_pos[sl] = 0
    t.row_len[pre] = last
    t.stats[S_REMOVED] += 1


@njit(cache=True, nogil=True)
def find_synapse(t: TableArrays, pre: np.int64, post: np.int64) -> np.int64:
    """Position ``k`` in row ``pre`` of the first synapse onto ``post``, or -1."""
    row_cap = t.dims[D_ROW_CAP]
    base = pre * row_cap
    for k in range(t.row_len[pre]):
        if t.post[base + k] == post:
            return k
    return -1


@njit(cache=True, nogil=True)
def _check(t: TableArrays) -> int:
    """Return 0 when every invariant holds, else a code naming the first broken one."""
    n_pre, n_post, row_cap, col_cap = t.dims[0], t.dims[1], t.dims[2], t.dims[3]
    if (
        t.row_len.shape[0] != n_pre
        or t.post.shape[0] != n_pre * row_cap
        or t.col_len.shape[0] != n_post
        or t.col_syn.shape[0] != n_post * col_cap
        or t.weight.shape[0] != n_pre * row_cap
        or t.col_pos.shape[0] != n_pre * row_cap
    ):
        return 6
    for j in range(n_post):
        if t.col_len[j] < 0 or t.col_len[j] > col_cap:
            return 5
    seen = np.zeros(n_post, np.int64)
    for i in range(n_pre):
        if t.row_len[i] < 0 or t.row_len[i] > row_cap:
            return 1
        for k in range(t.row_len[i]):
            s = i * row_cap + k
            j = t.post[s]
            if j < 0 or j >= n_post:
                return 2
            c = t.col_pos[s]
            if c < 0 or c >= t.col_len[j]:
                return 3
            if t.col_syn[j * col_cap + c] != s:
                return 4
            seen[j] += 1
    for j in range(n_post):
        if t.col_len[j] != seen[j] or t.col_len[j] > col_cap:
            return 5
    return 0


_CHECK_MESSAGES = {
    1: "row length out of range",
    2: "postsynaptic index out of range",
    3: "column position out of range",
    4: "column index does not point back to its synapse",
    5: "in-degree does not match the rows",
    6: "array sizes do not match the table dimensions",
}


class SynapseTable:
    """Host-side handle of one ragged synapse table."""

    def __init__(self, arrays: TableArrays) -> None:
        self.arrays = arrays

    @classmethod
    def empty(cls, n_pre: int, n_post: int, row_cap: int, col_cap: int) -> SynapseTable:
        """A table with no synapses."""
        return cls(empty_table(n_pre, n_post, row_cap, col_cap))

    @property
    def n_pre(self) -> int:
        """Number of presynaptic rows."""
        return int(self.arrays.dims[D_N_PRE])

    @property
    def n_post(self) -> int:
        """Number of postsynaptic neurons."""
        return int(self.arrays.dims[D_N_POST])

    @property
    def row_cap(self) -> int:
        """Capacity of every row."""
        return int(self.arrays.dims[D_ROW_CAP])

    @property
    def col_cap(self) -> int:
        """Capacity of every column."""
        return int(self.arrays.dims[D_COL_CAP])

    @property
    def n_synapses(self) -> int:
        """Number of synapses stored."""
        return int(self.arrays.row_len.sum())

    @property
    def in_degree(self) -> NDArray[np.int32]:
        """In-degree of every postsynaptic neuron (a copy)."""
        return self.arrays.col_len.copy()

    @property
    def refused(self) -> int:
        """Formations refused because a row or column was full."""
        return int(self.arrays.stats[S_REFUSED_ROW] + self.arrays.stats[S_REFUSED_COL])

    def add(self, pre: int, post: int, weight: float) -> bool:
        """Add ``pre -> post``; False if refused because storage is full."""
        self._check_pre(pre)
        if not 0 <= post < self.n_post:
            raise IndexError(f"postsynaptic index {post} out of range [0, {self.n_post})")
        return bool(add_synapse(self.arrays, np.int64(pre), np.int64(post), np.float32(weight)))

    def remove(self, pre: int, k: int) -> None:
        """Remove synapse ``k`` of row ``pre``."""
        self._check_pre(pre)
        if not 0 <= k < self.arrays.row_len[pre]:
            raise IndexError(f"row {pre} has no synapse {k} (length {self.arrays.row_len[pre]})")
        remove_synapse(self.arrays, np.int64(pre), np.int64(k))

    def row(self, pre: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Postsynaptic indices and weights of row ``pre`` (copies)."""
        self._check_pre(pre)
        a, cap = self.arrays, self.row_cap
        n = int(a.row_len[pre])
        return a.post[pre * cap : pre * cap + n].copy(), a.weight[pre * cap : pre * cap + n].copy()

    def to_coo(self) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]]:
        """``(pre, post, weight)`` of every synapse, row by row (copies)."""
        return table_to_coo(self.arrays)

    def check(self) -> None:
        """Raise ``AssertionError`` naming the first broken invariant, if any."""
        code = int(_check(self.arrays))
        if code:
            raise AssertionError(f"synapse table invariant broken: {_CHECK_MESSAGES[code]}")

    def copy(self) -> SynapseTable:
        """A deep copy."""
        return SynapseTable(TableArrays._make(a.copy() for a in self.arrays))

    def _check_pre(self, pre: int) -> None:
        if not 0 <= pre < self.n_pre:
            raise IndexError(f"presynaptic index {pre} out of range [0, {self.n_pre})")


def table_to_coo(t: TableArrays) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]]:
    """``(pre, post, weight)`` of every synapse of a table, row by row."""
    n_pre, row_cap = int(t.dims[D_N_PRE]), int(t.dims[D_ROW_CAP])
    mask = np.arange(row_cap)[None, :] < t.row_len[:, None]
    flat = mask.ravel()
    pre = np.repeat(np.arange(n_pre, dtype=np.int32), t.row_len)
    return pre, t.post[flat].copy(), t.weight[flat].copy()
