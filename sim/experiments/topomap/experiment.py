"""The topographic map's declaration to the shared core (:class:`sim.experiment.Experiment`).

Only the configuration is imported here; the kernels, the builder and the
checks load when first used, so listing experiments stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.experiment import BackendEntry, Experiment, Layout
from sim.experiments.topomap.config import BASE_SIDE, ModelConfig
from sim.parameters import ConfigRoot


def _cpu_backend() -> Any:
    from sim.experiments.topomap.cpu import CpuBackend

    return CpuBackend()


def _cuda_backend() -> Any:
    from sim.backends.cuda.device import CupyDevice
    from sim.experiments.topomap.cuda.backend import CudaBackend

    return CudaBackend(CupyDevice())


def _cuda_reason() -> str | None:
    from sim.backends.cuda import unavailable_reason

    return unavailable_reason()


class TopographicMap(Experiment):
    """Rewiring and STDP form a topographic map (MODEL.md)."""

    key: ClassVar[str] = "topomap"
    title: ClassVar[str] = "topographic map: rewiring and STDP form a map"
    config_type: ClassVar[type[ConfigRoot]] = ModelConfig

    def backends(self) -> Mapping[str, BackendEntry]:
        """CUDA first when it can run, else the CPU."""
        return {
            "cuda": BackendEntry(_cuda_backend, _cuda_reason),
            "cpu": BackendEntry(_cpu_backend, lambda: None),
        }

    def build_state(self, config: Any, seed: int) -> Any:
        """:func:`sim.experiments.topomap.build.build_state`."""
        from sim.experiments.topomap.build import build_state

        return build_state(config, seed)

    def attach(self, backend: Any, state: Any, config: Any, seed: int) -> None:
        """The state and the kernel parameters of ``config`` and ``seed``."""
        from sim.experiments.topomap.params import kernel_params

        fp, ip = kernel_params(config, seed)
        backend.allocate(state, fp, ip)

    def apply_live(self, backend: Any, old: Any, new: Any, seed: int) -> None:
        """New kernel parameters; a stimulus that becomes tiled moves into the tile."""
        from sim.experiments.topomap.params import kernel_params
        from sim.experiments.topomap.state import S_STIM_DIRTY, S_STIM_X, S_STIM_Y

        fp, ip = kernel_params(new, seed)
        backend.set_params(fp, ip)
        if new.stimulus.tiled and not old.stimulus.tiled and new.side > BASE_SIDE:
            # The stimulus position must lie in the new, smaller tile: the kernels index a table
            # of the tile's offsets with it. Its place within the tile is kept.
            st = backend.pull_state()
            st.istate[S_STIM_X] %= BASE_SIDE
            st.istate[S_STIM_Y] %= BASE_SIDE
            st.istate[S_STIM_DIRTY] = 1
            backend.push_state(st)

    def state_step(self, state: Any) -> int:
        """``state.step``."""
        return int(state.step)

    def model_seconds(self, config: Any, steps: int) -> float:
        """``steps`` time steps of ``network.dt`` ms."""
        return float(steps * config.network.dt * 1e-3)

    def steps_for(self, config: Any, seconds: float) -> int:
        """Steps of ``network.dt`` in ``seconds``, rounded."""
        return round(seconds * 1e3 / config.network.dt)

    def step_units(self, config: Any) -> dict[str, int]:
        """One time step, one stimulus period, one rewiring interval."""
        dt = config.network.dt
        return {
            "step": 1,
            "stimulus": max(1, round(config.stimulus.period / dt)),
            "rewiring": max(1, round(config.rewiring.interval / dt)),
        }

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
    ) -> Any:
        """:func:`sim.experiments.topomap.snapshot.make_snapshot`."""
        from sim.experiments.topomap.snapshot import make_snapshot
        from sim.experiments.topomap.state import S_ATTEMPTS_FF, S_ATTEMPTS_LAT

        return make_snapshot(
            state,
            seq=seq,
            dt_ms=config.network.dt,
            side=config.side,
            backend=backend,
            realtime_factor=realtime_factor,
            events=events,
            attempts=(int(state.istate[S_ATTEMPTS_FF]), int(state.istate[S_ATTEMPTS_LAT])),
        )

    def expected_layout(self, config: Any) -> Layout:
        """:func:`sim.experiments.topomap.checkpoint.expected_layout`."""
        from sim.experiments.topomap.checkpoint import expected_layout

        return expected_layout(config)

    def check_fits(self, config: Any) -> None:
        """:func:`sim.experiments.topomap.memory.check_fits`."""
        from sim.experiments.topomap.memory import check_fits

        check_fits(config)

    def state_to_arrays(self, state: Any) -> dict[str, NDArray[Any]]:
        """``NetworkState.to_arrays``."""
        return dict(state.to_arrays())

    def state_from_arrays(self, arrays: Mapping[str, NDArray[Any]], config: Any) -> Any:
        """``NetworkState.from_arrays``, with the LIF update's scratch cleared."""
        from sim.experiments.topomap.state import NetworkState

        state = NetworkState.from_arrays(dict(arrays))
        # Scratch of the LIF update: written before it is read in every step.
        state.neurons.fac[:] = 0.0
        state.neurons.bits[:] = 0
        return state

    def state_problem(self, state: Any, config: Any, seed: int | None = None) -> str | None:
        """:func:`sim.experiments.topomap.checkpoint.state_problem`."""
        from sim.experiments.topomap.checkpoint import state_problem

        return state_problem(state, config)


#: The declaration the registry finds (:data:`sim.experiment.BUILTIN_EXPERIMENTS`).
EXPERIMENT = TopographicMap()
