"""The Yin-Yang data set (Kriener, Göltz & Petrovici 2021), latency coded.

Points ``(x, y)`` are drawn uniformly in the unit square and kept only inside
the big circle (centre ``(r_big, r_big)`` = ``(0.5, 0.5)``, radius ``r_big`` =
0.5). The class follows the reference generator
(``github.com/lkriener/yin_yang_data_set``, ``dataset.py``, ``which_class``),
whose two dots lie on the horizontal diameter, at ``(1.5 r_big, r_big)`` =
``(0.75, 0.5)`` ("right") and ``(0.5 r_big, r_big)`` = ``(0.25, 0.5)``
("left"). With ``d_right`` and ``d_left`` the distances to them:

- **dot** (class 2): ``d_right < r_small`` or ``d_left < r_small`` (``r_small`` = 0.1);
- else class 1 if any of
  ``d_right <= r_small``;
  ``r_small < d_left <= r_big / 2``;
  ``y > r_big`` and ``d_right > r_big / 2``;
- else class 0.

So class 1 is the upper half of the disc less the half-disc of radius 0.25
around the right dot, plus the half-disc of radius 0.25 around the left dot;
class 0 is the rest. The class names are the reference's, in its order:
``("yin", "yang", "dot")`` (its class 1, whose variable is ``is_yin``, is
named ``"yang"``; the numbers, not the names, are what published results use).

Classes are balanced as in the reference: each example first draws its class
uniformly from the three, then takes the next candidate point of that class
(rejection sampling). The classes are therefore equally likely, not exactly
equal in number. Candidates are drawn in vectorised batches, which gives the
same distribution as the reference's point-by-point loop (not the same points).

Each example is 5 input units: the features ``x, y, 1 - x, 1 - y`` (each in
``[0, 1]``), unit ``j`` firing once at step ``rint(feature_j * t_latency)``,
and a bias unit 4 firing at step 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.data.spikes import SpikeData, SpikeDataset, known_options, latency_spikes, latency_steps, make_rng
from sim.data.spikes import size_value as _size
from sim.errors import ConfigError

R_SMALL = 0.1
R_BIG = 0.5
N_UNITS = 5
N_CLASSES = 3
CLASS_NAMES = ("yin", "yang", "dot")
DEFAULT_TRAIN = 5000
DEFAULT_TEST = 1000
OPTIONS = ("t_latency",)

_SALT = 0x59_59_5F_31  # "YY_1": this data set's constant in every seed


def yin_yang_class(
    x: ArrayLike, y: ArrayLike, r_small: float = R_SMALL, r_big: float = R_BIG
) -> NDArray[np.int32]:
    """The class (0, 1 or 2 = dot) of points inside the big circle, by the reference rule (module docstring).

    Points outside the big circle get a class too (the rule does not look at
    the circle); the generator never makes them.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    d_right = np.hypot(xa - 1.5 * r_big, ya - r_big)
    d_left = np.hypot(xa - 0.5 * r_big, ya - r_big)
    is_class1 = (
        (d_right <= r_small)
        | ((d_left > r_small) & (d_left <= 0.5 * r_big))
        | ((ya > r_big) & (d_right > 0.5 * r_big))
    )
    is_dot = (d_right < r_small) | (d_left < r_small)
    return np.where(is_dot, 2, is_class1.astype(np.int32)).astype(np.int32)


def yin_yang_points(n: int, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """``n`` points of the data set: ``(n, 2)`` coordinates in ``[0, 1]^2`` and their classes.

    Each example draws its class uniformly, then takes the next uniform point
    inside the big circle that has that class (the reference's balancing).
    """
    goals = rng.integers(0, N_CLASSES, size=n).astype(np.int32)
    need = np.bincount(goals, minlength=N_CLASSES)
    found: list[list[NDArray[np.float64]]] = [[] for _ in range(N_CLASSES)]
    have = np.zeros(N_CLASSES, dtype=np.int64)
    while np.any(have < need):
        # the dots hold 8% of the disc, the disc 78.5% of the square: 1 in 16 candidates is a dot
        batch = int(max(1024, 20 * np.max(need - have)))
        xy = rng.random((batch, 2))
        inside = np.hypot(xy[:, 0] - R_BIG, xy[:, 1] - R_BIG) <= R_BIG
        xy = xy[inside]
        cls = yin_yang_class(xy[:, 0], xy[:, 1])
        for k in range(N_CLASSES):
            if have[k] < need[k]:
                pts = xy[cls == k][: need[k] - have[k]]
                found[k].append(pts)
                have[k] += pts.shape[0]
    points = np.empty((n, 2), dtype=np.float64)
    for k in range(N_CLASSES):
        points[goals == k] = np.concatenate(found[k]) if found[k] else np.empty((0, 2))
    return points, goals


def encode(
    points: NDArray[np.float64], labels: NDArray[np.int32], *, t_latency: int, n_steps: int
) -> SpikeData:
    """Latency code of points: units 0-3 the features ``x, y, 1-x, 1-y``, unit 4 a bias spike at step 0."""
    values = np.empty((points.shape[0], N_UNITS), dtype=np.float64)
    values[:, 0:2] = points
    values[:, 2:4] = 1.0 - points
    values[:, 4] = 0.0
    return latency_spikes(values, labels, t_latency=t_latency, n_steps=n_steps, n_classes=N_CLASSES)


def load(
    *, seed: int, n_steps: int, n_train: int | None = None, n_test: int | None = None, **options: Any
) -> SpikeDataset:
    """The Yin-Yang data set, its training and test parts drawn from ``seed`` independently.

    Parameters
    ----------
    seed
        The run's seed (a non-negative integer).
    n_steps
        Time steps per example, at least 2.
    n_train, n_test
        The numbers of examples (default 5000 and 1000).
    **options
        ``t_latency``: the step of feature value 1, in ``[1, n_steps - 1]``
        (default ``max(1, rint(0.6 * n_steps))``).
    """
    known_options("yin_yang", options, OPTIONS)
    if n_steps < 2:
        raise ConfigError(f"the yin_yang data set needs at least 2 steps, got {n_steps}", path="data.n_steps")
    t_latency = latency_steps(options, n_steps)
    parts = []
    for part, size in (
        (0, _size(n_train, "data.n_train", DEFAULT_TRAIN)),
        (1, _size(n_test, "data.n_test", DEFAULT_TEST)),
    ):
        points, labels = yin_yang_points(size, make_rng(seed, _SALT, part))
        parts.append(encode(points, labels, t_latency=t_latency, n_steps=n_steps))
    return SpikeDataset(name="yin_yang", train=parts[0], test=parts[1], class_names=CLASS_NAMES)
