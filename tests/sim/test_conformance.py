"""Backend conformance suite: what every backend must do, run once per available backend.

Only the public engine API is used (build, step/run, state, snapshot, events, checkpoints), so a
new backend joins simply by becoming available in ``sim.backends.available_backends()``.
Random numbers are specified (Philox4x32-10 with counters built from step, purpose, element and
attempt), so the stimulus locations and the Poisson source spikes are checked draw for draw
against an independent NumPy implementation of the documented sampling scheme.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.engine import Engine
from sim.events import FF, FORMED, LAT, REMOVED
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.purposes import (
    PURPOSE_POISSON,
    PURPOSE_POISSON_REST,
    PURPOSE_STIMULUS,
)
from sim.experiments.topomap.state import NetworkState
from sim.philox import (
    below,
    key_from_seed,
    philox4x32,
    uniform,
)
from sim.synapses import SynapseTable

BLOCK = 32
MASK32 = 0xFFFFFFFF


@pytest.fixture
def engine(backend_name: str, make_config: Callable[..., ModelConfig]) -> Iterator[Callable[..., Engine]]:
    """``engine(preset, overrides=None, seed=1)`` on the backend under test, closed afterwards."""
    engines: list[Engine] = []

    def build(preset: str, overrides: dict[str, Any] | None = None, seed: int = 1) -> Engine:
        eng = Engine.build(make_config(overrides, preset=preset), backend=backend_name, seed=seed)
        engines.append(eng)
        return eng

    yield build
    for eng in engines:
        eng.close()


# --------------------------------------------------------------------------- NumPy reference


def word1(purpose: int, step: int) -> int:
    """Second counter word: purpose in bits 0..15, step bits 32..47 in bits 16..31."""
    return purpose | ((step >> 32) << 16)


def reference_location(seed: int, index: int, tile: int) -> tuple[int, int]:
    """Stimulus location number ``index``: counter (index, STIMULUS, 0, 0), words 0 and 1."""
    w = philox4x32([index & MASK32, word1(PURPOSE_STIMULUS, index), 0, 0], key_from_seed(seed))
    return int(below(w[0], tile)), int(below(w[1], tile))


def reference_p_src(cfg: ModelConfig, x: int, y: int) -> np.ndarray:
    """Per-step spike probability of every source neuron for a stimulus at (x, y)."""
    side, s = cfg.side, cfg.stimulus
    tile = 16 if s.tiled else side
    ids = np.arange(side * side)
    dx = np.abs(ids % side % tile - x)
    dy = np.abs(ids // side % tile - y)
    dx, dy = np.minimum(dx, tile - dx), np.minimum(dy, tile - dy)
    if s.input == "correlated":
        rate = s.f_base + s.f_peak * np.exp(-(dx * dx + dy * dy).astype(np.float64) / (2.0 * s.sigma**2))
    else:
        rate = np.full(side * side, s.flat_rate)
    return (-np.expm1(-rate * cfg.network.dt * 1e-3)).astype(np.float32)


def reference_source_spikes(seed: int, step: int, p: np.ndarray) -> list[int]:
    """Exact block sampling (kernels.source_spikes): per block of 32 one uniform finds the first spike by
    inverting the block's cumulative probability; each later neuron of the block then draws its own
    uniform."""
    key = key_from_seed(seed)
    c0 = step & MASK32
    spikes: list[int] = []
    for b in range(p.size // BLOCK):
        base = b * BLOCK
        pb = p[base : base + BLOCK].astype(np.float64)
        cdf = np.empty(BLOCK, np.float32)
        none = 1.0
        for k in range(BLOCK):
            none *= 1.0 - pb[k]
            cdf[k] = np.float32(1.0 - none)
        u = uniform(philox4x32([c0, word1(PURPOSE_POISSON, step), b >> 2, 0], key)[b & 3])
        if u >= cdf[-1]:
            continue
        first = int(np.argmax(u < cdf))
        spikes.append(base + first)
        for k in range(first + 1, BLOCK):
            r = philox4x32([c0, word1(PURPOSE_POISSON_REST, step), b, k >> 2], key)[k & 3]
            if uniform(r) < p[base + k]:
                spikes.append(base + k)
    return spikes


def torus_sum(side: int, sigma: float) -> float:
    d = np.array([min(k, side - k) for k in range(side)], np.float64)
    return float(np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma**2)).sum())


# --------------------------------------------------------------------------- invariants


def assert_same_state(a: NetworkState, b: NetworkState) -> None:
    for (key, x), y in zip(a.to_arrays().items(), b.to_arrays().values(), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), f"state array {key} differs"


@pytest.mark.parametrize("preset", ["bamford2010", "bogdan2018", "knight2025"])
def test_invariants_after_one_second(engine: Callable[..., Engine], preset: str) -> None:
    """After 1 s of model time: valid tables, in-degrees matching rows, an event log consistent with
    the counters, the stimulus on the grid, a 20 Hz source layer and plausible target rates."""
    eng = engine(preset)
    cfg = eng.config
    start = eng.snapshot()
    eng.run(1.0)
    snap, st = eng.snapshot(), eng.state()
    n, con, rw = cfg.n_neurons, cfg.connectivity, cfg.rewiring
    events = eng.take_events()
    for code, table, a, b in ((FF, st.ff, start.ff, snap.ff), (LAT, st.lat, start.lat, snap.lat)):
        SynapseTable(table).check()
        assert table.row_len.max() <= con.row_capacity
        np.testing.assert_array_equal(b.in_degree, np.bincount(b.post, minlength=n))
        assert b.in_degree.max() <= con.col_capacity
        assert np.all((b.weight >= 0) & (b.weight <= np.float32(cfg.stdp.g_max)))
        ev = events[events["projection"] == code]
        formed, removed = int(np.sum(ev["kind"] == FORMED)), int(np.sum(ev["kind"] == REMOVED))
        assert formed + removed > 0
        assert (formed, removed) == (b.formed - a.formed, b.removed - a.removed)
        assert b.count == a.count + formed - removed
        if rw.scheme == "pair":
            keys = b.pre.astype(np.int64) * n + b.post
            assert len(np.unique(keys)) == len(keys)
    if rw.scheme == "slot":
        assert (snap.ff.in_degree + snap.lat.in_degree).max() <= rw.s_max
    tile = 16 if cfg.stimulus.tiled else cfg.side
    assert 0 <= snap.stimulus[0] < tile and 0 <= snap.stimulus[1] < tile
    assert np.all(np.isfinite(snap.v)) and np.all(snap.v < cfg.neuron.v_thresh)
    # Source rate: 20 Hz exactly in expectation, minus the O(rate dt) of -expm1; sd 1.4 %.
    src_rate = snap.spikes_src.sum() / (n * 1.0)
    assert src_rate == pytest.approx(20.0, rel=0.06)
    tgt_rate = snap.spikes_tgt.sum() / (n * 1.0)
    assert 1.0 < tgt_rate < 150.0
    calls = snap.step if rw.scheme == "slot" else snap.step // 10
    per_call = 1 if preset == "bamford2010" else 10
    assert snap.attempts[0] == calls * per_call
    assert snap.attempts[1] == (calls * per_call if rw.scheme == "pair" else 0)


@pytest.mark.parametrize(("tiled", "expected"), [(True, 20.0), (False, None)])
def test_source_rate_at_scale_2(engine: Callable[..., Engine], tiled: bool, expected: float | None) -> None:
    """At scale 2 a tiled stimulus keeps the 20 Hz mean; a single blob gives 5 Hz + the blob's share."""
    eng = engine("knight2025", {"network.scale": 2, "stimulus.tiled": tiled, "rewiring.enabled": False})
    eng.run(0.5)
    snap = eng.snapshot()
    if expected is None:
        expected = 5.0 + 152.8 * torus_sum(32, 2.0) / 1024
        assert expected == pytest.approx(8.75, abs=0.01)
    rate = snap.spikes_src.sum() / (1024 * 0.5)
    sd = math.sqrt(expected * 1024 * 0.5) / (1024 * 0.5)
    assert abs(rate - expected) < 4 * sd + 0.01 * expected
    assert all(0 <= c < (16 if tiled else 32) for c in snap.stimulus)


