"""The base of every view: a widget that draws frames and costs nothing while hidden.

Views also export their picture at any size (:meth:`View.export_image`): the
widget that holds the picture (:meth:`View.export_widget`, without the row of
options) moves for the export into a hidden window of its own, is laid out
there afresh, draws the view's newest frame and is rendered; then it goes
back where it was. See :class:`ExportSession`.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from types import TracebackType
from typing import Any, ClassVar, Generic, TypeVar

from PyQt6 import sip
from PyQt6.QtCore import QCoreApplication, QEvent, QRect, Qt
from PyQt6.QtGui import QImage, QPainter, QPen
from PyQt6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QLabel,
    QLayout,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.frame import Frame
from gui.context import ViewContext
from gui.views.gl import RedrawBudget

#: The frame type of an experiment's views.
F = TypeVar("F", bound=Frame)

#: An export looks like the view laid out in this many logical pixels (about its size on a
#: screen), drawn with as many image pixels per logical pixel as the export size needs.
EXPORT_LAYOUT_SIZE: tuple[int, int] = (960, 540)


class View(QWidget, Generic[F]):
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
        self._pending: F | None = None
        self._frame: F | None = None
        #: Frames drawn since the view was made (for tests and the fps readout).
        self.frames_drawn = 0

    @property
    def frame(self) -> F | None:
        """The last frame drawn."""
        return self._frame

    def set_frame(self, frame: F) -> None:
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

    def _draw(self, frame: F) -> None:
        self._pending = None
        self._frame = frame
        self.draw_frame(frame)
        self._frame_drawn()

    def _frame_drawn(self) -> None:
        """Count a frame drawn (views that draw later, at their own paint, count it then)."""
        self.frames_drawn += 1

    # -- to implement -----------------------------------------------------------------------------
    def draw_frame(self, frame: F) -> None:
        """Update the view from ``frame`` (only called while visible)."""
        raise NotImplementedError

    def reset(self, config: Any) -> None:
        """Forget everything drawn: a new network with ``config`` was built."""
        self._pending = None
        self._frame = None

    def render_image(self) -> QImage:
        """The view as it is on screen, options row included (see :meth:`export_image` for exports)."""
        return self.grab().toImage()

    # -- export -----------------------------------------------------------------------------------
    def export_widget(self) -> QWidget:
        """The widget that holds the view's picture: what an export shows.

        The view itself by default; views with a row of options above their
        plots return the plots' widget.
        """
        return self

    def export_session(
        self, width: int, height: int, *, scale: float | None = None, message: str = ""
    ) -> ExportSession:
        """Move the picture into a hidden window of ``width`` x ``height`` pixels until the session closes.

        See :class:`ExportSession`; ``message`` is shown in the view's place meanwhile.
        """
        return ExportSession(self, width, height, scale=scale, message=message)

    def export_image(self, width: int, height: int, *, scale: float | None = None) -> QImage:
        """The view's picture, laid out and drawn afresh at exactly ``width`` x ``height`` pixels.

        Works for hidden views too; the picture's widget is back in its place
        afterwards. ``scale`` is the number of image pixels per layout pixel
        (default: :func:`export_scale`), which sets the size of text and lines.
        """
        with self.export_session(width, height, scale=scale) as session:
            return session.grab()

    def _draw_for_export(self) -> None:
        """Draw the newest frame now, visible or not, whatever the view's redraw budget says."""
        frame = self._pending if self._pending is not None else self._frame
        if frame is None:
            return
        budget = getattr(self, "budget", None)
        if isinstance(budget, RedrawBudget):
            budget.reset()
        self._draw(frame)

    def shutdown(self) -> None:
        """Release resources (GL contexts, timers) before the window closes."""


def export_scale(width: int, height: int) -> float:
    """Image pixels per layout pixel for an export of ``width`` x ``height``: at least 1.

    The view is laid out as if on a screen of about :data:`EXPORT_LAYOUT_SIZE`
    and drawn that many times finer, so text and lines keep their size
    relative to the picture: a 1920 x 1080 export is drawn at twice the
    screen's resolution, a 3840 x 2160 one at four times.
    """
    return max(1.0, min(width / EXPORT_LAYOUT_SIZE[0], height / EXPORT_LAYOUT_SIZE[1]))


