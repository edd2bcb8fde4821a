"""Tests of ``sim.synapses``: ragged synapse tables with declared variables and an optional column index.

The core is a set of Hypothesis state machines that drive small tables (so rows
and columns fill up) with random additions, removals and variable updates and
compare them after every operation with a plain Python oracle: one list of
synapses per row, with the documented "last synapse fills the hole" removal
rule. :class:`TableMachine` drives the plain weighted table
(:class:`~sim.synapses.TableArrays`); :class:`DeclaredTableMachine` a table
with two declared variables and one per-lane variable, with and without a
column index.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from numba import njit
from numba.core.errors import TypingError
from numpy.typing import NDArray

from sim.synapses import (
    D_COL_CAP,
    S_FORMED,
    S_REFUSED_COL,
    S_REFUSED_ROW,
    S_REMOVED,
    SynapseTable,
    SynapseVariable,
    TableArrays,
    TableSpec,
    add_synapse,
    check_table,
    empty_table,
    find_synapse,
    remove_synapse,
    synapse_table,
    table_spec,
    table_to_coo,
)

N_PRE, N_POST, ROW_CAP, COL_CAP = 4, 3, 3, 4

weights = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, width=32)


class TableMachine(RuleBasedStateMachine):
    """Random add/remove sequences on a small table, checked against a list-of-rows oracle."""

    def __init__(self) -> None:
        super().__init__()
        self.table = SynapseTable.empty(N_PRE, N_POST, ROW_CAP, COL_CAP)
        self.rows: list[list[tuple[int, np.float32]]] = [[] for _ in range(N_PRE)]
        self.formed = 0
        self.removed = 0
        self.refused_row = 0
        self.refused_col = 0

    def col_counts(self) -> list[int]:
        counts = [0] * N_POST
        for row in self.rows:
            for post, _ in row:
                counts[post] += 1
        return counts

    @rule(pre=st.integers(0, N_PRE - 1), post=st.integers(0, N_POST - 1), w=weights)
    def add(self, pre: int, post: int, w: float) -> None:
        """Add a synapse; a full row (checked first) or full column refuses and writes nothing."""
        before = {name: arr.copy() for name, arr in zip(TableArrays._fields, self.table.arrays, strict=True)}
        ok = self.table.add(pre, post, w)
        row_full = len(self.rows[pre]) >= ROW_CAP
        col_full = self.col_counts()[post] >= COL_CAP
        assert ok == (not row_full and not col_full)
        if ok:
            self.rows[pre].append((post, np.float32(w)))
            self.formed += 1
            return
        if row_full:
            self.refused_row += 1
        else:
            self.refused_col += 1
        # A refusal changes nothing but the refusal counters.
        for name, arr in zip(TableArrays._fields, self.table.arrays, strict=True):
            if name != "stats":
                np.testing.assert_array_equal(arr, before[name], err_msg=f"{name} changed by a refused add")

    @precondition(lambda self: any(self.rows))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        """Remove synapse k of a non-empty row; the row's last synapse moves into the hole."""
        pre = data.draw(st.sampled_from([i for i, row in enumerate(self.rows) if row]))
        k = data.draw(st.integers(0, len(self.rows[pre]) - 1))
        self.table.remove(pre, k)
        row = self.rows[pre]
        row[k] = row[-1]
        row.pop()
        self.removed += 1

    @rule(pre=st.integers(0, N_PRE - 1), extra=st.integers(0, 2))
    def remove_out_of_range(self, pre: int, extra: int) -> None:
        """Removing a position at or beyond the row length raises IndexError and changes nothing."""
        k = len(self.rows[pre]) + extra
        with pytest.raises(IndexError):
            self.table.remove(pre, k)

    @rule(pre=st.integers(0, N_PRE - 1), post=st.integers(0, N_POST - 1))
    def find(self, pre: int, post: int) -> None:
        """``find_synapse`` returns the first position of ``post`` in the row, or -1."""
        expected = next((k for k, (p, _) in enumerate(self.rows[pre]) if p == post), -1)
        assert find_synapse(self.table.arrays, np.int64(pre), np.int64(post)) == expected

    @invariant()
    def invariants_hold(self) -> None:
        """``check()`` passes after every operation."""
        self.table.check()

    @invariant()
    def storage_past_the_lengths_is_clear(self) -> None:
        """Slots past a row's or column's length hold zeros: equal histories give equal arrays."""
        a = self.table.arrays
        for i in range(N_PRE):
            tail = slice(i * ROW_CAP + int(a.row_len[i]), (i + 1) * ROW_CAP)
            for name in ("post", "weight", "col_pos"):
                assert not getattr(a, name)[tail].any(), f"row {i}: {name} past the row length"
        for j in range(N_POST):
            assert not a.col_syn[j * COL_CAP + int(a.col_len[j]) : (j + 1) * COL_CAP].any(), f"column {j}"

    @invariant()
    def matches_oracle(self) -> None:
        """Rows (in order), COO view, in-degree and counters all equal the oracle's."""
        pre, post, weight = self.table.to_coo()
        exp_pre = [i for i, row in enumerate(self.rows) for _ in row]
        exp_post = [p for row in self.rows for p, _ in row]
        exp_w = [w for row in self.rows for _, w in row]
        assert pre.tolist() == exp_pre
        assert post.tolist() == exp_post
        np.testing.assert_array_equal(weight, np.array(exp_w, np.float32))
        for i, row in enumerate(self.rows):
            rp, rw = self.table.row(i)
            assert rp.tolist() == [p for p, _ in row]
            np.testing.assert_array_equal(rw, np.array([w for _, w in row], np.float32))
        assert self.table.in_degree.tolist() == self.col_counts()
        assert self.table.n_synapses == sum(len(r) for r in self.rows)
        stats = self.table.arrays.stats
        assert int(stats[S_FORMED]) == self.formed
        assert int(stats[S_REMOVED]) == self.removed
        assert int(stats[S_REFUSED_ROW]) == self.refused_row
        assert int(stats[S_REFUSED_COL]) == self.refused_col
        assert self.table.refused == self.refused_row + self.refused_col


TableMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestTableMachine = TableMachine.TestCase


# --------------------------------------------------------------------------- direct tests


def filled_table() -> SynapseTable:
    """A 3 x 3 table with a few synapses, including a multapse 0 -> 1."""
    t = SynapseTable.empty(3, 3, 4, 4)
    for pre, post, w in [(0, 1, 0.1), (0, 2, 0.2), (0, 1, 0.3), (1, 1, 0.4), (2, 0, 0.5)]:
        assert t.add(pre, post, w)
    return t


def test_full_row_refuses_and_counts_once() -> None:
    """A full row refuses, leaves its neighbours' storage untouched and counts exactly one refusal."""
    t = SynapseTable.empty(2, 5, 2, 8)
    assert t.add(0, 0, 0.1)
    assert t.add(0, 1, 0.2)
    assert t.add(1, 4, 0.7)
    before = t.copy()
    assert not t.add(0, 2, 0.3)
    assert t.arrays.stats[S_REFUSED_ROW] == 1
    assert t.arrays.stats[S_REFUSED_COL] == 0
    assert t.refused == 1
    np.testing.assert_array_equal(t.arrays.post, before.arrays.post)
    np.testing.assert_array_equal(t.arrays.weight, before.arrays.weight)
    assert t.row(1)[0].tolist() == [4]
    t.check()


def test_full_column_refuses_and_counts_once() -> None:
    """A full column refuses and counts one column refusal; the row stays as it was."""
    t = SynapseTable.empty(4, 2, 4, 2)
    assert t.add(0, 1, 0.1)
    assert t.add(1, 1, 0.1)
    assert not t.add(2, 1, 0.1)
    assert t.arrays.stats[S_REFUSED_COL] == 1
    assert t.arrays.stats[S_REFUSED_ROW] == 0
    assert t.arrays.row_len[2] == 0
    assert t.in_degree.tolist() == [0, 2]
    assert t.add(2, 0, 0.1)
    t.check()


def test_remove_moves_last_into_hole() -> None:
    """Removing synapse 0 of row 0 moves the row's last synapse (0 -> 1, w 0.3) to position 0."""
    t = filled_table()
    t.remove(0, 0)
    posts, ws = t.row(0)
    assert posts.tolist() == [1, 2]
    np.testing.assert_array_equal(ws, np.array([0.3, 0.2], np.float32))
    assert t.in_degree.tolist() == [1, 2, 1]
    t.check()


