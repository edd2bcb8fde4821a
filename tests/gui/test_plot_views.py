"""The pyqtgraph views of the topographic-map experiment, fed with frames of a real engine.

These views draw without OpenGL, so the tests run on any Qt platform.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, QSize, Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.experiments.topomap.frame import Frame, History
from app.frame import SimState, Status
from gui.context import ViewContext
from gui.experiments.topomap.views.activity_view import (
    ActivityView,
    rate_colour_range,
    source_rate_ceiling,
    stimulus_centres,
)
from gui.experiments.topomap.views.events_view import EventsView, events_per_pair, pairs_per_distance
from gui.experiments.topomap.views.map_quality_view import MapQualityView, finite_points, first_finite
from gui.experiments.topomap.views.receptive_field_view import (
    ReceptiveFieldView,
    centre_neuron,
    neuron_field,
    pair_colour_range,
)
from gui.experiments.topomap.views.synapses_view import (
    SynapsesView,
    in_degree_colour_range,
    in_degree_theory,
    turnover_rates,
)
from gui.views._plots import (
    FINE_STEPS,
    Cell,
    ColourRange,
    GridImagePlot,
    OutsideLegend,
    ResponsiveGrid,
    SteadyExtent,
    colour_ticks,
    finite_max,
    nice_ceiling,
    stable_ceiling,
)
from gui.views.base import View
from gui.views.flow_layout import FlowLayout
from sim.engine import Engine
from sim.experiments.topomap.analysis.reference import bamford_case, reference_values
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.geometry import distance

VIEW_CLASSES: list[type[View]] = [ReceptiveFieldView, SynapsesView, MapQualityView, ActivityView, EventsView]
STATUS = Status(SimState.RUNNING, 0, 0, None, None, None, "cpu", 1)


@dataclass
class Run:
    """Frames of one short run, each recorded in the history."""

    config: ModelConfig
    history: History
    frames: list[Frame]

    @property
    def last(self) -> Frame:
        return self.frames[-1]


def _run(config: ModelConfig, chunks: int, seconds: float) -> Run:
    history = History(config.side, config.run.record_interval)
    frames: list[Frame] = []
    previous = None
    with Engine.build(config, backend="cpu", seed=1) as engine:
        for i in range(chunks + 1):
            if i:
                engine.run(seconds)
            snap = engine.snapshot()
            frame = Frame(snap, config, STATUS, history, previous)
            history.add(frame)
            frames.append(frame)
            previous = snap
    return Run(config, history, frames)


#: Bamford's network (slot rewiring) with rewiring four times as fast: synapses form and go within 1 s.
FAST_BAMFORD = {"rewiring.rate": 40000.0}


@pytest.fixture(scope="module")
def run(make_config: Callable[..., ModelConfig]) -> Run:
    """1.5 s of Bamford's network, a frame (and a history row) every 0.25 s."""
    config = make_config({**FAST_BAMFORD, "run.record_interval": 0.25}, preset="bamford2010")
    return _run(config, chunks=6, seconds=0.25)


@pytest.fixture(scope="module")
def run_scale2(make_config: Callable[..., ModelConfig]) -> Run:
    """A short run of Bamford's network at scale 2 (32 x 32)."""
    config = make_config(
        {**FAST_BAMFORD, "run.record_interval": 0.05, "network.scale": 2}, preset="bamford2010"
    )
    return _run(config, chunks=2, seconds=0.05)


@pytest.fixture(scope="module")
def run_pair(make_config: Callable[..., ModelConfig]) -> Run:
    """0.5 s of the GeNN study's network (pair rewiring, pairwise-Bernoulli wiring)."""
    config = make_config({"run.record_interval": 0.25}, preset="knight2025")
    return _run(config, chunks=2, seconds=0.25)


def _shown(qtbot: QtBot, cls: type[View], config: ModelConfig) -> View:
    view = cls(ViewContext())
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.reset(config)
    view.show()
    return view


def _feed(view: View, frames: list[Frame]) -> None:
    for frame in frames:
        view.set_frame(frame)


def _with_config(frame: Frame, config: ModelConfig) -> Frame:
    """The same network state seen under another (live-changed) configuration."""
    return Frame(frame.snapshot, config, frame.status, frame.history, frame.previous)


def _distinct_colours(image: QImage) -> int:
    step = max(1, min(image.width(), image.height()) // 60)
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)
    }
    return len(colours)