class ExportSession:
    """A view's picture held in a hidden window of an export size, for one image or a frame sequence.

    On opening, the view's :meth:`~View.export_widget` leaves its place
    (a placeholder showing ``message`` takes it) for a top-level window that
    is never shown on screen (``WA_DontShowOnScreen``) and has the layout size
    ``width / scale`` x ``height / scale``; there it is laid out afresh.
    :meth:`grab` draws the view's newest frame and renders the window into an
    image of exactly ``width`` x ``height`` pixels, ``scale`` pixels per
    layout pixel: text, lines and OpenGL scenes are drawn at that resolution,
    not enlarged. Widgets that ask for their device pixel ratio in Python
    (the off-window OpenGL canvases, pyqtgraph's symbol atlas) are told
    ``scale`` meanwhile. :meth:`close` puts the widget back exactly where it
    was (same parent, layout index, stretch and alignment, or the same tab)
    and redraws the view.

    Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    view : View
        The view to export.
    width, height : int
        Size of the images in pixels (at least 1).
    scale : float, optional
        Image pixels per layout pixel (default: :func:`export_scale`).
    message : str
        Text shown in the view's place while the picture is away.
    """

    def __init__(
        self, view: View, width: int, height: int, *, scale: float | None = None, message: str = ""
    ) -> None:
        width, height = int(width), int(height)
        if width < 1 or height < 1:
            raise ValueError(f"an export needs at least 1 x 1 pixels, got {width} x {height}")
        scale = export_scale(width, height) if scale is None else float(scale)
        if not (math.isfinite(scale) and scale > 0.0):
            raise ValueError(f"the export scale must be a positive number, got {scale}")
        layout_width = max(1, round(width / scale))
        scale = width / layout_width  # exact across; at most a fraction of a pixel cut off below
        layout_height = max(1, math.ceil(height / scale - 1e-6))
        self.view = view
        #: Size of the images in pixels.
        self.size = (width, height)
        #: Image pixels per layout pixel.
        self.scale = scale
        #: The widget whose picture is exported.
        self.widget = view.export_widget()
        self.placeholder = QLabel(message)
        self.placeholder.setObjectName("export_placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.closed = False
        # the window belongs to the view (or to the view's window when the view itself moves into it)
        owner: QWidget | None = view
        if self.widget is view:
            parent = view.parentWidget()
            owner = parent.window() if parent is not None else None
        self.host = QWidget(owner, Qt.WindowType.Window)
        self.host.setObjectName(f"export_host_{view.key}")
        self.host.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        box = QVBoxLayout(self.host)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.host.setFixedSize(layout_width, layout_height)
        self._ratios = self._tell_ratio(self.widget, scale)
        self._slot = _Slot.take(self.widget, self.placeholder)
        try:
            box.addWidget(self.widget)
            self.widget.show()
            self.host.show()
            self._settle()
        except BaseException:
            self.close()
            raise

    # -- the session ------------------------------------------------------------------------------
    def grab(self) -> QImage:
        """Draw the view's newest frame and return the picture, exactly :attr:`size` pixels."""
        if self.closed:
            raise RuntimeError("the export session is closed")
        self.view._draw_for_export()
        self._settle()
        width, height = self.size
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(self.scale)
        image.fill(Qt.GlobalColor.white)
        with _cosmetic_pens_scaled(self.scale):
            self.host.render(image)
        image.setDevicePixelRatio(1.0)  # the pixels are the picture; viewers show them one to one
        return image

    def close(self) -> None:
        """Put the widget back in its place and redraw the view (again: nothing)."""
        if self.closed:
            return
        self.closed = True
        if sip.isdeleted(self.widget) or sip.isdeleted(self.view):
            return  # the view went (and its picture with it)
        for widget, previous in self._ratios:
            if sip.isdeleted(widget):
                continue
            if previous is None:
                widget.__dict__.pop("devicePixelRatioF", None)
            else:
                widget.devicePixelRatioF = previous  # type: ignore[method-assign]
        try:
            self._slot.restore(self.widget, self.placeholder)
        finally:
            if not sip.isdeleted(self.host):
                self.host.hide()
                sip.delete(self.host)
        for widget, _previous in self._ratios:
            if not sip.isdeleted(widget):  # follow the screen's pixel ratio again
                QCoreApplication.sendEvent(widget, QEvent(QEvent.Type.DevicePixelRatioChange))
        self.view.redraw()

    def __enter__(self) -> ExportSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _tell_ratio(root: QWidget, scale: float) -> list[tuple[QWidget, Any]]:
        """Make ``root`` and its children report ``scale`` as their device pixel ratio to Python code."""
        changed: list[tuple[QWidget, Any]] = []
        for widget in [root, *root.findChildren(QWidget)]:
            previous = widget.__dict__.get("devicePixelRatioF")
            widget.devicePixelRatioF = functools.partial(float, scale)  # type: ignore[method-assign]
            changed.append((widget, previous))
        return changed

    def _settle(self) -> None:
        """Let layouts (of widgets and of pyqtgraph's graphics items) follow the new size."""
        layout = self.host.layout()
        for _ in range(4):
            if layout is not None:
                layout.activate()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest.value)
            QCoreApplication.sendPostedEvents(None, QEvent.Type.PolishRequest.value)


