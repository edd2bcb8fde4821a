"""Smoke run of every preset: build, 50 ms of model time, snapshot, sanity of what comes out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.engine import Engine
from sim.experiments.topomap.config import load_config
from sim.synapses import SynapseTable

PRESETS = sorted((Path(__file__).resolve().parents[2] / "presets" / "topomap").glob("*.yaml"))
DURATION = 0.05  # s


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_runs(path: Path) -> None:
    """50 ms of a preset: finite potentials below threshold, valid tables, plausible rates, counts agree."""
    cfg = load_config(path)
    with Engine.build(cfg, backend="cpu") as eng:
        start = eng.snapshot()
        eng.run(DURATION)
        snap = eng.snapshot()
        st = eng.state()
    n, side = cfg.n_neurons, cfg.side
    assert snap.step == round(DURATION * 1e3 / cfg.network.dt)
    assert np.all(np.isfinite(snap.v))
    assert np.all(snap.v < cfg.neuron.v_thresh)
    assert np.all(snap.v > -100.0)
    for table, syn in ((st.ff, snap.ff), (st.lat, snap.lat)):
        SynapseTable(table).check()
        assert np.all(syn.weight >= 0.0) and np.all(syn.weight <= np.float32(cfg.stdp.g_max))
        assert syn.count > 0
    if cfg.rewiring.scheme == "slot":
        assert (snap.ff.in_degree + snap.lat.in_degree).max() <= cfg.rewiring.s_max
    # Mean source rate 20 Hz: 256 neurons x 50 ms gives 256 spikes, sd 16.
    src_rate = snap.spikes_src.sum() / (n * DURATION)
    assert 14.0 < src_rate < 26.0
    tgt_rate = snap.spikes_tgt.sum() / (n * DURATION)
    assert 0.0 <= tgt_rate < 1000.0
    assert 0 <= snap.stimulus[0] < side and 0 <= snap.stimulus[1] < side
    formed = (snap.ff.formed - start.ff.formed) + (snap.lat.formed - start.lat.formed)
    removed = (snap.ff.removed - start.ff.removed) + (snap.lat.removed - start.lat.removed)
    assert len(snap.events) == formed + removed
    if not cfg.rewiring.enabled:
        assert formed == removed == 0 and snap.attempts == (0, 0)
