"""VisPy scenes drawn off-window and shown as images in ordinary widgets.

A ``QOpenGLWidget`` anywhere in a window makes Qt compose the whole window
through OpenGL on every repaint. With a software renderer (Mesa llvmpipe on
a laptop without a GPU driver, or Xvfb) that composition costs tens of
milliseconds per frame, whichever part of the window changed. Here each
VisPy scene is rendered instead into a framebuffer object of its own
offscreen OpenGL context, read back, and painted by a plain raster widget,
so the window stays a raster window and a redraw costs only what the scene
itself costs.

* :class:`ImageCanvas`: a ``SceneCanvas`` whose size is set by its widget and
  whose ``update()`` asks that widget for a repaint.
* :class:`CanvasWidget`: the widget that shows the scene, renders it when it
  changed, and passes mouse input on to VisPy (cameras, picking, dragging).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PyQt6 import sip
from PyQt6.QtCore import QEvent, QRect, Qt, pyqtSignal
from PyQt6.QtGui import (
    QImage,
    QMouseEvent,
    QOffscreenSurface,
    QOpenGLContext,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget
from vispy import gloo, scene

from gui.views.gl import canvas_image
from gui.visuals.raster import pack_rgba

__all__ = ["CanvasWidget", "ImageCanvas"]


class ImageCanvas(scene.SceneCanvas):
    """A VisPy ``SceneCanvas`` rendered into an offscreen framebuffer.

    Its size is whatever :meth:`set_size` last said (the showing widget's
    size), never the size of the hidden native widget VisPy creates. Every GL
    call the canvas makes runs inside :meth:`current`, with the canvas's own
    OpenGL context current on its own offscreen surface.

    Parameters
    ----------
    on_update : callable
        Called (with no argument) whenever the scene changed and should be drawn again.
    bgcolor : color
        Background colour.
    """

    def __init__(self, on_update: Any, bgcolor: Any = "white") -> None:
        self._on_update = on_update
        self._logical = (1, 1)
        self._physical = (1, 1)
        self._fbo: gloo.FrameBuffer | None = None
        self._fbo_shape: tuple[int, int] = (0, 0)
        self._gl: QOpenGLContext | None = None
        self._surface: QOffscreenSurface | None = None
        self._current_depth = 0
        self._underlays: list[Any] = []
        self._underlay = np.zeros((0, 0), np.uint32)
        self._depth = np.zeros((0, 0), np.float32)
        #: Called before each render (to bring what depends on the scene's layout up to date).
        self.before_render: list[Callable[[], None]] = []
        super().__init__(keys=None, bgcolor=bgcolor, show=False, size=(1, 1))
        gl = QOpenGLContext()
        gl.setFormat(self.native.format())
        if not gl.create():
            raise RuntimeError("could not create an OpenGL context for an offscreen canvas")
        surface = QOffscreenSurface()
        surface.setFormat(gl.format())
        surface.create()
        self._gl, self._surface = gl, surface

    # -- size: set by the widget that shows the canvas -------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """Logical size ``(width, height)`` in widget pixels."""
        return self._logical

    @size.setter
    def size(self, size: tuple[int, int]) -> None:
        self.set_size(size[0], size[1])

    @property
    def physical_size(self) -> tuple[int, int]:
        """Size of the rendered image in device pixels."""
        return self._physical

    def set_size(self, width: int, height: int, ratio: float = 1.0) -> None:
        """Resize to ``width`` x ``height`` logical pixels at ``ratio`` device pixels per pixel."""
        logical = (max(1, int(width)), max(1, int(height)))
        physical = (max(1, round(logical[0] * ratio)), max(1, round(logical[1] * ratio)))
        if (logical, physical) == (self._logical, self._physical):
            return
        self._logical, self._physical = logical, physical
        self.events.resize(size=logical, physical_size=physical)
        self.update()

    # -- drawing ----------------------------------------------------------------------------------
    def update(self, node: Any = None) -> None:
        """Ask the showing widget for a repaint (calls made while drawing are ignored)."""
        if not getattr(self, "_drawing", False) and hasattr(self, "_on_update"):
            self._on_update()

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Make this canvas's OpenGL context current for the duration of the block (re-entrant)."""
        if self._current_depth == 0 and (self._gl is None or not self._gl.makeCurrent(self._surface)):
            raise RuntimeError("could not make the offscreen OpenGL context current")
        if self._current_depth == 0:
            self.set_current()  # VisPy's current canvas: new GL objects belong to this one
        self._current_depth += 1
        try:
            yield
        finally:
            self._current_depth -= 1
            if self._current_depth == 0 and self._gl is not None:
                self._gl.doneCurrent()

    def render(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """VisPy's ``SceneCanvas.render`` (also used to pick under the mouse), in this canvas's context."""
        with self.current():
            return np.asarray(super().render(*args, **kwargs))

    def add_underlay(self, layer: Any) -> None:
        """Paint ``layer`` beneath the scene at every render.

        ``layer`` has a ``visible`` flag and a ``paint(image, depth)`` method
        that draws into a packed-RGBA ``uint32`` image of the framebuffer
        (row 0 at the bottom) and its depth buffer (smaller is nearer), both
        shared by all underlays. The image then fills the framebuffer in place
        of the background before OpenGL draws the scene over it.
        """
        self._underlays.append(layer)
        self.update()

    def render_rgba(self) -> np.ndarray:
        """Draw the scene and return it as an ``(h, w, 4)`` uint8 array, top row first."""
        width, height = self._physical
        for callback in self.before_render:
            callback()
        with self.current():
            if self._fbo is None or self._fbo_shape != (height, width):
                self._fbo = gloo.FrameBuffer(
                    color=gloo.RenderBuffer((height, width)), depth=gloo.RenderBuffer((height, width))
                )
                self._fbo_shape = (height, width)
            self.push_fbo(self._fbo, (0, 0), self._logical)
            try:
                underlays = [layer for layer in self._underlays if layer.visible]
                if underlays:
                    # the underlay becomes the colour buffer (a new texture: rewriting an
                    # attached one leaves the framebuffer incomplete on some drivers)
                    colour = self._fill_underlay(underlays, height, width)
                    self.pop_fbo()
                    self._fbo.color_buffer = gloo.Texture2D(colour)
                    self.push_fbo(self._fbo, (0, 0), self._logical)
                    self.context.clear(color=False, depth=True)
                    self.draw_visual(self.scene)
                else:
                    self._draw_scene()
                return np.asarray(self._fbo.read(alpha=True))
            finally:
                self.pop_fbo()

    def _fill_underlay(self, underlays: list[Any], height: int, width: int) -> np.ndarray:
        if self._underlay.shape != (height, width):
            self._underlay = np.empty((height, width), np.uint32)
            self._depth = np.empty((height, width), np.float32)
        self._underlay.fill(pack_rgba(np.asarray([self.bgcolor.rgb]))[0])
        self._depth.fill(np.inf)
        for layer in underlays:
            layer.paint(self._underlay, self._depth)
        return self._underlay.view(np.uint8).reshape(height, width, 4)

    def close(self) -> None:
        """Close the canvas and destroy its OpenGL context (which frees every GL object of the scene).

        The Qt objects behind the canvas are deleted here, while the
        application is alive, never left to interpreter shutdown.
        """
        if self._closed:
            return
        native = self.native
        super().close()
        # the hidden widget VisPy made, and the probe context it keeps (when it has one)
        doomed = [getattr(native, "_secondary_context", None), getattr(native, "_surface", None), native]
        doomed += [self._gl, self._surface]
        self._gl = self._surface = None
        for obj in doomed:
            if obj is not None and not sip.isdeleted(obj):
                if isinstance(obj, QOffscreenSurface):
                    obj.destroy()
                sip.delete(obj)


class CanvasWidget(QWidget):
    """Shows an :class:`ImageCanvas` and feeds it the mouse.

    The scene is rendered in :meth:`paintEvent` when it changed since the last
    render (Qt folds any number of ``update()`` calls into one paint), so a
    hidden widget renders nothing.

    Signals
    -------
    rendered(float, float)
        After each render: the ``time.perf_counter()`` reading when it began
        and the seconds it took.
    """

    rendered = pyqtSignal(float, float)

    def __init__(self, bgcolor: Any = "white", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(80, 80)
        self.canvas = ImageCanvas(self._scene_changed, bgcolor)
        self._image: QImage | None = None
        self._stale = True
        #: Number of renders so far.
        self.renders = 0

    def _scene_changed(self) -> None:
        self._stale = True
        self.update()

    def refresh(self) -> None:
        """Render the scene afresh at the next paint (after a change made while it drew)."""
        self._scene_changed()

    def image(self) -> QImage:
        """The scene as it is now (rendered afresh if it changed), at the widget's size."""
        if self._stale or self._image is None:
            self._render()
        assert self._image is not None
        return self._image

    def _render(self) -> None:
        self._sync_size()
        started = time.perf_counter()
        rgba = self.canvas.render_rgba()
        self._image = canvas_image(rgba, self.devicePixelRatioF(), opaque=True)
        self._stale = False
        self.renders += 1
        self.rendered.emit(started, time.perf_counter() - started)

    def _sync_size(self) -> None:
        self.canvas.set_size(self.width(), self.height(), self.devicePixelRatioF())

    # -- Qt events --------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent | None) -> None:
        """Render the scene if it changed, then paint the image."""
        if self.canvas is None:
            return
        image = self.image()
        painter = QPainter(self)
        target = QRect(0, 0, self.width(), self.height())
        if image.deviceIndependentSize().toSize() == target.size():
            painter.drawImage(0, 0, image)
        else:  # a resize is on its way: stretch the last picture until then
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, image)
        painter.end()

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        """Resize the scene to the widget."""
        super().resizeEvent(event)
        if self.canvas is not None:
            self._sync_size()

    def changeEvent(self, event: QEvent | None) -> None:
        """Follow the device pixel ratio when the widget moves to another screen."""
        super().changeEvent(event)
        changed = event is not None and event.type() == QEvent.Type.DevicePixelRatioChange
        if changed and self.canvas is not None:
            self._sync_size()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        """Pass the press to VisPy (cameras, picking, dragging)."""
        if self.canvas is not None:
            self.canvas.native.mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        """Pass the release to VisPy."""
        if self.canvas is not None:
            self.canvas.native.mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent | None) -> None:
        """Pass the double click to VisPy."""
        if self.canvas is not None:
            self.canvas.native.mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        """Pass the move to VisPy."""
        if self.canvas is not None:
            self.canvas.native.mouseMoveEvent(event)

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        """Pass the wheel to VisPy (zoom)."""
        if self.canvas is not None:
            self.canvas.native.wheelEvent(event)

    def close_canvas(self) -> None:
        """Release the canvas and its OpenGL context; the widget then paints nothing."""
        canvas, self.canvas = self.canvas, None  # type: ignore[assignment]
        if canvas is not None:
            canvas.close()
