"""The channel-pruning network's declaration to the shared core (:class:`sim.experiment.Experiment`).

Only the configuration and the torch-free layer arithmetic are imported here;
PyTorch, the data sets and the trainer load when first used, so listing
experiments stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.experiment import BackendEntry, Experiment, Layout
from sim.experiments.channels.config import ChannelsConfig
from sim.parameters import ConfigRoot

#: Share of the available memory a run may plan to take.
HEADROOM = 0.8


def _backend(device: str) -> Any:
    from sim.experiments.channels.backend import ChannelsTorchBackend

    return ChannelsTorchBackend(device)


def _cuda_reason() -> str | None:
    from sim.experiments.channels.backend import cuda_unavailable_reason

    return cuda_unavailable_reason()


def _in_shape(config: Any) -> tuple[int, int, int]:
    from sim.data.images import image_dataset_shape

    c, h, w, _classes = image_dataset_shape(config.data.name, **config.data_options())
    return c, h, w


def _batches_per_epoch(config: Any) -> int:
    from sim.experiments.channels.data import batches_per_epoch

    return batches_per_epoch(config)


class ChannelMasks(Experiment):
    """A convolutional spiking network whose channels are pruned and regrown (SCA; CHANNELS.md)."""

    key: ClassVar[str] = "channels"
    title: ClassVar[str] = "channel masks: pruning and regrowing conv channels by spiking activity"
    config_type: ClassVar[type[ConfigRoot]] = ChannelsConfig
    time_unit: ClassVar[str | None] = "epochs"

    def backends(self) -> Mapping[str, BackendEntry]:
        """PyTorch on the GPU when it sees one, else on every core of the CPU."""
        return {
            "cuda": BackendEntry(lambda: _backend("cuda"), _cuda_reason),
            "cpu": BackendEntry(lambda: _backend("cpu"), lambda: None),
        }

    def build_state(self, config: Any, seed: int) -> Any:
        """A new network of ``config`` drawn from ``seed`` (a random mask drawn now in ``random``)."""
        self.check_fits(config)
        from sim.experiments.channels.data import dataset_for
        from sim.experiments.channels.nn.state import state_arrays
        from sim.experiments.channels.nn.trainer import Trainer
        from sim.experiments.channels.state import ChannelsState

        return ChannelsState(state_arrays(Trainer(config, dataset_for(config, seed), seed)))

    def attach(self, backend: Any, state: Any, config: Any, seed: int) -> None:
        """A trainer of ``config`` on its data set of ``seed``, continuing from ``state``."""
        from sim.experiments.channels.data import dataset_for

        backend.allocate(state, config, seed, dataset_for(config, seed))

    def apply_live(self, backend: Any, old: Any, new: Any, seed: int) -> None:
        """s, p, the interval and the first update's batch, the rate option, lambda and the learning
        rate apply from the next batch (a new s at the next mask update)."""
        backend.set_config(new)

    def state_step(self, state: Any) -> int:
        """Batches trained."""
        return int(state.step)

    def model_seconds(self, config: Any, steps: int) -> float:
        """Progress in epochs: ``steps`` batches over the batches of one epoch."""
        return steps / _batches_per_epoch(config)

    def steps_for(self, config: Any, seconds: float) -> int:
        """Batches of ``seconds`` epochs, rounded."""
        return round(seconds * _batches_per_epoch(config))

    def step_units(self, config: Any) -> dict[str, int]:
        """A step is a training batch; an epoch is every batch of the training set (the test set is
        scored, and by default the mask updated, at its end)."""
        return {"step": 1, "batch": 1, "epoch": _batches_per_epoch(config)}

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
        """A :class:`sim.experiments.channels.snapshot.ChannelsSnapshot` of ``state``."""
        from sim.experiments.channels.layers import parse_layers
        from sim.experiments.channels.snapshot import make_snapshot

        p = config.pruning
        return make_snapshot(
            state,
            layers=parse_layers(config.network.layers),
            in_shape=_in_shape(config),
            mode=p.mode,
            sparsity=p.sparsity,
            use_rate=p.use_rate,
            batches_per_epoch=_batches_per_epoch(config),
            seq=seq,
            t=self.model_seconds(config, state.step),
            backend=backend,
            realtime_factor=realtime_factor,
            events=events,
            records=records,
        )

    def check_fits(self, config: Any) -> None:
        """Refuse a batch whose training would not fit in this machine's memory, naming the batch size."""
        from sim.errors import ConfigError
        from sim.experiments.channels.layers import parse_layers, training_bytes
        from sim.memory import available_bytes, format_bytes

        c, h, w = _in_shape(config)
        need = training_bytes(
            parse_layers(config.network.layers), (c, h, w), config.network.steps, config.data.batch_size
        )
        available = available_bytes()
        if available is not None and need > HEADROOM * available:
            raise ConfigError(
                f"training batches of {config.data.batch_size} images of this network over "
                f"{config.network.steps} steps needs about {format_bytes(need)}, "
                f"{format_bytes(available)} available",
                path="data.batch_size",
            )

    def expected_layout(self, config: Any) -> Layout:
        """:func:`sim.experiments.channels.nn.state.state_layout` (laid out on no device)."""
        from sim.experiments.channels.nn.state import state_layout

        return state_layout(config, _in_shape(config))

    def state_to_arrays(self, state: Any) -> dict[str, NDArray[Any]]:
        """The state's arrays (names as :meth:`expected_layout`)."""
        return dict(state.arrays)

    def state_from_arrays(self, arrays: Mapping[str, NDArray[Any]], config: Any) -> Any:
        """A :class:`sim.experiments.channels.state.ChannelsState` of ``arrays``."""
        from sim.experiments.channels.state import ChannelsState

        return ChannelsState({k: np.asarray(v) for k, v in arrays.items()})

    def state_problem(self, state: Any, config: Any, seed: int | None = None) -> str | None:
        """:func:`sim.experiments.channels.state.state_problem`, named as a checkpoint names it."""
        from sim.experiments.channels.state import state_problem

        problem = state_problem(
            state.arrays, self.expected_layout(config), _batches_per_epoch(config), config.data.batch_size
        )
        return None if problem is None else f"state.{problem}"


#: The declaration the registry loads for ``channels``.
EXPERIMENT = ChannelMasks()
