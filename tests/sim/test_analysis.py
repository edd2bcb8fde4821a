"""Tests of ``sim.experiments.topomap.analysis``: receptive fields, connectivity, events and activity."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sim.events import FF, FORMED, LAT, REMOVED, empty_events
from sim.experiments.topomap.analysis import (
    DisplacementStats,
    ReceptiveFields,
    by_displacement,
    event_rates,
    events_by_distance,
    in_degree,
    in_star,
    mean_rates,
    out_degree,
    population_rate,
    radial_profile,
    receptive_fields,
)

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference"
REFERENCE_FILE = REFERENCE_DIR / "bamford2009_initial_connectivity.npz"


def ident(x: int, y: int, n: int) -> int:
    """Neuron id of grid position (x, y) = (col, row)."""
    return (y % n) * n + (x % n)


def shift_ids(
    ids: NDArray[np.int64], n: int, sx: int | NDArray[np.int64], sy: int | NDArray[np.int64]
) -> NDArray[np.int64]:
    """Translate neuron ids by (sx, sy) on the n x n torus."""
    return ((ids // n + sy) % n) * n + (ids % n + sx) % n


# --------------------------------------------------------------------------- reference data


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference folder {REFERENCE_DIR} is absent")
    with np.load(REFERENCE_FILE) as data:
        return {key: data[key] for key in data.files}


def _reference_synapses(
    ref: dict[str, Any],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Feed-forward synapses of the reference in slot order (slot-major, then target)."""
    post_to_pre = ref["post_to_pre"].astype(np.int64)
    weight = ref["weight"].astype(np.float64)
    n_post = post_to_pre.shape[1]
    ff = (post_to_pre >= 0) & (post_to_pre < n_post)
    post = np.broadcast_to(np.arange(n_post), post_to_pre.shape)[ff]
    return post_to_pre[ff], post.astype(np.int64), weight[ff]


def test_reference_path_points_to_shared_folder() -> None:
    repo_root = Path(__file__).resolve().parents[2]
    assert (repo_root / "sim" / "experiments" / "topomap" / "analysis").is_dir()
    assert repo_root.parent / "shared" / "reference" == REFERENCE_DIR


