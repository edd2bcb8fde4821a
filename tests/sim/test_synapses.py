"""Tests of ``sim.synapses``: ragged synapse tables with a column index.

The core is a Hypothesis state machine that drives a small :class:`SynapseTable`
(so rows and columns fill up) with random additions and removals and compares
it after every operation with a plain Python oracle: one list of
``(post, weight)`` per row, with the documented "last synapse fills the hole"
removal rule.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sim.synapses import (
    S_FORMED,
    S_REFUSED_COL,
    S_REFUSED_ROW,
    S_REMOVED,
    SynapseTable,
    TableArrays,
    empty_table,
    find_synapse,
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
