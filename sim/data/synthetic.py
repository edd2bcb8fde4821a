"""Synthetic spike trains of the size and rate of the SHD, for benchmarks without the data set.

700 input units, 20 classes, Poisson spikes at a mean of about ``rate_hz``
(default 15 Hz) per unit. Each class has a fixed rate profile over units and
time, the same for every seed (made from a constant seed, so results of
different seeds are on one task): 30 % of its rate is uniform background, the
rest is three "formants", each a Gaussian bump over units (width 15-50 units)
times a Gaussian bump in time (centred within 15-85 % of the example, width
5-15 %). Each example shifts its formants by a random number of units
(s.d. 10) and a random fraction of the duration (s.d. 5 %), and scales its rate
by a factor in [0.8, 1.2], so that the task is learnable but not trivial.

The spikes of an example are drawn as a Poisson number of events spread over
the profile (a spike that would fall outside the units or steps is redrawn
uniformly); several events of one unit in one step count once, which lowers
the rate a little below ``rate_hz``. Labels are balanced (each class equally
often, up to one) in a random order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.data.spikes import (
    MAX_SPIKES,
    SpikeData,
    SpikeDataset,
    concatenate,
    from_events,
    known_options,
    make_rng,
    positive_float,
    size_value,
)
from sim.errors import ConfigError

N_UNITS = 700
N_CLASSES = 20
CLASS_NAMES = tuple(f"class {c}" for c in range(N_CLASSES))
DEFAULT_TRAIN = 2000
DEFAULT_TEST = 400
RATE_HZ = 15.0
OPTIONS = ("rate_hz",)

N_FORMANTS = 3
BACKGROUND = 0.3
#: Spikes drawn per batch of examples (bounds the temporary arrays).
BATCH_SPIKES = 2_000_000

_SALT = 0x53_59_4E_31  # "SYN1"


class _Profiles:
    """The fixed rate profiles of the classes (from a constant seed), as flat tables by class * formant."""

    def __init__(self) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([_SALT, 0xC1A55]))
        shape = (N_CLASSES, N_FORMANTS)
        self.unit_centre = np.asarray(rng.uniform(0.0, N_UNITS, shape), dtype=np.float32).ravel()
        self.unit_width = np.asarray(rng.uniform(15.0, 50.0, shape), dtype=np.float32).ravel()
        self.time_centre = np.asarray(rng.uniform(0.15, 0.85, shape), dtype=np.float32).ravel()
        self.time_width = np.asarray(rng.uniform(0.05, 0.15, shape), dtype=np.float32).ravel()
        weight = np.asarray(rng.uniform(0.5, 1.5, shape))
        self.cum_weight = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1).astype(np.float32)


def _examples(
    labels: NDArray[np.int32], rng: np.random.Generator, *, n_steps: int, p_spike: float, profiles: _Profiles
) -> SpikeData:
    """Spikes of examples of the given classes, in one batch."""
    n = labels.shape[0]
    scale = np.asarray(rng.uniform(0.8, 1.2, n))
    unit_shift = np.asarray(rng.normal(0.0, 10.0, n), dtype=np.float32)
    time_shift = np.asarray(rng.normal(0.0, 0.05 * n_steps, n), dtype=np.float32)
    counts = rng.poisson(p_spike * n_steps * N_UNITS * scale)
    n_background = rng.binomial(counts, BACKGROUND)
    n_formant = counts - n_background
    # formant events: a formant of the example's class, then a unit and a step around its centres
    total = int(n_formant.sum())
    example = np.repeat(np.arange(n, dtype=np.int64), n_formant)
    pick = rng.random(total, dtype=np.float32)
    table = np.repeat(labels.astype(np.int64) * N_FORMANTS, n_formant)
    for k in range(N_FORMANTS - 1):
        table += pick >= np.repeat(profiles.cum_weight[labels, k], n_formant)
    noise = rng.standard_normal(total, dtype=np.float32)
    noise *= profiles.unit_width[table]
    noise += profiles.unit_centre[table]
    noise += np.repeat(unit_shift, n_formant)
    unit = np.rint(noise).astype(np.int64)
    noise = rng.standard_normal(total, dtype=np.float32)
    noise *= profiles.time_width[table] * np.float32(n_steps)
    noise += profiles.time_centre[table] * np.float32(n_steps)
    noise += np.repeat(time_shift, n_formant)
    step = np.rint(noise).astype(np.int64)
    redraw = (unit < 0) | (unit >= N_UNITS) | (step < 0) | (step >= n_steps)
    m = int(redraw.sum())
    unit[redraw] = rng.integers(0, N_UNITS, m)
    step[redraw] = rng.integers(0, n_steps, m)
    # background events: uniform over units and steps
    m = int(n_background.sum())
    example = np.concatenate((example, np.repeat(np.arange(n, dtype=np.int64), n_background)))
    unit = np.concatenate((unit, rng.integers(0, N_UNITS, m)))
    step = np.concatenate((step, rng.integers(0, n_steps, m)))
    return from_events(example, step, unit, labels, n_units=N_UNITS, n_steps=n_steps, n_classes=N_CLASSES)


def generate(
    n: int, rng: np.random.Generator, *, n_steps: int, dt: float, rate_hz: float = RATE_HZ
) -> SpikeData:
    """``n`` synthetic examples drawn from ``rng``.

    Parameters
    ----------
    n
        The number of examples (at least 1).
    rng
        The generator all draws come from.
    n_steps, dt
        The number of steps of an example and their length in seconds.
    rate_hz
        The mean rate per unit, ``rate_hz * dt <= 1``.
    """
    profiles = _Profiles()
    labels = (np.arange(n) % N_CLASSES).astype(np.int32)
    labels = labels[rng.permutation(n)]
    p_spike = rate_hz * dt
    per_example = max(1.0, 1.2 * p_spike * n_steps * N_UNITS)
    batch = max(1, int(BATCH_SPIKES // per_example))
    parts = [
        _examples(labels[a : a + batch], rng, n_steps=n_steps, p_spike=p_spike, profiles=profiles)
        for a in range(0, n, batch)
    ]
    return concatenate(parts)


def load(
    *,
    seed: int,
    n_steps: int,
    dt: float,
    n_train: int | None = None,
    n_test: int | None = None,
    **options: Any,
) -> SpikeDataset:
    """The synthetic data set; training and test examples drawn from ``seed`` independently.

    Parameters
    ----------
    seed
        The run's seed.
    n_steps, dt
        The number of steps of an example and their length in seconds.
    n_train, n_test
        The numbers of examples (default 2000 and 400).
    **options
        ``rate_hz``: the mean rate per unit (default 15, at most ``1 / dt``).
    """
    known_options("synthetic", options, OPTIONS)
    rate = options.get("rate_hz")
    rate_hz = RATE_HZ if rate is None else positive_float(rate, "data.rate_hz", high=1.0 / dt)
    parts = []
    for part, key, default in ((0, "data.n_train", DEFAULT_TRAIN), (1, "data.n_test", DEFAULT_TEST)):
        n = size_value(n_train if part == 0 else n_test, key, default)
        expected = 1.2 * n * N_UNITS * n_steps * rate_hz * dt
        if expected > MAX_SPIKES:
            raise ConfigError(
                f"{n} examples of {n_steps} steps at {rate_hz:g} Hz make about {expected:.3g} spikes, "
                f"more than the {MAX_SPIKES} a data set may hold",
                path=key,
            )
        parts.append(generate(n, make_rng(seed, _SALT, part), n_steps=n_steps, dt=dt, rate_hz=rate_hz))
    return SpikeDataset(name="synthetic", train=parts[0], test=parts[1], class_names=CLASS_NAMES)
