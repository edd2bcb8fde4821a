"""The classifier's CUDA kernel interface, generated from its one declaration in Python.

The kernels index the parameters, the clock, the accumulators, the shown
example, the batch rows, the tables' dims and counters, the event rows and the
pointer table by numbers that the Python side declares once:

* float and integer parameters: ``F_*`` / ``I_*`` of :mod:`sim.experiments.classifier.params`;
* the clock ``C_*``, the accumulators ``A_*`` and the shown example ``SH_*`` (same module);
* table codes ``TABLE_*`` (same module) and random-number purposes ``PURPOSE_*``
  (:mod:`sim.experiments.classifier.purposes`);
* the fields of a batch row: ``R_*`` of :mod:`sim.experiments.classifier.records`;
* table dims and counters: ``D_*`` / ``S_*`` of :mod:`sim.synapses` (``ST_*`` here), and the
  declared e-prop table type :class:`sim.experiments.classifier.state.EpropTable` (``ET_*``);
* event row columns ``EV_*`` and event kinds (``KIND_*``) of :mod:`sim.events`;
* the pointer table: :data:`SLOTS` (``P_*``).

:func:`interface_header` writes them as C++ enums with explicit values
(:mod:`sim.backends.cuda.codegen`); :func:`sim.experiments.classifier.cuda.backend.module_source`
puts that text before the kernel sources, so Python and CUDA cannot disagree on a number.
"""

from __future__ import annotations

from sim import events
from sim.backends.cuda.codegen import (
    contiguous,
    counted,
    declared,
    enum_header,
    table_enums,
    table_interface_enums,
)
from sim.experiments.classifier import params, purposes, records
from sim.experiments.classifier.state import EpropTable

GENERATED_BY = "sim/experiments/classifier/cuda/interface.py"

#: The two tables' names in the pointer table (``params.TABLE_NAMES``), each followed by its fields.
TABLE_SLOTS: tuple[str, ...] = tuple(f"{t}.{f}" for t in params.TABLE_NAMES for f in EpropTable._fields)

#: State arrays of :class:`~sim.experiments.classifier.state.ClassifierState` other than the tables,
#: by their names in :func:`~sim.experiments.classifier.state.state_to_arrays`.
STATE_SLOTS: tuple[str, ...] = (
    "clock",
    "acc",
    "pending",
    "shown_info",
    *TABLE_SLOTS,
    "w_out",
    "b_out",
    "m_out",
    "v_out",
    "m_b",
    "v_b",
    "grad_out",
    "grad_b",
    "feedback",
    "v",
    "a",
    "z",
    "refrac",
    "f_avg",
    "zbar_in",
    "zbar_rec",
    "zout",
    "y",
    "y_sum",
    "lane_example",
    "lane_ptr",
    "order",
    "trace_z",
    "trace_y",
    "shown_z",
    "shown_y",
)

#: The data set's splits (``sim.data.SpikeData`` arrays), uploaded once.
DATA_SLOTS: tuple[str, ...] = tuple(
    f"{split}.{f}" for split in ("train", "test") for f in ("offsets", "steps", "units", "labels")
)

#: Device-only arrays: the lanes' scratch, bias corrections, event and row buffers, DEEP R and
#: epoch-order scratch (see backend.py for their sizes).
SCRATCH_SLOTS: tuple[str, ...] = (
    "cur",
    "psi",
    "lsig",
    "reg",
    "spk",
    "err",
    "bc",
    "ev",
    "counts",
    "rows",
    "row_out",
    "rg_keys",
    "rg_post",
    "rg_ok",
    "rg_pos",
    "sort_keys",
    "sort_idx",
)

#: Slot names: the order of the kernels' pointer table (``enum Slot``, generated from this).
SLOTS: tuple[str, ...] = ("fp", "ip", *STATE_SLOTS, *DATA_SLOTS, *SCRATCH_SLOTS)
#: Slot name -> index.
SLOT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SLOTS)}

#: Entries of the device's ``counts`` array: events and batch rows written since the last drain,
#: and the capacities of the two buffers (written by the host).
COUNT_EVENTS, COUNT_ROWS, COUNT_EVENT_CAP, COUNT_ROW_CAP, N_COUNTS = range(5)


def slot_name(slot: str) -> str:
    """``in.row_len`` -> ``P_IN_ROW_LEN``, ``fp`` -> ``P_FP``."""
    return "P_" + slot.replace(".", "_").upper()


def interface_enums() -> dict[str, list[tuple[str, int]]]:
    """Every enum of the interface: C++ enum name -> ``(name, value)`` pairs."""
    p = params
    fparams = counted(contiguous(declared(p, "F_"), "params F_*"), p.N_FLOAT_PARAMS, "N_FLOAT_PARAMS")
    iparams = counted(contiguous(declared(p, "I_"), "params I_*"), p.N_INT_PARAMS, "N_INT_PARAMS")
    clock = counted(contiguous(declared(p, "C_"), "params C_*"), p.N_CLOCK, "N_CLOCK")
    acc = counted(contiguous(declared(p, "A_"), "params A_*"), p.N_ACC, "N_ACC")
    shown = counted(contiguous(declared(p, "SH_"), "params SH_*"), p.N_SHOWN, "N_SHOWN")
    fields = counted(
        contiguous(declared(records, "R_"), "records R_*"), records.N_BATCH_FIELDS, "N_BATCH_FIELDS"
    )
    ev = counted(
        contiguous(declared(events, "EV_", skip=("EV_COLS",)), "sim.events EV_*"), events.EV_COLS, "EV_COLS"
    )
    return {
        "FParam": [*fparams, ("N_FLOAT_PARAMS", p.N_FLOAT_PARAMS)],
        "IParam": [*iparams, ("N_INT_PARAMS", p.N_INT_PARAMS)],
        "Clock": [*clock, ("N_CLOCK", p.N_CLOCK)],
        "Acc": [*acc, ("N_ACC", p.N_ACC)],
        "Shown": [*shown, ("N_SHOWN", p.N_SHOWN)],
        "TableCode": contiguous(declared(p, "TABLE_"), "params TABLE_*"),
        "BatchField": [*fields, ("N_BATCH_FIELDS", records.N_BATCH_FIELDS)],
        **table_interface_enums(),
        **table_enums(EpropTable, "ET"),
        "Purpose": declared(purposes, "PURPOSE_"),
        "EventColumn": [*ev, ("EV_COLS", events.EV_COLS)],
        "EventKind": [("KIND_REMOVED", events.REMOVED), ("KIND_FORMED", events.FORMED)],
        "Count": [
            ("COUNT_EVENTS", COUNT_EVENTS),
            ("COUNT_ROWS", COUNT_ROWS),
            ("COUNT_EVENT_CAP", COUNT_EVENT_CAP),
            ("COUNT_ROW_CAP", COUNT_ROW_CAP),
            ("N_COUNTS", N_COUNTS),
        ],
        "Slot": [*((slot_name(s), i) for i, s in enumerate(SLOTS)), ("N_SLOTS", len(SLOTS))],
    }


def interface_header() -> str:
    """The interface as C++ enums with explicit values (put before the kernel sources)."""
    return enum_header(interface_enums(), guard="RL_INTERFACE_GENERATED", generated_by=GENERATED_BY)
