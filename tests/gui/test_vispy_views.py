"""The VisPy views: the topographic map and the 3-D connectivity view.

Tests that draw need OpenGL (``require_gl``: Xvfb with Mesa under pytest-xvfb).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.experiments.topomap.frame import Frame, History
from app.frame import SimState, Status
from gui.context import ViewContext
from gui.experiments.topomap.views import connectivity_view, map_view
from gui.experiments.topomap.views.adapters import wrap_into_plot
from gui.experiments.topomap.views.connectivity_view import ConnectivityView
from gui.experiments.topomap.views.map_view import MapView
from gui.views import canvas_view
from gui.views.gl import (
    GlUnavailableLabel,
    RedrawBudget,
    canvas_image,
    colour_bar_pixmap,
    gl_unavailable_reason,
)
from gui.visuals.layers import colormap_lut
from sim.engine import Engine
from sim.experiments.topomap.config import ModelConfig

STATUS = Status(SimState.RUNNING, 0, 0, None, None, None, "cpu", 1)


def _frame(cfg: ModelConfig, seconds: float) -> Frame:
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.run(seconds)
        snap = eng.snapshot()
    return Frame(snap, cfg, STATUS, History(cfg.side, cfg.run.record_interval))


@pytest.fixture(scope="module")
def frame(make_config: Callable[..., ModelConfig]) -> Frame:
    """A frame of the demo network (scale 1) after 2 s."""
    return _frame(make_config(preset="demo"), 2.0)


@pytest.fixture(scope="module")
def frame2(make_config: Callable[..., ModelConfig]) -> Frame:
    """A frame of the demo network at scale 2 (32 x 32)."""
    return _frame(make_config({"network.scale": 2}, preset="demo"), 0.05)


@pytest.fixture
def context() -> ViewContext:
    return ViewContext()


def _shown(qtbot: QtBot, view: Any) -> Any:
    qtbot.addWidget(view)
    view.resize(720, 560)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def map_view_(qtbot: QtBot, require_gl: None, context: ViewContext, frame: Frame) -> Iterator[MapView]:
    view = _shown(qtbot, MapView(context))
    view.reset(frame.config)
    yield view
    view.shutdown()


@pytest.fixture
def conn_view(
    qtbot: QtBot, require_gl: None, context: ViewContext, frame: Frame
) -> Iterator[ConnectivityView]:
    view = _shown(qtbot, ConnectivityView(context))
    view.reset(frame.config)
    yield view
    view.shutdown()


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr.asstring(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 4 * image.width()].reshape(image.height(), image.width(), 4).copy()


def _canvas_pixels(view: Any) -> np.ndarray:
    """The canvas part of the view's exported image."""
    QApplication.processEvents()
    image = _pixels(view.render_image())
    corner = view.display.mapTo(view, QPoint(0, 0))  # the display may sit in a holder of its own
    ratio = image.shape[1] / view.width()
    x0, y0 = round(corner.x() * ratio), round(corner.y() * ratio)
    x1, y1 = x0 + round(view.display.width() * ratio), y0 + round(view.display.height() * ratio)
    return image[y0:y1, x0:x1]


def _distinct_colours(pixels: np.ndarray) -> int:
    return len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0))


# -- helpers that need no OpenGL ----------------------------------------------------------------------
def test_redraw_budget_spaces_redraws_by_their_cost() -> None:
    now = [10.0]
    budget = RedrawBudget(0.25, clock=lambda: now[0], tolerance=0.01)
    assert budget.due()
    started = budget.start()
    now[0] += 0.02  # a redraw that took 0.02 s: due 0.08 s after it began
    budget.record(started)
    assert budget.last_cost == pytest.approx(0.02)
    assert budget.slack == pytest.approx(0.04)  # half the spacing, more than the tolerance
    # due at 10.0 - 0.01 (it kept 0.01 s of having come late) + 0.08, runnable 0.04 s before
    assert budget.wait() == pytest.approx(10.07 - 0.04 - 10.02)
    now[0] = 10.025
    assert not budget.due()
    now[0] = 10.035
    assert budget.due()
    budget.record(budget.start(), extra=0.5)  # early, so the due time moves on from 10.07; 0.5 s elsewhere
    assert budget.last_cost == pytest.approx(0.5)
    assert budget.slack == pytest.approx(1.0)
    assert budget.wait() == pytest.approx((10.07 + 0.5 / 0.25) - 1.0 - 10.035)
    budget.reset()
    assert budget.due()
    with pytest.raises(ValueError, match="fraction"):
        RedrawBudget(0.0)
    with pytest.raises(ValueError, match="tolerance"):
        RedrawBudget(0.3, tolerance=-1.0)