def test_uncorrelated_rate_per_neuron(engine: Callable[..., Engine]) -> None:
    """Flat Poisson input at 1000 Hz (p = 0.095 per step): each neuron fires Binomial(steps, p) times,
    whatever its position in its sampling block."""
    eng = engine(
        "bamford2010",
        {
            "stimulus.input": "uncorrelated",
            "stimulus.flat_rate": 1000.0,
            "rewiring.enabled": False,
            "stdp.enabled": False,
        },
    )
    steps = 2000
    eng.step(steps)
    counts = eng.snapshot().spikes_src.astype(np.float64)
    p = -math.expm1(-1000.0 * 1e-4)
    mean, var = steps * p, steps * p * (1 - p)
    assert abs(counts.mean() - mean) < 4 * math.sqrt(var / counts.size)
    assert 0.6 < counts.var(ddof=1) / var < 1.4
    by_position = counts.reshape(-1, BLOCK).sum(axis=0)  # 8 neurons per position
    chi2 = float(((by_position - 8 * mean) ** 2 / (8 * var)).sum())
    assert chi2 < BLOCK + 8 * math.sqrt(2 * BLOCK)


def test_stimulus_locations_follow_philox(engine: Callable[..., Engine]) -> None:
    """Location number k (drawn at step k x period / dt) is below(words 0, 1 of Philox(k, STIMULUS, 0, 0))."""
    eng = engine("bamford2010", {"stimulus.period": 1.0}, seed=12345)  # a new location every 10 steps
    seen = []
    for k in range(30):
        eng.step(10)
        loc = eng.snapshot().stimulus
        assert loc == reference_location(12345, k, 16), f"location {k}"
        seen.append(loc)
    assert len(set(seen)) > 20


