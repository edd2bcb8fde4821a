"""Adapters from frames to visual data: no window and no OpenGL needed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.experiments.topomap.frame import Frame, History
from app.frame import SimState, Status
from gui.experiments.topomap.views.adapters import (
    NO_INPUT_COLOUR,
    clip_segments,
    grid_links,
    grid_neuron_at,
    map_data,
    nearest_point,
    net_segments,
    nice_upper,
    normalised_rect,
    star_mask,
    synapse_vertices,
    value_colours,
    wrap_into_plot,
)
from gui.visuals.layers import colormap_lut
from sim.engine import Engine


def _grid_centres(side: int) -> np.ndarray:
    ids = np.arange(side * side)
    return np.stack([ids % side, ids // side], axis=1).astype(np.float64)


def _segment_lengths(segments: np.ndarray) -> np.ndarray:
    return np.hypot(*(segments[1::2] - segments[0::2]).T)


def _segments_touching(segments: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    """Segments (as (k, 2, 2) arrays) with an end point at ``point``."""
    pairs = segments.reshape(-1, 2, 2)
    hit = np.any(np.all(np.isclose(pairs, point, atol=1e-5), axis=2), axis=1)
    return pairs[hit]


# -- the topographic net ------------------------------------------------------------------------------
def test_grid_links_join_every_neuron_to_its_right_and_lower_neighbour_on_the_torus() -> None:
    side = 5
    links = grid_links(side)
    assert links.shape == (2 * side * side, 2)
    pairs = {tuple(p) for p in links.tolist()}
    assert (4, 0) in pairs  # last column wraps to the first
    assert (20, 0) in pairs  # last row wraps to the first
    assert (7, 8) in pairs and (7, 12) in pairs
    # every neuron starts exactly two links and ends exactly two
    assert np.all(np.bincount(links[:, 0], minlength=side * side) == 2)
    assert np.all(np.bincount(links[:, 1], minlength=side * side) == 2)


def test_net_of_a_regular_grid_has_unit_links_and_half_links_at_the_wrap() -> None:
    side = 8
    segments = net_segments(_grid_centres(side), side)
    lengths = _segment_lengths(segments)
    inner = 2 * side * side - 2 * side
    # inner links are whole; each of the 2n wrapping links appears as two half links, one per edge
    assert len(lengths) == inner + 4 * side
    assert np.isclose(lengths, 1.0).sum() == inner
    assert np.isclose(lengths, 0.5).sum() == 4 * side
    assert segments.min() >= -0.5 - 1e-6 and segments.max() <= side - 0.5 + 1e-6


def test_a_neighbour_across_the_wrap_is_joined_by_a_short_link() -> None:
    side = 8
    centres = _grid_centres(side)
    centres[0] = (0.2, 0.0)  # neuron 0, near the left edge
    centres[1] = (7.3, 0.0)  # its right neighbour, whose centre lies across the wrap at the right edge
    segments = net_segments(centres, side)
    from_0 = _segments_touching(segments, (0.2, 0.0))
    from_1 = _segments_touching(segments, (7.3, 0.0))
    # drawn straight, the link 0 -> 1 would run 7.1 units across the plot; to the nearest image it
    # leaves the left edge from 0 (0.7 units to x = -0.5) and enters at the right edge to 1 (0.2 units)
    assert not any(np.allclose(sorted(s[:, 0]), [0.2, 7.3]) for s in from_0)
    lengths_0 = np.hypot(*(from_0[:, 1] - from_0[:, 0]).T)
    lengths_1 = np.hypot(*(from_1[:, 1] - from_1[:, 0]).T)
    assert lengths_0.max() < 1.3 and lengths_1.max() < 1.3
    # horizontal pieces that reach the left or right edge
    flat_0, flat_1 = (
        from_0[np.all(from_0[:, :, 1] == 0, axis=1)],
        from_1[np.all(from_1[:, :, 1] == 0, axis=1)],
    )
    to_left = flat_0[np.isclose(flat_0[:, :, 0].min(axis=1), -0.5)]
    to_right = flat_1[np.isclose(flat_1[:, :, 0].max(axis=1), 7.5)]
    assert len(to_left) >= 1 and len(to_right) >= 1
    assert np.allclose(np.hypot(*(to_left[:, 1] - to_left[:, 0]).T), 0.7, atol=1e-5)
    assert np.allclose(np.hypot(*(to_right[:, 1] - to_right[:, 0]).T), 0.2, atol=1e-5)


def test_net_of_centres_jittered_across_the_wrap_never_draws_long_links() -> None:
    side = 16
    rng = np.random.default_rng(3)
    centres = (_grid_centres(side) + rng.uniform(-0.6, 0.6, (side * side, 2))) % side
    segments = net_segments(centres, side)
    assert _segment_lengths(segments).max() < 2.0 * np.sqrt(2.0) + 1e-6
    assert segments.min() >= -0.5 - 1e-6 and segments.max() <= side - 0.5 + 1e-6


def test_wrap_into_plot_moves_positions_into_the_plotted_square() -> None:
    xy = wrap_into_plot([[15.7, -0.2], [16.0, 3.0], [-0.6, 15.49]], 16)
    assert np.allclose(xy, [[-0.3, -0.2], [0.0, 3.0], [15.4, 15.49]])


def test_clip_segments_clips_to_the_square_and_drops_segments_outside() -> None:
    p0 = np.array([[0.0, 0.0], [-2.0, 0.5], [3.0, 3.0], [0.5, -1.0]])
    p1 = np.array([[0.5, 0.5], [2.0, 0.5], [4.0, 4.0], [0.5, 2.0]])
    q0, q1, keep = clip_segments(p0, p1, -1.0, 1.0)
    assert keep.tolist() == [True, True, False, True]
    assert np.allclose(q0[0], [0.0, 0.0]) and np.allclose(q1[0], [0.5, 0.5])
    assert np.allclose(q0[1], [-1.0, 0.5]) and np.allclose(q1[1], [1.0, 0.5])
    assert np.allclose(q0[3], [0.5, -1.0]) and np.allclose(q1[3], [0.5, 1.0])


# -- colours ------------------------------------------------------------------------------------------
def _luminance(rgba: np.ndarray) -> np.ndarray:
    return rgba[:, :3] @ np.array([0.2126, 0.7152, 0.0722])


def test_value_colours_are_monotonic_in_the_value() -> None:
    values = np.linspace(0.0, 3.0, 40)
    colours = value_colours(values, 0.0, 3.0, colormap="viridis")
    assert colours.shape == (40, 4) and colours.dtype == np.float32
    assert np.all(np.diff(_luminance(colours)) >= 0.0)
    assert _luminance(colours)[-1] > _luminance(colours)[0] + 0.5
    # shuffling the values shuffles the colours the same way
    order = np.random.default_rng(0).permutation(40)
    assert np.array_equal(value_colours(values[order], 0.0, 3.0), colours[order])


def test_value_colours_clamp_out_of_range_and_grey_invalid_entries() -> None:
    colours = value_colours([-1.0, 0.0, 2.0, 5.0, np.nan, 1.0], 0.0, 2.0, valid=[1, 1, 1, 1, 1, 0])
    assert np.array_equal(colours[0], colours[1])
    assert np.array_equal(colours[2], colours[3])
    assert np.allclose(colours[4], NO_INPUT_COLOUR) and np.allclose(colours[5], NO_INPUT_COLOUR)


def test_colormap_lut_interpolates_given_colours() -> None:
    lut = colormap_lut([(0.0, 0.0, 0.0, 1.0), (1.0, 0.5, 0.0, 1.0)], size=5)
    assert np.allclose(lut[:, 0], [0.0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(lut[:, 1], [0.0, 0.125, 0.25, 0.375, 0.5])
    assert np.allclose(colormap_lut([(0.2, 0.3, 0.4, 1.0)], size=3), [0.2, 0.3, 0.4, 1.0])


@pytest.mark.parametrize(
    ("value", "expected"), [(0.0, 1.0), (0.9, 1.0), (1.1, 1.2), (3.4, 4.0), (42.0, 50.0)]
)
def test_nice_upper_rounds_up(value: float, expected: float) -> None:
    assert nice_upper(value) == pytest.approx(expected)
    assert nice_upper(value) >= value


# -- synapses -----------------------------------------------------------------------------------------
def test_synapse_vertices_have_two_vertices_per_synapse_in_order() -> None:
    pre = np.array([3, 0, 7], np.int32)
    post = np.array([1, 5, 2], np.int32)
    weight = np.array([0.05, 0.2, 0.125], np.float32)
    v = synapse_vertices(pre, post, weight)
    assert v.shape == (6, 4) and v.dtype == np.float32
    assert np.array_equal(v[0::2, 0], pre) and np.array_equal(v[1::2, 0], pre)
    assert np.array_equal(v[0::2, 1], post) and np.array_equal(v[1::2, 1], post)
    assert np.array_equal(v[0::2, 3], weight) and np.array_equal(v[1::2, 3], weight)
    assert np.array_equal(v[:, 2], [0, 1, 0, 1, 0, 1])


def test_synapse_vertices_of_arcs_run_from_pre_to_post_in_joined_segments() -> None:
    v = synapse_vertices([4, 9], [6, 1], [0.1, 0.2], segments=4)
    assert v.shape == (16, 4)
    t = v[:8, 2]
    assert np.allclose(t, [0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0])
    assert np.all(v[8:, 0] == 9) and np.all(v[8:, 3] == np.float32(0.2))
    with pytest.raises(ValueError, match="segments"):
        synapse_vertices([1], [2], [0.1], segments=0)


def test_star_mask_selects_in_star_and_out_star() -> None:
    pre = np.array([0, 1, 2, 1, 3])
    post = np.array([5, 5, 6, 7, 5])
    assert star_mask(pre, post, target=5).tolist() == [True, True, False, False, True]
    assert star_mask(pre, post, source=1).tolist() == [False, True, False, True, False]
    assert star_mask(pre, post, source=2, target=7).tolist() == [False, False, True, True, False]
    assert not star_mask(pre, post).any()


# -- picking ------------------------------------------------------------------------------------------
def test_nearest_point_picks_the_closest_within_the_radius() -> None:
    points = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [np.nan, np.nan]])
    assert nearest_point(points, (9.0, 1.0)) == 1
    assert nearest_point(points, (9.0, 8.0), max_distance=3.0) == 2
    assert nearest_point(points, (5.0, 5.0), max_distance=3.0) == -1
    assert nearest_point(np.zeros((0, 2)), (0.0, 0.0)) == -1


def test_grid_neuron_at_rounds_to_the_nearest_grid_position_on_the_torus() -> None:
    side = 16
    assert grid_neuron_at(3.4, 2.6, side) == 3 * side + 3
    assert grid_neuron_at(15.6, 0.2, side) == 0  # past the last column: the first
    assert grid_neuron_at(-0.6, 4.0, side) == 4 * side + 15


def test_normalised_rect_orders_corners() -> None:
    assert normalised_rect(5.0, 1.0, 2.0, 4.0) == (2.0, 1.0, 5.0, 4.0)


# -- a real frame -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frame(make_config: Callable[..., Any]) -> Frame:
    cfg = make_config(preset="demo")
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.run(2.0)
        snap = eng.snapshot()
    history = History(cfg.side, cfg.run.record_interval)
    status = Status(SimState.RUNNING, 0, 0, None, None, None, "cpu", 1)
    return Frame(snap, cfg, status, history)


@pytest.mark.parametrize("colour_by", ["sigma_aff", "ad"])
@pytest.mark.parametrize("centres_from", ["counts", "weights"])
def test_map_data_of_a_frame(frame: Frame, colour_by: Any, centres_from: Any) -> None:
    data = map_data(frame, colour_by, centres_from)
    rf = frame.rf_counts if centres_from == "counts" else frame.rf_weights
    n, side = frame.snapshot.n_neurons, frame.side
    expected = rf.sigma_aff if colour_by == "sigma_aff" else rf.ad
    assert np.allclose(data.values, expected)
    assert data.positions.shape == (n, 2)
    assert np.allclose(data.positions, wrap_into_plot(rf.centre, side), atol=1e-5)
    assert data.colours.shape == (n, 4)
    lo, hi = data.value_range
    assert lo == 0.0 and hi >= data.values[data.has_input].max()
    # a neuron with the larger value never gets a darker colour
    order = np.argsort(data.values[data.has_input])
    assert np.all(np.diff(_luminance(data.colours[data.has_input][order])) >= -1e-6)
    assert len(data.segments) % 2 == 0 and len(data.segments) >= 2 * 2 * n
    assert data.segments.min() >= -0.5 - 1e-5 and data.segments.max() <= side - 0.5 + 1e-5
