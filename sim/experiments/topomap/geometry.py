"""Grid geometry on the periodic square layers.

Both layers are ``n x n`` grids on a torus. A neuron's id is ``row * n + col``;
its position is ``(x, y) = (col, row)``. Distances are periodic Euclidean
distances in grid units.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def periodic_delta(a: ArrayLike, b: ArrayLike, n: float) -> NDArray[np.float64]:
    """Signed shortest displacement ``b - a`` on a ring of length ``n``.

    The result lies in ``[-n/2, n/2)``.
    """
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    return (d + n / 2.0) % n - n / 2.0


def displacement(pre: ArrayLike, post: ArrayLike, n: int) -> NDArray[np.int64]:
    """Integer periodic displacement ``(dx, dy)`` from ``post`` to ``pre`` ids.

    Components lie in ``[-n//2, (n-1)//2]`` so that each of the ``n*n``
    displacements appears exactly once.
    """
    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    half = n // 2
    dx = (pre % n - post % n + half) % n - half
    dy = (pre // n - post // n + half) % n - half
    return np.stack([dx, dy], axis=-1)


def distance(pre: ArrayLike, post: ArrayLike, n: int) -> NDArray[np.float64]:
    """Periodic Euclidean distance between neuron ids ``pre`` and ``post``."""
    d = displacement(pre, post, n).astype(np.float64)
    return np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)
