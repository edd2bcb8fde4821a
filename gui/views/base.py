"""The base of every view: a widget that draws frames and costs nothing while hidden."""

from __future__ import annotations

from typing import ClassVar

from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QWidget

from app.frame import Frame
from gui.context import ViewContext
from sim.config import ModelConfig


class View(QWidget):
    """A view of the running network.

    Subclasses set :attr:`key` (a stable identifier used in settings and file
    names), :attr:`title` (the tab label) and :attr:`tooltip`, and implement
    :meth:`draw_frame` and :meth:`reset`. The window calls :meth:`set_frame`
    on every new frame; the base class only draws when the view is visible,
    and draws the newest frame as soon as a hidden view is shown again.

    Views only read frames; they never command the simulation. User input
    that concerns other views (a neuron clicked) goes through :attr:`context`.
    """

    key: ClassVar[str] = ""
    title: ClassVar[str] = ""
    tooltip: ClassVar[str] = ""
    #: Views that draw with OpenGL (VisPy); the scripted screenshot checks their regions.
    uses_gl: ClassVar[bool] = False

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName(f"view_{self.key}")
        self.setToolTip(self.tooltip)
        self._pending: Frame | None = None
        self._frame: Frame | None = None
        #: Frames drawn since the view was made (for tests and the fps readout).
        self.frames_drawn = 0

    @property
    def frame(self) -> Frame | None:
        """The last frame drawn."""
        return self._frame

    def set_frame(self, frame: Frame) -> None:
        """Draw ``frame`` now if the view is visible, else keep it for when it is shown."""
        if self.isVisible():
            self._draw(frame)
        else:
            self._pending = frame

    def redraw(self) -> None:
        """Draw the last frame again (after the selection changed, say)."""
        if self._frame is not None and self.isVisible():
            self._draw(self._frame)

    def showEvent(self, event: object) -> None:
        """Draw the newest frame that arrived while hidden."""
        super().showEvent(event)  # type: ignore[arg-type]
        if self._pending is not None:
            frame, self._pending = self._pending, None
            self._draw(frame)

    def _draw(self, frame: Frame) -> None:
        self._pending = None
        self._frame = frame
        self.draw_frame(frame)
        self._frame_drawn()

    def _frame_drawn(self) -> None:
        """Count a frame drawn (views that draw later, at their own paint, count it then)."""
        self.frames_drawn += 1

    # -- to implement -----------------------------------------------------------------------------
    def draw_frame(self, frame: Frame) -> None:
        """Update the view from ``frame`` (only called while visible)."""
        raise NotImplementedError

    def reset(self, config: ModelConfig) -> None:
        """Forget everything drawn: a new network with ``config`` was built."""
        self._pending = None
        self._frame = None

    def render_image(self) -> QImage:
        """The view as an image (for PNG export and frame sequences)."""
        return self.grab().toImage()

    def shutdown(self) -> None:
        """Release resources (GL contexts, timers) before the window closes."""
