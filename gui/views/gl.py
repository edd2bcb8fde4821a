"""Shared pieces of the OpenGL (VisPy) views.

* :func:`gl_unavailable_reason`: whether this Qt session can make an OpenGL
  context at all (on Qt's ``offscreen`` platform it cannot); a view that
  uses OpenGL shows :class:`GlUnavailableLabel` instead of a canvas, so the
  window still runs.
* :func:`canvas_image`: a VisPy canvas's picture as a ``QImage``.
* :func:`colour_bar_pixmap`: a small horizontal colour bar for the legend
  rows of the views.
* :class:`RedrawBudget`: spaces out costly redraws so that a view never
  takes more than a set share of the GUI thread (software OpenGL and the
  receptive-field analysis both grow with the grid).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication, QImage, QOffscreenSurface, QOpenGLContext, QPixmap
from PyQt6.QtWidgets import QLabel, QWidget

__all__ = [
    "GlUnavailableLabel",
    "RedrawBudget",
    "canvas_image",
    "colour_bar_pixmap",
    "gl_renderer",
    "gl_unavailable_reason",
    "is_software_renderer",
]


def gl_unavailable_reason() -> str | None:
    """Return why OpenGL cannot be used in this Qt session, or None when it can.

    The probe creates one ``QOpenGLContext`` and is made once per session.
    Without a running ``QGuiApplication`` nothing is probed (and nothing cached).
    """
    if QGuiApplication.instance() is None:
        return "no Qt application is running"
    return _probe()[0]


@functools.cache
def _probe() -> tuple[str | None, str]:
    """Make one OpenGL context: ``(why it failed or None, the GL_RENDERER string)``."""
    from vispy.gloo import gl

    platform = QGuiApplication.platformName()
    context = QOpenGLContext()
    if not context.create():
        return (
            f"OpenGL is not available on the Qt platform {platform!r}, so this view cannot draw. "
            "Run the app on a desktop session, or under Xvfb with Mesa for software OpenGL.",
            "",
        )
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    try:
        if not context.makeCurrent(surface):
            return None, ""
        try:
            return None, str(gl.glGetParameter(gl.GL_RENDERER) or "")
        finally:
            context.doneCurrent()
    finally:
        surface.destroy()


#: Substrings of ``GL_RENDERER`` that name a renderer running on the CPU.
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software", "swiftshader", "gdi generic")


def gl_renderer() -> str:
    """Return the ``GL_RENDERER`` string of this session's OpenGL ("" when OpenGL is unavailable)."""
    if QGuiApplication.instance() is None:
        return ""
    return _probe()[1]


def is_software_renderer(renderer: str) -> bool:
    """Whether ``renderer`` (a ``GL_RENDERER`` string) draws on the CPU."""
    name = renderer.lower()
    return any(s in name for s in SOFTWARE_RENDERERS)


class GlUnavailableLabel(QLabel):
    """The message a GL view shows in place of its canvas when OpenGL is unavailable."""

    def __init__(self, title: str, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(f"{title}: {reason}", parent)
        self.setObjectName("gl_unavailable")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMargin(24)


def canvas_image(rgba: ArrayLike, ratio: float = 1.0, opaque: bool = False) -> QImage:
    """Return a ``QImage`` (owning its pixels) of an ``(h, w, 4)`` uint8 array.

    ``rgba`` is typically a rendered VisPy scene; ``ratio`` is the device
    pixel ratio to tag the image with; ``opaque`` ignores the alpha channel
    (RGBX8888, which Qt paints fastest).
    """
    data = np.ascontiguousarray(rgba, dtype=np.uint8)
    if data.ndim != 3 or data.shape[2] != 4:
        raise ValueError(f"expected an (h, w, 4) image, got shape {data.shape}")
    h, w = data.shape[:2]
    fmt = QImage.Format.Format_RGBX8888 if opaque else QImage.Format.Format_RGBA8888
    image = QImage(data.tobytes(), w, h, 4 * w, fmt).copy()
    image.setDevicePixelRatio(ratio)
    return image


def colour_bar_pixmap(colours: ArrayLike, width: int = 96, height: int = 12) -> QPixmap:
    """Return a horizontal colour bar: ``colours`` (``(K, 4)`` RGBA in [0, 1], low to high) left to right."""
    lut = np.asarray(colours, dtype=np.float64).reshape(-1, 4)
    idx = np.linspace(0, len(lut) - 1, width).round().astype(np.int64)
    row = (np.clip(lut[idx], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    image = np.repeat(row[np.newaxis], height, axis=0)
    return QPixmap.fromImage(canvas_image(image))


class RedrawBudget:
    """Spaces out costly redraws so that they take at most ``fraction`` of wall time on average.

    A redraw that cost ``c`` seconds moves the next due time on by
    ``c / fraction``. A redraw may run up to ``tolerance`` seconds before it is
    due, and a late one keeps up to ``tolerance`` of the time it waited; either
    way the difference is carried over, so the share of wall time stays at
    ``fraction`` while redraws land on the frames that come nearest to it (a
    view that costs 10.5 ms with a 30 % share redraws about 28 times a
    second at 30 frames per second, not every other frame).

    Parameters
    ----------
    fraction : float
        Largest share of wall time spent redrawing, in (0, 1].
    clock : callable
        Wall clock in seconds.
    tolerance : float
        How far (seconds) a redraw may run before it is due, or keep of the
        time it came late.
    """

    def __init__(
        self,
        fraction: float = 0.3,
        clock: Callable[[], float] = time.perf_counter,
        tolerance: float = 0.010,
    ) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        if not tolerance >= 0.0:
            raise ValueError(f"tolerance must be at least 0 s, got {tolerance}")
        self.fraction = fraction
        self.tolerance = tolerance
        self._clock = clock
        self._next = -math.inf
        #: Seconds the last redraw took.
        self.last_cost = 0.0

    def reset(self) -> None:
        """Make the next redraw due at once."""
        self._next = -math.inf

    @property
    def slack(self) -> float:
        """How early a redraw may run, or how much of its lateness it keeps: :attr:`tolerance`,
        or half the spacing of the last redraw's cost if that is more (so a view that other work
        held up catches up within its share)."""
        return max(self.tolerance, 0.5 * self.last_cost / self.fraction)

    def wait(self) -> float:
        """Seconds until the next redraw may run (0 when it may run now)."""
        return max(0.0, self._next - self.slack - self._clock())

    def due(self) -> bool:
        """Whether a redraw may run now."""
        return self.wait() <= 0.0

    def start(self) -> float:
        """Return the clock reading to pass to :meth:`record` when the redraw ends."""
        return self._clock()

    def record(self, started: float, extra: float = 0.0) -> None:
        """Account for a redraw that began at ``started`` (a :meth:`start` reading) and ends now.

        ``extra`` adds seconds spent on the same redraw elsewhere (preparing its data, say).
        """
        self.charge(started, max(0.0, self._clock() - started) + extra)

    def charge(self, started: float, cost: float) -> None:
        """Account for a redraw that began at ``started`` (a :meth:`start` reading) and cost ``cost`` s."""
        self._next = max(self._next, started - self.slack)
        self.last_cost = max(0.0, cost)
        self._next += self.last_cost / self.fraction
