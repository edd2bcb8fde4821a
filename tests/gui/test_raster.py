"""The CPU synapse rasteriser, the dots visual and the off-window canvas with its underlay.

The pure rasteriser tests need neither Qt nor OpenGL; those that render
need OpenGL (``require_gl``: Xvfb with Mesa under pytest-xvfb).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from vispy import scene
from vispy.util.transforms import perspective
from vispy.visuals.transforms import ChainTransform, MatrixTransform, STTransform

from gui.context import ViewContext
from gui.experiments.topomap.views.adapters import synapse_vertices
from gui.experiments.topomap.views.connectivity_view import ConnectivityView
from gui.views.image_canvas import CanvasWidget
from gui.visuals import raster
from gui.visuals.dots import Dots
from gui.visuals.layers import colormap_lut
from sim.experiments.topomap.config import ModelConfig
from tests.gui.test_vispy_views import _frame

RED, BLUE = np.uint32(0xFF0000FF), np.uint32(0xFFFF0000)


def _buffers(h: int = 20, w: int = 30) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((h, w), np.uint32), np.full((h, w), np.inf, np.float32)


# -- the rasteriser (no OpenGL) ------------------------------------------------------------------------
def test_a_segment_covers_the_pixels_between_its_ends() -> None:
    image, depth = _buffers()
    points = np.array([[2.5, 5.5, 0.0], [12.5, 5.5, 0.0]])
    written = raster.draw_segments(image, depth, points, np.array([RED]))
    assert written == 11
    assert np.array_equal(np.flatnonzero(image[5]), np.arange(2, 13))
    assert not image[[4, 6]].any()


def test_the_nearer_segment_wins_whatever_the_order() -> None:
    for order in ((0, 1), (1, 0)):
        image, depth = _buffers()
        near = [[5.5, 2.5, 0.2], [5.5, 15.5, 0.2]]  # vertical, depth 0.2
        far = [[1.5, 8.5, 0.7], [20.5, 8.5, 0.7]]  # horizontal, depth 0.7
        segs = [near, far]
        colours = np.array([RED, BLUE])
        raster.draw_segments(image, depth, np.array(segs[order[0]] + segs[order[1]]), colours[list(order)])
        assert image[8, 5] == RED  # the crossing shows the near one
        assert image[8, 10] == BLUE and image[3, 5] == RED


def test_segments_are_clipped_to_the_image_and_bad_ends_skipped() -> None:
    image, depth = _buffers(10, 10)
    points = np.array(
        [[-1e6, 4.5, 0.0], [1e6, 4.5, 0.0], [np.nan, 1.0, 0.0], [5.0, 5.0, 0.0]]  # across; NaN end
    )
    written = raster.draw_segments(image, depth, points, np.array([RED, BLUE]))
    assert written == 10 and np.all(image[4] == RED)
    assert not (image == BLUE).any()


def test_synapse_points_follow_the_periodic_image_and_the_arc() -> None:
    # pre (0, 0) and post (15, 0) on a 16-grid: the nearest image of pre is (16, 0)
    vertices = synapse_vertices([0], [15], [1.0], segments=2)
    points = raster.synapse_points(vertices, 16, 0.0, 2.0, arc=0.5)
    assert np.allclose(points[0], [16.0, 0.0, 0.0])
    assert np.allclose(points[-1], [15.0, 0.0, 2.0])
    # half way: z between the layers plus 0.5 * 4 * 0.25 * length 1
    assert np.allclose(points[1], [15.5, 0.0, 1.0 + 0.5])
    flat = raster.synapse_points(vertices, 16, 0.0, 2.0, periodic=False)
    assert np.allclose(flat[0], [0.0, 0.0, 0.0])


def test_transform_matrix_reproduces_a_chain_with_perspective() -> None:
    camera = MatrixTransform(perspective(40.0, 1.3, 1.0, 100.0))
    st = STTransform(scale=(2.0, -1.0, 0.5), translate=(3.0, 4.0, -20.0))
    screen = STTransform(scale=(200.0, 150.0, 1.0), translate=(230.0, 300.0))
    chain = ChainTransform([screen, camera, st])
    pts = np.random.default_rng(1).uniform(-5.0, 5.0, (50, 3))
    mapped = chain.map(pts)
    expected = mapped[:, :3] / mapped[:, 3:4]
    assert np.allclose(raster.project(pts, raster.transform_matrix(chain)), expected)


def test_the_fused_kernel_draws_what_the_steps_draw() -> None:
    rng = np.random.default_rng(3)
    side, s = 16, 400
    pre, post = rng.integers(0, side * side, s), rng.integers(0, side * side, s)
    weight = rng.uniform(0.0, 0.02, s)
    vertices = synapse_vertices(pre, post, weight, segments=3)
    matrix = np.diag([9.0, 7.0, 1.0, 1.0])
    matrix[3, :2] = (40.0, 30.0)
    lut, clim, alpha, bg = colormap_lut("viridis"), (0.0, 0.02), 0.8, (0.1, 0.1, 0.1)

    image_a, depth_a = _buffers(200, 250)
    points = raster.project(raster.synapse_points(vertices, side, 0.0, 1.0, 0.3), matrix)
    rgb = raster.weight_colours(vertices[0::2, 3], lut, clim, alpha, bg)
    raster.draw_segments(image_a, depth_a, points, raster.pack_rgba(rgb))

    image_b, depth_b = _buffers(200, 250)
    colours = raster.colour_table(lut, alpha, bg)
    raster.draw_synapses(image_b, depth_b, vertices, side, 0.0, 1.0, 0.3, True, matrix, colours, clim)

    assert (image_a != 0).sum() > 2000
    assert np.array_equal(image_a != 0, image_b != 0)
    a = image_a.view(np.uint8).reshape(200, 250, 4).astype(int)
    b = image_b.view(np.uint8).reshape(200, 250, 4).astype(int)
    assert np.abs(a - b).max() <= 2  # nearest table entry versus interpolation


# -- rendering (OpenGL) ---------------------------------------------------------------------------------
def _pixels(widget: CanvasWidget) -> np.ndarray:
    image = widget.image()
    ptr = image.constBits()
    assert ptr is not None
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr.asstring(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 4 * image.width()].reshape(image.height(), image.width(), 4)


def _dots_canvas(qtbot: QtBot, bgcolor: str, width: int, height: int) -> tuple[CanvasWidget, Any]:
    """A canvas widget showing ``width`` x ``height`` scene units one to a pixel, with a Dots visual."""
    widget = CanvasWidget(bgcolor)
    qtbot.addWidget(widget)
    widget.resize(width, height)
    view = widget.canvas.central_widget.add_view()
    view.camera = scene.PanZoomCamera(rect=(0, 0, width, height))
    return widget, Dots(parent=view.scene)


def test_the_underlay_lies_beneath_the_scene(qtbot: QtBot, require_gl: None) -> None:
    widget, dots = _dots_canvas(qtbot, "white", 120, 100)
    dots.set_data([[60.0, 50.0]], (0.0, 0.0, 1.0, 1.0), size=30.0)

    class Band:
        visible = True

        def paint(self, image: np.ndarray, depth: np.ndarray) -> None:
            image[40:60, :] = RED  # rows from the bottom of the framebuffer

    widget.canvas.add_underlay(Band())
    pixels = _pixels(widget)
    assert tuple(pixels[50, 5, :3]) == (255, 0, 0)  # the band, where nothing is drawn over it
    assert tuple(pixels[50, 60, :3]) == (0, 0, 255)  # the dot over the band
    assert tuple(pixels[10, 5, :3]) == (255, 255, 255)  # the background elsewhere
    assert widget.renders == 1
    widget.close_canvas()


def test_dots_are_round_and_coloured(qtbot: QtBot, require_gl: None) -> None:
    widget, dots = _dots_canvas(qtbot, "black", 100, 100)
    dots.set_data([[25.0, 50.0], [75.0, 50.0]], [(1, 0, 0, 1), (0, 1, 0, 1)], size=20.0)
    pixels = _pixels(widget)
    assert dots.count == 2
    assert tuple(pixels[50, 25, :3]) == (255, 0, 0) and tuple(pixels[50, 75, :3]) == (0, 255, 0)
    red = (pixels[..., 0] > 128).sum()
    assert np.pi * 10**2 * 0.8 < red < np.pi * 10**2 * 1.2  # a disc, not a square of 400
    widget.close_canvas()


@pytest.mark.gl
def test_cpu_and_opengl_synapse_lines_draw_the_same_picture(
    qtbot: QtBot, require_gl: None, make_config: Callable[..., ModelConfig]
) -> None:
    frame = _frame(make_config(preset="demo"), 2.0)
    pictures: dict[bool, Any] = {}
    for cpu in (False, True):
        view = ConnectivityView(ViewContext(), cpu_lines=cpu)
        qtbot.addWidget(view)
        view.resize(460, 600)
        view.show()
        qtbot.waitExposed(view)
        view.reset(frame.config)
        view.set_frame(frame)
        assert view.display is not None
        pictures[cpu] = _pixels(view.display)[..., :3].astype(int).copy()
        assert view.cpu_lines is cpu
        view.shutdown()
    background = np.array([20, 20, 28])
    drawn = {cpu: np.abs(p - background).sum(axis=-1) > 30 for cpu, p in pictures.items()}
    assert drawn[True].mean() > 0.1  # lines cover a good part of the view
    # the same pixels are covered, and almost all of them in the same colour
    assert (drawn[True] != drawn[False]).mean() < 0.05
    differ = np.abs(pictures[True] - pictures[False]).sum(axis=-1) > 30
    assert differ.mean() < 0.15
