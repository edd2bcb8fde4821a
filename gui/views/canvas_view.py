"""The base of the views drawn with VisPy: toolbar, canvas, redraw budget, clean shutdown."""

from __future__ import annotations

import contextlib
from typing import Any

from PyQt6.QtCore import QTimer, pyqtBoundSignal
from PyQt6.QtWidgets import QLayout, QVBoxLayout, QWidget
from vispy import scene

from app.frame import Frame
from gui.context import ViewContext
from gui.views.base import View
from gui.views.gl import GlUnavailableLabel, RedrawBudget, gl_unavailable_reason


class CanvasView(View):
    """A view with a row of options above a VisPy canvas, redrawn within a :class:`RedrawBudget`.

    Subclasses call :meth:`_build` with their options row; it returns False
    (and shows why) when OpenGL is unavailable, in which case the view has no
    canvas and draws nothing. Frames that arrive while the budget is spent are
    drawn later by a single-shot timer, so a paused run never shows a stale
    picture.
    """

    uses_gl = True

    def __init__(self, context: ViewContext, parent: QWidget | None, budget: RedrawBudget) -> None:
        super().__init__(context, parent)
        self.budget = budget
        self._drawn: Frame | None = None
        self._side = 0
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
        self._canvas = scene.SceneCanvas(keys=None, bgcolor=bgcolor, parent=self)
        self._view = self._canvas.central_widget.add_view()
        layout.addWidget(self._canvas.native, 1)
        return True

    def _connect_context(self, signal: pyqtBoundSignal, slot: Any) -> None:
        """Connect ``slot`` to a signal of the shared context; :meth:`shutdown` disconnects it."""
        signal.connect(slot)
        self._connections.append((signal, slot))

    @property
    def canvas(self) -> Any:
        """The VisPy ``SceneCanvas`` (None when OpenGL is unavailable or after :meth:`shutdown`)."""
        return self._canvas

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

    def shutdown(self) -> None:
        """Stop the redraw timer, disconnect from the context and close the canvas."""
        self._deferred.stop()
        for signal, slot in self._connections:
            with contextlib.suppress(TypeError):
                signal.disconnect(slot)
        self._connections = []
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None
