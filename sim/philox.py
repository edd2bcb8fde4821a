"""Counter-based Philox4x32-10 random numbers (Salmon et al. 2011, Random123).

Every random draw of the model is ``philox4x32(counter, key)`` with the key
taken from the seed and a counter built from ``(step, purpose, element,
attempt)``: the same event draws the same numbers on every backend and after a
checkpoint, whatever the order in which events are processed.

The round function is written once, in plain integer arithmetic on 64-bit
unsigned values, so the same Python source runs vectorised under NumPy and
compiled under Numba; ``sim/backends/cuda/philox4x32.cuh`` is its CUDA twin.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

M0 = np.uint64(0xD2511F53)
M1 = np.uint64(0xCD9E8D57)
W0 = np.uint64(0x9E3779B9)
W1 = np.uint64(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
SHIFT8 = np.uint64(8)
ROUNDS = 10
#: 2**-24: ``(x >> 8) * TWO_M24`` is an exact float32 uniform in [0, 1).
TWO_M24 = 1.0 / 16777216.0


def _philox_rounds(
    c0: NDArray[np.uint64],
    c1: NDArray[np.uint64],
    c2: NDArray[np.uint64],
    c3: NDArray[np.uint64],
    k0: NDArray[np.uint64],
    k1: NDArray[np.uint64],
) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64]]:
    """Ten Philox rounds on 32-bit words held in uint64 (scalars or arrays)."""
    for _ in range(ROUNDS):
        p0 = M0 * c0
        p1 = M1 * c2
        n0 = (p1 >> SHIFT32) ^ c1 ^ k0
        n2 = (p0 >> SHIFT32) ^ c3 ^ k1
        c1 = p1 & MASK32
        c3 = p0 & MASK32
        c0 = n0
        c2 = n2
        k0 = (k0 + W0) & MASK32
        k1 = (k1 + W1) & MASK32
    return c0, c1, c2, c3


#: Compiled scalar version for the kernels.
philox_nb = njit(inline="always", cache=True, nogil=True)(_philox_rounds)


def key_from_seed(seed: int) -> tuple[int, int]:
    """Split a 64-bit seed into the two 32-bit key words."""
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    seed = int(seed)
    return seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF


def philox4x32(counter: ArrayLike, key: ArrayLike) -> NDArray[np.uint32]:
    """Philox4x32-10 of ``counter`` (..., 4) under ``key`` (2,), vectorised.

    Returns the four 32-bit output words, shape (..., 4), dtype uint32.
    """
    c = np.asarray(counter, dtype=np.uint64) & MASK32
    k = np.asarray(key, dtype=np.uint64) & MASK32
    if c.shape[-1] != 4 or k.shape != (2,):
        raise ValueError("counter must have a last axis of 4 words and key 2 words")
    out = _philox_rounds(c[..., 0], c[..., 1], c[..., 2], c[..., 3], k[0], k[1])
    return np.stack(out, axis=-1).astype(np.uint32)


@njit(inline="always", cache=True, nogil=True)
def uniform_nb(x: np.uint64) -> np.float32:
    """Exact float32 uniform in [0, 1) from a 32-bit word."""
    return np.float32(x >> SHIFT8) * np.float32(TWO_M24)


@njit(inline="always", cache=True, nogil=True)
def below_nb(x: np.uint64, n: np.int64) -> np.int64:
    """Integer in [0, n) from a 32-bit word (multiply-shift), n < 2**32."""
    return np.int64((x * np.uint64(n)) >> SHIFT32)


@njit(inline="always", cache=True, nogil=True)
def counter_word1(purpose: np.int64, step: np.int64) -> np.uint64:
    """Second counter word: the purpose in the low 16 bits, step bits 32..47 above."""
    return np.uint64(purpose) | ((np.uint64(step) >> SHIFT32) << np.uint64(16))


def uniform(words: ArrayLike) -> NDArray[np.float32]:
    """Vectorised :func:`uniform_nb`."""
    return ((np.asarray(words, dtype=np.uint64) >> SHIFT8).astype(np.float32) * np.float32(TWO_M24)).astype(
        np.float32
    )


def below(words: ArrayLike, n: int) -> NDArray[np.int64]:
    """Vectorised :func:`below_nb`."""
    return ((np.asarray(words, dtype=np.uint64) * np.uint64(n)) >> SHIFT32).astype(np.int64)