def test_find_synapse_first_match_and_absent() -> None:
    """``find_synapse`` finds the first of a multapse and -1 for an absent pair."""
    t = filled_table()
    a = t.arrays
    assert find_synapse(a, np.int64(0), np.int64(1)) == 0
    assert find_synapse(a, np.int64(0), np.int64(2)) == 1
    assert find_synapse(a, np.int64(0), np.int64(0)) == -1
    assert find_synapse(a, np.int64(1), np.int64(1)) == 0
    assert find_synapse(a, np.int64(1), np.int64(2)) == -1


def test_index_errors() -> None:
    """Out-of-range presynaptic or postsynaptic indices raise IndexError instead of writing."""
    t = filled_table()
    with pytest.raises(IndexError):
        t.add(3, 0, 0.1)
    with pytest.raises(IndexError):
        t.add(-1, 0, 0.1)
    with pytest.raises(IndexError):
        t.add(0, 3, 0.1)
    with pytest.raises(IndexError):
        t.remove(1, 1)
    with pytest.raises(IndexError):
        t.row(5)


@pytest.mark.parametrize("sizes", [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)])
def test_empty_table_rejects_non_positive_sizes(sizes: tuple[int, int, int, int]) -> None:
    """Every size and capacity must be positive."""
    with pytest.raises(ValueError):
        empty_table(*sizes)


def test_copy_is_deep() -> None:
    """``copy()`` shares no array with the original."""
    t = filled_table()
    c = t.copy()
    c.add(1, 0, 0.9)
    c.remove(0, 0)
    assert t.n_synapses == 5
    assert t.row(0)[0].tolist() == [1, 2, 1]
    t.check()
    c.check()


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda a: a.row_len.__setitem__(0, 9), "row length out of range"),
        (lambda a: a.post.__setitem__(0, 7), "postsynaptic index out of range"),
        (lambda a: a.col_pos.__setitem__(0, 3), "column position out of range"),
        (lambda a: a.col_syn.__setitem__(1 * 4 + 0, 2), "does not point back"),
        (lambda a: a.col_len.__setitem__(2, 2), "in-degree does not match"),
    ],
)
def test_check_detects_corruption(corrupt, message: str) -> None:  # type: ignore[no-untyped-def]
    """``check()`` names the first broken invariant of a corrupted table."""
    t = filled_table()
    t.check()
    corrupt(t.arrays)
    with pytest.raises(AssertionError, match=message):
        t.check()


# --------------------------------------------------------------------------- declared variables

#: Batch lanes of the per-lane variable of the declared test tables.
LANES = 3


@synapse_table(
    SynapseVariable("weight", np.float32),
    SynapseVariable("sign", np.int32),
    SynapseVariable("trace", np.float32, per_lane=True),
)
class TracedTable(NamedTuple):
    """Two declared variables and a per-lane one, with a column index."""

    row_len: NDArray[np.int32]
    post: NDArray[np.int32]
    weight: NDArray[np.float32]
    sign: NDArray[np.int32]
    trace: NDArray[np.float32]  # (lanes, n_pre * row_cap)
    col_pos: NDArray[np.int32]
    col_len: NDArray[np.int32]
    col_syn: NDArray[np.int32]
    dims: NDArray[np.int64]
    stats: NDArray[np.int64]


@synapse_table(
    SynapseVariable("weight", np.float32),
    SynapseVariable("sign", np.int32),
    SynapseVariable("trace", np.float32, per_lane=True),
    column_index=False,
)
class RowTable(NamedTuple):
    """The same variables without a column index (the in-degree is still kept)."""

    row_len: NDArray[np.int32]
    post: NDArray[np.int32]
    weight: NDArray[np.float32]
    sign: NDArray[np.int32]
    trace: NDArray[np.float32]  # (lanes, n_pre * row_cap)
    col_len: NDArray[np.int32]
    dims: NDArray[np.int64]
    stats: NDArray[np.int64]


DECLARED_TABLES = (TracedTable, RowTable)
signs = st.sampled_from([-1, 1])
traces = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, width=32)


def empty_declared(table: type[Any], n_pre: int = N_PRE, n_post: int = N_POST) -> SynapseTable[Any]:
    """An empty table of the declared type ``table`` (columns of COL_CAP if it keeps a column index)."""
    col_cap = COL_CAP if table_spec(table).column_index else 0
    return SynapseTable.empty(n_pre, n_post, ROW_CAP, col_cap, table=table, lanes=LANES)


