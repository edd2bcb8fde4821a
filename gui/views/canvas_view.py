"""The base of the views drawn with VisPy: toolbar, off-window canvas, redraw budget, clean shutdown."""

from __future__ import annotations

import contextlib
from typing import Any

from PyQt6.QtCore import QTimer, pyqtBoundSignal
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QLayout, QVBoxLayout, QWidget

from app.frame import Frame
from gui.context import ViewContext
from gui.views.base import View
from gui.views.gl import GlUnavailableLabel, RedrawBudget, gl_unavailable_reason
from gui.views.image_canvas import CanvasWidget
from sim.config import ModelConfig

__all__ = ["CanvasView"]


class CanvasView(View):
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
        self._drawn: Frame | None = None
        self._fresh = False  # a frame was uploaded and not yet rendered
        self._upload_cost = 0.0
        self._upload_started = 0.0
        self._side = 0
        self.display: CanvasWidget | None = None
        self._canvas: Any = None
        self._view: Any = None
        self._connections: list[tuple[pyqtBoundSignal, Any]] = []
        self._deferred = QTimer(self)
        self._deferred.setSingleShot(True)
        self._deferred.timeout.connect(self._on_deferred_timeout)

    def _build(self, options: QLayout, bgcolor: Any) -> bool:
        """Lay out ``options`` above a new canvas; False (with a message shown) without OpenGL."""
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
        self._view = self._canvas.central_widget.add_view()
        layout.addWidget(self.display, 1)
        return True

    def _connect_context(self, signal: pyqtBoundSignal, slot: Any) -> None:
        """Connect ``slot`` to a signal of the shared context; :meth:`shutdown` disconnects it."""
        signal.connect(slot)
        self._connections.append((signal, slot))

    @property
    def canvas(self) -> Any:
        """The VisPy ``SceneCanvas`` (None when OpenGL is unavailable or after :meth:`shutdown`)."""
        return self._canvas

    # -- frames -----------------------------------------------------------------------------------
    def draw_frame(self, frame: Frame) -> None:
        """Hand ``frame`` to the scene when the redraw budget allows, else later."""
        if self._canvas is None:
            return
        if frame.side != self._side:
            self._set_side(frame.side)
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

    def reset(self, config: ModelConfig) -> None:
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

    # -- to implement -----------------------------------------------------------------------------
    def _set_side(self, side: int) -> None:
        """Rebuild the scene for a ``side`` x ``side`` grid."""
        raise NotImplementedError

    def _upload(self, frame: Frame) -> None:
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
