"""The channel-pruning network's images: the data set a configuration names, loaded once."""

from __future__ import annotations

import functools

from sim.data.images import ImageDataset, load_image_dataset
from sim.errors import ConfigError
from sim.experiments.channels.config import ChannelsConfig


@functools.lru_cache(maxsize=4)
def _load(
    name: str, path: str, n_train: int, n_test: int, seed: int, options: tuple[tuple[str, object], ...]
) -> ImageDataset:
    return load_image_dataset(
        name, seed=seed, path=path or None, n_train=n_train or None, n_test=n_test or None, **dict(options)
    )


def dataset_for(config: ChannelsConfig, seed: int) -> ImageDataset:
    """The images of ``config`` drawn from ``seed`` (the last few are kept, so a rebuild is free).

    Raises :class:`ConfigError` naming the ``data.`` key at fault, and when a batch is larger
    than the training set.
    """
    d = config.data
    options = tuple(sorted(config.data_options().items()))
    data = _load(d.name, d.path, d.n_train, d.n_test, int(seed), options)
    n_train = len(data.train_labels)
    if n_train < d.batch_size:
        raise ConfigError(
            f"{d.batch_size} images per batch, but {d.name} gives {n_train} training images",
            path="data.batch_size",
        )
    if len(data.test_labels) == 0:
        raise ConfigError(f"{d.name} gives no test image", path="data.n_test")
    return data


def batches_per_epoch(config: ChannelsConfig, seed: int | None = None) -> int:
    """Training batches of one epoch (the last may be smaller): an engine step each."""
    data = dataset_for(config, config.run.seed if seed is None else seed)
    return -(-len(data.train_labels) // config.data.batch_size)