class Synapse(NamedTuple):
    """The oracle's synapse: its target and the values of its variables."""

    post: int
    weight: np.float32
    sign: np.int32
    trace: tuple[np.float32, ...]  # one per lane


def synapse_at(t: Any, s: int) -> Synapse:
    """The synapse in slot ``s`` of a declared test table, as the oracle holds it."""
    return Synapse(int(t.post[s]), t.weight[s], t.sign[s], tuple(t.trace[:, s]))


class DeclaredTableMachine(RuleBasedStateMachine):
    """Random adds, removes and updates on a table with declared variables, against a list-of-rows oracle."""

    TABLE: type[Any] = TracedTable

    def __init__(self) -> None:
        super().__init__()
        self.table = empty_declared(self.TABLE)
        self.columns = table_spec(self.TABLE).column_index
        self.rows: list[list[Synapse]] = [[] for _ in range(N_PRE)]
        self.formed = self.removed = self.refused_row = self.refused_col = 0

    def col_counts(self) -> list[int]:
        counts = [0] * N_POST
        for row in self.rows:
            for syn in row:
                counts[syn.post] += 1
        return counts

    def _add(self, pre: int, post: int, init: tuple[float, ...]) -> None:
        before = {name: arr.copy() for name, arr in self.table.arrays._asdict().items()}
        ok = self.table.add(pre, post, *init)
        row_full = len(self.rows[pre]) >= ROW_CAP
        col_full = self.columns and self.col_counts()[post] >= COL_CAP
        assert ok == (not row_full and not col_full)
        if ok:
            w, sign, trace = init or (0.0, 0, 0.0)
            self.rows[pre].append(Synapse(post, np.float32(w), np.int32(sign), (np.float32(trace),) * LANES))
            self.formed += 1
            return
        if row_full:
            self.refused_row += 1
        else:
            self.refused_col += 1
        for name, arr in self.table.arrays._asdict().items():
            if name != "stats":
                np.testing.assert_array_equal(arr, before[name], err_msg=f"{name} changed by a refused add")

    @rule(pre=st.integers(0, N_PRE - 1), post=st.integers(0, N_POST - 1), w=weights, sign=signs, trace=traces)
    def add(self, pre: int, post: int, w: float, sign: int, trace: float) -> None:
        """Add with initial values (the per-lane trace takes its value in every lane)."""
        self._add(pre, post, (w, sign, trace))

    @rule(pre=st.integers(0, N_PRE - 1), post=st.integers(0, N_POST - 1))
    def add_zeros(self, pre: int, post: int) -> None:
        """Add without initial values: every variable starts at zero."""
        self._add(pre, post, ())

    @precondition(lambda self: any(self.rows))
    @rule(data=st.data(), w=weights, sign=signs, trace=st.lists(traces, min_size=LANES, max_size=LANES))
    def update(self, data: st.DataObject, w: float, sign: int, trace: list[float]) -> None:
        """A kernel writes new values into a live synapse (a later removal must move these)."""
        pre = data.draw(st.sampled_from([i for i, row in enumerate(self.rows) if row]))
        k = data.draw(st.integers(0, len(self.rows[pre]) - 1))
        a = self.table.arrays
        s = pre * ROW_CAP + k
        a.weight[s], a.sign[s], a.trace[:, s] = w, sign, trace
        self.rows[pre][k] = synapse_at(a, s)

    @precondition(lambda self: any(self.rows))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        """Remove synapse k of a non-empty row; the row's last synapse, every variable, fills the hole."""
        pre = data.draw(st.sampled_from([i for i, row in enumerate(self.rows) if row]))
        k = data.draw(st.integers(0, len(self.rows[pre]) - 1))
        self.table.remove(pre, k)
        row = self.rows[pre]
        row[k] = row[-1]
        row.pop()
        self.removed += 1

    @rule(pre=st.integers(0, N_PRE - 1), post=st.integers(0, N_POST - 1))
    def find(self, pre: int, post: int) -> None:
        expected = next((k for k, syn in enumerate(self.rows[pre]) if syn.post == post), -1)
        assert self.table.find(pre, post) == expected

    @invariant()
    def invariants_hold(self) -> None:
        self.table.check()

    @invariant()
    def storage_past_the_lengths_is_clear(self) -> None:
        """Every per-synapse array, in every lane, is zero past a row's length (col_syn past a column's)."""
        a = self.table.arrays
        per_synapse = ["post", "weight", "sign", "trace", *(["col_pos"] if self.columns else [])]
        for i in range(N_PRE):
            tail = slice(i * ROW_CAP + int(a.row_len[i]), (i + 1) * ROW_CAP)
            for name in per_synapse:
                assert not getattr(a, name)[..., tail].any(), f"row {i}: {name} past the row length"
        if self.columns:
            for j in range(N_POST):
                assert not a.col_syn[j * COL_CAP + int(a.col_len[j]) : (j + 1) * COL_CAP].any(), f"column {j}"

    @invariant()
    def matches_oracle(self) -> None:
        """Rows (in order, every variable in every lane), in-degree and counters equal the oracle's."""
        a = self.table.arrays
        for i, row in enumerate(self.rows):
            assert int(a.row_len[i]) == len(row)
            got = [synapse_at(a, i * ROW_CAP + k) for k in range(len(row))]
            assert got == row, f"row {i}"
        assert self.table.in_degree.tolist() == self.col_counts()
        stats = a.stats
        assert (int(stats[S_FORMED]), int(stats[S_REMOVED])) == (self.formed, self.removed)
        assert (int(stats[S_REFUSED_ROW]), int(stats[S_REFUSED_COL])) == (self.refused_row, self.refused_col)


