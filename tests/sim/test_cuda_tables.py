"""The CUDA twin of the synapse tables (``tables.cuh``, ``batch.cuh``) agrees with ``sim.synapses``.

Tables of the declared test types of ``test_synapses`` (two variables and a
per-lane one, with and without a column index) are copied to the CUDA emulator
(tests/support/cuda_emulator), changed there, and compared array by array with
the same changes made on the CPU:

* a random sequence of additions and removals, one after another on one
  thread (``rl_table_add``, ``rl_table_remove``, ``rl_table_find``);
* a random batch of operations on distinct pairs, applied by a block
  (``rl_batch_apply``), against the serial loop in pair order; and a batch
  that would fill a row, which must change nothing.

The kernels see each table through a pointer table in the order of its Python
declaration, with the generated enums of :mod:`sim.backends.cuda.codegen`. The
same kernels also compile for a GPU (nvcc, where installed): the topographic
map's module instantiates only its own table type.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from sim.backends.cuda import HEADER_DIR
from sim.backends.cuda.codegen import enum_header, table_enums, table_interface_enums
from sim.backends.cuda.device import Kernel
from sim.synapses import S_FORMED, S_REMOVED, SynapseTable, table_spec
from tests.sim.test_synapses import LANES, RowTable, TracedTable, random_ops
from tests.support.cuda_emulator import SCHEDULES, EmulatedDevice, emulator_unavailable_reason

REASON = emulator_unavailable_reason()

#: Bits of a batch key below the pair (the operation's index, as the topographic map keeps a uniform there).
KEY_SHIFT = 24
#: A reason not to apply a batch that the tests pass in (and expect back).
CAPACITY = 7
THREADS = 64

KERNELS = r"""
#include "tables.cuh"
#include "batch.cuh"

using Traced = RlTable<TR_N_VARS, TR_FLOATS, TR_PER_LANE, TR_COLUMN_INDEX != 0>;
using Rows = RlTable<RT_N_VARS, RT_FLOATS, RT_PER_LANE, RT_COLUMN_INDEX != 0>;
static_assert(Traced::n_fields == TR_N_FIELDS && Rows::n_fields == RT_N_FIELDS, "fields");

// Operation op's initial value of variable v: values[op * n_vars + v].
struct InitFrom {
    const double* values;
    int n_vars;
    __device__ double operator()(long long op, int v) const { return values[op * n_vars + v]; }
};

// ops: (n, 3) rows (kind: 0 remove the first pre -> post if any, 1 add; pre; post), one after another.
template <class Table>
__device__ void serial(const unsigned long long* ptrs, long long lanes, const long long* ops, long long n,
                       const double* values)
{
    if (threadIdx.x != 0) return;
    Table t = rl_table_view<Table>(ptrs, 0, lanes);
    for (long long a = 0; a < n; ++a) {
        const long long pre = ops[3 * a + 1], post = ops[3 * a + 2];
        if (ops[3 * a] == 0) {
            const long long k = rl_table_find(t, pre, post);
            if (k >= 0) rl_table_remove(t, pre, k);
        } else {
            rl_table_add(t, pre, post, InitFrom{values + a * Table::n_vars, 0});
        }
    }
}

// A batch: sorted keys, each operation's RL_OP_*; a removal's slot is found here (the first synapse of
// the pair). result: the number of changes, or -(the reason) when the batch was not applied.
template <class Table>
__device__ void batch(const unsigned long long* ptrs, long long lanes, const unsigned long long* keys,
                      const int* ops, long long n, const double* values, int first_reason, int* op, int* arg,
                      unsigned long long* cols, int* pos, int* order, int* result)
{
    __shared__ int scan[1025];
    __shared__ int flag;
    Table t = rl_table_view<Table>(ptrs, 0, lanes);
    if (threadIdx.x == 0) flag = first_reason;
    for (long long a = threadIdx.x; a < n; a += blockDim.x) {
        const long long key = static_cast<long long>(keys[a] >> KEY_SHIFT);
        const long long pre = key / t.n_post;
        op[a] = ops[a];
        const long long k = ops[a] == RL_OP_REMOVE ? rl_table_find(t, pre, key - pre * t.n_post) : -1;
        arg[a] = k >= 0 ? static_cast<int>(pre * t.row_cap + k) : -1;
    }
    const RlBatch b{keys, KEY_SHIFT, n, op, arg, cols, pos, order};
    int changes = 0;
    const int reason = rl_batch_apply(t, b, InitFrom{values, Table::n_vars}, scan, &flag, CAPACITY, &changes);
    if (threadIdx.x == 0) result[0] = reason != 0 ? -reason : changes;
}

