"""scikit-learn's bundled 8x8 handwritten digits, latency coded (and as images).

1,797 images of 8x8 pixels with values 0..16, 10 classes, read from the copy
scikit-learn installs (no download). The train/test split is fixed, the same
for every seed (stratified by class, 25 % test, ``random_state=0`` in
:func:`sklearn.model_selection.train_test_split`), so accuracies from
different seeds are measured on the same test examples; the order of the
training examples is shuffled from the seed.

Spiking input: 64 units, one per pixel; a pixel of value ``v > 0`` fires once
at step ``rint((1 - v / 16) * t_latency)`` (brighter = earlier), a pixel of
value 0 stays silent.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.data.spikes import SpikeDataset, known_options, latency_spikes, latency_steps, make_rng, size_value
from sim.errors import ConfigError

N_UNITS = 64
N_CLASSES = 10
CLASS_NAMES = tuple(str(d) for d in range(N_CLASSES))
TEST_FRACTION = 0.25
OPTIONS = ("t_latency",)

_SALT = 0x44_49_47_31  # "DIG1"


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32).reshape(-1, 1, 8, 8) / np.float32(16.0)
    labels = np.asarray(bunch.target, dtype=np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits_images() -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """All 1,797 digits as images, in scikit-learn's order.

    Returns
    -------
    images
        ``(1797, 1, 8, 8)`` float32 in ``[0, 1]`` (the pixel values divided by 16).
    labels
        ``(1797,)`` int32 in ``[0, 10)``.
    """
    images, labels = _raw()
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=1)
def _split() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

    _, labels = _raw()
    train, test = train_test_split(
        np.arange(labels.shape[0], dtype=np.int64), test_size=TEST_FRACTION, stratify=labels, random_state=0
    )
    train = np.asarray(train, dtype=np.int64)
    test = np.asarray(test, dtype=np.int64)
    train.setflags(write=False)
    test.setflags(write=False)
    return train, test


def digits_split() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The fixed split: indices into :func:`digits_images` of the training and the test examples.

    Stratified by class, 25 % test (450 of 1,797), ``random_state=0``; the same
    on every call and for every seed. The indices are in the order
    ``train_test_split`` returns them (itself a fixed shuffle).
    """
    train, test = _split()
    return train.copy(), test.copy()


def load(
    *, seed: int, n_steps: int, n_train: int | None = None, n_test: int | None = None, **options: Any
) -> SpikeDataset:
    """The digits as spike trains.

    Parameters
    ----------
    seed
        Shuffles the order of the training examples (the split itself is fixed).
    n_steps
        Time steps per example, at least 2.
    n_train, n_test
        At most this many examples: the first of the shuffled training part and
        the first of the fixed test part (default, and at most: 1,347 and 450).
    **options
        ``t_latency``: the latency scale in steps, in ``[1, n_steps - 1]`` (default
        ``max(1, rint(0.6 * n_steps))``): a pixel of value ``v > 0`` fires at step
        ``rint((1 - v / 16) * t_latency)``, so a full pixel (16) at step 0.
    """
    known_options("digits", options, OPTIONS)
    if n_steps < 2:
        raise ConfigError(f"the digits data set needs at least 2 steps, got {n_steps}", path="data.n_steps")
    t_latency = latency_steps(options, n_steps)
    images, labels = _raw()
    train, test = _split()
    train = train[make_rng(seed, _SALT).permutation(train.shape[0])]
    train = train[: size_value(n_train, "data.n_train", train.shape[0])]
    test = test[: size_value(n_test, "data.n_test", test.shape[0])]
    flat = images.reshape(images.shape[0], N_UNITS).astype(np.float64)
    values = np.where(flat > 0, 1.0 - flat, np.nan)  # images are already v / 16
    parts = [
        latency_spikes(values[idx], labels[idx], t_latency=t_latency, n_steps=n_steps, n_classes=N_CLASSES)
        for idx in (train, test)
    ]
    return SpikeDataset(name="digits", train=parts[0], test=parts[1], class_names=CLASS_NAMES)