class RowTableMachine(DeclaredTableMachine):
    """The same on a table without a column index."""

    TABLE = RowTable


for _machine in (DeclaredTableMachine, RowTableMachine):
    _machine.TestCase.settings = settings(
        max_examples=50, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
TestDeclaredTableMachine = DeclaredTableMachine.TestCase
TestRowTableMachine = RowTableMachine.TestCase


@njit(cache=True)
def _apply_in_kernel(t: Any, ops: NDArray[np.int64], values: NDArray[np.float64]) -> int:
    """Apply ``ops`` rows (kind 0 remove the first pre -> post, 1 add; pre; post) in compiled code."""
    for a in range(ops.shape[0]):
        pre, post = ops[a, 1], ops[a, 2]
        if ops[a, 0] == 0:
            k = find_synapse(t, pre, post)
            if k >= 0:
                remove_synapse(t, pre, k)
        else:
            init = (np.float32(values[a, 0]), np.int32(values[a, 1]), np.float32(values[a, 2]))
            add_synapse(t, pre, post, init)
    return check_table(t)


def random_ops(
    rng: np.random.Generator, n: int, n_pre: int, n_post: int
) -> tuple[NDArray[np.int64], NDArray[Any]]:
    """``n`` random operations (kind, pre, post) and the initial values of each (weight, sign, trace)."""
    ops = np.stack(
        [rng.integers(0, 2, n), rng.integers(0, n_pre, n), rng.integers(0, n_post, n)], axis=1
    ).astype(np.int64)
    values = np.stack(
        [rng.random(n).astype(np.float32), rng.choice([-1, 1], n), rng.standard_normal(n).astype(np.float32)],
        axis=1,
    )
    return ops, values


@pytest.mark.parametrize("table", DECLARED_TABLES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernels_use_the_operations_on_declared_tables(table: type[Any], seed: int) -> None:
    """An ``njit`` kernel adds and removes on a declared table exactly as the host handle does."""
    ops, values = random_ops(np.random.default_rng(seed), 400, 6, 5)
    in_kernel = SynapseTable.empty(
        6, 5, 4, 4 if table_spec(table).column_index else 0, table=table, lanes=LANES
    )
    by_host = in_kernel.copy()
    assert _apply_in_kernel(in_kernel.arrays, ops, values) == 0
    for (kind, pre, post), (w, sign, trace) in zip(ops.tolist(), values.tolist(), strict=True):
        if kind == 0:
            k = by_host.find(pre, post)
            if k >= 0:
                by_host.remove(pre, k)
        else:
            by_host.add(pre, post, w, sign, trace)
    for name, arr in in_kernel.arrays._asdict().items():
        np.testing.assert_array_equal(arr, getattr(by_host.arrays, name), err_msg=name)
    assert in_kernel.arrays.stats[S_REMOVED] > 0 and in_kernel.refused > 0


def test_declared_layout() -> None:
    """The declaration orders the fields, numbers the lanes and allocates each variable with its dtype."""
    spec = table_spec(TracedTable)
    assert spec.fields == TracedTable._fields
    assert spec.names == ("weight", "sign", "trace") and spec.per_lane_mask == 0b100
    assert table_spec(RowTable).fields == RowTable._fields
    assert table_spec(TableArrays) == TableSpec((SynapseVariable("weight", np.float32),), column_index=True)
    t = empty_table(4, 3, 2, 5, table=TracedTable, lanes=7)
    assert (t.weight.dtype, t.sign.dtype, t.trace.dtype) == (np.float32, np.int32, np.float32)
    assert t.weight.shape == t.sign.shape == t.post.shape == t.col_pos.shape == (8,)
    assert t.trace.shape == (7, 8) and t.col_syn.shape == (15,)
    r = empty_table(4, 3, 2, 0, table=RowTable)
    assert r.trace.shape == (1, 8) and r.dims[D_COL_CAP] == 0 and r.col_len.shape == (3,)


def test_a_table_without_a_column_index_refuses_only_full_rows() -> None:
    """No column capacity: a target takes any number of synapses, and the in-degree stays current."""
    t = SynapseTable.empty(6, 2, 1, 0, table=RowTable, lanes=2)
    for pre in range(6):
        assert t.add(pre, 1, 0.5, -1, 0.25)
    assert not t.add(0, 0)
    assert t.arrays.stats[S_REFUSED_ROW] == 1 and t.arrays.stats[S_REFUSED_COL] == 0
    assert t.in_degree.tolist() == [0, 6]
    t.remove(2, 0)
    assert t.in_degree.tolist() == [0, 5]
    pre, post, trace = table_to_coo(t.arrays, "trace")
    assert pre.tolist() == [0, 1, 3, 4, 5] and post.tolist() == [1] * 5
    np.testing.assert_array_equal(trace, np.full((2, 5), 0.25, np.float32))
    t.check()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SynapseVariable("weight", np.float64), TypeError, "float32 or int32"),
        (lambda: SynapseVariable("col_len"), ValueError, "every table has"),
        (lambda: SynapseVariable("not a name"), ValueError, "identifier"),
        (lambda: TableSpec((SynapseVariable("w"), SynapseVariable("w"))), ValueError, "declared twice: w"),
        (lambda: empty_table(2, 2, 2, 3, table=RowTable), ValueError, "column capacity must be 0"),
        (lambda: empty_table(2, 2, 2, 3, table=TracedTable, lanes=0), ValueError, "lane"),
        (lambda: empty_table(2, 2, 2, 2, table=tuple), TypeError, "not a synapse table type"),
        (lambda: SynapseTable.empty(2, 2, 2, 0, table=RowTable).add(0, 0, 1.0), TypeError, "3 variables"),
        (
            lambda: SynapseTable.empty(2, 2, 2, 0, table=RowTable).row(0, "bias"),
            KeyError,
            "no variable 'bias'",
        ),
    ],
)
def test_declarations_refuse_what_they_cannot_hold(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_a_class_must_have_the_declared_fields_in_order() -> None:
    class Swapped(NamedTuple):
        row_len: Any
        weight: Any
        post: Any
        col_len: Any
        dims: Any
        stats: Any

    with pytest.raises(TypeError, match="row_len, post, weight, col_len, dims, stats"):
        synapse_table(SynapseVariable("weight"), column_index=False)(Swapped)


def test_compiled_add_wants_one_value_per_variable() -> None:
    """A single number initialises a table of one variable only; compiling otherwise names the variables."""
    t = empty_table(2, 2, 2, 0, table=RowTable)
    with pytest.raises(TypingError, match="weight, sign, trace"):
        add_synapse(t, np.int64(0), np.int64(1), np.float32(1.0))


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda a: a.col_len.__setitem__(0, 3), "in-degree does not match"),
        (lambda a: a.post.__setitem__(0, 9), "postsynaptic index out of range"),
        (lambda a: a.dims.__setitem__(D_COL_CAP, 2), "array sizes do not match"),
    ],
)
def test_check_of_a_table_without_a_column_index(corrupt: Any, message: str) -> None:
    t = SynapseTable.empty(3, 3, 2, 0, table=RowTable)
    assert t.add(0, 1) and t.add(2, 1) and t.add(2, 0)
    t.check()
    corrupt(t.arrays)
    with pytest.raises(AssertionError, match=message):
        t.check()
