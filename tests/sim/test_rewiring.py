"""Statistics of structural plasticity (MODEL.md, "Rewiring").

Formation and elimination are random, so each test derives the expectation of what it measures
from the model's rules and checks the measurement within a few standard deviations (about 4:
a false alarm rate near 1e-4 per check with fixed seeds, so a failure means a real deviation).
STDP is off wherever weights must stay put.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.engine import Engine
from sim.events import FF, FORMED, LAT, REMOVED
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.geometry import distance
from sim.synapses import S_FORMED, S_REFUSED_COL, S_REFUSED_ROW, SynapseTable, table_to_coo

N = 256
#: Slot scheme starting from empty slots, every formation attempt accepted, nothing eliminated.
SLOT_FILL: dict[str, Any] = {
    "stdp.enabled": False,
    "connectivity.ff_fan_in": 0,
    "connectivity.lat_fan_in": 0,
    "connectivity.col_capacity": 32,
    "rewiring.partner": "random",
    "rewiring.rate": 1e5,  # 10 attempts per 0.1 ms step
    "rewiring.ff.p_form": 1.0,
    "rewiring.ff.sigma_form": 1e4,
    "rewiring.lat.p_form": 1.0,
    "rewiring.lat.sigma_form": 1e4,
    "rewiring.ff.p_elim_dep": 0.0,
    "rewiring.ff.p_elim_pot": 0.0,
    "rewiring.lat.p_elim_dep": 0.0,
    "rewiring.lat.p_elim_pot": 0.0,
}


@pytest.fixture
def engine(make_config: Callable[..., ModelConfig]) -> Iterator[Callable[..., Engine]]:
    """``engine(overrides, preset=None, seed=1)``: a CPU engine, closed after the test."""
    engines: list[Engine] = []

    def build(overrides: dict[str, Any] | None = None, preset: str | None = None, seed: int = 1) -> Engine:
        eng = Engine.build(make_config(overrides, preset=preset), backend="cpu", seed=seed)
        engines.append(eng)
        return eng

    yield build
    for eng in engines:
        eng.close()


def torus_p(p_form: float, sigma: float, side: int = 16) -> np.ndarray:
    """Formation probability of every displacement of a side x side torus."""
    d = np.array([min(k, side - k) for k in range(side)], np.float64)
    return p_form * np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2.0 * sigma**2))


def within(measured: float, expected: float, sd: float, k: float = 4.0) -> None:
    assert abs(measured - expected) < k * sd, f"measured {measured:.5g}, expected {expected:.5g} +- {sd:.3g}"


# --------------------------------------------------------------------------- slot scheme


@pytest.mark.parametrize("autapses", [True, False])
def test_slot_formation_fills_slots_up_to_s_max(engine: Callable[..., Engine], autapses: bool) -> None:
    """From empty slots with p_form 1: in-degree per target rises to s_max = 32 and never exceeds it.

    About 195 attempts per target leave an expected 32 exp(-195/32) = 0.07 slots empty; the random
    partner is FF or LAT with probability 1/2 each; with allow_autapses false no LAT autapse forms.
    """
    eng = engine({**SLOT_FILL, "connectivity.allow_autapses": autapses})
    previous = np.zeros(N, np.int64)
    for _ in range(5):
        eng.step(1000)
        snap = eng.snapshot()
        total = snap.ff.in_degree.astype(np.int64) + snap.lat.in_degree
        assert total.max() <= 32
        assert np.all(total >= previous)  # nothing is eliminated
        previous = total
    assert total.mean() > 31.7
    assert snap.ff.removed == snap.lat.removed == 0
    assert snap.ff.refused == snap.lat.refused == 0
    n_ff, n_all = snap.ff.count, snap.ff.count + snap.lat.count
    within(n_ff / n_all, 0.5, math.sqrt(0.25 / n_all))
    assert snap.attempts[0] == 50_000
    if not autapses:
        assert not np.any(snap.lat.pre == snap.lat.post)


def test_slot_formation_follows_distance_profile(engine: Callable[..., Engine]) -> None:
    """With a random partner the displacement of new synapses is distributed like p(d)."""
    eng = engine({**SLOT_FILL, "rewiring.ff.sigma_form": 2.5, "rewiring.lat.sigma_form": 1.0})
    eng.step(2000)
    snap = eng.snapshot()
    for syn, sigma in ((snap.ff, 2.5), (snap.lat, 1.0)):
        assert syn.count > 150
        d2 = distance(syn.pre, syn.post, 16) ** 2
        p = torus_p(1.0, sigma)
        dd = np.array([min(k, 16 - k) for k in range(16)], np.float64)
        grid = dd[:, None] ** 2 + dd[None, :] ** 2
        mean = float((p * grid).sum() / p.sum())
        var = float((p * grid**2).sum() / p.sum()) - mean**2
        within(float(d2.mean()), mean, math.sqrt(var / syn.count))


@pytest.mark.parametrize(("p_dep", "p_pot"), [(0.5, 0.1), (0.0, 0.3), (0.4, 0.0)])
def test_slot_elimination_probabilities(engine: Callable[..., Engine], p_dep: float, p_pot: float) -> None:
    """Depressed (w < g_max/2) synapses go with p_elim_dep, potentiated ones with p_elim_pot.

    All 32 slots of every target start occupied (16 FF + 16 LAT), formation is off. Each attempt
    hits a given synapse with probability 1 / (N s_max), so after A attempts it survives with
    probability (1 - p / (N s_max))^A.
    """
    overrides = {
        "stdp.enabled": False,
        "rewiring.rate": 1e5,
        **{f"rewiring.{proj}.p_elim_dep": p_dep for proj in ("ff", "lat")},
        **{f"rewiring.{proj}.p_elim_pot": p_pot for proj in ("ff", "lat")},
    }
    eng = engine(overrides)
    eng.set_parameter("rewiring.ff.p_form", 0.0)
    eng.set_parameter("rewiring.lat.p_form", 0.0)
    st = eng.state()
    rng = np.random.default_rng(0)
    for t in (st.ff, st.lat):
        assert np.all(t.col_len == 16)
        t.weight[:] = np.where(rng.random(t.weight.shape) < 0.5, 0.05, 0.15).astype(np.float32)
    counts0 = {
        w: sum(int(np.sum(table_to_coo(t)[2] == np.float32(w))) for t in (st.ff, st.lat))
        for w in (0.05, 0.15)
    }
    eng.replace_state(st)
    eng.step(2000)
    snap = eng.snapshot()
    attempts = snap.attempts[0]
    assert attempts == 20_000
    weights = np.concatenate([snap.ff.weight, snap.lat.weight])
    for w, p in ((0.05, p_dep), (0.15, p_pot)):
        n0 = counts0[w]
        removed = n0 - int(np.sum(weights == np.float32(w)))
        q = 1.0 - (1.0 - p / (N * 32)) ** attempts
        if p == 0.0:
            assert removed == 0
        else:
            within(removed, n0 * q, math.sqrt(n0 * q * (1 - q)))
    assert len(snap.events) == snap.ff.removed + snap.lat.removed
    assert np.all(snap.events["kind"] == REMOVED)


def test_slot_last_spike_partner_spiked_in_that_step(engine: Callable[..., Engine]) -> None:
    """Bogdan's partner choice: each FF (LAT) partner of a new synapse is a source (target) just spiked."""
    eng = engine({"connectivity.ff_fan_in": 8, "connectivity.lat_fan_in": 8}, preset="bogdan2018")
    formed = 0
    for _ in range(300):
        eng.step(1)
        snap = eng.snapshot()
        for ev in snap.events[snap.events["kind"] == FORMED]:
            assert ev["step"] == snap.step - 1
            spikers = snap.last_spikes_src if ev["projection"] == FF else snap.last_spikes_tgt
            assert ev["pre"] in spikers
            formed += 1
    assert formed >= 20


