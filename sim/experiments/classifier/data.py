"""The classifier's data: the spike data set a configuration names, loaded once, and its sizes."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from sim.data import SpikeDataset, load_spike_dataset
from sim.errors import ConfigError
from sim.experiments.classifier.config import ClassifierConfig


@dataclass(frozen=True)
class DataSizes:
    """What the network's shape and the clock need of a data set."""

    n_in: int
    n_out: int
    n_train: int
    n_test: int

    def train_batches(self, batch_size: int) -> int:
        """Training batches per epoch: full batches only (the epoch's order is new every epoch)."""
        return self.n_train // batch_size

    def test_batches(self, batch_size: int) -> int:
        """Test batches per epoch: every test example, the last batch's spare lanes idle."""
        return math.ceil(self.n_test / batch_size)

    def steps_per_epoch(self, config: ClassifierConfig) -> int:
        """Engine steps of one epoch: every training batch, then the test set, a trial each."""
        b = config.data.batch_size
        return (self.train_batches(b) + self.test_batches(b)) * config.data.n_steps


@functools.lru_cache(maxsize=4)
def _load(
    name: str, path: str, n_steps: int, dt: float, n_train: int, n_test: int, seed: int
) -> SpikeDataset:
    return load_spike_dataset(
        name,
        seed=seed,
        n_steps=n_steps,
        dt=dt * 1e-3,
        path=path or None,
        n_train=n_train or None,
        n_test=n_test or None,
    )


def dataset_for(config: ClassifierConfig, seed: int) -> SpikeDataset:
    """The data set of ``config`` drawn from ``seed`` (the last few are kept, so a rebuild is free).

    Raises :class:`ConfigError` naming the ``data.`` key at fault, and when the
    batch is larger than the training set.
    """
    d = config.data
    data = _load(d.name, d.path, d.n_steps, config.network.dt, d.n_train, d.n_test, int(seed))
    if len(data.train) < d.batch_size:
        raise ConfigError(
            f"larger than the training set ({len(data.train)} examples of {d.name}), got {d.batch_size}",
            path="data.batch_size",
        )
    return data


def data_sizes(config: ClassifierConfig) -> DataSizes:
    """The sizes of ``config``'s data set (they do not depend on the seed)."""
    data = dataset_for(config, config.run.seed)
    return DataSizes(data.n_units, data.n_classes, len(data.train), len(data.test))
