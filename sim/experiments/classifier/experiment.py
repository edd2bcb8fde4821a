"""The sparse classifier's declaration to the shared core (:class:`sim.experiment.Experiment`).

Only the configuration is imported here; the data sets, kernels and checks
load when first used, so listing experiments stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.errors import ConfigError
from sim.experiment import BackendEntry, Experiment, Layout
from sim.experiments.classifier.config import ClassifierConfig
from sim.parameters import ConfigRoot

#: Copies of a state alive at once: the build's, the backend's, its warm-up copy and a snapshot's pull.
STATE_COPIES = 4
#: Share of the available memory a run may plan to take.
HEADROOM = 0.8


def _cpu_backend() -> Any:
    from sim.experiments.classifier.cpu.backend import ClassifierCpuBackend

    return ClassifierCpuBackend()


def _cuda_backend() -> Any:
    from sim.backends.cuda.device import CupyDevice
    from sim.experiments.classifier.cuda.backend import ClassifierCudaBackend

    return ClassifierCudaBackend(CupyDevice())


def _cuda_reason() -> str | None:
    from sim.backends.cuda import unavailable_reason

    return unavailable_reason()


def _sizes(config: Any) -> Any:
    from sim.experiments.classifier.data import data_sizes

    return data_sizes(config)


class SparseClassifier(Experiment):
    """e-prop learning with DEEP R rewiring on ragged tables (CLASSIFIER.md)."""

    key: ClassVar[str] = "classifier"
    title: ClassVar[str] = "sparse classifier: e-prop learning with DEEP R rewiring"
    config_type: ClassVar[type[ConfigRoot]] = ClassifierConfig
    time_unit: ClassVar[str | None] = "epochs"

    def backends(self) -> Mapping[str, BackendEntry]:
        """CUDA first when it can run, else the CPU (Numba, the batch lanes on every core)."""
        return {
            "cuda": BackendEntry(_cuda_backend, _cuda_reason),
            "cpu": BackendEntry(_cpu_backend, lambda: None),
        }

    def build_state(self, config: Any, seed: int) -> Any:
        """A new network of ``config`` at the start of its first batch."""
        from sim.experiments.classifier.data import dataset_for
        from sim.experiments.classifier.state import build_state

        data = dataset_for(config, seed)
        return build_state(config, seed, _sizes(config), data.train)

    def attach(self, backend: Any, state: Any, config: Any, seed: int) -> None:
        """The state, the kernel parameters and the data set of ``config`` and ``seed``."""
        from sim.experiments.classifier.data import dataset_for
        from sim.experiments.classifier.params import float_params, int_params

        data = dataset_for(config, seed)
        backend.allocate(state, float_params(config), int_params(config, seed, _sizes(config)), data)

    def apply_live(self, backend: Any, old: Any, new: Any, seed: int) -> None:
        """New kernel parameters: they apply from the next step (learning ones at the next update)."""
        from sim.experiments.classifier.params import float_params, int_params

        backend.set_params(float_params(new), int_params(new, seed, _sizes(new)))

    def state_step(self, state: Any) -> int:
        """Steps completed."""
        return int(state.step)

    def model_seconds(self, config: Any, steps: int) -> float:
        """Progress in epochs: ``steps`` over the steps of one epoch (training and test batches)."""
        return steps / _sizes(config).steps_per_epoch(config)

    def steps_for(self, config: Any, seconds: float) -> int:
        """Steps of ``seconds`` epochs, rounded."""
        return round(seconds * _sizes(config).steps_per_epoch(config))

    def step_units(self, config: Any) -> dict[str, int]:
        """One time step of every lane; a batch (a trial of every lane, then the update); an epoch."""
        return {
            "step": 1,
            "batch": int(config.data.n_steps),
            "epoch": _sizes(config).steps_per_epoch(config),
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
        """A :class:`sim.experiments.classifier.snapshot.ClassifierSnapshot` of ``state``."""
        from sim.experiments.classifier.records import empty_batches
        from sim.experiments.classifier.snapshot import make_snapshot

        sizes = _sizes(config)
        b = config.data.batch_size
        return make_snapshot(
            state,
            seq=seq,
            t=self.model_seconds(config, state.step),
            backend=backend,
            realtime_factor=realtime_factor,
            dt_ms=config.network.dt,
            dense=config.dense,
            train_batches=sizes.train_batches(b),
            test_batches=sizes.test_batches(b),
            events=events,
            batches=records.get("batches", empty_batches()),
        )

    def expected_layout(self, config: Any) -> Layout:
        """:func:`sim.experiments.classifier.state.state_layout`."""
        from sim.experiments.classifier.state import state_layout

        return state_layout(config, _sizes(config))

    def check_fits(self, config: Any) -> None:
        """Refuse a network whose states would not fit in this machine's memory, naming the batch size."""
        from sim.experiments.classifier.state import state_bytes
        from sim.memory import available_bytes, format_bytes

        need = STATE_COPIES * state_bytes(config, _sizes(config))
        available = available_bytes()
        if available is not None and need > HEADROOM * available:
            raise ConfigError(
                f"a batch of {config.data.batch_size} lanes over these tables needs about "
                f"{format_bytes(need)}, {format_bytes(available)} available",
                path="data.batch_size",
            )

    def state_to_arrays(self, state: Any) -> dict[str, NDArray[Any]]:
        """:func:`sim.experiments.classifier.state.state_to_arrays`."""
        from sim.experiments.classifier.state import state_to_arrays

        return state_to_arrays(state)

    def state_from_arrays(self, arrays: Mapping[str, NDArray[Any]], config: Any) -> Any:
        """:func:`sim.experiments.classifier.state.state_from_arrays`."""
        from sim.experiments.classifier.state import state_from_arrays

        return state_from_arrays(dict(arrays))

    def state_problem(self, state: Any, config: Any, seed: int | None = None) -> str | None:
        """:func:`sim.experiments.classifier.checks.state_problem` against the data set of ``seed``."""
        from sim.experiments.classifier.checks import state_problem
        from sim.experiments.classifier.data import dataset_for

        return state_problem(
            state, config, _sizes(config), dataset_for(config, config.run.seed if seed is None else seed)
        )


#: The declaration the registry loads for ``classifier``.
EXPERIMENT = SparseClassifier()
