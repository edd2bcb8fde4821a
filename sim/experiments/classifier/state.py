"""The sparse classifier's state: two e-prop tables, the readout, every lane's neurons, the clock.

The input -> hidden and hidden -> hidden connections are ragged synapse
tables (:class:`EpropTable`) whose declared variables are the weight, its
Adam moments and, per batch lane, the gradient accumulated over the batch
and the eligibility traces; removing a synapse moves all of them. The
tables keep no column index (nothing here walks a column). The readout is
dense. A state holds everything a run needs to continue bit for bit, mid
trial included; the data set is not part of it (it is drawn again from the
configuration and the seed).

In a *dense* configuration (``p_in`` and ``p_rec`` 1) every row is full and
in order (slot ``i * n_post + j`` holds ``i -> j``): the dense kernel reads
the weights as a matrix. The hidden -> hidden matrix keeps its diagonal at
zero weight, which the kernels hold there, so no neuron drives itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from sim.data import SpikeData
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.data import DataSizes
from sim.experiments.classifier.params import (
    N_ACC,
    N_CLOCK,
    N_SHOWN,
    TABLE_IN,
    TABLE_NAMES,
    TABLE_REC,
)
from sim.experiments.classifier.purposes import (
    PURPOSE_FEEDBACK,
    PURPOSE_ORDER,
    PURPOSE_READOUT,
    PURPOSE_SIGN,
    PURPOSE_WEIGHT,
    PURPOSE_WIRING,
)
from sim.philox import key_from_seed, philox4x32, uniform
from sim.synapses import N_STATS, S_REFUSED_ROW, SynapseVariable, synapse_table


@synapse_table(
    SynapseVariable("weight"),
    SynapseVariable("adam_m"),
    SynapseVariable("adam_v"),
    SynapseVariable("grad", per_lane=True),
    SynapseVariable("elig", per_lane=True),
    SynapseVariable("elig_a", per_lane=True),
    column_index=False,
)
class EpropTable(NamedTuple):
    """A ragged table of e-prop synapses (the fields of :func:`sim.synapses.synapse_table`)."""

    row_len: NDArray[np.int32]  # (n_pre,)
    post: NDArray[np.int32]  # (slots,)
    weight: NDArray[np.float32]  # (slots,)
    adam_m: NDArray[np.float32]  # (slots,) Adam's first moment
    adam_v: NDArray[np.float32]  # (slots,) Adam's second moment
    grad: NDArray[np.float32]  # (lanes, slots) gradient summed over the lane's trials of the batch
    elig: NDArray[np.float32]  # (lanes, slots) filtered eligibility trace eF
    elig_a: NDArray[np.float32]  # (lanes, slots) ALIF: the adaptation's eligibility vector
    col_len: NDArray[np.int32]  # (n_post,) in-degree
    dims: NDArray[np.int64]  # (4,) n_pre, n_post, row_cap, 0
    stats: NDArray[np.int64]  # (4,) formed, removed, refused (row full), refused (column full)


def copy_table(t: EpropTable) -> EpropTable:
    """A deep copy of a table."""
    return EpropTable._make(a.copy() for a in t)


@dataclass
class ClassifierState:
    """Everything a classifier run needs to continue bit for bit (host arrays)."""

    #: Input -> hidden and hidden -> hidden.
    tin: EpropTable
    trec: EpropTable
    #: Readout weights (n_hidden, n_out) and biases, their Adam moments and per-lane gradients.
    w_out: NDArray[np.float32]
    b_out: NDArray[np.float32]
    m_out: NDArray[np.float32]
    v_out: NDArray[np.float32]
    m_b: NDArray[np.float32]
    v_b: NDArray[np.float32]
    grad_out: NDArray[np.float32]  # (lanes, n_hidden, n_out)
    grad_b: NDArray[np.float32]  # (lanes, n_out)
    #: Fixed random feedback weights (n_hidden, n_out); zero with symmetric feedback.
    feedback: NDArray[np.float32]
    #: Per lane and hidden neuron: membrane potential, adaptation, spike of the last step,
    #: refractory steps left, rate seen by the regularisation (spikes per step).
    v: NDArray[np.float32]  # (lanes, n_hidden)
    a: NDArray[np.float32]
    z: NDArray[np.float32]
    refrac: NDArray[np.int32]
    f_avg: NDArray[np.float32]
    #: Filtered spike trains: inputs and hidden neurons as presynaptic, hidden as the readout sees them.
    zbar_in: NDArray[np.float32]  # (lanes, n_in)
    zbar_rec: NDArray[np.float32]  # (lanes, n_hidden)
    zout: NDArray[np.float32]  # (lanes, n_hidden)
    #: Readout potentials and their sum over the trial.
    y: NDArray[np.float32]  # (lanes, n_out)
    y_sum: NDArray[np.float32]
    #: Example of each lane in the current batch (-1: idle) and its next spike in the data.
    lane_example: NDArray[np.int32]  # (lanes,)
    lane_ptr: NDArray[np.int64]  # (lanes,)
    #: The current epoch's order of the training examples.
    order: NDArray[np.int32]  # (n_train,)
    #: Clock (params.C_*) and batch accumulators (params.A_*).
    clock: NDArray[np.int64]
    acc: NDArray[np.float64]
    #: Lane 0's hidden spikes and readout over the current trial, and over the last completed one
    #: (``shown_info``: example, label, prediction, epoch, batch, and 1 for a training example).
    trace_z: NDArray[np.uint8]  # (n_steps, n_hidden)
    trace_y: NDArray[np.float32]  # (n_steps, n_out)
    shown_z: NDArray[np.uint8]
    shown_y: NDArray[np.float32]
    shown_info: NDArray[np.int64]  # (N_SHOWN,)
    #: The epoch's last training batch's row, held until its test accuracy is known
    #: (sim.experiments.classifier.records.BATCH_FIELDS; ``pending[0]`` is 1 while one is held).
    pending: NDArray[np.float64]

    @property
    def step(self) -> int:
        """Steps completed."""
        return int(self.clock[0])

    def tables(self) -> tuple[EpropTable, EpropTable]:
        """Input -> hidden and hidden -> hidden, in table-code order."""
        return self.tin, self.trec

    def copy(self) -> ClassifierState:
        """A deep copy."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = copy_table(value) if isinstance(value, EpropTable) else value.copy()
        return ClassifierState(**values)