def test_redraw_budget_lets_a_held_up_view_catch_up() -> None:
    """A view kept from its turn by other work redraws sooner afterwards, within its share."""
    now = [0.0]
    budget = RedrawBudget(0.5, clock=lambda: now[0])
    budget.charge(budget.start(), 0.05)  # due again at 0.09 (0.1 spacing, 0.01 kept)
    now[0] = 0.2  # held up by 0.11 s
    assert budget.due()
    budget.charge(budget.start(), 0.05)
    # it kept 0.05 s (half its spacing) of the wait: due 0.1 after 0.15, runnable 0.05 before that
    assert budget.wait() == pytest.approx(0.25 - 0.05 - 0.2)


@pytest.mark.parametrize("cost", [0.005, 0.0105, 0.015, 0.03, 0.1])
def test_redraw_budget_keeps_its_share_at_any_cost(cost: float) -> None:
    """Offered a frame 30 times a second, a view redraws about fraction / cost times a second."""
    now = [0.0]
    budget = RedrawBudget(0.3, clock=lambda: now[0])
    redraws, spent, seconds = 0, 0.0, 30.0
    for frame in range(round(30 * seconds)):
        now[0] = frame / 30.0
        if budget.due():
            budget.charge(budget.start(), cost)
            redraws += 1
            spent += cost
    assert spent / seconds <= 0.3 + cost / seconds  # the share, up to the one redraw in hand
    assert redraws / seconds >= 0.93 * min(30.0, 0.3 / cost)


def test_gl_probe_and_image_helpers(qapp: QApplication) -> None:
    reason = gl_unavailable_reason()
    assert reason is None or "OpenGL" in reason
    rgba = np.zeros((3, 5, 4), np.uint8)
    rgba[1, 2] = (255, 0, 0, 255)
    image = canvas_image(rgba)
    assert (image.width(), image.height()) == (5, 3)
    assert image.pixelColor(2, 1).red() == 255 and image.pixelColor(0, 0).red() == 0
    bar = _pixels(colour_bar_pixmap([(0.0, 0.0, 0.0, 1.0), (1.0, 1.0, 1.0, 1.0)], width=20).toImage())
    assert bar[0, 0, 0] < 10 and bar[0, -1, 0] > 245


@pytest.mark.parametrize("view_class", [MapView, ConnectivityView])
def test_views_without_opengl_show_a_message_and_still_work(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, context: ViewContext, frame: Frame, view_class: Any
) -> None:
    monkeypatch.setattr(canvas_view, "gl_unavailable_reason", lambda: "OpenGL is not available here")
    view = view_class(context)
    qtbot.addWidget(view)
    view.show()
    label = view.findChild(GlUnavailableLabel)
    assert label is not None and "OpenGL is not available here" in label.text()
    assert view.canvas is None
    view.reset(frame.config)
    view.set_frame(frame)
    context.select(3)
    assert not view.render_image().isNull()
    view.shutdown()


# -- map view -----------------------------------------------------------------------------------------
def test_map_view_draws_a_frame(map_view_: MapView, frame: Frame) -> None:
    view = map_view_
    view.set_frame(frame)
    data = view.drawn_map
    assert data is not None
    assert np.allclose(data.positions, wrap_into_plot(frame.rf_counts.centre, frame.side), atol=1e-5)
    pixels = _canvas_pixels(view)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert _distinct_colours(pixels) >= 8
    assert "\u03c3" in view.legend_label.text()
    # a fixed colour range, not this frame's maximum: larger values clip to the top colour
    assert data.value_range == view.colour_range == (0.0, 4.0)
    assert view.legend_low.text() == "0" and view.legend_high.text() == "\u22654"


