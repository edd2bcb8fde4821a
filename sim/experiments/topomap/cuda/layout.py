"""Where every device array of the CUDA backend sits in the kernels' pointer table.

The kernels reach all arrays through one device array of addresses, indexed
by the ``Slot`` enum that :mod:`sim.experiments.topomap.cuda.interface` generates from
:data:`SLOTS`.
"""

from __future__ import annotations

from sim.experiments.topomap.state import NeuronArrays, ProjectionTable

#: Neuron arrays the kernels use (NeuronArrays' scratch fields ``fac`` and ``bits`` are CPU-only).
DEVICE_NEURON_FIELDS: tuple[str, ...] = tuple(f for f in NeuronArrays._fields if f not in ("fac", "bits"))

#: Slot names: the order of the pointer table (``enum Slot``, generated from this).
SLOTS: tuple[str, ...] = (
    "fp",
    "ip",
    "istate",
    *(f"neurons.{f}" for f in DEVICE_NEURON_FIELDS),
    *(f"ff.{f}" for f in ProjectionTable._fields),
    *(f"lat.{f}" for f in ProjectionTable._fields),
    "stim_table",
    "form_table",
    "src_mask",
    "tgt_mask",
    "ev",
    "ev_count",
    "ev_cap",
    "pair_keys",
    "pair_accept",
    "pair_hash",
    "pair_tmp_keys",
    "pair_tmp_accept",
    "rw_keys",
    "rw_cols",
    "rw_op",
    "rw_arg",
    "rw_pos",
    "rw_ops",
    "rw_pre",
    "rw_kill",
    "rw_paths",
)

#: Slot name -> index.
SLOT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SLOTS)}
