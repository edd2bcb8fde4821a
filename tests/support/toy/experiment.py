"""The toy's declaration to the shared core (:class:`sim.experiment.Experiment`) and its snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.experiment import BackendEntry, Experiment, Layout
from sim.parameters import ConfigRoot
from sim.snapshot import SnapshotBase, frozen_copy
from sim.synapses import S_FORMED, S_REFUSED_COL, S_REFUSED_ROW, S_REMOVED
from tests.support.toy import state as toy_state
from tests.support.toy.config import ToyConfig


@dataclass(frozen=True)
class ToySnapshot(SnapshotBase):
    """The toy network after the last completed step (read-only copies)."""

    RECORDS: ClassVar[tuple[str, ...]] = ("events",)

    #: Synapses in the table.
    n_synapses: int
    #: In-degree of every neuron.
    in_degree: NDArray[np.int32]
    #: Leaky count of every neuron.
    count: NDArray[np.int32]
    #: Cumulative synapses formed, removed, and refused because a row or column was full.
    formed: int
    removed: int
    refused: int
    #: Structural events since the engine's previous snapshot (EVENT_DTYPE).
    events: NDArray[np.void]


def _cpu_backend() -> Any:
    from tests.support.toy.cpu import ToyCpuBackend

    return ToyCpuBackend()


class ToyExperiment(Experiment):
    """One population, one table, random rewiring and a leaky count: the seams, nothing more."""

    key: ClassVar[str] = "toy"
    title: ClassVar[str] = "toy: random rewiring of one population"
    config_type: ClassVar[type[ConfigRoot]] = ToyConfig

    def backends(self) -> Mapping[str, BackendEntry]:
        """The CPU only; tests register the CUDA backend on the emulator as ``cuda-emulator``."""
        return {"cpu": BackendEntry(_cpu_backend, lambda: None)}

    def build_state(self, config: Any, seed: int) -> Any:
        """:func:`tests.support.toy.state.build_state`."""
        return toy_state.build_state(config, seed)

    def attach(self, backend: Any, state: Any, config: Any, seed: int) -> None:
        """The state and the kernel parameters of ``config`` and ``seed``."""
        from tests.support.toy.cpu import toy_params

        backend.allocate(state, toy_params(config, seed))

    def apply_live(self, backend: Any, old: Any, new: Any, seed: int) -> None:
        """New kernel parameters (every live parameter is one of them)."""
        from tests.support.toy.cpu import toy_params

        backend.set_params(toy_params(new, seed))

    def state_step(self, state: Any) -> int:
        """``state.step``."""
        return int(state.step)

    def model_seconds(self, config: Any, steps: int) -> float:
        """``steps`` steps of ``network.dt`` ms."""
        return float(steps * config.network.dt * 1e-3)

    def steps_for(self, config: Any, seconds: float) -> int:
        """Steps of ``network.dt`` in ``seconds``, rounded."""
        return round(seconds * 1e3 / config.network.dt)

    def step_units(self, config: Any) -> dict[str, int]:
        """Single steps and tens of steps."""
        return {"step": 1, "ten": 10}

    def snapshot(
        self,
        state: Any,
        config: Any,
        *,
        seq: int,
        backend: str,
        realtime_factor: float | None,
        events: NDArray[np.void],
        records: Mapping[str, NDArray[np.void]],
    ) -> ToySnapshot:
        """A :class:`ToySnapshot` of ``state``."""
        t = state.table
        return ToySnapshot(
            seq=seq,
            step=int(state.step),
            t=self.model_seconds(config, int(state.step)),
            backend=backend,
            realtime_factor=realtime_factor,
            n_synapses=int(t.row_len.sum()),
            in_degree=frozen_copy(t.col_len),
            count=frozen_copy(state.count),
            formed=int(t.stats[S_FORMED]),
            removed=int(t.stats[S_REMOVED]),
            refused=int(t.stats[S_REFUSED_ROW] + t.stats[S_REFUSED_COL]),
            events=frozen_copy(events),
        )

    def expected_layout(self, config: Any) -> Layout:
        """:func:`tests.support.toy.state.expected_layout`."""
        return toy_state.expected_layout(config)

    def state_to_arrays(self, state: Any) -> dict[str, NDArray[Any]]:
        """:func:`tests.support.toy.state.state_to_arrays`."""
        return toy_state.state_to_arrays(state)

    def state_from_arrays(self, arrays: Mapping[str, NDArray[Any]], config: Any) -> Any:
        """:func:`tests.support.toy.state.state_from_arrays`."""
        return toy_state.state_from_arrays(dict(arrays))

    def state_problem(self, state: Any, config: Any, seed: int | None = None) -> str | None:
        """:func:`tests.support.toy.state.state_problem`."""
        return toy_state.state_problem(state, config)


#: The declaration :func:`tests.support.toy.register` makes known.
EXPERIMENT = ToyExperiment()