def test_map_view_colours_mean_the_same_value_in_every_frame(map_view_: MapView, frame: Frame) -> None:
    view = map_view_
    view.set_frame(frame)
    data = view.drawn_map
    assert data is not None
    valid = data.has_input
    top = colormap_lut(map_view.COLORMAP)[-1]
    # a neuron at or beyond 4 grid units has the top colour, whatever else the frame holds
    beyond = valid & (data.values >= 4.0)
    assert np.allclose(data.colours[beyond], top)
    below = valid & (data.values < 3.9)
    assert not np.any(np.all(np.isclose(data.colours[below], top), axis=1))
    # the user sets the range (the legend's context menu does this): the legend says so
    view.set_colour_top(2.0)
    assert view.colour_range == (0.0, 2.0) and view.legend_high.text() == "\u22652"
    view.redraw()
    assert view.drawn_map is not None and view.drawn_map.value_range == (0.0, 2.0)
    view.colour_by_box.setCurrentIndex(view.colour_by_box.findData("ad"))  # each quantity its own range
    assert view.colour_range == (0.0, 4.0)
    view.colour_by_box.setCurrentIndex(view.colour_by_box.findData("sigma_aff"))
    view.set_colour_top(None)
    assert view.colour_range == (0.0, 4.0)
    with pytest.raises(ValueError, match="positive"):
        view.set_colour_top(0.0)


def test_map_view_has_axes_in_grid_units(map_view_: MapView, frame: Frame) -> None:
    view = map_view_
    view.set_frame(frame)
    _canvas_pixels(view)  # render at the view's size
    x_axis, y_axis = view.axes
    assert "grid units" in x_axis.axis.axis_label and "y" in y_axis.axis.axis_label
    # the axes show the coordinates of the view: the grid's ends are within them
    assert min(x_axis.axis.domain) <= -0.5 and max(x_axis.axis.domain) >= frame.side - 0.5
    assert min(y_axis.axis.domain) <= -0.5 and max(y_axis.axis.domain) >= frame.side - 0.5
    # and they follow the camera: the domain of the x axis spans the width of the drawn plot
    left, right = view.canvas_to_grid((0, 0))[0], view.canvas_to_grid((view.display.width(), 0))[0]
    assert x_axis.axis.domain[0] >= left - 1e-6 and x_axis.axis.domain[1] <= right + 1e-6


@pytest.mark.parametrize("size", [(420, 760), (900, 420), (720, 560)])
def test_map_view_grid_fills_a_square_plot_whose_axes_span_the_grid(
    qtbot: QtBot, map_view_: MapView, frame: Frame, size: tuple[int, int]
) -> None:
    """Tall or wide, the map's data area is square and both axes run exactly over the grid."""
    view = map_view_
    view.resize(*size)
    view.set_frame(frame)
    qtbot.waitUntil(lambda: view.display is not None and view.display.width() > 100)
    _canvas_pixels(view)
    assert view._view.size[0] == pytest.approx(view._view.size[1], abs=1.0)
    lo, hi = -0.5, frame.side - 0.5
    for axis in view.axes:
        ends = sorted(axis.axis.domain)
        assert ends[0] == pytest.approx(lo, abs=0.15) and ends[1] == pytest.approx(hi, abs=0.15), ends
    image = view.export_image(1920, 1080)
    assert (image.width(), image.height()) == (1920, 1080)


def test_map_view_options_change_colours_and_centres(map_view_: MapView, frame: Frame) -> None:
    view = map_view_
    view.set_frame(frame)
    view.colour_by_box.setCurrentIndex(view.colour_by_box.findData("ad"))
    assert view.drawn_map is not None
    assert np.allclose(view.drawn_map.values, frame.rf_counts.ad)
    assert view.legend_label.text() == "AD"
    view.centres_box.setCurrentIndex(view.centres_box.findData("weights"))
    assert np.allclose(view.drawn_map.values, frame.rf_weights.ad)
    assert np.allclose(
        view.drawn_map.positions, wrap_into_plot(frame.rf_weights.centre, frame.side), atol=1e-5
    )


