"""The complete dynamic state of a network, as backend-neutral host arrays.

A :class:`NetworkState` holds everything a run needs to continue bit for bit:
neuron variables, traces, the current stimulus, both synapse tables
(:class:`ProjectionTable`) and the step counter. Backends keep their own copy (on the GPU, for instance) and
``pull`` / ``push`` this form for snapshots and checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from sim.synapses import SynapseVariable, synapse_table

# Indices into NetworkState.istate
(
    S_STEP,
    S_STIM_INDEX,
    S_STIM_NEXT,
    S_STIM_X,
    S_STIM_Y,
    S_N_SPK_SRC,
    S_N_SPK_TGT,
    S_STIM_DIRTY,
    S_ATTEMPTS_FF,
    S_ATTEMPTS_LAT,
    N_ISTATE,
) = range(11)


class NeuronArrays(NamedTuple):
    """Per-neuron arrays of both layers (length N = neurons per layer)."""

    v: NDArray[np.float32]  # target membrane potential (mV)
    g_ex: NDArray[np.float32]  # target excitatory conductance (leak units)
    g_inh: NDArray[np.float32]  # target inhibitory conductance
    refrac: NDArray[np.int32]  # refractory steps left
    pend_ex: NDArray[np.float32]  # input arriving at the next step (one-step delay)
    pend_inh: NDArray[np.float32]
    x_src: NDArray[np.float32]  # presynaptic trace of source neurons (tau_plus)
    x_tgt: NDArray[np.float32]  # presynaptic trace of target neurons (LAT, tau_plus)
    y_tgt: NDArray[np.float32]  # postsynaptic trace of target neurons (tau_minus)
    p_src: NDArray[np.float32]  # spike probability per step of each source neuron
    spk_src: NDArray[np.int32]  # ids of the source neurons that spiked in the last step
    spk_tgt: NDArray[np.int32]  # ids of the target neurons that spiked in the last step
    count_src: NDArray[np.int64]  # spikes since the start
    count_tgt: NDArray[np.int64]
    fired: NDArray[np.bool_]  # target neuron spiked in the current step (cleared at its end)
    cdf_src: NDArray[np.float32]  # per Poisson block: P(some neuron up to this one spikes)
    fac: NDArray[np.float32]  # scratch of the LIF update
    bits: NDArray[np.int32]  # scratch of the LIF update


_NEURON_DTYPES = {
    "v": np.float32,
    "g_ex": np.float32,
    "g_inh": np.float32,
    "refrac": np.int32,
    "pend_ex": np.float32,
    "pend_inh": np.float32,
    "x_src": np.float32,
    "x_tgt": np.float32,
    "y_tgt": np.float32,
    "p_src": np.float32,
    "spk_src": np.int32,
    "spk_tgt": np.int32,
    "count_src": np.int64,
    "count_tgt": np.int64,
    "fired": np.bool_,
    "cdf_src": np.float32,
    "fac": np.float32,
    "bits": np.int32,
}


def empty_neurons(n: int) -> NeuronArrays:
    """Zeroed neuron arrays for ``n`` neurons per layer."""
    return NeuronArrays(**{name: np.zeros(n, dt) for name, dt in _NEURON_DTYPES.items()})


@synapse_table(SynapseVariable("weight", np.float32), column_index=True)
class ProjectionTable(NamedTuple):
    """The synapse table of one projection (FF or LAT), as kernels receive it.

    One float32 ``weight`` per synapse, and a column index: postsynaptic
    STDP and the slot scheme reach a target's afferents through it, and
    ``col_len`` is the in-degree the slot scheme's slots count. Checkpoints
    keep the arrays under these field names (``ff.weight``, ``ff.col_pos``, ...).
    """

    row_len: NDArray[np.int32]  # (n,)
    post: NDArray[np.int32]  # (n * row_cap,)
    weight: NDArray[np.float32]  # (n * row_cap,)
    col_pos: NDArray[np.int32]  # (n * row_cap,)
    col_len: NDArray[np.int32]  # (n,) the in-degree
    col_syn: NDArray[np.int32]  # (n * col_cap,)
    dims: NDArray[np.int64]  # (4,) n_pre, n_post, row_cap, col_cap
    stats: NDArray[np.int64]  # (4,) formed, removed, refused (row full), refused (column full)


@dataclass
class NetworkState:
    """Everything that evolves during a run."""

    neurons: NeuronArrays
    ff: ProjectionTable
    lat: ProjectionTable
    istate: NDArray[np.int64]

    @property
    def step(self) -> int:
        """Steps completed."""
        return int(self.istate[S_STEP])

    def copy(self) -> NetworkState:
        """A deep copy."""
        return NetworkState(
            NeuronArrays._make(a.copy() for a in self.neurons),
            ProjectionTable._make(a.copy() for a in self.ff),
            ProjectionTable._make(a.copy() for a in self.lat),
            self.istate.copy(),
        )

    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        """Flat ``{"group.name": array}`` mapping (for checkpoints)."""
        out: dict[str, NDArray[np.generic]] = {"istate": self.istate}
        groups: tuple[tuple[str, dict[str, NDArray[np.generic]]], ...] = (
            ("neurons", self.neurons._asdict()),
            ("ff", self.ff._asdict()),
            ("lat", self.lat._asdict()),
        )
        for group, arrays in groups:
            for name, arr in arrays.items():
                out[f"{group}.{name}"] = arr
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> NetworkState:
        """Inverse of :meth:`to_arrays`; raises ``KeyError`` for a missing array."""

        def group(prefix: str, fields: tuple[str, ...]) -> list[NDArray[np.generic]]:
            return [np.array(arrays[f"{prefix}.{name}"]) for name in fields]

        return cls(
            NeuronArrays(*group("neurons", NeuronArrays._fields)),  # type: ignore[arg-type]
            ProjectionTable(*group("ff", ProjectionTable._fields)),  # type: ignore[arg-type]
            ProjectionTable(*group("lat", ProjectionTable._fields)),  # type: ignore[arg-type]
            np.array(arrays["istate"], dtype=np.int64),
        )

    def expected_layout(self) -> dict[str, tuple[tuple[int, ...], np.dtype[np.generic]]]:
        """Shape and dtype of every array (to validate a checkpoint against)."""
        return {k: (a.shape, a.dtype) for k, a in self.to_arrays().items()}