@pytest.mark.parametrize("mode", ["conn", "weight"])
def test_reference_per_neuron_values(reference: dict[str, Any], mode: str) -> None:
    pre, post, weight = _reference_synapses(reference)
    rf = receptive_fields(pre, post, 16, weight if mode == "weight" else None)
    np.testing.assert_allclose(rf.sigma_aff, reference[f"expected_{mode}_sigma_aff"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(rf.ad, reference[f"expected_{mode}_ad"], rtol=0, atol=1e-9)
    assert rf.has_input.all()


def test_reference_means(reference: dict[str, Any]) -> None:
    pre, post, weight = _reference_synapses(reference)
    counts = receptive_fields(pre, post, 16)
    weights = receptive_fields(pre, post, 16, weight)
    assert counts.mean_sigma_aff == pytest.approx(2.3550, abs=5e-5)
    assert weights.mean_sigma_aff == pytest.approx(2.3550, abs=5e-5)
    assert counts.mean_ad == pytest.approx(0.8200, abs=5e-5)
    assert weights.mean_ad == pytest.approx(0.8215, abs=5e-5)


def test_reference_in_star_matches_slots(reference: dict[str, Any]) -> None:
    pre, post, weight = _reference_synapses(reference)
    image = in_star(pre, post, 16, 7, weight)
    slots = reference["post_to_pre"][:, 7].astype(np.int64)
    expected = np.zeros(256)
    np.add.at(expected, slots[slots < 256], 0.2)
    np.testing.assert_allclose(image.ravel(), expected, atol=1e-12)


# --------------------------------------------------------------------------- hand-made in-stars


@pytest.mark.parametrize("n", [15, 16])
def test_single_synapse_at_own_position(n: int) -> None:
    j = ident(4, 9, n)
    rf = receptive_fields([j], [j], n)
    assert rf.sigma_aff[j] == 0.0 and rf.ad[j] == 0.0
    np.testing.assert_array_equal(rf.centre[j], [4.0, 9.0])
    assert rf.has_input.sum() == 1


@pytest.mark.parametrize("n", [15, 16])
def test_single_displaced_synapse(n: int) -> None:
    j = ident(5, 5, n)
    src = ident(5 + 3, 5 - 2, n)
    rf = receptive_fields([src], [j], n)
    assert rf.sigma_x[j] == 0.0 and rf.sigma_y[j] == 0.0 and rf.sigma_aff[j] == 0.0
    assert rf.ad[j] == pytest.approx(math.sqrt(13.0), abs=1e-12)
    np.testing.assert_allclose(rf.centre[j], [8.0, 3.0])


@pytest.mark.parametrize("n", [15, 16])
def test_symmetric_cross(n: int) -> None:
    j = ident(5, 5, n)
    cx, cy = 6, 4
    offsets = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    pre = [ident(cx + dx, cy + dy, n) for dx, dy in offsets]
    rf = receptive_fields(pre, [j] * 5, n)
    # x projection: one source at -1, three at 0, one at +1 around the centre: variance 2/5.
    xs = np.array([dx for dx, _ in offsets], dtype=float)
    expected_sigma = math.sqrt(float(np.mean((xs - xs.mean()) ** 2)))
    assert expected_sigma == pytest.approx(math.sqrt(0.4))
    assert rf.sigma_x[j] == pytest.approx(expected_sigma, abs=1e-12)
    assert rf.sigma_y[j] == pytest.approx(expected_sigma, abs=1e-12)
    assert rf.sigma_aff[j] == pytest.approx(expected_sigma, abs=1e-12)
    np.testing.assert_allclose(rf.centre[j], [cx, cy], atol=1e-12)
    assert rf.ad[j] == pytest.approx(math.sqrt(2.0), abs=1e-12)


@pytest.mark.parametrize("n", [15, 16])
def test_in_star_straddling_the_edge(n: int) -> None:
    # Four sources at x = n-2, n-1, 0, 1 in row 3: the centre is x = n - 0.5, across the wrap.
    j = ident(1, 3, n)
    pre = [ident(x, 3, n) for x in (n - 2, n - 1, 0, 1)]
    rf = receptive_fields(pre, [j] * 4, n)
    np.testing.assert_allclose(rf.centre[j], [n - 0.5, 3.0], atol=1e-12)
    assert rf.sigma_x[j] == pytest.approx(math.sqrt(1.25), abs=1e-12)
    assert rf.sigma_y[j] == 0.0
    assert rf.ad[j] == pytest.approx(1.5, abs=1e-12)
    # The same in-star away from the edge gives the same spread and offset.
    k = ident(9, 3, n)
    far = receptive_fields([ident(x, 3, n) for x in (6, 7, 8, 9)], [k] * 4, n)
    np.testing.assert_allclose(far.centre[k], [7.5, 3.0], atol=1e-12)
    assert far.sigma_aff[k] == pytest.approx(rf.sigma_aff[j], abs=1e-12)
    assert far.ad[k] == pytest.approx(rf.ad[j], abs=1e-12)


def test_fine_search_reaches_half_cells() -> None:
    # Two equal sources one cell apart: centre half-way, spread 1/2.
    n = 16
    j = ident(3, 3, n)
    rf = receptive_fields([ident(3, 3, n), ident(4, 3, n)], [j, j], n)
    np.testing.assert_allclose(rf.centre[j], [3.5, 3.0], atol=1e-12)
    assert rf.sigma_x[j] == pytest.approx(0.5, abs=1e-12)
    assert rf.ad[j] == pytest.approx(0.5, abs=1e-12)


def test_multapses_count_several_times() -> None:
    n = 16
    j = ident(0, 0, n)
    a, b = ident(0, 0, n), ident(2, 0, n)
    # Three synapses from a, one from b: the centre is the weighted mean, x = 0.5.
    rf = receptive_fields([a, a, a, b], [j] * 4, n)
    np.testing.assert_allclose(rf.centre[j], [0.5, 0.0], atol=1e-12)
    assert rf.sigma_x[j] == pytest.approx(math.sqrt((3 * 0.25 + 1.5**2) / 4), abs=1e-12)
    weighted = receptive_fields([a, b], [j, j], n, weights=[3.0, 1.0])
    np.testing.assert_allclose(weighted.sigma_aff, rf.sigma_aff, atol=1e-12)
    np.testing.assert_allclose(weighted.ad, rf.ad, atol=1e-12)


def _random_compact_network(
    rng: np.random.Generator, n: int, per_neuron: int, radius: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    size = n * n
    post = np.repeat(np.arange(size, dtype=np.int64), per_neuron)
    centre = rng.integers(0, size, size)[post]
    dx = rng.integers(-radius, radius + 1, post.size)
    dy = rng.integers(-radius, radius + 1, post.size)
    return shift_ids(centre, n, dx, dy), post


def test_weight_scaling_by_powers_of_two_is_exact() -> None:
    rng = np.random.default_rng(3)
    pre, post = _random_compact_network(rng, 16, 12, 4)
    weights = rng.uniform(0.0, 1.0, pre.size)
    base = receptive_fields(pre, post, 16, weights)
    for scale in (0.25, 8.0):
        scaled = receptive_fields(pre, post, 16, weights * scale)
        np.testing.assert_array_equal(scaled.sigma_aff, base.sigma_aff)
        np.testing.assert_array_equal(scaled.ad, base.ad)


def test_weight_scaling_invariance() -> None:
    rng = np.random.default_rng(4)
    pre, post = _random_compact_network(rng, 16, 12, 4)
    weights = rng.uniform(0.05, 1.0, pre.size)
    base = receptive_fields(pre, post, 16, weights)
    for scale in (0.2, 3.7, 1e3):
        scaled = receptive_fields(pre, post, 16, weights * scale)
        np.testing.assert_allclose(scaled.sigma_aff, base.sigma_aff, rtol=0, atol=1e-9)
        np.testing.assert_allclose(scaled.ad, base.ad, rtol=0, atol=1e-9)
        np.testing.assert_allclose(scaled.centre, base.centre, rtol=0, atol=1e-9)


def test_equal_weights_match_counts_up_to_ties() -> None:
    # Constant weights that are a power of two reproduce the count analysis exactly.
    rng = np.random.default_rng(5)
    pre, post = _random_compact_network(rng, 12, 8, 3)
    counts = receptive_fields(pre, post, 12)
    halves = receptive_fields(pre, post, 12, np.full(pre.size, 0.5))
    np.testing.assert_array_equal(halves.sigma_aff, counts.sigma_aff)
    np.testing.assert_array_equal(halves.ad, counts.ad)


def test_no_feed_forward_synapses() -> None:
    n = 6
    rf = receptive_fields(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), n)
    assert isinstance(rf, ReceptiveFields)
    assert rf.sigma_aff.shape == (36,) and rf.centre.shape == (36, 2)
    assert not rf.has_input.any()
    assert np.all(rf.sigma_aff == 0) and np.all(rf.ad == 0)
    assert rf.mean_sigma_aff == 0.0 and rf.mean_ad == 0.0
    np.testing.assert_array_equal(rf.centre[7], [1.0, 1.0])


def test_neurons_without_input_count_zero_in_means() -> None:
    n = 4
    j = ident(0, 0, n)
    rf = receptive_fields([ident(1, 1, n)], [j], n)
    assert rf.ad[j] == pytest.approx(math.sqrt(2))
    assert rf.mean_ad == pytest.approx(math.sqrt(2) / 16)
    # Zero-weight synapses do not count as input.
    zero = receptive_fields([ident(1, 1, n)], [j], n, weights=[0.0])
    assert not zero.has_input.any() and zero.ad[j] == 0.0


def test_in_star_image() -> None:
    n = 5
    j = ident(2, 2, n)
    pre = [ident(0, 1, n), ident(0, 1, n), ident(4, 3, n), ident(1, 1, n)]
    post = [j, j, j, ident(0, 0, n)]
    image = in_star(pre, post, n, j)
    assert image.shape == (5, 5) and image.dtype == np.float64
    assert image[1, 0] == 2.0 and image[3, 4] == 1.0 and image.sum() == 3.0
    weighted = in_star(pre, post, n, j, weights=[0.5, 0.25, 2.0, 9.0])
    assert weighted[1, 0] == 0.75 and weighted[3, 4] == 2.0 and weighted.sum() == 2.75


@pytest.mark.parametrize(
    ("pre", "post", "n", "weights"),
    [
        ([0, 1], [0], 4, None),  # mismatched lengths
        ([16], [0], 4, None),  # id out of range
        ([-1], [0], 4, None),
        ([0], [0], -3, None),  # negative n
        ([0], [0], 0, None),
        ([0], [0], 4, [0.1, 0.2]),  # weights length
        ([0], [0], 4, [-0.1]),  # negative weight
        ([0], [0], 4, [np.nan]),
        ([0.5], [0], 4, None),  # non-integer ids
    ],
)
def test_receptive_fields_validation(
    pre: list[float], post: list[int], n: int, weights: list[float] | None
) -> None:
    with pytest.raises(ValueError):
        receptive_fields(pre, post, n, weights)


def test_in_star_validation() -> None:
    with pytest.raises(ValueError, match="neuron"):
        in_star([0], [0], 4, 16)
    with pytest.raises(ValueError, match="neuron"):
        in_star([0], [0], 4, -1)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    radius=st.integers(0, 2),
    extra=st.integers(0, 6),
    per_neuron=st.integers(1, 6),
    weighted=st.booleans(),
    data=st.data(),
)
def test_translation_invariance(
    seed: int, radius: int, extra: int, per_neuron: int, weighted: bool, data: st.DataObject
) -> None:
    # In-stars no wider than about half the ring have a unique centre, so a torus
    # shift of every synapse just permutes the per-neuron results.
    n = 4 * radius + 3 + extra
    rng = np.random.default_rng(seed)
    pre, post = _random_compact_network(rng, n, per_neuron, radius)
    keep = rng.random(pre.size) < 0.7
    pre, post = pre[keep], post[keep]
    weights = rng.uniform(0.01, 1.0, pre.size) if weighted else None
    sx = data.draw(st.integers(0, n - 1))
    sy = data.draw(st.integers(0, n - 1))
    base = receptive_fields(pre, post, n, weights)
    moved = receptive_fields(shift_ids(pre, n, sx, sy), shift_ids(post, n, sx, sy), n, weights)
    perm = shift_ids(np.arange(n * n), n, sx, sy)
    np.testing.assert_allclose(moved.sigma_aff[perm], base.sigma_aff, rtol=0, atol=1e-9)
    np.testing.assert_allclose(moved.ad[perm], base.ad, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(moved.has_input[perm], base.has_input)
    expected_centre = (base.centre + np.array([sx, sy])) % n
    diff = (moved.centre[perm] - expected_centre + n / 2) % n - n / 2
    np.testing.assert_allclose(diff[base.has_input], 0.0, atol=1e-9)


# --------------------------------------------------------------------------- connectivity


def test_degrees() -> None:
    np.testing.assert_array_equal(in_degree([0, 2, 2, 2], 4), [1, 0, 3, 0])
    np.testing.assert_array_equal(out_degree([1, 1, 3], 5), [0, 2, 0, 1, 0])
    assert in_degree([], 3).tolist() == [0, 0, 0]
    assert in_degree([0], 1).dtype == np.int64
    with pytest.raises(ValueError):
        in_degree([4], 4)
    with pytest.raises(ValueError):
        out_degree([0], -1)


def test_by_displacement() -> None:
    n = 4
    post = [ident(0, 0, n), ident(0, 0, n), ident(2, 1, n), ident(3, 3, n)]
    pre = [ident(0, 0, n), ident(3, 0, n), ident(3, 1, n), ident(3, 3, n)]
    stats = by_displacement(pre, post, n, weights=[1.0, 0.5, 0.25, 3.0])
    assert isinstance(stats, DisplacementStats)
    np.testing.assert_array_equal(stats.offsets, [-2, -1, 0, 1])
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[2, 2] = 2  # (dx, dy) = (0, 0) twice
    expected[2, 1] = 1  # (-1, 0): across the wrap
    expected[2, 3] = 1  # (+1, 0)
    np.testing.assert_array_equal(stats.count, expected)
    np.testing.assert_allclose(stats.probability, expected / 16.0)
    assert stats.mean_weight[2, 2] == 2.0
    assert stats.mean_weight[2, 1] == 0.5 and stats.mean_weight[2, 3] == 0.25
    assert np.isnan(stats.mean_weight[0, 0])
    unweighted = by_displacement(pre, post, n)
    assert unweighted.mean_weight[2, 2] == 1.0


def test_by_displacement_validation() -> None:
    with pytest.raises(ValueError):
        by_displacement([0, 1], [0], 4)
    with pytest.raises(ValueError):
        by_displacement([0], [99], 4)


def test_radial_profile() -> None:
    n = 4
    ids = np.arange(16)
    # Every neuron connects to itself (distance 0) and, with weight 2, to its right neighbour.
    pre = np.concatenate([ids, shift_ids(ids, n, 1, 0)])
    post = np.concatenate([ids, ids])
    weights = np.concatenate([np.ones(16), np.full(16, 2.0)])
    centres, prob, mean_w = radial_profile(pre, post, n, weights, bin_width=0.5)
    # Distances on the 4-torus: 0 | 1, sqrt2 | 2, sqrt5 | sqrt8 -> bins 0, 2, 4, 5.
    np.testing.assert_allclose(centres, [0.25, 1.25, 2.25, 2.75])
    np.testing.assert_allclose(prob, [1.0, 1.0 / 8.0, 0.0, 0.0])
    np.testing.assert_allclose(mean_w[:2], [1.0, 2.0])
    assert np.isnan(mean_w[2:]).all()
    with pytest.raises(ValueError):
        radial_profile(pre, post, n, bin_width=0.0)


# --------------------------------------------------------------------------- events


def _events(rows: list[tuple[int, int, int, int, int]]) -> NDArray[np.void]:
    ev = empty_events(len(rows))
    for i, (step, pre, post, proj, kind) in enumerate(rows):
        ev[i] = (step, pre, post, proj, kind)
    return ev


def test_event_rates() -> None:
    ev = _events(
        [
            (0, 0, 0, FF, FORMED),
            (500, 0, 1, FF, FORMED),
            (999, 0, 1, LAT, REMOVED),
            (1000, 2, 1, FF, REMOVED),
            (2500, 2, 1, LAT, FORMED),
        ]
    )
    t, formed, removed = event_rates(ev, dt=0.001, bin_seconds=1.0, t_end=3.0)
    np.testing.assert_allclose(t, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(formed, [2.0, 0.0, 1.0])
    np.testing.assert_allclose(removed, [1.0, 1.0, 0.0])
    t, formed, removed = event_rates(ev, dt=0.001, bin_seconds=1.0, t_end=3.0, projection=LAT)
    np.testing.assert_allclose(formed, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(removed, [1.0, 0.0, 0.0])
    # Default end: the last event (2.5 s); the last bin is half a second long.
    t, formed, removed = event_rates(ev, dt=0.001, bin_seconds=1.0)
    np.testing.assert_allclose(t, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(formed, [2.0, 0.0, 2.0])
    # Events after t_end are ignored.
    _, formed, _ = event_rates(ev, dt=0.001, bin_seconds=1.0, t_end=2.0)
    np.testing.assert_allclose(formed, [2.0, 0.0])


def test_event_rates_edge_cases() -> None:
    t, formed, removed = event_rates(empty_events(), dt=0.001, bin_seconds=1.0)
    assert t.size == formed.size == removed.size == 0
    t, formed, _ = event_rates(empty_events(), dt=0.001, bin_seconds=0.5, t_end=1.0)
    np.testing.assert_allclose(t, [0.0, 0.5])
    np.testing.assert_allclose(formed, [0.0, 0.0])
    # A bin edge reached up to rounding does not create a sliver of a bin.
    t, _, _ = event_rates(_events([(3, 0, 0, FF, FORMED)]), dt=0.1, bin_seconds=0.1)
    assert t.size == 3
    with pytest.raises(ValueError):
        event_rates(empty_events(), dt=0.0, bin_seconds=1.0)
    with pytest.raises(ValueError):
        event_rates(empty_events(), dt=0.001, bin_seconds=-1.0)
    with pytest.raises(ValueError):
        event_rates(empty_events(), dt=0.001, bin_seconds=1.0, projection=2)
    with pytest.raises(ValueError):
        event_rates(np.zeros(3), dt=0.001, bin_seconds=1.0)  # type: ignore[arg-type]


def test_events_by_distance() -> None:
    n = 8
    ev = _events(
        [
            (0, ident(0, 0, n), ident(0, 0, n), FF, FORMED),  # d = 0
            (1, ident(7, 0, n), ident(0, 0, n), FF, FORMED),  # d = 1 across the wrap
            (2, ident(3, 4, n), ident(0, 0, n), LAT, REMOVED),  # d = 5
            (3, ident(1, 1, n), ident(0, 0, n), LAT, FORMED),  # d = sqrt 2
        ]
    )
    edges, formed, removed = events_by_distance(ev, n)
    np.testing.assert_allclose(edges, np.arange(7.0))  # max distance 4 sqrt2 = 5.66
    np.testing.assert_array_equal(formed, [1, 2, 0, 0, 0, 0])
    np.testing.assert_array_equal(removed, [0, 0, 0, 0, 0, 1])
    _, formed, removed = events_by_distance(ev, n, projection=FF)
    np.testing.assert_array_equal(formed, [1, 1, 0, 0, 0, 0])
    assert removed.sum() == 0
    edges, formed, _ = events_by_distance(ev, n, bins=[0.0, 0.5, 2.0])
    np.testing.assert_array_equal(formed, [1, 2])
    edges, formed, _ = events_by_distance(ev, n, bins=2)
    assert edges.size == 3 and formed.sum() == 3
    with pytest.raises(ValueError):
        events_by_distance(ev, 2)  # ids out of range for a 2 x 2 grid
    with pytest.raises(ValueError):
        events_by_distance(ev, n, bins=0)


# --------------------------------------------------------------------------- activity


def test_mean_and_population_rates() -> None:
    np.testing.assert_allclose(mean_rates([0, 5, 10], 2.0), [0.0, 2.5, 5.0])
    assert mean_rates([3, 4], 0.0).tolist() == [0.0, 0.0]
    assert mean_rates(np.zeros((2, 3)), 1.0).shape == (2, 3)
    assert population_rate([0, 5, 10], 2.0) == pytest.approx(2.5)
    assert population_rate([], 2.0) == 0.0
    assert population_rate([4], 0.0) == 0.0
    with pytest.raises(ValueError):
        mean_rates([1], -1.0)
    with pytest.raises(ValueError):
        mean_rates([-1], 1.0)


def _numpy_axis_centre(proj: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre search written directly in NumPy (the formulas the compiled search follows)."""
    from numpy.lib.stride_tricks import sliding_window_view

    from sim.experiments.topomap.analysis.receptive_fields import _FINE_OFFSETS, _cell_weights, _half_width

    k = _half_width(n)
    length = 2 * k + 1
    positions = np.arange(-k, k + 1, dtype=np.float64)
    ext = np.ascontiguousarray(proj[:, (np.arange(n + length - 1) - k) % n])
    cell = _cell_weights(n, 0.0)
    windows = sliding_window_view(ext, length, axis=1)[:, :n]
    spread = np.sqrt(np.sum(windows * (cell * positions**2), axis=2) / np.sum(windows * cell, axis=2))
    best = np.argmin(spread, axis=1)
    window = ext[np.arange(len(ext))[:, None], best[:, None] + np.arange(length)]
    fine = np.empty((len(ext), _FINE_OFFSETS.size))
    for i, f in enumerate(_FINE_OFFSETS):
        weighted = window * _cell_weights(n, float(f))
        fine[:, i] = np.sqrt(np.sum(weighted * (positions - f) ** 2, axis=1) / np.sum(weighted, axis=1))
    k_best = np.argmin(fine, axis=1)
    return fine[np.arange(len(ext)), k_best], best + (k_best - 5) / 10.0


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16, 17, 64, 129])
def test_compiled_centre_search_equals_numpy_bit_for_bit(n: int) -> None:
    """Same sums in the same order, same ties broken the same way (counts tie often)."""
    from sim.experiments.topomap.analysis.receptive_fields import _axis_centre

    rng = np.random.default_rng(n)
    counts = rng.integers(0, 3, (60, n)).astype(np.float64)  # small integers: many exact ties
    weights = rng.random((60, n)) * 10.0 ** rng.uniform(-3, 3, (60, n))
    for proj in (counts, weights):
        proj[:, 0] += 1.0  # every row has mass
        sigma, raw = _axis_centre(proj, n)
        expected_sigma, expected_raw = _numpy_axis_centre(proj, n)
        assert np.array_equal(sigma, expected_sigma)
        assert np.array_equal(raw, expected_raw)


def _sparse_rows(rng: np.random.Generator, rows: int, n: int, width: float) -> np.ndarray:
    """Projections of compact in-stars: a few occupied cells around a random centre (some across the wrap)."""
    proj = np.zeros((rows, n))
    centre = rng.integers(0, n, rows)
    for r in range(rows):
        cells = (centre[r] + np.round(rng.normal(0.0, width, rng.integers(1, 20)))).astype(np.int64) % n
        np.add.at(proj[r], cells, rng.choice([1.0, 0.2, 0.7]))
    return proj


@pytest.mark.parametrize("n", [4, 16, 127, 128, 130, 256, 1000])
def test_compiled_centre_search_on_sparse_projections_equals_numpy(n: int) -> None:
    """Sparse in-stars (the usual case) and windows of several pairwise runs (n + 1 > 128 cells)."""
    from sim.experiments.topomap.analysis.receptive_fields import _axis_centre

    rng = np.random.default_rng(100 + n)
    rows = 40 if n < 500 else 6
    sparse = _sparse_rows(rng, rows, n, 2.5)
    wide = _sparse_rows(rng, rows, n, n / 3)  # occupied cells in three or more runs
    for proj in (sparse, wide):
        sigma, raw = _axis_centre(proj, n)
        expected_sigma, expected_raw = _numpy_axis_centre(proj, n)
        assert np.array_equal(sigma, expected_sigma)
        assert np.array_equal(raw, expected_raw)


def _dense_receptive_fields(
    pre: NDArray[np.int64], post: NDArray[np.int64], n: int, weights: NDArray[np.float64] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """sigma_aff, AD and centres by the whole-network NumPy formulas (projections of N x n cells)."""
    size = n * n
    proj = [
        np.bincount(post * n + coord, weights=weights, minlength=size * n).astype(np.float64).reshape(size, n)
        for coord in (pre % n, pre // n)
    ]
    active = proj[0].sum(axis=1) > 0.0
    own = np.stack([np.arange(size) % n, np.arange(size) // n], axis=1).astype(np.float64)
    sigma = np.zeros((size, 2))
    centre = own.copy()
    offset = np.zeros((size, 2))
    for axis in range(2):
        s, raw = _numpy_axis_centre(proj[axis][active], n)
        sigma[active, axis] = s
        centre[active, axis] = raw % n
        delta = raw - own[active, axis]
        delta = np.where(delta > n / 2, delta - n, delta)
        offset[active, axis] = np.where(delta < -n / 2, delta + n, delta)
    ad = np.where(active, np.sqrt(offset[:, 0] ** 2 + offset[:, 1] ** 2), 0.0)
    return (sigma[:, 0] + sigma[:, 1]) / 2.0, ad, centre


@pytest.mark.parametrize("n", [6, 16, 33, 130])
def test_receptive_fields_equal_the_whole_network_formulas(n: int) -> None:
    """In-star by in-star in O(S + N) memory, the results are those of the N x n projections, bit for bit."""
    rng = np.random.default_rng(n)
    pre, post = _random_compact_network(rng, n, 10, min(4, n // 2))
    keep = rng.random(pre.size) < 0.8
    if n > 100:  # the reference's windows take memory: a few dozen neurons with input
        keep &= np.isin(post, rng.integers(0, n * n, 40))
    pre, post = pre[keep], post[keep]
    for weights in (None, rng.uniform(0.0, 0.2, pre.size), np.where(rng.random(pre.size) < 0.3, 0.0, 0.2)):
        rf = receptive_fields(pre, post, n, weights)
        sigma_aff, ad, centre = _dense_receptive_fields(pre, post, n, weights)
        assert np.array_equal(rf.sigma_aff, sigma_aff)
        assert np.array_equal(rf.ad, ad)
        assert np.array_equal(rf.centre, centre)


def test_receptive_fields_of_some_neurons() -> None:
    """``neurons=`` gives those neurons' entries of the whole analysis, in the order asked (repeats too)."""
    rng = np.random.default_rng(8)
    n = 16
    pre, post = _random_compact_network(rng, n, 12, 4)
    keep = post != 77  # neuron 77 gets no input
    pre, post = pre[keep], post[keep]
    weights = rng.uniform(0.0, 0.2, pre.size)
    whole = receptive_fields(pre, post, n, weights)
    for chosen in ([5], [77], [200, 3, 200, 77], []):
        some = receptive_fields(pre, post, n, weights, neurons=chosen)
        for field in ("sigma_aff", "ad", "centre", "sigma_x", "sigma_y", "has_input"):
            assert np.array_equal(getattr(some, field), getattr(whole, field)[chosen])
    assert not receptive_fields(pre, post, n, neurons=[77]).has_input[0]
    with pytest.raises(ValueError, match="neurons"):
        receptive_fields(pre, post, n, neurons=[256])


def test_receptive_field_memory_follows_synapses_and_neurons() -> None:
    """No array of N x n cells: a 512 x 512 grid (N = 262,144) takes a few MiB, not gigabytes."""
    import tracemalloc

    n = 512
    rng = np.random.default_rng(3)
    pre, post = _random_compact_network(rng, n, 2, 3)
    keep = post % 97 == 0  # 2,703 neurons with input: the search's time stays short
    keep[post == 12345] = True
    pre, post = pre[keep], post[keep]
    receptive_fields(pre[:10], post[:10], n)  # compiled
    tracemalloc.start()
    rf = receptive_fields(pre, post, n, weights=np.full(pre.size, 0.2))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rf.has_input.sum() == np.unique(post).size
    # Inputs as int64/float64 (24 B a synapse) and about 15 float64 values a neuron; N x n would be 1 GiB.
    assert peak < 24 * pre.size + 160 * n * n
    tracemalloc.start()
    one = receptive_fields(pre, post, n, neurons=[12345])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert one.has_input[0]
    assert peak < 1 << 20  # less than one float64 per neuron (2 MiB): nothing of size N
