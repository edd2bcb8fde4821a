"""The opening preset shows what the app is for: a tangled map that unfolds within a minute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.headless import run_headless
from app.presets import DEFAULT_PRESET, load_preset
from sim.experiments.topomap.build import build_state
from sim.synapses import table_to_coo

#: Model seconds by which the demo's map has unfolded: at the 30-70x real time of the CPU backend
#: at scale 1 (README) that is 7-17 s of wall time, well inside a minute.
UNFOLDED_BY_S = 500.0


def _torus_offsets(pre: np.ndarray, post: np.ndarray, side: int) -> np.ndarray:
    d = np.stack([pre % side - post % side, pre // side - post // side])
    return (d + side // 2) % side - side // 2


def test_the_demo_starts_from_broad_wiring_and_knight2025_does_not() -> None:
    """The demo's initial FF synapses spread twice as far as the formation rule places them."""
    demo, knight = load_preset(DEFAULT_PRESET), load_preset("knight2025")
    assert DEFAULT_PRESET == "demo"
    spreads = []
    for cfg in (demo, knight):
        pre, post, _ = table_to_coo(build_state(cfg, 1).ff)
        spreads.append(float(np.sqrt((_torus_offsets(pre, post, cfg.side) ** 2).mean())))  # per axis
    # knight2025 draws with sigma_form 2.5; the demo with 5 (truncated by the 16 x 16 torus).
    assert spreads[1] == pytest.approx(2.5, rel=0.1)
    assert spreads[0] > 1.5 * spreads[1]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_the_demo_map_unfolds(tmp_path: Path, seed: int) -> None:
    result = run_headless(
        load_preset(DEFAULT_PRESET),
        tmp_path,
        backend="cpu",
        seed=seed,
        duration=UNFOLDED_BY_S,
        progress=False,
        figures=False,
    )
    m = result.metrics
    # Visibly tangled at the start ...
    assert m["ad_conn"][0] >= 1.2
    # ... a near-regular grid at the end (the last three rows: 490-500 s),
    assert np.nanmean(m["ad_conn"][-3:]) <= 0.6
    # with receptive fields half a grid unit narrower or more,
    assert m["sigma_aff_conn"][0] - np.nanmean(m["sigma_aff_conn"][-3:]) >= 0.5
    # and the network in its normal regime throughout: 20 Hz input, target rates of tens of Hz,
    # and no synapse refused for want of room.
    later = m["t"] >= 50.0
    assert np.all((m["rate_source"][later] > 15.0) & (m["rate_source"][later] < 25.0))
    assert np.all((m["rate_target"][later] > 10.0) & (m["rate_target"][later] < 80.0))
    assert result.summary["refused_formations"] == {"ff": 0, "lat": 0}
