"""Tests of ``sim.philox``: the counter-based Philox4x32-10 generator and its helpers."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sim.philox import (
    below,
    below_nb,
    counter_word1,
    key_from_seed,
    philox4x32,
    philox_nb,
    uniform,
    uniform_nb,
)

#: Known-answer vectors of philox4x32-10 from Random123 (kat_vectors): counter, key, result.
KAT = [
    (
        (0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000000, 0x00000000),
        (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8),
    ),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@njit(cache=False)
def _philox_compiled(c0: int, c1: int, c2: int, c3: int, k0: int, k1: int) -> tuple[int, int, int, int]:
    r0, r1, r2, r3 = philox_nb(
        np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3), np.uint64(k0), np.uint64(k1)
    )
    return r0, r1, r2, r3


@njit(cache=False)
def _uniform_below_compiled(words: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    u = np.empty(words.shape[0], np.float32)
    b = np.empty(words.shape[0], np.int64)
    for i in range(words.shape[0]):
        u[i] = uniform_nb(np.uint64(words[i]))
        b[i] = below_nb(np.uint64(words[i]), np.int64(n))
    return u, b


@njit(cache=False)
def _counter_word1_compiled(purpose: int, step: int) -> int:
    return counter_word1(np.int64(purpose), np.int64(step))


def _words(count: int, key: tuple[int, int] = (1234, 5678)) -> np.ndarray:
    """``4 * count`` Philox output words from consecutive counters."""
    ctr = np.zeros((count, 4), np.uint64)
    ctr[:, 0] = np.arange(count, dtype=np.uint64)
    ctr[:, 1] = 99
    return philox4x32(ctr, key).ravel()


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_known_answers_vectorised(
    counter: tuple[int, ...], key: tuple[int, int], expected: tuple[int, ...]
) -> None:
    """The NumPy version reproduces the Random123 known-answer vectors, as uint32 words."""
    out = philox4x32(np.array(counter, np.uint64), np.array(key, np.uint64))
    assert out.dtype == np.uint32
    assert out.shape == (4,)
    assert [int(w) for w in out] == list(expected)


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_known_answers_compiled(
    counter: tuple[int, ...], key: tuple[int, int], expected: tuple[int, ...]
) -> None:
    """The Numba version the kernels use reproduces the same vectors."""
    out = _philox_compiled(*counter, *key)
    assert [int(w) for w in out] == list(expected)


def test_vectorised_batch_matches_compiled() -> None:
    """A batch of random counters gives the same words vectorised (any batch shape) and compiled."""
    rng = np.random.default_rng(3)
    ctr = rng.integers(0, 2**32, size=(3, 5, 4), dtype=np.uint64)
    key = (0xDEADBEEF, 0x01234567)
    out = philox4x32(ctr, key)
    assert out.shape == (3, 5, 4)
    for idx in np.ndindex(3, 5):
        c = [int(x) for x in ctr[idx]]
        assert [int(w) for w in _philox_compiled(*c, *key)] == [int(w) for w in out[idx]]


def test_counter_and_key_shapes_are_checked() -> None:
    """A counter without 4 words or a key without 2 words is rejected."""
    with pytest.raises(ValueError, match="4 words"):
        philox4x32(np.zeros(3, np.uint64), (0, 0))
    with pytest.raises(ValueError, match="key"):
        philox4x32(np.zeros(4, np.uint64), (0, 0, 0))


def test_uniform_range_and_exact_grid() -> None:
    """``uniform`` maps words to float32 multiples of 2**-24 in [0, 1): 0 -> 0, 2**32-1 -> 1 - 2**-24."""
    words = np.array([0, 255, 256, 2**31, 2**32 - 1], np.uint64)
    u = uniform(words)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, np.array([0.0, 0.0, 2.0**-24, 0.5, 1.0 - 2.0**-24], np.float32))
    many = uniform(_words(25_000))
    assert many.min() >= 0.0
    assert many.max() < 1.0
    assert np.all(many * np.float32(2**24) == np.floor(many * np.float32(2**24)))


@pytest.mark.parametrize("n", [1, 2, 7, 256, 1000, 2**31 + 11])
def test_below_range(n: int) -> None:
    """``below(w, n)`` lies in [0, n); the extreme words give 0 and n - 1."""
    words = np.concatenate([np.array([0, 2**32 - 1], np.uint64), _words(5000)])
    b = below(words, n)
    assert b.dtype == np.int64
    assert b[0] == 0
    assert b[1] == n - 1
    assert b.min() >= 0
    assert b.max() < n


def test_compiled_uniform_and_below_match_vectorised() -> None:
    """``uniform_nb`` / ``below_nb`` (the kernels' versions) agree bit for bit with the NumPy ones."""
    words = _words(2500)
    u, b = _uniform_below_compiled(words, 37)
    np.testing.assert_array_equal(u, uniform(words))
    np.testing.assert_array_equal(b, below(words, 37))


def _chi2(counts: np.ndarray) -> float:
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum())


def test_uniform_is_uniform_chi_square() -> None:
    """10^5 uniforms in 100 equal bins: chi-square (99 dof, mean 99, sd 14) stays below a loose 200."""
    u = uniform(_words(25_000))
    assert u.size == 100_000
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    assert counts.size == 100
    assert _chi2(counts) < 200.0
    assert abs(float(u.mean()) - 0.5) < 0.005  # sd of the mean is 0.0009


@pytest.mark.parametrize("n", [3, 10, 256])
def test_below_is_uniform_chi_square(n: int) -> None:
    """10^5 draws of ``below(w, n)``: chi-square with n - 1 dof stays below mean + 8 sd."""
    b = below(_words(25_000), n)
    counts = np.bincount(b, minlength=n)
    dof = n - 1
    assert _chi2(counts) < dof + 8 * np.sqrt(2 * dof)


def test_words_of_different_counters_and_keys_are_unrelated() -> None:
    """Neighbouring counters and keys give different streams (no accidental reuse of draws)."""
    a = _words(1000, key=(1, 0))
    b = _words(1000, key=(2, 0))
    c = _words(1000, key=(1, 1))
    assert np.mean(a == b) < 0.01
    assert np.mean(a == c) < 0.01
    assert len(np.unique(a)) > 0.99 * a.size


def test_key_from_seed_splits_64_bits() -> None:
    """The seed's low and high 32 bits become the two key words."""
    assert key_from_seed(0) == (0, 0)
    assert key_from_seed(1) == (1, 0)
    assert key_from_seed(0x0123456789ABCDEF) == (0x89ABCDEF, 0x01234567)
    assert key_from_seed(2**64 - 1) == (0xFFFFFFFF, 0xFFFFFFFF)


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70])
def test_key_from_seed_rejects_out_of_range(seed: int) -> None:
    """Seeds outside [0, 2**64) raise ValueError naming the range."""
    with pytest.raises(ValueError, match="2\\*\\*64"):
        key_from_seed(seed)


def test_counter_word1_packs_purpose_and_high_step_bits() -> None:
    """Word 1 holds the purpose in bits 0..15 and step bits 32..47 in bits 16..31."""
    assert _counter_word1_compiled(2, 0) == 2
    assert _counter_word1_compiled(2, 2**32 - 1) == 2
    assert _counter_word1_compiled(7, 3 * 2**32 + 5) == 7 | (3 << 16)
    assert _counter_word1_compiled(10, (2**16 - 1) * 2**32) == 10 | (0xFFFF << 16)
