"""The topographic map's CUDA kernel interface, generated from its one declaration in Python.

The kernels index the live parameters, the integer state, the tables' dims and
counters, the event rows and the pointer table by numbers that the Python side
declares once:

* float and integer parameters: ``F_*`` / ``I_*`` of :mod:`sim.experiments.topomap.params`;
* the integer state: ``S_*`` of :mod:`sim.experiments.topomap.state`;
* table dims and counters: ``D_*`` / ``S_*`` of :mod:`sim.synapses` (``ST_*`` here);
* the synapse tables' type: :class:`sim.experiments.topomap.state.ProjectionTable` (``PT_*``);
* random-number purposes: ``PURPOSE_*`` of :mod:`sim.experiments.topomap.purposes`;
* rewiring schemes: ``SCHEME_*`` of :mod:`sim.experiments.topomap.params`;
* event row columns: ``EV_*`` of :mod:`sim.events`;
* the pointer table: :data:`sim.experiments.topomap.cuda.layout.SLOTS` (``P_*`` here).

:func:`interface_header` writes them as C++ enums with explicit values
(:mod:`sim.backends.cuda.codegen`), and
:func:`sim.experiments.topomap.cuda.backend.module_source` puts that text
before the kernel sources of every compiled module, so Python and CUDA cannot
disagree on a number.
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
from sim.experiments.topomap import params, purposes, state
from sim.experiments.topomap.cuda.layout import SLOTS

GENERATED_BY = "sim/experiments/topomap/cuda/interface.py"


def _slot_name(slot: str) -> str:
    """``neurons.v`` -> ``P_V``, ``ff.row_len`` -> ``P_FF_ROW_LEN``, ``fp`` -> ``P_FP``."""
    return "P_" + slot.removeprefix("neurons.").replace(".", "_").upper()


def interface_enums() -> dict[str, list[tuple[str, int]]]:
    """Every enum of the interface: C++ enum name -> ``(name, value)`` pairs."""
    n_float, n_int, n_istate = params.N_FLOAT_PARAMS, params.N_INT_PARAMS, state.N_ISTATE
    fparams = counted(contiguous(declared(params, "F_"), "params F_*"), n_float, "N_FLOAT_PARAMS")
    iparams = counted(contiguous(declared(params, "I_"), "params I_*"), n_int, "N_INT_PARAMS")
    istate = counted(contiguous(declared(state, "S_"), "state S_*"), n_istate, "N_ISTATE")
    ev = counted(
        contiguous(declared(events, "EV_", skip=("EV_COLS",)), "sim.events EV_*"), events.EV_COLS, "EV_COLS"
    )
    return {
        "FParam": [*fparams, ("N_FLOAT_PARAMS", n_float)],
        "IParam": [*iparams, ("N_INT_PARAMS", n_int)],
        "IState": [*istate, ("N_ISTATE", n_istate)],
        **table_interface_enums(),
        **table_enums(state.ProjectionTable, "PT"),
        "Purpose": declared(purposes, "PURPOSE_"),
        "Scheme": contiguous(declared(params, "SCHEME_"), "params SCHEME_*"),
        "EventColumn": [*ev, ("EV_COLS", events.EV_COLS)],
        "Slot": [*((_slot_name(s), i) for i, s in enumerate(SLOTS)), ("N_SLOTS", len(SLOTS))],
    }


def interface_header() -> str:
    """The interface as C++ enums with explicit values (put before the kernel sources)."""
    return enum_header(interface_enums(), guard="RL_INTERFACE_GENERATED", generated_by=GENERATED_BY)
