"""Data sets of spike trains for classifiers (and their images, where they are images).

:func:`load_spike_dataset` builds one of :data:`DATASETS` as a
:class:`~sim.data.spikes.SpikeDataset` (training and test examples as spike
trains), reproducibly from a seed:

- ``yin_yang``: the Yin-Yang data set (Kriener et al. 2021), 5 units, 3 classes (:mod:`sim.data.yin_yang`);
- ``digits``: scikit-learn's 8x8 digits, 64 units, 10 classes (:mod:`sim.data.digits`);
- ``shd``: the Spiking Heidelberg Digits from the user's HDF5 files, 700 units, 20 classes
  (:mod:`sim.data.shd`);
- ``synthetic``: generated spike trains of the SHD's size and rates (:mod:`sim.data.synthetic`).

Every failure in the caller's values or files is a :class:`~sim.errors.ConfigError`
whose key path starts with ``data.`` (``seed`` for the seed).

Image data sets (static images, e.g. for a convolutional network):
:func:`load_image_dataset` builds one of :data:`IMAGE_DATASETS` (``digits``,
``shapes``, ``cifar10``) as an :class:`~sim.data.images.ImageDataset`, and
:func:`image_dataset_shape` gives its ``(C, H, W, n_classes)`` without loading
it (:mod:`sim.data.images`).
"""

from __future__ import annotations

import os
from typing import Any

from sim.data import digits, shd, synthetic, yin_yang
from sim.data.digits import digits_images, digits_split
from sim.data.images import IMAGE_DATASETS, ImageDataset, image_dataset_shape, load_image_dataset
from sim.data.spikes import MAX_EXAMPLES, MAX_SPIKES, SpikeData, SpikeDataset, int_value, positive_float
from sim.errors import ConfigError, short_repr

__all__ = [
    "DATASETS",
    "IMAGE_DATASETS",
    "MAX_EXAMPLES",
    "MAX_SPIKES",
    "ImageDataset",
    "SpikeData",
    "SpikeDataset",
    "digits_images",
    "digits_split",
    "image_dataset_shape",
    "load_image_dataset",
    "load_spike_dataset",
]

#: The names :func:`load_spike_dataset` knows.
DATASETS = ("yin_yang", "digits", "shd", "synthetic")

#: The most time steps of an example (steps are int32).
MAX_STEPS = 2**31 - 1


def load_spike_dataset(
    name: str,
    *,
    seed: int,
    n_steps: int,
    dt: float = 1e-3,
    path: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    **options: Any,
) -> SpikeDataset:
    """Build the data set ``name`` from ``seed``.

    Parameters
    ----------
    name
        One of :data:`DATASETS`.
    seed
        A non-negative integer; every draw, split and shuffle comes from it, so
        the same seed gives the same arrays.
    n_steps
        Time steps per example (yin_yang and digits: at least 2).
    dt
        The length of a step in seconds (used by shd to bin spike times and by
        synthetic for its rates).
    path
        shd only (ignored by the others): a folder holding ``shd_train.h5`` and
        ``shd_test.h5``, or one ``.h5`` file split 80/20 from the seed.
    n_train, n_test
        The numbers of training and test examples: for the generated data sets
        (yin_yang, synthetic) their sizes, for the read ones (digits, shd) caps
        (None: the data set's own sizes; yin_yang 5000/1000, synthetic 2000/400).
    **options
        Options of the data set: ``t_latency`` (yin_yang, digits), ``rate_hz`` (synthetic).

    Raises
    ------
    ConfigError
        An unknown name (``data.name``), a bad seed (``seed``), size or option
        (``data.<key>``), or a bad file (``data.path``).
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ConfigError(
            f"unknown data set {short_repr(name)}; known: {', '.join(DATASETS)}", path="data.name"
        )
    seed = int_value(seed, "seed", low=0, high=2**64 - 1)
    n_steps = int_value(n_steps, "data.n_steps", low=1, high=MAX_STEPS)
    dt = positive_float(dt, "data.dt")
    if name == "yin_yang":
        data = yin_yang.load(seed=seed, n_steps=n_steps, n_train=n_train, n_test=n_test, **options)
    elif name == "digits":
        data = digits.load(seed=seed, n_steps=n_steps, n_train=n_train, n_test=n_test, **options)
    elif name == "shd":
        data = shd.load(
            seed=seed, n_steps=n_steps, dt=dt, path=path, n_train=n_train, n_test=n_test, **options
        )
    else:
        data = synthetic.load(seed=seed, n_steps=n_steps, dt=dt, n_train=n_train, n_test=n_test, **options)
    data.check()
    return data
