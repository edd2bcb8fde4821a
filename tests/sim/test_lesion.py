"""Lesions on a host copy of the network state."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sim.experiments.topomap.build import build_state
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.lesion import (
    SILENCED_STEPS,
    cut_synapses,
    region_mask,
    restore,
    silence,
    silenced,
)
from sim.synapses import S_REMOVED, SynapseTable, table_to_coo


def test_region_mask_selects_the_rectangle_in_any_corner_order() -> None:
    mask = region_mask(8, 5.4, 1, 2, 2.9).reshape(8, 8)  # rows y, columns x
    expected = np.zeros((8, 8), bool)
    expected[1:3, 2:6] = True
    assert np.array_equal(mask, expected)
    assert not region_mask(8, 20, 20, 30, 30).any()
    with pytest.raises(ValueError, match="finite"):
        region_mask(8, np.nan, 0, 1, 1)


def test_cut_removes_exactly_the_region_synapses(make_config: Callable[..., ModelConfig]) -> None:
    cfg = make_config(preset="demo")
    state = build_state(cfg, 1)
    mask = region_mask(cfg.side, 4, 4, 9, 7)
    ff_before = table_to_coo(state.ff)
    lat_before = table_to_coo(state.lat)
    removed_before = int(state.ff.stats[S_REMOVED])
    n_ff, n_lat = cut_synapses(state, mask)
    ff_pre, ff_post, _ = table_to_coo(state.ff)
    lat_pre, lat_post, _ = table_to_coo(state.lat)
    assert n_ff == int(mask[ff_before[1]].sum()) > 0
    assert n_lat == int((mask[lat_before[0]] | mask[lat_before[1]]).sum()) > 0
    assert not mask[ff_post].any()
    assert not (mask[lat_pre] | mask[lat_post]).any()
    kept = ~mask[ff_before[1]]
    assert sorted(zip(ff_before[0][kept], ff_before[1][kept], strict=True)) == sorted(
        zip(ff_pre, ff_post, strict=True)
    )
    SynapseTable(state.ff).check()
    SynapseTable(state.lat).check()
    assert int(state.ff.stats[S_REMOVED]) == removed_before


def test_silence_and_restore(make_config: Callable[..., ModelConfig]) -> None:
    cfg = make_config(preset="demo")
    state = build_state(cfg, 1)
    mask = region_mask(cfg.side, 0, 0, 3, 3)
    assert silence(state, mask) == 16
    assert np.array_equal(silenced(state, 1000), mask)
    assert (state.neurons.refrac[mask] == SILENCED_STEPS).all()
    assert restore(state, 1000) == 16
    assert not silenced(state, 1000).any()
    with pytest.raises(ValueError, match="boolean array"):
        silence(state, np.ones(3, bool))