# -- pure helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("s_max", [1, 8, 32, 200])
def test_binomial_theory_sums_to_neurons_and_matches_mean(s_max: int) -> None:
    rng = np.random.default_rng(s_max)
    degree = rng.integers(0, s_max + 1, size=256)
    theory = in_degree_theory(degree, s_max)
    assert theory.k.tolist() == list(range(s_max + 1))
    assert theory.neurons.sum() == pytest.approx(256.0)
    assert (theory.k * theory.neurons).sum() / 256.0 == pytest.approx(degree.mean())
    assert "binomial" in theory.label and "s_max" in theory.label


def test_binomial_theory_at_the_extremes() -> None:
    empty = in_degree_theory(np.zeros(10, int), 32)
    full = in_degree_theory(np.full(10, 32), 32)
    assert empty.neurons[0] == 10.0 and empty.neurons[1:].sum() == 0.0
    assert full.neurons[32] == 10.0 and full.neurons[:32].sum() == 0.0


def test_poisson_theory_without_slot_limit() -> None:
    degree = np.random.default_rng(3).poisson(6.3, size=1024)
    theory = in_degree_theory(degree, None)
    assert theory.neurons.sum() == pytest.approx(1024.0, rel=1e-6)
    assert (theory.k * theory.neurons).sum() / 1024.0 == pytest.approx(degree.mean(), rel=1e-6)
    assert theory.k[-1] >= degree.max()
    assert "Poisson" in theory.label