# --------------------------------------------------------------------------- shapes


class TableShape(NamedTuple):
    """Rows, targets and row capacity of one table."""

    n_pre: int
    n_post: int
    row_cap: int


def table_shapes(config: ClassifierConfig, sizes: DataSizes) -> tuple[TableShape, TableShape]:
    """The shapes of the input and recurrent tables.

    A row's capacity is its expected length times ``1 + padding`` (rounded
    up, at least one, at most every possible target); dense rows hold every
    target, the recurrent ones their own diagonal too.
    """
    n_hid, c = config.network.n_hidden, config.connectivity
    if config.dense:
        return TableShape(sizes.n_in, n_hid, n_hid), TableShape(n_hid, n_hid, n_hid)

    def cap(p: float, targets: int) -> int:
        return max(1, min(targets, math.ceil(p * targets * (1.0 + c.padding))))

    return (
        TableShape(sizes.n_in, n_hid, cap(c.p_in, n_hid)),
        TableShape(n_hid, n_hid, cap(c.p_rec, n_hid - 1)),
    )


def state_layout(
    config: ClassifierConfig, sizes: DataSizes
) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every state array (the names of :func:`state_to_arrays`)."""
    from sim.experiments.classifier.records import N_BATCH_FIELDS

    lanes, n_hid, n_out = config.data.batch_size, config.network.n_hidden, sizes.n_out
    trial = config.data.n_steps
    f32, i32, i64, f64 = (np.dtype(t) for t in (np.float32, np.int32, np.int64, np.float64))
    layout: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
    for name, shape in zip(TABLE_NAMES, table_shapes(config, sizes), strict=True):
        slots = shape.n_pre * shape.row_cap
        per_table = {
            "row_len": ((shape.n_pre,), i32),
            "post": ((slots,), i32),
            "weight": ((slots,), f32),
            "adam_m": ((slots,), f32),
            "adam_v": ((slots,), f32),
            "grad": ((lanes, slots), f32),
            "elig": ((lanes, slots), f32),
            "elig_a": ((lanes, slots), f32),
            "col_len": ((shape.n_post,), i32),
            "dims": ((4,), i64),
            "stats": ((N_STATS,), i64),
        }
        for field_name, spec in per_table.items():
            layout[f"{name}.{field_name}"] = spec
    per_lane_hidden = ("v", "a", "z", "f_avg", "zbar_rec", "zout")
    layout.update(
        {
            "w_out": ((n_hid, n_out), f32),
            "b_out": ((n_out,), f32),
            "m_out": ((n_hid, n_out), f32),
            "v_out": ((n_hid, n_out), f32),
            "m_b": ((n_out,), f32),
            "v_b": ((n_out,), f32),
            "grad_out": ((lanes, n_hid, n_out), f32),
            "grad_b": ((lanes, n_out), f32),
            "feedback": ((n_hid, n_out), f32),
            **{name: ((lanes, n_hid), f32) for name in per_lane_hidden},
            "refrac": ((lanes, n_hid), i32),
            "zbar_in": ((lanes, sizes.n_in), f32),
            "y": ((lanes, n_out), f32),
            "y_sum": ((lanes, n_out), f32),
            "lane_example": ((lanes,), i32),
            "lane_ptr": ((lanes,), i64),
            "order": ((sizes.n_train,), i32),
            "trace_z": ((trial, n_hid), np.dtype(np.uint8)),
            "trace_y": ((trial, n_out), f32),
            "shown_z": ((trial, n_hid), np.dtype(np.uint8)),
            "shown_y": ((trial, n_out), f32),
            "shown_info": ((N_SHOWN,), i64),
            "clock": ((N_CLOCK,), i64),
            "acc": ((N_ACC,), f64),
            "pending": ((N_BATCH_FIELDS,), f64),
        }
    )
    return layout


def state_bytes(config: ClassifierConfig, sizes: DataSizes) -> int:
    """Bytes of a state of ``config`` (computed, nothing allocated)."""
    return sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in state_layout(config, sizes).values())


# --------------------------------------------------------------------------- random draws


def _normal(words: NDArray[np.uint32]) -> NDArray[np.float64]:
    """Box-Muller on words 0 and 1: one standard normal per counter."""
    u1 = 1.0 - uniform(words[..., 0]).astype(np.float64)  # (0, 1]
    u2 = uniform(words[..., 1]).astype(np.float64)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _counters(
    c0: NDArray[Any], purpose: int, c2: NDArray[Any] | int, c3: NDArray[Any] | int
) -> NDArray[np.uint64]:
    c0 = np.asarray(c0, np.uint64)
    shape = np.broadcast_shapes(c0.shape, np.shape(c2), np.shape(c3))
    out = np.empty((*shape, 4), np.uint64)
    out[..., 0] = c0
    out[..., 1] = purpose
    out[..., 2] = np.asarray(c2, np.uint64)
    out[..., 3] = np.asarray(c3, np.uint64)
    return out


def pair_signs(
    key: tuple[int, int], table: int, pre: NDArray[Any], post: NDArray[Any]
) -> NDArray[np.float32]:
    """The fixed sign (+1 or -1) of each pair ``(pre, post)`` of ``table``: bit 0 of a counter-based draw."""
    words = philox4x32(_counters(pre, PURPOSE_SIGN, table, post), key)
    return np.where(words[..., 0] & 1, np.float32(1.0), np.float32(-1.0)).astype(np.float32)


def training_order(key: tuple[int, int], epoch: int, n_train: int) -> NDArray[np.int32]:
    """The order of the training examples in ``epoch``: sorted by a counter-based key each."""
    words = philox4x32(_counters(np.arange(n_train), PURPOSE_ORDER, epoch, 0), key)
    keys = (words[:, 0].astype(np.uint64) << np.uint64(32)) | words[:, 1].astype(np.uint64)
    return np.argsort(keys, kind="stable").astype(np.int32)


# --------------------------------------------------------------------------- building


def _wire(
    key: tuple[int, int], table: int, shape: TableShape, p: float, dense: bool, recurrent: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
    """Pre and post of every synapse at the start, row by row, targets ascending; and the pairs
    drawn that found their row full (a row keeps its first ``row_cap`` targets)."""
    n_pre, n_post, cap = shape
    if dense:
        pre, post = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
        return pre, post, 0
    pre_list, post_list, refused = [], [], 0
    block = max(1, 2**22 // max(n_post, 1))  # rows per chunk: bounded memory on large layers
    quads = np.arange((n_post + 3) // 4, dtype=np.int64)
    for r0 in range(0, n_pre, block):
        rows = np.arange(r0, min(n_pre, r0 + block), dtype=np.int64)
        words = philox4x32(_counters(rows[:, None], PURPOSE_WIRING, table, quads[None, :]), key)
        present = uniform(words.reshape(len(rows), -1)[:, :n_post]) < np.float32(p)
        if recurrent:
            present[np.arange(len(rows)), rows] = False
        keep = np.cumsum(present, axis=1) <= cap
        refused += int((present & ~keep).sum())
        r, j = np.nonzero(present & keep)
        pre_list.append(rows[r])
        post_list.append(j.astype(np.int64))
    return np.concatenate(pre_list), np.concatenate(post_list), refused


def _build_table(
    key: tuple[int, int], table: int, shape: TableShape, p: float, lanes: int, dense: bool, recurrent: bool
) -> EpropTable:
    """A table wired with probability ``p``, weights of each pair's fixed sign, |N(0, 1 / sqrt(fan-in))|."""
    n_pre, n_post, cap = shape
    pre, post, refused = _wire(key, table, shape, p, dense, recurrent)
    slots = n_pre * cap
    row_len = np.bincount(pre, minlength=n_pre).astype(np.int32)
    first = np.concatenate([[0], np.cumsum(row_len)[:-1]]).astype(np.int64)
    slot = pre * cap + (np.arange(len(pre)) - first[pre])
    fan_in = max(1.0, p * (n_pre if not recurrent else n_post - 1)) if not dense else float(n_pre)
    magnitude = np.abs(_normal(philox4x32(_counters(pre, PURPOSE_WEIGHT, table, post), key))) / math.sqrt(
        fan_in
    )
    weight = (magnitude * pair_signs(key, table, pre, post)).astype(np.float32)
    if dense and recurrent:
        weight[pre == post] = 0.0  # the diagonal: present in the matrix, held at zero
    arrays: dict[str, NDArray[Any]] = {
        "row_len": row_len,
        "post": np.zeros(slots, np.int32),
        "weight": np.zeros(slots, np.float32),
        "adam_m": np.zeros(slots, np.float32),
        "adam_v": np.zeros(slots, np.float32),
        "grad": np.zeros((lanes, slots), np.float32),
        "elig": np.zeros((lanes, slots), np.float32),
        "elig_a": np.zeros((lanes, slots), np.float32),
        "col_len": np.bincount(post, minlength=n_post).astype(np.int32),
        "dims": np.array([n_pre, n_post, cap, 0], np.int64),
        "stats": np.zeros(N_STATS, np.int64),
    }
    arrays["post"][slot] = post
    arrays["stats"][S_REFUSED_ROW] = refused
    arrays["weight"][slot] = weight
    return EpropTable._make(arrays[name] for name in EpropTable._fields)


