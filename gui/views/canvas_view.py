"""The base of the views drawn with VisPy: toolbar, off-window canvas, redraw budget, clean shutdown."""

from __future__ import annotations

import contextlib
from typing import Any

from PyQt6.QtCore import QTimer, pyqtBoundSignal
from PyQt6.QtGui import QColor, QImage, QPalette
from PyQt6.QtWidgets import QLayout, QVBoxLayout, QWidget
from vispy import scene

from gui.context import ViewContext
from gui.views.base import F, View
from gui.views.gl import GlUnavailableLabel, RedrawBudget, gl_unavailable_reason
from gui.views.image_canvas import CanvasWidget

__all__ = ["CanvasView", "LinkedAxis"]

#: Colour of axis lines, ticks and labels (as the pyqtgraph views draw theirs).
AXIS_COLOUR = (0.33, 0.33, 0.33, 1.0)
#: Font size of tick and axis labels (points).
AXIS_FONT_SIZE = 8


#: Pixels of the scene's grid margin, the left axis's width and the bottom axis's height.
_GRID_MARGIN = 4
_Y_AXIS_WIDTH = 50
_X_AXIS_HEIGHT = 42


class SquareDataHolder(QWidget):
    """Holds a canvas at the largest size whose data area is square, centred on ``bgcolor``.

    ``extra`` is what the canvas adds to its data area (axes, margins) in
    width and height, in pixels.
    """

    def __init__(self, child: QWidget, extra: tuple[int, int], bgcolor: Any, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.child = child
        self._extra = extra
        child.setParent(self)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(str(bgcolor)))
        self.setPalette(palette)
        self.setMinimumSize(extra[0] + 120, extra[1] + 120)

    def data_side(self) -> int:
        """Side of the square data area in pixels at the holder's size."""
        return max(1, min(self.width() - self._extra[0], self.height() - self._extra[1]))

    def resizeEvent(self, event: Any) -> None:
        """Place the canvas: square data area, centred."""
        super().resizeEvent(event)
        side = self.data_side()
        w, h = side + self._extra[0], side + self._extra[1]
        self.child.setGeometry((self.width() - w) // 2, (self.height() - h) // 2, w, h)


class LinkedAxis(scene.AxisWidget):
    """An axis beside a VisPy view that shows the view's coordinates at every size.

    VisPy's ``AxisWidget`` follows the view's camera but neither its own
    resizes nor its own or the view's moves within the grid, any of which leaves
    it with a stale range until the camera moves.
    """

    def link_view(self, view: Any) -> None:
        """Follow ``view``'s camera, and its size and place in the canvas."""
        super().link_view(view)
        view.events.resize.connect(self._view_changed)
        view.events.transform_change.connect(self._view_changed)
        self.events.transform_change.connect(self._view_changed)  # the axis itself moved

    def on_resize(self, event: Any) -> None:
        """Lay the axis out again and take the linked view's range at the new size."""
        super().on_resize(event)
        if self._linked_view is not None:
            self._view_changed()


class CanvasView(View[F]):
    """A view with a row of options above a VisPy scene, redrawn within a :class:`RedrawBudget`.

    The scene is drawn off-window (see :mod:`gui.views.image_canvas`) and
    shown by :attr:`display`. Subclasses call :meth:`_build` with their
    options row; it returns False (and shows why) when OpenGL is
    unavailable, in which case the view has no canvas and draws nothing.

    A frame is taken in :meth:`draw_frame`: when the budget allows,
    :meth:`_upload` hands its data to the scene and the scene is rendered at
    the next paint; the budget counts both. Frames that arrive while the
    budget is spent are drawn later by a single-shot timer, so a paused run
    never shows a stale picture. :attr:`frames_drawn` counts the frames
    actually rendered.
    """

    uses_gl = True

    def __init__(self, context: ViewContext, parent: QWidget | None, budget: RedrawBudget) -> None:
        super().__init__(context, parent)
        self.budget = budget
        self._drawn: F | None = None
        self._fresh = False  # a frame was uploaded and not yet rendered
        self._upload_cost = 0.0
        self._upload_started = 0.0
        self._side = 0
        self.display: CanvasWidget | None = None
        self._holder: SquareDataHolder | None = None
        self._grid: Any = None
        #: The bottom and left axis widgets of the scene (none unless :meth:`_build` made them).
        self.axes: tuple[Any, ...] = ()
        self._canvas: Any = None
        self._view: Any = None
        self._connections: list[tuple[pyqtBoundSignal, Any]] = []
        self._deferred = QTimer(self)
        self._deferred.setSingleShot(True)
        self._deferred.timeout.connect(self._on_deferred_timeout)

    def _build(
        self, options: QLayout, bgcolor: Any, axes: tuple[str, str] | None = None, square: bool = False
    ) -> bool:
        """Lay out ``options`` above a new canvas; False (with a message shown) without OpenGL.

        With ``axes`` (the x and y axis labels) the scene's view gets a bottom
        and a left axis that follow its camera (:attr:`axes`). With ``square``
        the canvas keeps its data area square, centred in the space the view
        has, so a square grid fills it and the axes span only the grid.
        """
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(options)
        reason = gl_unavailable_reason()
        if reason is not None:
            layout.addWidget(GlUnavailableLabel(self.title, reason), 1)
            return False
        self.display = CanvasWidget(bgcolor, self)
        self.display.rendered.connect(self._on_rendered)
        self._canvas = self.display.canvas
        if axes is None:
            self._view = self._canvas.central_widget.add_view()
        else:
            self._view = self._add_view_with_axes(*axes)
        if square:
            margin = 2 * _GRID_MARGIN
            extra = (
                (margin + _Y_AXIS_WIDTH, margin + _X_AXIS_HEIGHT) if axes is not None else (margin, margin)
            )
            self._holder = SquareDataHolder(self.display, extra, bgcolor, self)
            layout.addWidget(self._holder, 1)
        else:
            layout.addWidget(self.display, 1)
        return True

    def _add_view_with_axes(self, x_label: str, y_label: str) -> Any:
        """A view in the canvas's grid with a labelled axis below and to the left of it."""
        grid = self._canvas.central_widget.add_grid(spacing=0, margin=_GRID_MARGIN)
        style: dict[str, Any] = {
            "axis_color": AXIS_COLOUR,
            "tick_color": AXIS_COLOUR,
            "text_color": AXIS_COLOUR,
            "font_size": AXIS_FONT_SIZE,
            "axis_font_size": AXIS_FONT_SIZE,
        }
        y_axis = LinkedAxis(
            orientation="left", axis_label=y_label, axis_label_margin=30, tick_label_margin=6, **style
        )
        y_axis.width_max = y_axis.width_min = _Y_AXIS_WIDTH
        x_axis = LinkedAxis(
            orientation="bottom", axis_label=x_label, axis_label_margin=30, tick_label_margin=14, **style
        )
        x_axis.height_max = x_axis.height_min = _X_AXIS_HEIGHT
        grid.add_widget(y_axis, row=0, col=0)
        view = grid.add_view(row=0, col=1)
        grid.add_widget(x_axis, row=1, col=1)
        spacer = grid.add_widget(row=1, col=0)
        spacer.width_max = spacer.width_min = _Y_AXIS_WIDTH
        spacer.height_max = spacer.height_min = _X_AXIS_HEIGHT
        x_axis.link_view(view)
        y_axis.link_view(view)
        self.axes = (x_axis, y_axis)
        # The grid places its widgets as it draws, after the axes took their range from the view:
        # before each render the grid is laid out and the axes take their range where they are.
        self._grid = grid
        self._canvas.before_render.append(self._update_axes)
        return view

    def _update_axes(self) -> None:
        """Lay the grid out and give the axes the range of the view at their place."""
        self._grid._update_child_widget_dim()
        for axis in self.axes:
            axis._view_changed()

    def _connect_context(self, signal: pyqtBoundSignal, slot: Any) -> None:
        """Connect ``slot`` to a signal of the shared context; :meth:`shutdown` disconnects it."""
        signal.connect(slot)
        self._connections.append((signal, slot))

    @property
    def canvas(self) -> Any:
        """The VisPy ``SceneCanvas`` (None when OpenGL is unavailable or after :meth:`shutdown`)."""
        return self._canvas

    # -- frames -----------------------------------------------------------------------------------
    def draw_frame(self, frame: F) -> None:
        """Hand ``frame`` to the scene when the redraw budget allows, else later."""
        if self._canvas is None:
            return
        side = int(frame.snapshot.side)  # a canvas shows a square grid of neurons
        if side != self._side:
            self._set_side(side)
        if not self._may_draw_now():
            return
        started = self.budget.start()
        if not self._fresh:
            self._upload_started = started
        self._drawn = frame
        self._upload(frame)
        self._fresh = True
        self._upload_cost += self.budget.start() - started
        self._canvas.update()

    def _frame_drawn(self) -> None:
        pass  # counted when the frame is rendered (_on_rendered), not when it is offered

    def _may_draw_now(self) -> bool:
        """True when a frame may be drawn now; otherwise a later redraw is scheduled."""
        if self._drawn is None or self.budget.due():  # the first frame always draws
            return True
        if not self._deferred.isActive():
            self._deferred.start(int(self.budget.wait() * 1000.0) + 1)
        return False

    def _on_deferred_timeout(self) -> None:
        frame = self.frame
        if frame is not None and frame is not self._drawn and self.isVisible():
            self.draw_frame(frame)

    def _on_rendered(self, _started: float, seconds: float) -> None:
        # the redraw began with the upload (or now, when only the scene changed)
        began = self._upload_started if self._fresh else self.budget.start() - seconds
        self.budget.charge(began, self._upload_cost + seconds)
        self._upload_cost = 0.0
        if self._fresh:
            self._fresh = False
            self.frames_drawn += 1

    def _forget_drawn(self) -> None:
        """Forget the drawn frame (a new network): the next frame draws at once."""
        self._deferred.stop()
        self._drawn = None
        self._fresh = False
        self.budget.reset()

    def reset(self, config: Any) -> None:
        """Forget what was drawn; rebuild the scene for the new grid."""
        super().reset(config)
        self._forget_drawn()
        if self._canvas is not None:
            self._set_side(config.side)
            self._canvas.update()

    def render_image(self) -> QImage:
        """The view (options row and scene) as an image."""
        if self.display is not None:
            self.display.image()  # bring the scene up to date before grabbing
        return self.grab().toImage()

    def export_widget(self) -> QWidget:
        """The scene without the options row (the whole view when OpenGL is unavailable)."""
        if self._holder is not None:
            return self._holder
        return self.display if self.display is not None else self

    # -- to implement -----------------------------------------------------------------------------
    def _set_side(self, side: int) -> None:
        """Rebuild the scene for a ``side`` x ``side`` grid."""
        raise NotImplementedError

    def _upload(self, frame: F) -> None:
        """Hand the data of ``frame`` to the scene's visuals."""
        raise NotImplementedError

    # -- shutdown ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the redraw timer, disconnect from the context and release the canvas."""
        self._deferred.stop()
        for signal, slot in self._connections:
            with contextlib.suppress(TypeError):
                signal.disconnect(slot)
        self._connections = []
        if self.display is not None:
            self.display.close_canvas()
        self._canvas = None