@pytest.mark.parametrize("side", [4, 7, 16, 32])
def test_pair_counts_per_distance_hold_every_neuron_once(side: int) -> None:
    n_bins = int(np.floor(np.hypot(side // 2, side // 2))) + 1
    counts = pairs_per_distance(side, n_bins)
    assert counts.sum() == side * side
    assert counts[0] == 1  # only the neuron itself is closer than 1
    ids = np.arange(side * side)
    for neuron in (0, side + 1, side * side - 1):
        d = distance(neuron, ids, side)
        bins = np.minimum(np.floor(d + 1e-9).astype(int), n_bins - 1)
        np.testing.assert_array_equal(np.bincount(bins, minlength=n_bins), counts)


def test_events_per_pair_divides_by_all_pairs() -> None:
    side, n_bins = 16, 12
    pairs = pairs_per_distance(side, n_bins) * side * side
    np.testing.assert_allclose(events_per_pair(pairs, side), np.ones(n_bins))
    no_self = events_per_pair(pairs, side, autapses=False)
    assert no_self[0] == 0.0  # no pairs at distance 0 without autapses
    np.testing.assert_allclose(no_self[1:], 1.0)


def test_nice_and_stable_ceilings() -> None:
    assert [nice_ceiling(v) for v in (0.5, 1.0, 1.5, 3.0, 7.0, 10.0, 31.0)] == [1, 1, 2, 5, 10, 10, 50]
    assert nice_ceiling(0.03, 0.01) == pytest.approx(0.05)
    assert stable_ceiling(100.0, 60.0) == 100.0  # within range: kept
    assert stable_ceiling(100.0, 120.0) == 200.0  # grew past it
    assert stable_ceiling(100.0, 10.0) == 10.0  # shrank a lot


def test_fine_ceilings_and_finite_max() -> None:
    assert [nice_ceiling(v, 0.1, FINE_STEPS) for v in (0.9, 1.1, 2.2, 3.5, 7.0, 9.0)] == [
        1,
        1.25,
        2.5,
        4,
        8,
        10,
    ]
    assert finite_max([1.0, np.nan], 3.0, [np.inf, -2.0]) == 3.0
    assert np.isnan(finite_max([np.nan], []))


def test_steady_extent_keeps_the_range_while_a_curve_grows(qtbot: QtBot) -> None:
    """A time plot's range (and so its axes) changes at a few steps, not at every new point."""
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    plot = widget.getPlotItem()
    curve = plot.plot()
    extent = SteadyExtent(plot)
    ranges = []
    for n in range(2, 400):
        t = np.arange(n) * 1.0
        y = 2.0 + np.sin(t / 20.0)
        curve.setData(t, y)
        extent.follow(finite_max(t), 1.1 * finite_max(y))
        plot.getViewBox().updateAutoRange()
        ranges.append(tuple(map(tuple, plot.viewRange())))
    changes = sum(a != b for a, b in itertools.pairwise(ranges))
    assert changes <= 30, changes  # 2..399 s passes 24 steps of FINE_STEPS; y passes a few
    (x0, x1), (y0, y1) = ranges[-1]
    assert x0 <= 0.0 and 399.0 <= x1 <= 1.35 * 400.0  # the data fill most of the width
    assert y0 <= 0.0 and 3.0 <= y1 <= 4.5
    extent.reset()
    assert (extent.x_max, extent.y_max) == (extent.x_empty, extent.y_empty)


def test_turnover_rates_divide_by_the_row_interval() -> None:
    table = {
        "t": np.array([0.0, 1.0, 3.0]),
        "formations": np.array([0.0, 4.0, 6.0]),
        "eliminations": np.array([0.0, 2.0, 10.0]),
    }
    t, formed, removed = turnover_rates(table)
    np.testing.assert_allclose(t, [1.0, 3.0])
    np.testing.assert_allclose(formed, [4.0, 3.0])
    np.testing.assert_allclose(removed, [2.0, 5.0])


def test_finite_points_and_first_finite() -> None:
    t = np.arange(5.0)
    v = np.array([np.nan, 2.0, np.nan, 3.0, np.nan])
    x, y = finite_points(t, v)
    np.testing.assert_array_equal(x, [1.0, 3.0])
    np.testing.assert_array_equal(y, [2.0, 3.0])
    assert first_finite(v) == 2.0
    assert np.isnan(first_finite(np.full(3, np.nan)))


def test_stimulus_centres(make_config: Callable[..., ModelConfig]) -> None:
    one = make_config({"network.scale": 2, "stimulus.tiled": False})
    tiled = make_config({"network.scale": 2, "stimulus.tiled": True})
    flat = make_config({"stimulus.input": "uncorrelated"})
    np.testing.assert_array_equal(stimulus_centres(one, (3, 5)), [[3, 5]])
    assert sorted(map(tuple, stimulus_centres(tiled, (3, 5)).tolist())) == [
        (3, 5),
        (3, 21),
        (19, 5),
        (19, 21),
    ]
    assert stimulus_centres(flat, (3, 5)).shape == (0, 2)
    assert source_rate_ceiling(one) == pytest.approx(one.stimulus.f_base + one.stimulus.f_peak)


def test_neuron_field_equals_the_network_analysis(run: Run) -> None:
    frame = run.last
    snap = frame.snapshot
    for weighted, fields in ((False, frame.rf_counts), (True, frame.rf_weights)):
        for neuron in (0, 37, centre_neuron(frame.side), snap.n_neurons - 1):
            field = neuron_field(snap.ff, frame.side, neuron, weighted)
            assert field.centre == tuple(fields.centre[neuron])
            assert field.sigma_aff == fields.sigma_aff[neuron]
            assert field.ad == fields.ad[neuron]


# -- the views ----------------------------------------------------------------------------------------


def test_receptive_field_view_follows_the_selection(qtbot: QtBot, run: Run) -> None:
    view = _shown(qtbot, ReceptiveFieldView, run.config)
    assert isinstance(view, ReceptiveFieldView)
    _feed(view, run.frames)
    snap, side = run.last.snapshot, run.config.side
    centre = centre_neuron(side)
    assert view.neuron == centre
    assert "centre neuron" in view.ff_image.plot.titleLabel.text
    assert view.ff_image.values.sum() == snap.ff.in_degree[centre]
    assert view.lat_image.values.sum() == snap.lat.in_degree[centre]
    centre_xy = view.centre_marker.getData()
    assert (centre_xy[0][0], centre_xy[1][0]) == tuple(run.last.rf_counts.centre[centre])

    drawn = view.frames_drawn
    neuron = 3 * side + 11
    view.context.select(neuron)
    assert view.frames_drawn == drawn + 1
    assert view.neuron == neuron
    assert f"neuron {neuron} (11, 3)" in view.ff_image.plot.titleLabel.text
    assert view.ff_image.values.sum() == snap.ff.in_degree[neuron]
    expected = np.zeros((side, side))
    np.add.at(
        expected, (snap.ff.pre[snap.ff.post == neuron] // side, snap.ff.pre[snap.ff.post == neuron] % side), 1
    )
    np.testing.assert_array_equal(view.ff_image.values, expected)
    own_x, own_y = view.own_markers[0].getData()
    assert (own_x[0], own_y[0]) == (11.0, 3.0)

    # A click on the target grid selects the neuron under it.
    assert view.neuron_at(4.2, 6.9) == 7 * side + 4
    assert view.neuron_at(-0.7, 3.0) == -1
    vb = view.lat_image.plot.vb
    qtbot.waitExposed(view)
    widget_pos = view.graphics.mapFromScene(vb.mapViewToScene(QPointF(2.0, 5.0)))
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    assert view.context.selected == 5 * side + 2
    assert view.neuron == 5 * side + 2
    view.context.select(neuron)

    # Bamford's network can put several synapses between a pair: 0 to 4 synapses, more clip.
    assert view.ff_image.levels == view.lat_image.levels == (0.0, 4.0)
    assert view.ff_image.colour_range.clips
    view.measure_box.setCurrentIndex(1)
    assert view.weighted
    weights = snap.ff.weight[snap.ff.post == neuron].astype(np.float64)
    assert view.ff_image.values.sum() == pytest.approx(weights.sum(), rel=1e-5)
    g_max = run.config.stdp.g_max
    assert view.ff_image.levels == pytest.approx((0.0, 4.0 * g_max))


def test_synapses_view_curves_and_in_degree(qtbot: QtBot, run: Run) -> None:
    view = _shown(qtbot, SynapsesView, run.config)
    assert isinstance(view, SynapsesView)
    _feed(view, run.frames)
    snap, n = run.last.snapshot, run.config.n_neurons
    t, ff = view.ff_curve.getData()
    assert t[-1] == pytest.approx(snap.t)
    assert ff[-1] == snap.ff.count
    assert view.lat_curve.getData()[1][-1] == snap.lat.count
    # Rates times intervals give back every formation after the first row.
    table = run.history.table()
    t_rate, formed = view.formed_curve.getData()
    assert (formed * np.diff(table["t"])).sum() == pytest.approx(table["formations"][1:].sum())
    np.testing.assert_array_equal(t_rate, table["t"][1:])

    np.testing.assert_array_equal(view.in_degree.values, snap.ff.in_degree.reshape(run.config.side, -1))
    assert view.in_degree.levels == (0.0, float(run.config.rewiring.s_max))
    edges, counts = view.histogram.getData()[0], view.histogram.yData
    assert counts.sum() == n
    assert len(edges) == len(counts) + 1
    k, expected = view.theory_curve.getData()
    assert expected.sum() == pytest.approx(n)
    assert k[-1] == run.config.rewiring.s_max
    assert view.theory is not None and view.theory.mean == pytest.approx(snap.ff.in_degree.mean())
    labels = [label.text for _sample, label in view.histogram.getViewBox().parentItem().legend.items]
    assert view.theory.label in labels


def test_synapses_view_has_no_theory_without_rewiring(
    qtbot: QtBot, run: Run, make_config: Callable[..., ModelConfig]
) -> None:
    view = _shown(qtbot, SynapsesView, run.config)
    assert isinstance(view, SynapsesView)
    _feed(view, run.frames)
    legend = view.histogram.getViewBox().parentItem().legend
    n_entries = len(legend.items)
    no_rewiring = make_config({**FAST_BAMFORD, "rewiring.enabled": False}, preset="bamford2010")
    view.set_frame(_with_config(run.last, no_rewiring))
    x, _y = view.theory_curve.getData()
    assert x is None or len(x) == 0
    assert len(legend.items) == n_entries - 1
    assert view.histogram.yData.sum() == run.config.n_neurons


def test_map_quality_view_references(qtbot: QtBot, run: Run, make_config: Callable[..., ModelConfig]) -> None:
    view = _shown(qtbot, MapQualityView, run.config)
    assert isinstance(view, MapQualityView)
    _feed(view, run.frames)
    table = run.history.table()
    for column, curve in view.curves.items():
        x, y = curve.getData()
        ok = np.isfinite(table[column])
        np.testing.assert_array_equal(x, table["t"][ok])
        np.testing.assert_array_equal(y, table[column][ok])
    refs = reference_values(run.config)
    assert refs is not None
    for column, line in view.references.items():
        assert line.visible and line.value == refs[column]
        assert line.label is not None and "Bamford 2010" in line.label
    assert view.initial["sigma_aff"].value == first_finite(table["sigma_aff_conn"])
    assert view.initial["ad"].value == first_finite(table["ad_conn"])
    legend = view.plots["sigma_aff"].legend
    assert sum("Bamford 2010" in label.text for _sample, label in legend.items) == 2
    # Clicking a legend entry hides its line, as for the curves.
    line = view.references["sigma_aff_conn"]
    sample = next(sample for sample, label in legend.items if label.text == line.label)
    sample.item.setVisible(False)
    assert not line.visible
    sample.item.setVisible(True)
    assert line.visible

    # STDP only with flat input is none of Bamford's cases: no reference lines.
    none_case = make_config(
        {"run.record_interval": 0.25, "rewiring.enabled": False, "stimulus.input": "uncorrelated"},
        preset="bamford2010",
    )
    assert reference_values(none_case) is None
    view.set_frame(_with_config(run.last, none_case))
    assert not any(line.visible for line in view.references.values())
    legend_labels = [label.text for _sample, label in view.plots["sigma_aff"].legend.items]
    assert not any("Bamford 2010" in text for text in legend_labels)
    # Case 3 (rewiring, uncorrelated input) brings them back with its values.
    case3 = make_config({"stimulus.input": "uncorrelated"}, preset="bamford2010")
    view.set_frame(_with_config(run.last, case3))
    refs3 = reference_values(case3)
    assert refs3 is not None
    assert view.references["ad_weight"].value == refs3["ad_weight"]


def test_activity_view_rates_and_stimulus(
    qtbot: QtBot, run: Run, make_config: Callable[..., ModelConfig]
) -> None:
    view = _shown(qtbot, ActivityView, run.config)
    assert isinstance(view, ActivityView)
    _feed(view, run.frames)
    frame, side = run.last, run.config.side
    np.testing.assert_allclose(view.source_image.values, frame.source_rates.reshape(side, side), rtol=1e-6)
    np.testing.assert_allclose(view.target_image.values, frame.target_rates.reshape(side, side), rtol=1e-6)
    stim = run.config.stimulus
    # one fixed scale for both layers, on the square root of the rate
    assert view.source_image.levels == pytest.approx((0.0, stim.f_base + stim.f_peak))
    assert view.target_image.levels == view.source_image.levels
    assert view.source_image.sqrt and view.target_image.sqrt
    x, y = view.stimulus_marker.getData()
    assert (x[0], y[0]) == frame.snapshot.stimulus
    table = run.history.table()
    t, rate = view.target_curve.getData()
    np.testing.assert_array_equal(t, table["t"][1:])
    np.testing.assert_array_equal(rate, table["rate_target"][1:])
    assert view.source_curve.getData()[1].mean() > 0.0

    flat = make_config({"stimulus.input": "uncorrelated"}, preset="bamford2010")
    view.set_frame(_with_config(frame, flat))
    assert len(view.stimulus_marker.getData()[0]) == 0


def test_events_view_totals_match_the_history(qtbot: QtBot, run: Run) -> None:
    view = _shown(qtbot, EventsView, run.config)
    assert isinstance(view, EventsView)
    _feed(view, run.frames)
    snap, history = run.last.snapshot, run.history
    for index, code in enumerate(sorted(view.plots)):
        projection = snap.projection(code)
        x, formed = view.formed_curves[code].getData()
        removed = view.removed_curves[code].getData()[1]
        np.testing.assert_array_equal(x, history.distance_edges)
        assert formed.sum() == projection.formed == history.events_by_distance[index, 0].sum()
        assert removed.sum() == projection.removed == history.events_by_distance[index, 1].sum()
    assert snap.ff.formed > 0 and snap.ff.removed > 0

    view.per_pair_box.setChecked(True)
    formed_ff = view.formed_curves[min(view.plots)].getData()[1]
    np.testing.assert_allclose(formed_ff, events_per_pair(history.events_by_distance[0, 0], run.config.side))
    assert formed_ff.sum() < 1.0


@pytest.mark.parametrize("cls", VIEW_CLASSES, ids=lambda c: c.key)
def test_hidden_view_draws_only_when_shown(qtbot: QtBot, run: Run, cls: type[View]) -> None:
    view = cls(ViewContext())
    qtbot.addWidget(view)
    view.reset(run.config)
    _feed(view, run.frames)
    assert view.frames_drawn == 0
    view.show()
    assert view.frames_drawn == 1
    assert view.frame is run.last
    assert not view.uses_gl
    assert view.tooltip and view.title and view.key


@pytest.mark.parametrize("cls", VIEW_CLASSES, ids=lambda c: c.key)
def test_render_image_is_not_blank(qtbot: QtBot, run: Run, cls: type[View]) -> None:
    view = _shown(qtbot, cls, run.config)
    _feed(view, run.frames)
    image = view.render_image()
    assert image.width() > 100 and image.height() > 100
    assert _distinct_colours(image) > 8


@pytest.mark.parametrize("cls", VIEW_CLASSES, ids=lambda c: c.key)
def test_reset_to_a_larger_grid(qtbot: QtBot, run: Run, run_scale2: Run, cls: type[View]) -> None:
    view = _shown(qtbot, cls, run.config)
    _feed(view, run.frames)
    view.reset(run_scale2.config)
    assert view.frame is None
    _feed(view, run_scale2.frames)
    assert view.frame is run_scale2.last
    side = run_scale2.config.side
    if isinstance(view, ReceptiveFieldView):
        assert view.ff_image.values.shape == (side, side)
        assert view.neuron == centre_neuron(side)
    elif isinstance(view, SynapsesView):
        assert view.in_degree.values.shape == (side, side)
        assert view.histogram.yData.sum() == side * side
        assert view.ff_curve.getData()[1][-1] == run_scale2.last.snapshot.ff.count
    elif isinstance(view, ActivityView):
        assert view.target_image.values.shape == (side, side)
    elif isinstance(view, EventsView):
        x = view.formed_curves[min(view.plots)].getData()[0]
        np.testing.assert_array_equal(x, run_scale2.history.distance_edges)
    elif isinstance(view, MapQualityView):
        x, _y = view.curves["sigma_aff_conn"].getData()
        assert x.max() <= run_scale2.last.t


# -- colour ranges, legends and layout ---------------------------------------------------------------


def test_colour_ticks_label_both_ends_and_say_when_the_top_clips() -> None:
    linear = colour_ticks(ColourRange(4.0, clips=True))
    assert linear[0] == (0.0, "0") and linear[-1] == (4.0, "\u22654")
    assert [text for _pos, text in linear] == ["0", "1", "2", "3", "\u22654"]
    exact = colour_ticks(ColourRange(64.0, clips=False))
    assert exact[-1] == (64.0, "64") and len(exact) >= 4
    positions = [pos for pos, _text in exact]
    assert positions == sorted(positions)
    # a square-root scale: positions are square roots, labels are values, spread along the bar
    rates = colour_ticks(ColourRange(157.8), sqrt=True)
    assert [text for _pos, text in rates] == ["0", "5", "20", "50", "100", "\u2265157.8"]
    for pos, text in rates[1:-1]:
        assert pos == pytest.approx(float(text) ** 0.5)
    gaps = np.diff([pos for pos, _text in rates]) / rates[-1][0]
    assert gaps.min() >= 0.12


def test_grid_image_keeps_its_colour_range_and_the_user_can_set_it(qtbot: QtBot) -> None:
    import pyqtgraph as pg

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(500, 400)
    first = GridImagePlot(widget.addPlot(), "rate (Hz)", sqrt=True)
    second = GridImagePlot(widget.addPlot(), "rate (Hz)", sqrt=True)
    first.link_user_range(second)
    for image in (first, second):
        image.set_side(16)
        image.set_default_range(ColourRange(150.0))
    widget.show()
    values = np.linspace(0.0, 600.0, 256)  # well beyond the range
    first.set_values(values)
    assert first.levels == (0.0, 150.0)  # the data do not move the scale
    np.testing.assert_allclose(first.values.ravel(), values, rtol=1e-6)
    np.testing.assert_allclose(first.item.image.ravel(), np.sqrt(values), rtol=1e-6)  # colour by sqrt
    assert first.bar.levels() == pytest.approx((0.0, 150.0**0.5))
    labels = [text for _pos, text in first.bar.axis._tickLevels[0]]
    assert labels[0] == "0" and labels[-1] == "\u2265150"
    # the image fills its plot: the axes span the grid exactly
    (x0, x1), (y0, y1) = first.plot.getViewBox().viewRange()
    assert (x0, x1, y0, y1) == pytest.approx((-0.5, 15.5, -0.5, 15.5))

    first.set_user_high(40.0)  # set by hand: both images of the quantity follow
    assert first.levels == second.levels == (0.0, 40.0)
    menu = first.range_menu()
    assert menu.actions()[0].text().startswith("Colour range")
    assert menu.actions()[1].isEnabled()
    second.set_default_range(ColourRange(100.0))  # a new configuration keeps the user's range
    assert second.levels == (0.0, 40.0)
    second.set_user_high(None)
    assert second.levels == (0.0, 100.0) and first.levels == (0.0, 150.0)
    with pytest.raises(ValueError, match="above"):
        first.set_user_high(-1.0)


def test_colour_ranges_come_from_the_model(make_config: Callable[..., ModelConfig]) -> None:
    bamford = make_config(preset="bamford2010")
    knight = make_config(preset="knight2025")
    assert in_degree_colour_range(bamford) == ColourRange(32.0, 0.0, clips=False)  # s_max
    assert in_degree_colour_range(knight) == ColourRange(64.0, 0.0, clips=False)  # col_capacity
    g_max = bamford.stdp.g_max
    assert pair_colour_range(bamford, weighted=False) == ColourRange(4.0, 0.0, clips=True)
    assert pair_colour_range(bamford, weighted=True) == ColourRange(4.0 * g_max, 0.0, clips=True)
    assert pair_colour_range(knight, weighted=False) == ColourRange(1.0, 0.0, clips=False)
    assert rate_colour_range(bamford).high == pytest.approx(bamford.stimulus.f_base + bamford.stimulus.f_peak)
    flat = make_config({"stimulus.input": "uncorrelated"}, preset="bamford2010")
    assert rate_colour_range(flat).high == pytest.approx(2.0 * flat.stimulus.flat_rate)


def test_activity_colours_show_the_background_rate(qtbot: QtBot, run: Run) -> None:
    """The few-Hz background of the source layer is visibly brighter than silence, below the peak."""
    view = _shown(qtbot, ActivityView, run.config)
    assert isinstance(view, ActivityView)
    image = view.source_image
    cmap = image.bar.colorMap()
    low, high = (v**0.5 for v in image.levels)

    def luminance(rate: float) -> float:
        r, g, b, _a = cmap.map((rate**0.5 - low) / (high - low), mode="float")
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    f_base = run.config.stimulus.f_base
    assert luminance(f_base) - luminance(0.0) > 0.08
    assert luminance(20.0) - luminance(f_base) > 0.05
    assert luminance(image.levels[1]) - luminance(20.0) > 0.3


@pytest.mark.parametrize(
    ("preset", "overrides", "case"),
    [
        ("bamford2010", {}, 1),
        ("bamford2010_stdp_only", {}, 2),
        ("bamford2010_uncorrelated", {}, 3),
        ("bogdan2018", {}, 1),
        ("bogdan2018_stdp_only", {}, 2),
        ("bamford2010", {"rewiring.rate": 40000.0}, 1),  # rates may change
        ("bamford2010_lateral_inhibition", {}, None),
        ("bamford2010", {"network.scale": 2}, None),
        ("knight2025", {}, None),
        ("knight2025_stdp_only", {}, None),
        ("demo", {}, None),
        ("bamford2010", {"rewiring.enabled": False, "stimulus.input": "uncorrelated"}, None),
    ],
)
def test_bamford_references_only_for_bamfords_network(
    make_config: Callable[..., ModelConfig], preset: str, overrides: dict[str, object], case: int | None
) -> None:
    assert bamford_case(make_config(overrides, preset=preset)) == case


def test_map_quality_has_no_bamford_lines_for_the_genn_network(qtbot: QtBot, run_pair: Run) -> None:
    view = _shown(qtbot, MapQualityView, run_pair.config)
    assert isinstance(view, MapQualityView)
    _feed(view, run_pair.frames)
    assert not any(line.visible for line in view.references.values())
    for plot in view.plots.values():
        assert not any("Bamford" in label.text for _sample, label in plot.legend.items)
    assert view.initial["sigma_aff"].visible  # the run's own start is still marked


@pytest.mark.parametrize("cls", [MapQualityView, SynapsesView, ActivityView, EventsView], ids=lambda c: c.key)
def test_empty_plots_show_positive_ranges(qtbot: QtBot, run: Run, cls: type[View]) -> None:
    """After a reset, before data, time plots span 0 to ten record intervals and never go negative."""
    import pyqtgraph as pg

    view = _shown(qtbot, cls, run.config)
    _feed(view, run.frames)
    view.reset(run.config)
    qtbot.waitExposed(view)
    for plot in view.graphics.ci.items:  # type: ignore[attr-defined]
        if not isinstance(plot, pg.PlotItem) or any(isinstance(i, pg.ImageItem) for i in plot.items):
            continue  # (images span their grid, from -0.5)
        plot.getViewBox().updateAutoRange()
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        assert x0 >= -0.5 and y0 >= 0.0, plot.titleLabel.text  # (-0.5: the first histogram bin's edge)
        assert x1 > 0.0 and y1 > 0.0
        if plot.getAxis("bottom").labelText.startswith("model time"):
            assert x0 == 0.0 and x1 == pytest.approx(10 * run.config.run.record_interval)


@pytest.mark.parametrize("cls", [MapQualityView, SynapsesView, ActivityView, EventsView], ids=lambda c: c.key)
def test_legends_sit_above_the_data(qtbot: QtBot, run: Run, cls: type[View]) -> None:
    view = _shown(qtbot, cls, run.config)
    _feed(view, run.frames)
    qtbot.waitExposed(view)
    scene = view.graphics.scene()  # type: ignore[attr-defined]
    legends = [item for item in scene.items() if isinstance(item, OutsideLegend)]
    assert legends
    for legend in legends:
        data_area = legend.plot.getViewBox().sceneBoundingRect()
        rect = legend.sceneBoundingRect()
        assert rect.bottom() <= data_area.top() + 1.0
        assert rect.left() >= data_area.left() - 1.0 and rect.right() <= data_area.right() + 1.0


def test_legend_wraps_its_entries_in_a_narrow_plot(qtbot: QtBot, run: Run) -> None:
    view = _shown(qtbot, MapQualityView, run.config)
    assert isinstance(view, MapQualityView)
    _feed(view, run.frames)
    legend = view.plots["sigma_aff"].legend
    assert len(legend.items) == 5  # counts, weights, two Bamford lines and the initial value
    view.resize(1400, 500)
    qtbot.waitUntil(lambda: legend.columnCount >= 4)
    wide = legend.sceneBoundingRect()
    view.resize(320, 700)
    qtbot.waitUntil(lambda: legend.columnCount < 3)
    narrow = legend.sceneBoundingRect()
    assert narrow.height() > wide.height()  # more rows
    assert narrow.width() <= view.plots["sigma_aff"].sceneBoundingRect().width()


def test_responsive_grid_stacks_plots_in_a_tall_view(qtbot: QtBot, run: Run) -> None:
    view = _shown(qtbot, ReceptiveFieldView, run.config)
    assert isinstance(view, ReceptiveFieldView)
    grid = view.arrangement
    assert grid.best(900.0, 400.0) == 0  # side by side
    assert grid.best(400.0, 900.0) == 1  # one above the other
    view.resize(400, 900)
    qtbot.waitUntil(lambda: grid.current == 1)
    ff, lat = view.ff_image.plot.sceneBoundingRect(), view.lat_image.plot.sceneBoundingRect()
    assert lat.top() >= ff.bottom() - 1.0
    view.resize(1000, 450)
    qtbot.waitUntil(lambda: grid.current == 0)
    ff, lat = view.ff_image.plot.sceneBoundingRect(), view.lat_image.plot.sceneBoundingRect()
    assert lat.left() >= ff.right() - 1.0
    with pytest.raises(ValueError, match="one cell per plot"):
        ResponsiveGrid(view.graphics, [view.ff_image.plot], [1.0], [(Cell(0, 0), Cell(0, 1))])


def test_flow_layout_wraps_onto_more_rows_when_narrow(qtbot: QtBot) -> None:
    holder = QWidget()
    qtbot.addWidget(holder)
    flow = FlowLayout(holder, margins=(0, 0, 0, 0))
    labels = [QLabel(f"option number {i}") for i in range(4)]
    for label in labels:
        flow.addWidget(label)
    widest = max(label.sizeHint().width() for label in labels)
    row = labels[0].sizeHint().height()
    assert flow.minimumSize().width() == max(label.minimumSizeHint().width() for label in labels)
    assert flow.heightForWidth(4 * widest + 40) == row  # one row
    assert flow.heightForWidth(widest + 1) >= 4 * row  # one widget a row
    holder.resize(QSize(2 * widest + 10, 200))
    holder.show()
    qtbot.waitExposed(holder)
    tops = sorted({label.geometry().top() for label in labels})
    assert len(tops) == 2  # two rows of two
    assert all(label.geometry().right() < holder.width() for label in labels)