def test_full_rows_refuse_and_count(engine: Callable[..., Engine]) -> None:
    """Tiny rows (capacity 2): formations into a full row are refused, counted, never written or logged."""
    eng = engine({**SLOT_FILL, "connectivity.row_capacity": 2})
    eng.step(2000)
    st = eng.state()
    snap = eng.snapshot()
    for t, syn, code in ((st.ff, snap.ff, FF), (st.lat, snap.lat, LAT)):
        SynapseTable(t).check()
        assert t.row_len.max() <= 2
        assert t.stats[S_REFUSED_ROW] > 0
        assert t.stats[S_REFUSED_COL] == 0
        assert syn.refused == t.stats[S_REFUSED_ROW]
        assert syn.count == t.stats[S_FORMED] == np.sum(snap.events["projection"] == code)
        assert syn.count > 0.95 * 2 * N


# --------------------------------------------------------------------------- pair scheme

PAIR_BASE: dict[str, Any] = {"stdp.enabled": False, "network.dt": 1.0}


@pytest.mark.parametrize("p_dep", [0.5, 1.225])
def test_pair_elimination_probability(engine: Callable[..., Engine], p_dep: float) -> None:
    """Pair scheme: each call draws A distinct pairs, so a synapse is attempted with probability A / N^2
    per call and survives C calls with probability (1 - min(p, 1) A / N^2)^C (p above 1 means always)."""
    eng = engine(
        {
            **PAIR_BASE,
            "rewiring.rate": 1e6,
            "rewiring.ff.p_elim_dep": p_dep,
            "rewiring.lat.p_elim_dep": p_dep,
        },
        preset="knight2025",
    )
    eng.set_parameter("rewiring.ff.p_form", 0.0)
    eng.set_parameter("rewiring.lat.p_form", 0.0)
    st = eng.state()
    st.ff.weight[:] = 0.05
    st.lat.weight[:] = 0.05
    n0 = (int(st.ff.row_len.sum()), int(st.lat.row_len.sum()))
    eng.replace_state(st)
    eng.step(100)
    snap = eng.snapshot()
    assert snap.attempts == (100_000, 100_000)
    for syn, start in zip((snap.ff, snap.lat), n0, strict=True):
        q = 1.0 - (1.0 - min(p_dep, 1.0) * 1000 / N**2) ** 100
        within(start - syn.count, start * q, math.sqrt(start * q * (1 - q)))
        assert syn.removed == start - syn.count


