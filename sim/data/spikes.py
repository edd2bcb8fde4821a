"""Spike-train data sets: examples as sorted spike lists in one CSR layout.

A :class:`SpikeData` holds many examples (one input pattern each, with a
label) as three flat arrays: the spikes of example ``i`` are
``steps[offsets[i]:offsets[i + 1]]`` and ``units[offsets[i]:offsets[i + 1]]``,
sorted by time step, then by input unit, each (step, unit) pair at most once.
A :class:`SpikeDataset` is a named pair of them (train and test).

This module also holds the pieces the loaders share: checks of the caller's
values (every failure a :class:`~sim.errors.ConfigError` with a key path under
``data.``), seeded random generators, the latency code and a builder that
sorts and de-duplicates spike events into a :class:`SpikeData`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.errors import ConfigError, short_repr

#: The most examples a loader makes or reads for one part (train or test).
MAX_EXAMPLES = 10_000_000

#: The most spikes a loader makes or reads for one part or file (8 bytes each in memory).
MAX_SPIKES = 200_000_000


@dataclass(frozen=True)
class SpikeData:
    """Examples as spike trains, CSR by example; each example's spikes sorted by step, then unit.

    Within one example a (step, unit) pair occurs at most once: the input is a
    binary raster of ``n_steps`` x ``n_units`` per example.

    Attributes
    ----------
    offsets
        ``(n_examples + 1,)`` int64; ``offsets[0] == 0``, non-decreasing; the
        spikes of example ``i`` are at ``offsets[i]:offsets[i + 1]``.
    steps
        ``(n_spikes,)`` int32, the time step of each spike, in ``[0, n_steps)``.
    units
        ``(n_spikes,)`` int32, the input unit of each spike, in ``[0, n_units)``.
    labels
        ``(n_examples,)`` int32, the class of each example, in ``[0, n_classes)``.
    n_units, n_steps, n_classes
        The number of input units, of time steps per example and of classes.
    """

    offsets: NDArray[np.int64]
    steps: NDArray[np.int32]
    units: NDArray[np.int32]
    labels: NDArray[np.int32]
    n_units: int
    n_steps: int
    n_classes: int

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_spikes(self) -> int:
        """The number of spikes of all examples together."""
        return int(self.steps.shape[0])

    def _index(self, i: int) -> int:
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f"example index must be an integer, got {short_repr(i)}")
        if not -n <= int(i) < n:
            raise IndexError(f"example {i} out of range for {n} examples")
        return int(i) % n

    def example(self, i: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """The spikes of example ``i`` (negative counts from the end) as views.

        Returns
        -------
        steps, units
            Two int32 arrays of equal length, sorted by step, then unit.
        """
        k = self._index(i)
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return self.steps[a:b], self.units[a:b]

    def subset(self, index: ArrayLike) -> SpikeData:
        """The examples at ``index`` (integers, in that order, repeats allowed; or a boolean mask).

        Raises
        ------
        IndexError
            An index outside ``[-len(self), len(self))``.
        """
        n = len(self)
        idx = np.asarray(index)
        if idx.dtype == np.bool_:
            if idx.shape != (n,):
                raise IndexError(f"boolean mask of shape {idx.shape} for {n} examples")
            idx = np.flatnonzero(idx)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise IndexError(f"subset needs a 1-D integer index, got {idx.dtype} of shape {idx.shape}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"subset index out of range for {n} examples")
        idx = np.where(idx < 0, idx + n, idx)
        starts = self.offsets[idx]
        lengths = self.offsets[idx + 1] - starts
        offsets = np.zeros(idx.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        total = int(offsets[-1])
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
        return SpikeData(
            offsets=offsets,
            steps=self.steps[gather],
            units=self.units[gather],
            labels=self.labels[idx],
            n_units=self.n_units,
            n_steps=self.n_steps,
            n_classes=self.n_classes,
        )

    def dense(self, i: int) -> NDArray[np.uint8]:
        """The raster of example ``i``: ``(n_steps, n_units)`` uint8, 1 where a unit spikes."""
        steps, units = self.example(i)
        raster = np.zeros((self.n_steps, self.n_units), dtype=np.uint8)
        raster[steps, units] = 1
        return raster

    def check(self, what: str) -> None:
        """Raise :class:`~sim.errors.ConfigError` with key path ``what`` if an invariant fails.

        Checked: the dtypes and shapes of the arrays, the offsets (start at 0,
        non-decreasing, end at the number of spikes), the ranges of steps,
        units and labels, and that each example's spikes are sorted by step,
        then unit, with no (step, unit) pair twice.
        """

        def fail(reason: str) -> NoReturn:
            raise ConfigError(reason, path=what)

        for name, value in (
            ("n_units", self.n_units),
            ("n_steps", self.n_steps),
            ("n_classes", self.n_classes),
        ):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                fail(f"{name} must be a positive integer, got {short_repr(value)}")
        for name, array, dtype in (
            ("offsets", self.offsets, np.int64),
            ("steps", self.steps, np.int32),
            ("units", self.units, np.int32),
            ("labels", self.labels, np.int32),
        ):
            if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype != dtype:
                got = (
                    f"{array.dtype} of shape {array.shape}" if isinstance(array, np.ndarray) else type(array)
                )
                fail(f"{name} must be a 1-D {np.dtype(dtype).name} array, got {got}")
        n = self.labels.shape[0]
        if self.offsets.shape[0] != n + 1:
            fail(f"offsets has {self.offsets.shape[0]} entries for {n} examples (needs {n + 1})")
        if self.offsets[0] != 0:
            fail(f"offsets must start at 0, got {self.offsets[0]}")
        if n and np.any(np.diff(self.offsets) < 0):
            fail(f"offsets decrease at example {int(np.argmax(np.diff(self.offsets) < 0))}")
        m = self.steps.shape[0]
        if self.units.shape[0] != m:
            fail(f"{m} steps but {self.units.shape[0]} units")
        if self.offsets[-1] != m:
            fail(f"offsets end at {self.offsets[-1]}, but there are {m} spikes")
        for name, array, high in (
            ("steps", self.steps, self.n_steps),
            ("units", self.units, self.n_units),
            ("labels", self.labels, self.n_classes),
        ):
            if array.size and (array.min() < 0 or array.max() >= high):
                bad = array[(array < 0) | (array >= high)][0]
                fail(f"{name} must be in [0, {high}), found {bad}")
        if m > 1:
            wide = self.n_steps * self.n_units > np.iinfo(np.int32).max
            key = self.steps.astype(np.int64) if wide else self.steps.copy()
            key *= self.n_units
            key += self.units
            ok = np.diff(key) > 0
            starts = self.offsets[1:-1]
            starts = starts[(starts > 0) & (starts < m)]
            ok[starts - 1] = True  # a new example may start anywhere
            if not ok.all():
                where = int(np.argmin(ok)) + 1
                example = int(np.searchsorted(self.offsets, where, side="right")) - 1
                fail(f"the spikes of example {example} are not sorted by step then unit, or repeat a pair")


@dataclass(frozen=True)
class SpikeDataset:
    """A named data set: training and test examples of the same shape, and the names of the classes."""

    name: str
    train: SpikeData
    test: SpikeData
    class_names: tuple[str, ...]

    @property
    def n_units(self) -> int:
        """The number of input units."""
        return self.train.n_units

    @property
    def n_classes(self) -> int:
        """The number of classes."""
        return self.train.n_classes

    @property
    def n_steps(self) -> int:
        """The number of time steps of every example."""
        return self.train.n_steps

    def check(self) -> None:
        """Check both parts (:meth:`SpikeData.check`) and that they agree in shape."""
        self.train.check("data.train")
        self.test.check("data.test")
        for key in ("n_units", "n_steps", "n_classes"):
            if getattr(self.train, key) != getattr(self.test, key):
                raise ConfigError(f"train and test differ in {key}", path=f"data.{self.name}")
        if len(self.class_names) != self.n_classes:
            raise ConfigError(
                f"{len(self.class_names)} class names for {self.n_classes} classes", path=f"data.{self.name}"
            )


# --------------------------------------------------------------------------- building


def from_events(
    example: NDArray[np.integer[Any]],
    steps: NDArray[np.integer[Any]],
    units: NDArray[np.integer[Any]],
    labels: NDArray[np.integer[Any]],
    *,
    n_units: int,
    n_steps: int,
    n_classes: int,
) -> SpikeData:
    """A :class:`SpikeData` from spike events in any order; a repeated (example, step, unit) counts once.

    Parameters
    ----------
    example, steps, units
        One entry per event: its example (in ``[0, len(labels))``), time step
        (in ``[0, n_steps)``) and unit (in ``[0, n_units)``); not checked here.
    labels
        The label of each example.
    n_units, n_steps, n_classes
        The shape of the data.
    """
    n = int(labels.shape[0])
    cells = n_steps * n_units
    key = example.astype(np.int64) * cells
    key += steps.astype(np.int64, copy=False) * n_units
    key += units
    key.sort()  # (np.unique may hash, then sort: slower)
    if key.size > 1:
        keep = np.empty(key.size, dtype=np.bool_)
        keep[0] = True
        np.not_equal(key[1:], key[:-1], out=keep[1:])
        if not keep.all():
            key = key[keep]
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.searchsorted(key, np.arange(1, n + 1, dtype=np.int64) * cells, side="left")
    local = key % cells
    if cells <= np.iinfo(np.int32).max:
        local = local.astype(np.int32)  # (int32 division is faster)
    step, unit = np.divmod(local, np.asarray(n_units, dtype=local.dtype))
    return SpikeData(
        offsets=offsets,
        steps=step.astype(np.int32),
        units=unit.astype(np.int32),
        labels=labels.astype(np.int32),
        n_units=n_units,
        n_steps=n_steps,
        n_classes=n_classes,
    )


def concatenate(parts: list[SpikeData]) -> SpikeData:
    """The examples of ``parts`` one after another (all of the same shape; at least one part)."""
    first = parts[0]
    lengths = np.concatenate([np.diff(p.offsets) for p in parts])
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return SpikeData(
        offsets=offsets,
        steps=np.concatenate([p.steps for p in parts]).astype(np.int32, copy=False),
        units=np.concatenate([p.units for p in parts]).astype(np.int32, copy=False),
        labels=np.concatenate([p.labels for p in parts]).astype(np.int32, copy=False),
        n_units=first.n_units,
        n_steps=first.n_steps,
        n_classes=first.n_classes,
    )


def latency_spikes(
    values: NDArray[np.floating[Any]],
    labels: NDArray[np.integer[Any]],
    *,
    t_latency: int,
    n_steps: int,
    n_classes: int,
) -> SpikeData:
    """Latency code: unit ``j`` of example ``i`` spikes once at step ``rint(values[i, j] * t_latency)``.

    Parameters
    ----------
    values
        ``(n_examples, n_units)`` in ``[0, 1]``; NaN means "no spike" (a silent unit).
        A larger value spikes later; callers that want "strong = early" pass ``1 - v``.
    labels
        ``(n_examples,)`` class of each example.
    t_latency
        The step of value 1, in ``[0, n_steps)``. Rounding is half to even (``np.rint``).
    n_steps, n_classes
        The shape of the result.
    """
    n_units = values.shape[1]
    fire = ~np.isnan(values)
    ex, unit = np.nonzero(fire)  # row-major: grouped by example, units ascending
    step = np.rint(values[ex, unit] * t_latency).astype(np.int64)
    return from_events(ex, step, unit, labels, n_units=n_units, n_steps=n_steps, n_classes=n_classes)


# --------------------------------------------------------------------------- checking the caller's values


def int_value(value: object, key: str, *, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (``high`` None: no upper bound) or a ConfigError at ``key``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConfigError(f"must be an integer, got {short_repr(value)}", path=key)
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f"at least {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"must be {bound}, got {short_repr(v)}", path=key)
    return v


def positive_float(value: object, key: str, *, high: float | None = None) -> float:
    """``value`` as a finite float > 0 (and <= ``high``) or a ConfigError at ``key``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"must be a number, got {short_repr(value)}", path=key)
    v = float(value)
    if not math.isfinite(v) or v <= 0 or (high is not None and v > high):
        bound = "a finite number > 0" if high is None else f"in (0, {high:g}]"
        raise ConfigError(f"must be {bound}, got {short_repr(value)}", path=key)
    return v


def size_value(value: int | None, key: str, default: int) -> int:
    """A number of examples: ``default`` for None, else an int in ``[1, MAX_EXAMPLES]``."""
    if value is None:
        return default
    return int_value(value, key, low=1, high=MAX_EXAMPLES)


def known_options(name: str, options: Mapping[str, object], known: tuple[str, ...]) -> None:
    """Refuse options a data set does not take, naming the ones it does."""
    for key in options:
        if key not in known:
            takes = ", ".join(known) if known else "none"
            raise ConfigError(
                f"not an option of the {name} data set (its options: {takes})", path=f"data.{key}"
            )


def latency_steps(options: Mapping[str, object], n_steps: int) -> int:
    """The option ``t_latency`` (the step of the latest spike): default ``max(1, rint(0.6 * n_steps))``."""
    value = options.get("t_latency")
    if value is None:
        return max(1, round(0.6 * n_steps))
    return int_value(value, "data.t_latency", low=1, high=n_steps - 1)


def make_rng(seed: int, salt: int, part: int = 0) -> np.random.Generator:
    """A generator seeded from the run's ``seed``, a per-data-set constant ``salt`` and a ``part`` number."""
    return np.random.default_rng(np.random.SeedSequence([seed, salt, part]))