@contextlib.contextmanager
def _cosmetic_pens_scaled(scale: float) -> Iterator[None]:
    """Widen the cosmetic pens that Python code sets on a painter by ``scale``, within the block.

    A cosmetic pen's width is in device pixels, whatever the painter's scale
    (pyqtgraph draws every curve, axis and grid line with one), so without
    this its lines would stay as thin in an export as on screen while text
    grows by ``scale``. Painting is synchronous, so the block sees only the
    export's painting.
    """
    if scale == 1.0:
        yield
        return
    original = QPainter.__dict__["setPen"]  # the method descriptor itself, to put back as it was

    def set_pen(painter: QPainter, pen: Any) -> None:
        if isinstance(pen, QPen) and pen.isCosmetic() and pen.style() != Qt.PenStyle.NoPen:
            pen = QPen(pen)
            pen.setWidthF(max(pen.widthF(), 1.0) * scale)
        original.__get__(painter, QPainter)(pen)

    QPainter.setPen = set_pen  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        QPainter.setPen = original  # type: ignore[method-assign]


class _Slot:
    """Where a widget sits in its parent, so that it can be taken out and put back the same way.

    Handles a widget in a box or grid layout (at any depth of nested
    layouts), a page of a stacked or tab widget, a top-level widget, and
    (placed by hand) any other child.
    """

    def __init__(self, widget: QWidget) -> None:
        self.parent = widget.parentWidget()
        self.hidden = widget.isHidden()
        self.geometry = QRect(widget.geometry())
        self.flags = widget.windowFlags()
        self.layout: QLayout | None = None
        self.index = -1
        self.stretch = 0
        self.alignment = Qt.AlignmentFlag(0)
        self.cell = (0, 0, 1, 1)
        self.tabs: QTabWidget | None = None
        self.tab: dict[str, Any] = {}
        self.current = False

    @classmethod
    def take(cls, widget: QWidget, placeholder: QWidget) -> _Slot:
        """Take ``widget`` out of its place (``placeholder`` fills it) and return the slot."""
        slot = cls(widget)
        parent = slot.parent
        if parent is None:
            return slot
        if isinstance(parent, QStackedWidget):
            slot._take_page(widget, parent, placeholder)
            return slot
        slot.layout = _containing_layout(parent.layout(), widget)
        layout = slot.layout
        if isinstance(layout, QBoxLayout):
            slot.index = layout.indexOf(widget)
            slot.stretch = layout.stretch(slot.index)
            slot.alignment = _alignment(layout, slot.index)
            layout.removeWidget(widget)
            layout.insertWidget(slot.index, placeholder, slot.stretch, slot.alignment)
        elif isinstance(layout, QGridLayout):
            slot.index = layout.indexOf(widget)
            row, column, rows, columns = layout.getItemPosition(slot.index)
            slot.cell = (int(row), int(column), int(rows), int(columns))
            slot.alignment = _alignment(layout, slot.index)
            layout.removeWidget(widget)
            layout.addWidget(placeholder, *slot.cell, slot.alignment)
        else:
            slot.layout = None
            placeholder.setParent(parent)
            placeholder.setGeometry(slot.geometry)
            placeholder.setVisible(not slot.hidden)
        return slot

    def _take_page(self, widget: QWidget, stack: QStackedWidget, placeholder: QWidget) -> None:
        self.index = stack.indexOf(widget)
        self.current = stack.currentWidget() is widget
        tabs = stack.parentWidget()
        if isinstance(tabs, QTabWidget) and tabs.widget(self.index) is widget:
            self.tabs = tabs
            self.tab = {
                "text": tabs.tabText(self.index),
                "icon": tabs.tabIcon(self.index),
                "tooltip": tabs.tabToolTip(self.index),
                "whats_this": tabs.tabWhatsThis(self.index),
                "enabled": tabs.isTabEnabled(self.index),
            }
            tabs.insertTab(self.index, placeholder, self.tab["icon"], self.tab["text"])
            widget.setParent(None)  # the tab widget drops its tab
            if self.current:
                tabs.setCurrentIndex(self.index)
        else:
            stack.insertWidget(self.index, placeholder)
            widget.setParent(None)
            if self.current:
                stack.setCurrentWidget(placeholder)

    def restore(self, widget: QWidget, placeholder: QWidget) -> None:
        """Put ``widget`` back in its place and delete ``placeholder``."""
        parent = self.parent
        if parent is None or sip.isdeleted(parent):
            widget.setParent(None, self.flags)
            widget.setGeometry(self.geometry)
            widget.setVisible(not self.hidden)
        elif isinstance(parent, QStackedWidget):
            self._restore_page(widget, parent, placeholder)
        elif isinstance(self.layout, QBoxLayout) and not sip.isdeleted(self.layout):
            self.layout.removeWidget(placeholder)
            self.layout.insertWidget(self.index, widget, self.stretch, self.alignment)
            widget.setVisible(not self.hidden)
        elif isinstance(self.layout, QGridLayout) and not sip.isdeleted(self.layout):
            self.layout.removeWidget(placeholder)
            self.layout.addWidget(widget, *self.cell, self.alignment)
            widget.setVisible(not self.hidden)
        else:
            widget.setParent(parent)
            widget.setGeometry(self.geometry)
            widget.setVisible(not self.hidden)
        if not sip.isdeleted(placeholder):
            placeholder.hide()
            placeholder.setParent(None)
            sip.delete(placeholder)

    def _restore_page(self, widget: QWidget, stack: QStackedWidget, placeholder: QWidget) -> None:
        tabs = self.tabs
        if tabs is not None and not sip.isdeleted(tabs):
            at = tabs.indexOf(placeholder)
            index = at if at >= 0 else min(self.index, tabs.count())
            tabs.insertTab(index, widget, self.tab["icon"], self.tab["text"])
            tabs.setTabToolTip(index, self.tab["tooltip"])
            tabs.setTabWhatsThis(index, self.tab["whats_this"])
            tabs.setTabEnabled(index, self.tab["enabled"])
            if self.current or tabs.currentWidget() is placeholder:
                tabs.setCurrentIndex(index)
        else:
            at = stack.indexOf(placeholder)
            stack.insertWidget(at if at >= 0 else min(self.index, stack.count()), widget)
            if self.current or stack.currentWidget() is placeholder:
                stack.setCurrentWidget(widget)
        stack.removeWidget(placeholder)


def _containing_layout(layout: QLayout | None, widget: QWidget) -> QLayout | None:
    """The layout, ``layout`` or one nested in it, that holds ``widget`` directly (None if none)."""
    if layout is None:
        return None
    if layout.indexOf(widget) >= 0:
        return layout
    for i in range(layout.count()):
        item = layout.itemAt(i)
        inner = item.layout() if item is not None else None
        found = _containing_layout(inner, widget)
        if found is not None:
            return found
    return None


def _alignment(layout: QLayout, index: int) -> Qt.AlignmentFlag:
    item = layout.itemAt(index)
    return item.alignment() if item is not None else Qt.AlignmentFlag(0)