def test_pair_in_degree_converges_to_formation_elimination_balance(engine: Callable[..., Engine]) -> None:
    """Without STDP (weights stay at g_max) a pair flips absent -> present with p(d), back with p_elim_pot.

    The stationary in-degree is sum_d p(d) / (p(d) + p_elim_pot). With p_elim_pot = 1 and a small
    p_form this is close to 2 pi p_form sigma^2: FF p_form 0.05, sigma 3 gives 2.83 (exactly 2.71);
    LAT keeps p_form 1, sigma 1, where the balance (4.35) is far from 6.28. Start from no synapses.
    """
    overrides = {
        **PAIR_BASE,
        "rewiring.rate": 1e7,
        "rewiring.ff.p_form": 0.0,
        "rewiring.lat.p_form": 0.0,
        "rewiring.ff.p_elim_pot": 1.0,
        "rewiring.lat.p_elim_pot": 1.0,
    }
    eng = engine(overrides, preset="knight2025")
    assert eng.snapshot().ff.count == 0 and eng.snapshot().lat.count == 0
    eng.set_parameter("rewiring.ff.p_form", 0.05)
    eng.set_parameter("rewiring.ff.sigma_form", 3.0)
    eng.set_parameter("rewiring.lat.p_form", 1.0)
    eng.step(200)  # each pair is attempted with probability 0.15 per call: ~30 attempts each
    samples: dict[str, list[float]] = {"ff": [], "lat": []}
    for _ in range(20):
        eng.step(20)
        snap = eng.snapshot()
        samples["ff"].append(float(snap.ff.in_degree.mean()))
        samples["lat"].append(float(snap.lat.in_degree.mean()))
        assert np.all(snap.ff.weight == np.float32(0.2))
    for proj, p_form, sigma in (("ff", 0.05, 3.0), ("lat", 1.0, 1.0)):
        p = torus_p(p_form, sigma)
        prob = p / (p + 1.0)
        expected = float(prob.sum())
        # Samples 20 calls apart are nearly independent (correlation time ~6 calls).
        sd = math.sqrt(float((prob * (1 - prob)).sum()) / N / len(samples[proj]))
        within(float(np.mean(samples[proj])), expected, sd, k=5)
    theory = 2 * math.pi * 0.05 * 3.0**2
    assert abs(np.mean(samples["ff"]) - theory) < 0.06 * theory