def first_batch(state: ClassifierState, data_train: SpikeData, lanes: int) -> None:
    """Give every lane the first example of the epoch's order (the state's clock at a batch start)."""
    ex = state.order[:lanes]
    state.lane_example[:] = ex
    state.lane_ptr[:] = data_train.offsets[ex]


def build_state(config: ClassifierConfig, seed: int, sizes: DataSizes, train: SpikeData) -> ClassifierState:
    """A new network of ``config`` drawn from ``seed``, at the start of epoch 0's first batch."""
    from sim.experiments.classifier.records import N_BATCH_FIELDS

    key = key_from_seed(seed)
    lanes, n_hid, n_out = config.data.batch_size, config.network.n_hidden, sizes.n_out
    shape_in, shape_rec = table_shapes(config, sizes)
    c = config.connectivity
    tin = _build_table(key, TABLE_IN, shape_in, c.p_in, lanes, config.dense, recurrent=False)
    trec = _build_table(key, TABLE_REC, shape_rec, c.p_rec, lanes, config.dense, recurrent=True)
    hidden, outputs = np.meshgrid(np.arange(n_hid), np.arange(n_out), indexing="ij")
    w_out = (
        _normal(philox4x32(_counters(outputs, PURPOSE_READOUT, hidden, 0), key)) / math.sqrt(n_hid)
    ).astype(np.float32)
    feedback = np.zeros((n_hid, n_out), np.float32)
    if config.learning.feedback == "random":
        feedback = (
            _normal(philox4x32(_counters(outputs, PURPOSE_FEEDBACK, hidden, 0), key)) / math.sqrt(n_hid)
        ).astype(np.float32)

    def lane_zeros(n: int, dtype: Any = np.float32) -> NDArray[Any]:
        return np.zeros((lanes, n), dtype)

    state = ClassifierState(
        tin=tin,
        trec=trec,
        w_out=w_out,
        b_out=np.zeros(n_out, np.float32),
        m_out=np.zeros((n_hid, n_out), np.float32),
        v_out=np.zeros((n_hid, n_out), np.float32),
        m_b=np.zeros(n_out, np.float32),
        v_b=np.zeros(n_out, np.float32),
        grad_out=np.zeros((lanes, n_hid, n_out), np.float32),
        grad_b=lane_zeros(n_out),
        feedback=feedback,
        v=lane_zeros(n_hid),
        a=lane_zeros(n_hid),
        z=lane_zeros(n_hid),
        refrac=lane_zeros(n_hid, np.int32),
        f_avg=np.full((lanes, n_hid), config.learning.f_target * config.network.dt * 1e-3, np.float32),
        zbar_in=lane_zeros(sizes.n_in),
        zbar_rec=lane_zeros(n_hid),
        zout=lane_zeros(n_hid),
        y=lane_zeros(n_out),
        y_sum=lane_zeros(n_out),
        lane_example=np.zeros(lanes, np.int32),
        lane_ptr=np.zeros(lanes, np.int64),
        order=training_order(key, 0, sizes.n_train),
        trace_z=np.zeros((config.data.n_steps, n_hid), np.uint8),
        trace_y=np.zeros((config.data.n_steps, n_out), np.float32),
        shown_z=np.zeros((config.data.n_steps, n_hid), np.uint8),
        shown_y=np.zeros((config.data.n_steps, n_out), np.float32),
        shown_info=np.array([-1, -1, -1, -1, -1, 0], np.int64),
        clock=np.zeros(N_CLOCK, np.int64),
        acc=np.zeros(N_ACC, np.float64),
        pending=np.zeros(N_BATCH_FIELDS, np.float64),
    )
    first_batch(state, train, lanes)
    return state


# --------------------------------------------------------------------------- the checkpoint's view


def state_to_arrays(state: ClassifierState) -> dict[str, NDArray[Any]]:
    """``{name: array}`` of the whole state (names and shapes of :func:`state_layout`)."""
    out: dict[str, NDArray[Any]] = {}
    for name, table in zip(TABLE_NAMES, state.tables(), strict=True):
        for field_name, arr in table._asdict().items():
            out[f"{name}.{field_name}"] = arr
    for f in fields(state):
        if f.name not in ("tin", "trec"):
            out[f.name] = getattr(state, f.name)
    return out


def state_from_arrays(arrays: dict[str, NDArray[Any]]) -> ClassifierState:
    """Inverse of :func:`state_to_arrays` (copies: the state owns writable arrays)."""
    tables = [
        EpropTable._make(np.array(arrays[f"{name}.{field_name}"]) for field_name in EpropTable._fields)
        for name in TABLE_NAMES
    ]
    rest = {
        f.name: np.array(arrays[f.name]) for f in fields(ClassifierState) if f.name not in ("tin", "trec")
    }
    return ClassifierState(tin=tables[TABLE_IN], trec=tables[TABLE_REC], **rest)