def test_every_stimulus_position_occurs(engine: Callable[..., Engine]) -> None:
    """Locations are uniform over all n x n positions, last row and column included (an old off-by-one)."""
    eng = engine(
        "bamford2010", {"stimulus.period": 0.1, "rewiring.enabled": False}
    )  # a new location each step
    locations = []
    for _ in range(2000):
        eng.step(1)
        locations.append(eng.snapshot().stimulus)
    xs, ys = np.array(locations).T
    assert xs.min() == 0 and ys.min() == 0 and xs.max() == 15 and ys.max() == 15
    counts = np.bincount(ys * 16 + xs, minlength=256)
    assert np.count_nonzero(counts) >= 250  # expected 255.9 of 256 positions seen
    assert float(((counts - 2000 / 256) ** 2 / (2000 / 256)).sum()) < 255 + 8 * math.sqrt(2 * 255)


@pytest.mark.parametrize(("preset", "tiled"), [("bamford2010", False), ("knight2025", True)])
def test_source_spikes_follow_reference_sampling(
    engine: Callable[..., Engine], preset: str, tiled: bool
) -> None:
    """The source spikes of each of the first steps are exactly those of the NumPy reference sampler."""
    seed = 77
    overrides = {
        "network.scale": 2,
        "stimulus.tiled": tiled,
        "stimulus.f_base": 50.0,
        "stimulus.f_peak": 600.0,
    }
    eng = engine(preset, overrides, seed=seed)
    cfg = eng.config
    tile = 16 if tiled else cfg.side
    p = reference_p_src(cfg, *reference_location(seed, 0, tile))
    total = 0
    for step in range(12):
        eng.step(1)
        snap = eng.snapshot()
        got = snap.last_spikes_src.tolist()
        assert got == reference_source_spikes(seed, step, p), f"step {step}"
        total += len(got)
    assert total > 50


@pytest.mark.parametrize("preset", ["bamford2010", "knight2025"])
def test_checkpoint_round_trip_is_bit_exact(
    engine: Callable[..., Engine], backend_name: str, preset: str, tmp_path: Path
) -> None:
    """Run, save, run on; a new engine from the checkpoint runs on to the identical state and event log."""
    path = tmp_path / f"{preset}.npz"
    a = engine(preset, {"rewiring.rate": 4e4}, seed=21)
    a.run(0.05)
    a.save_checkpoint(path)
    a.take_events()
    a.run(0.05)
    b = Engine.from_checkpoint(path, backend=backend_name)
    try:
        assert b.backend_name == a.backend_name
        b.run(0.05)
        assert_same_state(a.state(), b.state())
        after = a.take_events()
        np.testing.assert_array_equal(after, b.take_events())
        assert len(after) > 0
    finally:
        b.close()


def test_event_log_replays_to_final_synapses(engine: Callable[..., Engine]) -> None:
    """Formed/removed events applied to the initial synapses give the final ones exactly."""
    eng = engine(
        "bamford2010", {"connectivity.ff_fan_in": 10, "connectivity.lat_fan_in": 10, "rewiring.rate": 4e4}
    )
    start = eng.snapshot()
    eng.run(0.2)
    end = eng.snapshot()
    for code, a, b in ((FF, start.ff, end.ff), (LAT, start.lat, end.lat)):
        pairs = Counter(zip(a.pre.tolist(), a.post.tolist(), strict=True))
        for ev in end.events[end.events["projection"] == code]:
            key = (int(ev["pre"]), int(ev["post"]))
            pairs[key] += 1 if ev["kind"] == FORMED else -1
            assert pairs[key] >= 0
        assert +pairs == Counter(zip(b.pre.tolist(), b.post.tolist(), strict=True))