def test_map_view_click_selects_and_highlights(
    map_view_: MapView, frame: Frame, context: ViewContext, qtbot: QtBot
) -> None:
    view = map_view_
    view.set_frame(frame)
    before = _canvas_pixels(view)
    assert view.drawn_map is not None
    neuron = 5 * frame.side + 7
    x, y = view.grid_to_canvas(view.drawn_map.positions[neuron])[0]
    with qtbot.waitSignal(context.selection_changed, timeout=1000) as blocker:
        qtbot.mouseClick(view.display, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    assert blocker.args == [neuron]
    assert context.selected == neuron
    after = _canvas_pixels(view)
    # the ring (red) appears round the marker
    red = (after[..., 0] > 180) & (after[..., 1] < 80) & (after[..., 2] < 80)
    red_before = (before[..., 0] > 180) & (before[..., 1] < 80) & (before[..., 2] < 80)
    assert red.sum() > red_before.sum() + 20
    ys, xs = np.nonzero(red & ~red_before)
    assert abs(xs.mean() - x) < 6 and abs(ys.mean() - y) < 6


def test_map_view_click_away_from_markers_selects_by_grid_position(
    map_view_: MapView, frame: Frame, context: ViewContext
) -> None:
    view = map_view_
    view.set_frame(frame)
    assert view.drawn_map is not None
    positions = view.grid_to_canvas(view.drawn_map.positions)
    # a point of the plot farther than 10 px from every marker
    grid = np.stack(np.meshgrid(np.arange(0.1, 15.0, 0.3), np.arange(0.1, 15.0, 0.3)), -1).reshape(-1, 2)
    px = view.grid_to_canvas(grid)
    far = np.min(np.hypot(*(px[:, None, :] - positions[None, :, :]).transpose(2, 0, 1)), axis=1) > 12
    assert far.any()
    x, y = px[np.argmax(far)]
    gx, gy = view.canvas_to_grid((x, y))
    neuron = view.select_at((x, y))
    assert neuron == round(gy) % frame.side * frame.side + round(gx) % frame.side
    assert context.selected == neuron


@pytest.mark.parametrize("tool", ["cut", "silence"])
def test_map_view_drag_with_a_lesion_tool_emits_the_region(
    map_view_: MapView, frame: Frame, context: ViewContext, qtbot: QtBot, tool: str
) -> None:
    view = map_view_
    view.set_frame(frame)
    context.set_lesion_tool(tool)
    (x0, y0), (x1, y1) = view.grid_to_canvas([[9.0, 11.0], [3.0, 2.0]])
    start, end = QPoint(round(x0), round(y0)), QPoint(round(x1), round(y1))
    native = view.display
    regions: list[tuple[float, ...]] = []
    context.region_selected.connect(lambda *r: regions.append(r))
    qtbot.mousePress(native, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(native, pos=QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2))
    qtbot.mouseMove(native, pos=end)
    pixels = _canvas_pixels(view)
    tint = (
        pixels[..., 0].astype(int) - pixels[..., 2]
        if tool == "cut"
        else pixels[..., 2].astype(int) - pixels[..., 0]
    )
    assert (tint > 40).sum() > 500  # the translucent rectangle while dragging
    qtbot.mouseRelease(native, Qt.MouseButton.LeftButton, pos=end)
    assert len(regions) == 1
    # corners ordered, in grid units, within a pixel of the points dragged between
    assert regions[0] == pytest.approx((3.0, 2.0, 9.0, 11.0), abs=0.1)
    assert context.selected == -1  # a drag is no click


def test_map_view_drag_without_a_tool_pans_instead(
    map_view_: MapView, frame: Frame, context: ViewContext
) -> None:
    view = map_view_
    view.set_frame(frame)
    assert view.canvas is not None and view._view.camera.interactive
    context.set_lesion_tool("cut")
    assert not view._view.camera.interactive
    context.set_lesion_tool("")
    assert view._view.camera.interactive


def test_map_view_skips_frames_within_its_budget(
    qtbot: QtBot, require_gl: None, context: ViewContext, frame: Frame, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    calls: list[Frame] = []
    original = map_view.map_data

    def slow_map_data(f: Frame, *args: Any, **kwargs: Any) -> Any:
        now[0] += 0.15  # each map costs 150 ms of the clock
        calls.append(f)
        return original(f, *args, **kwargs)

    monkeypatch.setattr(map_view, "map_data", slow_map_data)
    view = _shown(qtbot, MapView(context, budget=RedrawBudget(0.3, clock=lambda: now[0])))
    view.reset(frame.config)

    def offer() -> None:
        view.set_frame(frame)
        view.display.image()  # renders now: the budget counts the upload and the render

    offer()
    assert len(calls) == 1 and view.frames_drawn == 1  # the first frame always draws
    offer()
    # 0.15 s of map and the render (real seconds): the next map is due a little after 0.49 s and
    # may run half its spacing (0.25 s) early; the clock reads 0.15 s
    assert len(calls) == 1 and view.frames_drawn == 1
    assert 0.08 < view.budget.wait() < 5.0
    now[0] = 5.0
    offer()
    assert len(calls) == 2 and view.frames_drawn == 2
    view.reset(frame.config)  # after a reset the first frame draws at once
    offer()
    assert len(calls) == 3
    view.shutdown()


def test_map_view_reset_to_scale_2(map_view_: MapView, frame: Frame, frame2: Frame) -> None:
    view = map_view_
    view.set_frame(frame)
    view.reset(frame2.config)
    assert view.drawn_map is None
    view.set_frame(frame2)
    assert view.drawn_map is not None and view.drawn_map.positions.shape == (32 * 32, 2)
    # the plot spans the new grid: its corners map to the canvas corners of the square
    corners = view.grid_to_canvas([[-0.5, -0.5], [31.5, 31.5]])
    assert corners[1, 0] - corners[0, 0] == pytest.approx(corners[1, 1] - corners[0, 1], rel=1e-3)
    assert corners[1, 1] > corners[0, 1]  # row 0 at the top
    assert _distinct_colours(_canvas_pixels(view)) >= 8


# -- connectivity view --------------------------------------------------------------------------------
def test_connectivity_view_draws_every_synapse(conn_view: ConnectivityView, frame: Frame) -> None:
    view = conn_view
    view.set_frame(frame)
    snap = frame.snapshot
    assert view._ff.count == 2 * snap.ff.count
    assert view.lat_visible and view._lat.count == 2 * 4 * snap.lat.count
    assert view._ff.clim == (0.0, frame.config.stdp.g_max)
    pixels = _canvas_pixels(view)
    assert _distinct_colours(pixels) >= 50
    assert "g_max" in view.weight_range.text()


def test_connectivity_view_names_its_layers(conn_view: ConnectivityView, frame: Frame) -> None:
    view = conn_view
    view.set_frame(frame)
    pixels = _canvas_pixels(view)
    assert {name: label.text for name, label in view.layer_labels.items()} == {
        "source": "source",
        "target": "target",
    }
    height, width = pixels.shape[:2]
    canvas = view.canvas
    screen = []
    for label in view.layer_labels.values():
        tr = label.get_transform("visual", "canvas")
        p = tr.map(np.asarray(label.pos, np.float64).reshape(-1, 3))[0]
        x, y = p[0] / p[3], p[1] / p[3]
        assert 0 < x < canvas.size[0] and 0 < y < canvas.size[1]  # on the canvas
        screen.append(y)
    assert screen[1] < screen[0]  # "target" above "source"
    # the names are drawn: light text on the dark background left of the planes
    light = (pixels[..., :3].min(axis=2) > 200).sum()
    assert light > 20 and height > 0 and width > 0


def test_connectivity_view_pick_label_is_readable(conn_view: ConnectivityView, frame: Frame) -> None:
    view = conn_view
    view.set_frame(frame)
    label = view.pick_label
    for text in ("click a neuron", f"target {frame.snapshot.n_neurons - 1} (15, 15)"):
        label.setText(text)
        assert label.width() >= label.fontMetrics().horizontalAdvance(text)


def test_connectivity_view_click_on_a_target_neuron_selects_it(
    conn_view: ConnectivityView, frame: Frame, context: ViewContext, qtbot: QtBot
) -> None:
    view = conn_view
    view.set_frame(frame)
    before = _canvas_pixels(view)
    n = frame.snapshot.n_neurons
    target = 8 * frame.side + 6
    x, y = view.marker_screen_positions()[n + target]
    with qtbot.waitSignal(context.selection_changed, timeout=1000):
        qtbot.mouseClick(view.display, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    assert context.selected == target
    ff, lat = frame.snapshot.ff, frame.snapshot.lat
    assert view.highlighted_counts() == (int((ff.post == target).sum()), int((lat.pre == target).sum()))
    assert view._ff.alpha < 0.5
    after = _canvas_pixels(view)
    assert np.abs(after.astype(int) - before).sum() > 10_000
    assert "target" in view.pick_label.text()


def test_connectivity_view_picks_a_source_neuron_and_follows_the_selection(
    conn_view: ConnectivityView, frame: Frame, context: ViewContext
) -> None:
    view = conn_view
    view.set_frame(frame)
    ff = frame.snapshot.ff
    source = 4 * frame.side + 9
    x, y = view.marker_screen_positions()[source]
    assert view.pick_at((x, y)) == source
    assert view.picked_source == source and context.selected == -1
    assert view.highlighted_counts() == (int((ff.pre == source).sum()), 0)
    context.select(17)  # another view selects a target neuron: the highlight follows
    assert view.picked_source == -1
    assert view.highlighted_counts()[0] == int((ff.post == 17).sum())
    assert view.pick_at((-100.0, -100.0)) == -1  # a click on nothing clears the selection
    assert context.selected == -1 and view.highlighted_counts() == (0, 0)
    assert view._ff.alpha > 0.5


def test_connectivity_view_lat_checkbox_hides_lat_synapses(conn_view: ConnectivityView, frame: Frame) -> None:
    view = conn_view
    view.set_frame(frame)
    with_lat = _canvas_pixels(view)
    view.lat_box.setChecked(False)
    assert not view._lat.visible
    without = _canvas_pixels(view)
    assert np.abs(with_lat.astype(int) - without).sum() > 10_000
    view.lat_box.setChecked(True)
    assert view._lat.visible and view._lat.count == 2 * 4 * frame.snapshot.lat.count


def test_connectivity_view_reset_to_scale_2(conn_view: ConnectivityView, frame: Frame, frame2: Frame) -> None:
    view = conn_view
    view.set_frame(frame)
    view.reset(frame2.config)
    assert view.marker_screen_positions().shape == (2 * 32 * 32, 2)
    view.set_frame(frame2)
    assert view._ff.count == 2 * frame2.snapshot.ff.count
    assert view._ff.side == 32
    assert _distinct_colours(_canvas_pixels(view)) >= 50


def test_connectivity_view_spaces_out_frames_within_its_budget(
    qtbot: QtBot, require_gl: None, context: ViewContext, frame: Frame, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    uploads: list[int] = []
    original = connectivity_view.synapse_vertices

    def slow_vertices(*args: Any, **kwargs: Any) -> Any:
        now[0] += 0.05  # every table costs 50 ms of the clock
        uploads.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(connectivity_view, "synapse_vertices", slow_vertices)
    view = _shown(qtbot, ConnectivityView(context, budget=RedrawBudget(0.5, clock=lambda: now[0])))
    view.reset(frame.config)
    view.set_frame(frame)
    first = len(uploads)
    assert first >= 2  # FF and LAT tables (and the empty highlights)
    qtbot.waitUntil(lambda: view.budget.last_cost > 0.0, timeout=2000)  # the paint records the cost
    # the upload (clock) plus the render (real seconds)
    assert 0.05 * first <= view.budget.last_cost < 0.05 * first + 2.0
    view.set_frame(frame)
    assert len(uploads) == first  # not due yet: the frame waits
    now[0] += 10.0
    view.set_frame(frame)
    assert len(uploads) == 2 * first
    view.shutdown()