extern "C" __global__ void serial_traced(const unsigned long long* ptrs, long long lanes,
                                         const long long* ops, long long n, const double* values)
{
    serial<Traced>(ptrs, lanes, ops, n, values);
}

extern "C" __global__ void serial_rows(const unsigned long long* ptrs, long long lanes, const long long* ops,
                                       long long n, const double* values)
{
    serial<Rows>(ptrs, lanes, ops, n, values);
}

extern "C" __global__ void batch_traced(const unsigned long long* ptrs, long long lanes,
                                        const unsigned long long* keys, const int* ops, long long n,
                                        const double* values, int first_reason, int* op, int* arg,
                                        unsigned long long* cols, int* pos, int* order, int* result)
{
    batch<Traced>(ptrs, lanes, keys, ops, n, values, first_reason, op, arg, cols, pos, order, result);
}

extern "C" __global__ void batch_rows(const unsigned long long* ptrs, long long lanes,
                                      const unsigned long long* keys, const int* ops, long long n,
                                      const double* values, int first_reason, int* op, int* arg,
                                      unsigned long long* cols, int* pos, int* order, int* result)
{
    batch<Rows>(ptrs, lanes, keys, ops, n, values, first_reason, op, arg, cols, pos, order, result);
}
"""
NAMES = ["serial_traced", "serial_rows", "batch_traced", "batch_rows"]
SUFFIX = {TracedTable: "traced", RowTable: "rows"}
OP_NONE, OP_REMOVE, OP_ADD = 0, 1, 2


def source() -> str:
    """The test kernels after the generated enums of the tables, as a backend compiles them."""
    enums = {
        **table_interface_enums(),
        **table_enums(TracedTable, "TR"),
        **table_enums(RowTable, "RT"),
        "": [("KEY_SHIFT", KEY_SHIFT), ("CAPACITY", CAPACITY)],
    }
    return enum_header(enums, guard="TABLE_TEST_GENERATED", generated_by=__name__) + KERNELS


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_the_kernels_compile_for_a_gpu(arch: str, tmp_path: Path) -> None:
    """The headers' table types with per-lane variables and without a column index compile with nvcc."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    module = tmp_path / "tables_test.cu"
    module.write_text(source())
    options = ["-cubin", f"-arch={arch}", "--std=c++17", "--fmad=false", f"-I{HEADER_DIR}"]
    result = subprocess.run(
        [nvcc, *options, str(module), "-o", str(tmp_path / "out.cubin")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict[str, Kernel]]:
    """Kernels per emulator schedule, all from one compiled library."""
    if REASON is not None:
        pytest.skip(REASON)
    out = {}
    for schedule in SCHEDULES:
        device = EmulatedDevice(schedule=schedule)
        out[schedule] = {"device": device, **device.compile(source(), ("-I", str(HEADER_DIR)), NAMES)}
    return out


def filled(
    table: type[Any], rng: np.random.Generator, n_pre: int, n_post: int, row_cap: int, col_cap: int
) -> SynapseTable[Any]:
    """A table of type ``table`` with random synapses (no pair twice), some removed (rows out of order)."""
    col_cap = col_cap if table_spec(table).column_index else 0
    t = SynapseTable.empty(n_pre, n_post, row_cap, col_cap, table=table, lanes=LANES)
    ops, values = random_ops(rng, 6 * n_pre * row_cap, n_pre, n_post)
    for (kind, pre, post), (w, sign, trace) in zip(ops.tolist(), values.tolist(), strict=True):
        k = t.find(pre, post)
        if k < 0 and (kind == 1 or rng.random() < 0.7):
            t.add(pre, post, w, sign, trace)
        elif k >= 0 and kind == 0:
            t.remove(pre, k)
    t.arrays.trace[:] = rng.standard_normal(t.arrays.trace.shape).astype(np.float32)  # each lane its own
    t.arrays.trace[:, ~live_slots(t)] = 0.0
    t.check()
    return t


def live_slots(t: SynapseTable[Any]) -> NDArray[np.bool_]:
    return (np.arange(t.row_cap)[None, :] < t.arrays.row_len[:, None]).ravel()


def on_device(device: EmulatedDevice, t: SynapseTable[Any]) -> tuple[dict[str, Any], Any]:
    """Device copies of the table's arrays and the pointer table (in the declaration's field order)."""
    arrays = {name: device.to_device(np.ascontiguousarray(a)) for name, a in t.arrays._asdict().items()}
    ptrs = device.to_device(np.array([device.address(arrays[f]) for f in t.spec.fields], np.uint64))
    return arrays, ptrs


def assert_same(device: EmulatedDevice, arrays: dict[str, Any], expected: SynapseTable[Any]) -> None:
    for name, want in expected.arrays._asdict().items():
        np.testing.assert_array_equal(device.to_host(arrays[name]).reshape(want.shape), want, err_msg=name)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("table", [TracedTable, RowTable], ids=lambda t: t.__name__)
@pytest.mark.parametrize("seed", [1, 2])
def test_serial_operations_match_the_cpu(
    compiled: dict[str, dict[str, Any]], schedule: str, table: type[Any], seed: int
) -> None:
    """A random sequence of adds and removes (rows and columns fill) ends in the CPU's arrays, bit for bit."""
    rng = np.random.default_rng(seed)
    device, kernel = compiled[schedule]["device"], compiled[schedule][f"serial_{SUFFIX[table]}"]
    t = filled(table, rng, 7, 5, 4, 6)
    arrays, ptrs = on_device(device, t)
    ops, values = random_ops(rng, 300, 7, 5)
    kernel(
        (1,),
        (32,),
        (
            ptrs,
            np.int64(LANES),
            device.to_device(ops.ravel()),
            np.int64(len(ops)),
            device.to_device(values.ravel()),
        ),
    )
    for (kind, pre, post), (w, sign, trace) in zip(ops.tolist(), values.tolist(), strict=True):
        if kind == 0:
            if (k := t.find(pre, post)) >= 0:
                t.remove(pre, k)
        else:
            t.add(pre, post, w, sign, trace)
    assert t.refused > 0 and t.arrays.stats[S_REMOVED] > 0
    assert_same(device, arrays, t)


def random_batch(
    rng: np.random.Generator, t: SynapseTable[Any], n: int
) -> tuple[NDArray[np.uint64], NDArray[np.int32], NDArray[np.float64]]:
    """``n`` distinct pairs as sorted keys, each decided against ``t``: remove (present), add or nothing.

    No formation finds its row full (the columns of the tests hold every row).
    """
    pairs = np.sort(rng.choice(t.n_pre * t.n_post, n, replace=False)).astype(np.uint64)
    keys = (pairs << np.uint64(KEY_SHIFT)) | rng.integers(0, 1 << KEY_SHIFT, n).astype(np.uint64)
    ops = np.zeros(n, np.int32)
    length = t.arrays.row_len.astype(np.int64)
    for a, pair in enumerate(pairs.tolist()):
        pre, post = divmod(pair, t.n_post)
        if t.find(pre, post) >= 0:
            ops[a] = OP_REMOVE if rng.random() < 0.6 else OP_NONE
        elif length[pre] < t.row_cap and rng.random() < 0.7:
            ops[a] = OP_ADD
        length[pre] += int(ops[a] == OP_ADD) - int(ops[a] == OP_REMOVE)
    values = np.stack(
        [rng.random(n), rng.choice([-1.0, 1.0], n), rng.standard_normal(n).astype(np.float32)], axis=1
    ).astype(np.float64)
    return keys, ops, values


def run_batch(
    compiled: dict[str, Any],
    table: type[Any],
    t: SynapseTable[Any],
    batch: tuple[Any, Any, Any],
    first_reason: int = 0,
) -> tuple[int, dict[str, Any], NDArray[np.int32]]:
    device, kernel = compiled["device"], compiled[f"batch_{SUFFIX[table]}"]
    keys, ops, values = batch
    n = len(keys)
    arrays, ptrs = on_device(device, t)
    size = 2
    while size < n:
        size *= 2
    scratch = [device.zeros(n, np.int32), device.zeros(n, np.int32), device.zeros(size, np.uint64)]
    pos, order, result = device.zeros(n, np.int32), device.zeros(n, np.int32), device.zeros(1, np.int32)
    kernel(
        (1,),
        (THREADS,),
        (
            ptrs,
            np.int64(LANES),
            device.to_device(keys),
            device.to_device(ops),
            np.int64(n),
            device.to_device(values.ravel()),
            np.int32(first_reason),
            *scratch,
            pos,
            order,
            result,
        ),
    )
    return int(device.to_host(result)[0]), arrays, device.to_host(order)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("table", [TracedTable, RowTable], ids=lambda t: t.__name__)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_applied_by_a_block_matches_the_serial_loop(
    compiled: dict[str, dict[str, Any]], schedule: str, table: type[Any], seed: int
) -> None:
    """A random batch (several operations per row and column) ends as the CPU's serial loop in pair order."""
    rng = np.random.default_rng(seed)
    t = filled(table, rng, 12, 10, 9, 12)
    keys, ops, values = batch = random_batch(rng, t, 90)
    changes, arrays, order = run_batch(compiled[schedule], table, t, batch)
    before = t.copy()
    for a in range(len(keys)):
        pair = int(keys[a]) >> KEY_SHIFT
        pre, post = divmod(pair, t.n_post)
        if ops[a] == OP_REMOVE:
            t.remove(pre, t.find(pre, post))
        elif ops[a] == OP_ADD:
            assert t.add(pre, post, *values[a])
    changed = np.flatnonzero(ops != OP_NONE)
    assert changes == len(changed) and order[:changes].tolist() == changed.tolist()
    assert t.arrays.stats[S_FORMED] > before.arrays.stats[S_FORMED]
    assert t.arrays.stats[S_REMOVED] > before.arrays.stats[S_REMOVED]
    assert_same(compiled[schedule]["device"], arrays, t)


@pytest.mark.parametrize("table", [TracedTable, RowTable], ids=lambda t: t.__name__)
def test_a_batch_that_could_be_refused_changes_nothing(
    compiled: dict[str, dict[str, Any]], table: type[Any]
) -> None:
    """A formation into a full row, or a reason given by the caller, leaves the table as it was."""
    rng = np.random.default_rng(5)
    t = filled(table, rng, 12, 10, 9, 12)
    full = int(np.argmax(t.arrays.row_len))
    while t.arrays.row_len[full] < t.row_cap:
        assert t.add(full, next(p for p in range(t.n_post) if t.find(full, p) < 0), 0.5, 1, 0.5)
    free = [p for p in range(t.n_post) if t.find(full, p) < 0]
    keys = np.array([(full * t.n_post + free[0]) << KEY_SHIFT], np.uint64)
    values = np.zeros((1, 3))
    result, arrays, _ = run_batch(compiled["shuffle"], table, t, (keys, np.array([OP_ADD], np.int32), values))
    assert result == -CAPACITY
    assert_same(compiled["shuffle"]["device"], arrays, t)
    batch = random_batch(rng, t, 40)
    result, arrays, _ = run_batch(compiled["shuffle"], table, t, batch, first_reason=CAPACITY + 1)
    assert result == -(CAPACITY + 1)
    assert_same(compiled["shuffle"]["device"], arrays, t)