def test_pair_scheme_never_makes_multapses_or_exceeds_columns(engine: Callable[..., Engine]) -> None:
    """Pair scheme, columns of 4, eager formation: no multapse, in-degree <= 4, refusals counted."""
    sparse = {"rewiring.ff.p_form": 0.01, "rewiring.lat.p_form": 0.01}  # the initial wiring fits columns of 4
    eng = engine(
        {**PAIR_BASE, **sparse, "rewiring.rate": 1e6, "connectivity.col_capacity": 4}, preset="knight2025"
    )
    eng.set_parameter("rewiring.ff.p_form", 1.0)
    eng.set_parameter("rewiring.ff.sigma_form", 100.0)
    eng.step(50)
    st = eng.state()
    for t in (st.ff, st.lat):
        SynapseTable(t).check()
        assert t.col_len.max() <= 4
        pre, post, _ = table_to_coo(t)
        keys = pre.astype(np.int64) * N + post
        assert len(np.unique(keys)) == len(keys)
    assert st.ff.stats[S_REFUSED_COL] > 0
    assert eng.snapshot().ff.refused == st.ff.stats[S_REFUSED_COL] + st.ff.stats[S_REFUSED_ROW]


# --------------------------------------------------------------------------- event log


def replay(initial: tuple[np.ndarray, np.ndarray], events: np.ndarray) -> Counter[tuple[int, int]]:
    """Apply formed/removed events in order to a multiset of (pre, post) pairs."""
    pairs: Counter[tuple[int, int]] = Counter(zip(initial[0].tolist(), initial[1].tolist(), strict=True))
    for ev in events:
        key = (int(ev["pre"]), int(ev["post"]))
        if ev["kind"] == FORMED:
            pairs[key] += 1
        else:
            assert pairs[key] > 0, f"event removes absent synapse {key} at step {ev['step']}"
            pairs[key] -= 1
    return +pairs


@pytest.mark.parametrize(("preset", "every"), [("bamford2010", 1), ("knight2025", 10), ("bogdan2018", 1)])
def test_event_log_replays_to_final_tables(engine: Callable[..., Engine], preset: str, every: int) -> None:
    """Replaying the event log on the initial synapses gives exactly the final synapses of each projection;
    counts of formed and removed events equal the table statistics; events fall on rewiring steps."""
    eng = engine(
        {"rewiring.rate": 4e4, "connectivity.ff_fan_in": 12, "connectivity.lat_fan_in": 12}, preset=preset
    )
    start = eng.snapshot()
    eng.run(0.3)
    end = eng.snapshot()
    events = eng.take_events()
    assert len(events) > 50
    np.testing.assert_array_equal(events, end.events)
    assert np.all(np.diff(events["step"]) >= 0)
    assert np.all(events["step"] % every == every - 1)
    assert events["step"].min() >= 0 and events["step"].max() < end.step
    for code, a, b in ((FF, start.ff, end.ff), (LAT, start.lat, end.lat)):
        ev = events[events["projection"] == code]
        formed, removed = int(np.sum(ev["kind"] == FORMED)), int(np.sum(ev["kind"] == REMOVED))
        assert (formed, removed) == (b.formed - a.formed, b.removed - a.removed)
        assert b.count == a.count + formed - removed
        delta = np.bincount(ev["post"], weights=np.where(ev["kind"] == FORMED, 1, -1), minlength=N)
        np.testing.assert_array_equal(b.in_degree - a.in_degree, delta.astype(np.int64))
        final = replay((a.pre, a.post), ev)
        assert final == +Counter(zip(b.pre.tolist(), b.post.tolist(), strict=True))


def test_rewiring_off_changes_no_synapse(engine: Callable[..., Engine]) -> None:
    """With rewiring disabled (a live switch) no synapse forms or disappears and no attempt is counted."""
    eng = engine(preset="bamford2010")
    eng.set_parameter("rewiring.enabled", False)
    before = eng.snapshot()
    eng.run(0.2)
    after = eng.snapshot()
    assert len(after.events) == 0
    np.testing.assert_array_equal(before.ff.pre, after.ff.pre)
    np.testing.assert_array_equal(before.ff.post, after.ff.post)
    assert after.attempts == before.attempts


# --------------------------------------------------------------------------- attempts


@pytest.mark.parametrize(
    ("preset", "rate", "per_call"), [("bamford2010", 15_000.0, 1.5), ("knight2025", 12_345.0, 12.345)]
)
def test_fractional_attempts_average_to_the_rate(
    engine: Callable[..., Engine], preset: str, rate: float, per_call: float
) -> None:
    """A fractional expectation e is met on average: floor(e) attempts, plus one with chance e - floor(e)."""
    eng = engine({"rewiring.rate": rate, "stdp.enabled": False}, preset=preset)
    eng.run(0.5)
    snap = eng.snapshot()
    calls = 5000 if preset == "bamford2010" else 500
    frac = per_call - math.floor(per_call)
    sd = math.sqrt(calls * frac * (1 - frac))
    for proj in (0, 1) if preset == "knight2025" else (0,):
        within(snap.attempts[proj], calls * per_call, sd)
        assert calls * math.floor(per_call) <= snap.attempts[proj] <= calls * math.ceil(per_call)


def test_record_events_off_still_counts(engine: Callable[..., Engine]) -> None:
    """With record_events false no event is logged, but the tables still count formations and removals."""
    eng = engine({"run.record_events": False, **SLOT_FILL})
    eng.step(500)
    snap = eng.snapshot()
    assert len(eng.take_events()) == 0 and len(snap.events) == 0
    assert snap.ff.formed > 0 and snap.ff.formed == snap.ff.count


HANG_SCRIPT = """
import os, sys, threading
sys.path.insert(0, {root!r})
from sim.experiments.topomap.config import load_config
from sim.engine import Engine

cfg = load_config({preset!r}).replace("network.dt", 1.0)
eng = Engine.build(cfg, backend="cpu", seed=1)
eng.step(1)  # compiles or loads the kernels
threading.Timer(20.0, lambda: os._exit(3)).start()  # the kernels release the GIL
try:
    eng.set_parameter("rewiring.rate", 7e7)  # 70,000 attempts per 1 ms call > 256^2 = 65,536 pairs
    eng.step(1)
except ValueError as exc:  # a ConfigError refusing the rate would be fine too
    print("refused:", exc)
print("ok", flush=True)
os._exit(0)
"""


def test_pair_scheme_with_more_attempts_than_pairs_does_not_hang(repo_root: Path) -> None:
    """Asking for more distinct pairs per call than exist (attempts > N^2) must not loop forever.

    rewiring.rate is live and may be up to 1e9 Hz; at 7e7 Hz the pair scheme wants 70,000 distinct
    (pre, post) pairs per 1 ms call from the 65,536 of a 16 x 16 grid. The step must finish (for
    example with the attempts capped at the number of pairs) or the value must be refused.
    Runs in a subprocess with a 20 s watchdog (exit code 3 means the step never returned).
    """
    script = HANG_SCRIPT.format(
        root=str(repo_root), preset=str(repo_root / "presets" / "topomap" / "knight2025.yaml")
    )
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode != 3, "one step with 70,000 pair attempts on 65,536 pairs did not return in 20 s"
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout
