"""Every view fits its area at common screen sizes: nothing clipped, no legend over data, tabs readable.

The window is opened on the default preset with the CPU backend, run for a
few model seconds (so the plots have curves, legends and titles with
numbers), resized to each size and every view brought to the front in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QDeadlineTimer, QEventLoop, QPoint, QPointF, QRect, QRectF, Qt, QTimer
from PyQt6.QtGui import QImage, QPainter
from PyQt6.QtWidgets import (
    QApplication,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QTabBar,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.commands import Run
from app.frame import SimState
from app.presets import DEFAULT_PRESET, load_preset
from gui.main_window import MainWindow
from gui.views._plots import GridImagePlot, OutsideLegend
from gui.views.base import View
from gui.views.canvas_view import CanvasView

TIMEOUT_MS = 60_000
SIZES = [(1366, 768), (1600, 900), (1920, 1080)]
#: Pixels by which a rectangle may stick out of another (rounding of fractional scene coordinates).
SLACK = 1.0


@pytest.fixture(scope="module")
def window(qapp: QApplication) -> Iterator[MainWindow]:
    """The window on the default preset after a few model seconds, so every plot has data.

    One window serves every size (building and running it is most of the test's time).
    """
    win = MainWindow(load_preset(DEFAULT_PRESET), backend="cpu")
    win.show()
    try:
        _wait_until(lambda: win.latest is not None)
        seconds = 3.0 * win.latest.config.run.record_interval  # type: ignore[union-attr]
        win.send(Run(duration=seconds))
        _wait_until(
            lambda: (
                win.latest is not None
                and win.latest.snapshot.t >= seconds
                and win.latest.status.state is SimState.IDLE
            )
        )
        yield win
    finally:
        assert win.shutdown()
        win.close()
        win.deleteLater()
        QApplication.processEvents()


def _wait_until(done: Callable[[], bool], timeout_ms: int = TIMEOUT_MS) -> None:
    """Run the event loop until ``done()`` (the window takes the simulation's frames meanwhile)."""
    deadline = QDeadlineTimer(timeout_ms)
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: loop.quit() if done() or deadline.hasExpired() else None)
    if not done():
        timer.start()
        loop.exec()
        timer.stop()
    assert done(), "timed out"


def _settle() -> None:
    """Let Qt lay out, resize and paint (layouts and graphics scenes update in posted events)."""
    for _ in range(3):
        QApplication.processEvents()


def _inside(inner: QRectF, outer: QRectF) -> bool:
    return (
        inner.left() >= outer.left() - SLACK
        and inner.top() >= outer.top() - SLACK
        and inner.right() <= outer.right() + SLACK
        and inner.bottom() <= outer.bottom() + SLACK
    )


def _widget_rect(widget: QWidget, ancestor: QWidget) -> QRectF:
    corner = widget.mapTo(ancestor, QPoint(0, 0))
    return QRectF(QRect(corner, widget.size()))


def _scene_rect_in(graphics: pg.GraphicsLayoutWidget, rect: QRectF) -> QRectF:
    """A scene rectangle in the coordinates of the graphics widget's viewport."""
    return QRectF(graphics.mapFromScene(rect).boundingRect())


def _bounds(child: QWidget, view: View) -> QRectF | None:
    """Where ``child`` must lie, in ``view``'s coordinates: inside the page of the nearest scroll
    area holding it (a page scrolls, so it may be larger than the view), else inside the view;
    None for a scroll area's page itself."""
    ancestor = child.parentWidget()
    while ancestor is not None and ancestor is not view:
        if isinstance(ancestor, QScrollArea) and ancestor.widget() is not None:
            page = ancestor.widget()
            if page is child:
                return None
            if page.isAncestorOf(child):
                return _widget_rect(page, view)
        ancestor = ancestor.parentWidget()
    return QRectF(view.rect())


def _check_widgets(view: View) -> list[str]:
    """Widgets of ``view`` that stick out of it (or of the scrolled page holding them) or are
    squeezed below their minimum size."""
    problems = []
    hint = view.minimumSizeHint()
    if hint.width() > view.width() or hint.height() > view.height():
        size = f"{view.width()}x{view.height()}"
        problems.append(f"{view.key}: minimum size {hint.width()}x{hint.height()} > {size}")
    for child in view.findChildren(QWidget):
        if not child.isVisibleTo(view) or child.isWindow():
            continue
        name = f"{view.key}: {type(child).__name__} {child.objectName()!r}"
        outer = _bounds(child, view)
        if outer is not None and not _inside(_widget_rect(child, view), outer):
            problems.append(f"{name} lies outside the view")
        policy = child.sizePolicy()
        ignored = QSizePolicy.Policy.Ignored
        minimum = child.minimumSizeHint().expandedTo(child.minimumSize())
        if policy.horizontalPolicy() != ignored and minimum.width() > child.width():
            problems.append(f"{name} is {child.width()} px wide, needs {minimum.width()}")
        if policy.verticalPolicy() != ignored and minimum.height() > child.height():
            problems.append(f"{name} is {child.height()} px high, needs {minimum.height()}")
    return problems


def _colour_bar_labels(bar: pg.ColorBarItem) -> list[tuple[QRectF, str]]:
    """The tick labels a colour bar draws, in its axis's coordinates."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = bar.axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in texts]


def _check_plots(view: View) -> list[str]:
    """pyqtgraph items of ``view`` that are clipped, overlap data or float in empty axes."""
    problems = []
    for graphics in view.findChildren(pg.GraphicsLayoutWidget):
        if not graphics.isVisibleTo(view):
            continue
        area = QRectF(graphics.viewport().rect())
        minimum = graphics.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        if minimum.width() > area.width() + SLACK or minimum.height() > area.height() + SLACK:
            problems.append(
                f"{view.key}: plots need {minimum.width():.0f}x{minimum.height():.0f}, "
                f"have {area.width():.0f}x{area.height():.0f}"
            )
        for item in graphics.scene().items():
            if not item.isVisible():
                continue
            if isinstance(item, pg.PlotItem | pg.AxisItem | OutsideLegend):
                name = f"{view.key}: {type(item).__name__}"
                if isinstance(item, pg.PlotItem):
                    name += f" {item.titleLabel.text[:30]!r}"
                if not _inside(_scene_rect_in(graphics, item.sceneBoundingRect()), area):
                    problems.append(f"{name} is clipped by the view")
            if isinstance(item, pg.AxisItem) and item.label.isVisible():
                label = _scene_rect_in(graphics, item.label.sceneBoundingRect())
                if not _inside(label, area):
                    problems.append(f"{view.key}: axis label {item.labelText!r} is clipped")
            if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem):
                title = item.titleLabel
                text = title.item.sceneBoundingRect()
                if title.isVisible() and not _inside(text, item.sceneBoundingRect()):
                    problems.append(f"{view.key}: title {title.text[:30]!r} is wider than its plot")
            if isinstance(item, pg.ColorBarItem):
                labels = _colour_bar_labels(item)
                if len(labels) < 2:
                    problems.append(f"{view.key}: a colour bar shows {len(labels)} tick labels")
                for rect, text in labels:
                    if not _inside(_scene_rect_in(graphics, item.axis.mapRectToScene(rect)), area):
                        problems.append(f"{view.key}: colour bar label {text!r} is clipped")
            if isinstance(item, OutsideLegend) and item.items:
                problems += _check_legend(view, item)
    for image in vars(view).values():
        if isinstance(image, GridImagePlot):
            (x0, x1), (y0, y1) = image.plot.getViewBox().viewRange()
            grid = (-0.5, image.side - 0.5)
            if not np.allclose((x0, x1, y0, y1), grid * 2, atol=1e-6):
                shown = f"{x0:.1f}..{x1:.1f} x {y0:.1f}..{y1:.1f}"
                problems.append(f"{view.key}: an image shows {shown}, not its grid")
    return problems


def _check_legend(view: View, legend: OutsideLegend) -> list[str]:
    """A legend must not lie over the data area or any data point drawn."""
    plot = legend.plot
    view_box = plot.getViewBox()
    rect = legend.sceneBoundingRect()
    inner = rect.adjusted(0.5, 0.5, -0.5, -0.5)  # (touching is fine)
    problems = []
    if inner.intersects(view_box.sceneBoundingRect()):
        problems.append(f"{view.key}: the legend of {plot.titleLabel.text[:30]!r} lies over its data area")
    (x0, x1), (y0, y1) = view_box.viewRange()
    for curve in plot.listDataItems():
        if not isinstance(curve, pg.PlotDataItem) or not curve.isVisible():
            continue  # (plain curve items here are the invisible extents of the plots)
        x, y = curve.getData()
        if x is None or len(x) == 0:
            continue
        x, y = np.asarray(x, float)[: len(y)], np.asarray(y, float)
        shown = np.isfinite(x) & np.isfinite(y) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        for px, py in zip(x[shown], y[shown], strict=True):
            if inner.contains(view_box.mapViewToScene(QPointF(px, py))):
                problems.append(f"{view.key}: the legend covers a point of {curve.name()!r}")
                break
    return problems


def _check_canvas(view: View) -> list[str]:
    """The VisPy display of ``view`` lies inside it and is big enough to show the scene."""
    if not isinstance(view, CanvasView) or view.display is None:
        return []
    rect = _widget_rect(view.display, view)
    problems = []
    if not _inside(rect, QRectF(view.rect())):
        problems.append(f"{view.key}: the scene is clipped")
    if rect.width() < 150 or rect.height() < 150:
        problems.append(f"{view.key}: the scene is only {rect.width():.0f}x{rect.height():.0f}")
    return problems


def _check_tabs(window: MainWindow) -> list[str]:
    """Every tab title is shown in full: no elided text, no tab scrolled out of sight."""
    problems = []
    for area, tabs in window.areas.items():
        bar = tabs.tabBar()
        assert isinstance(bar, QTabBar)
        metrics = bar.fontMetrics()
        style = bar.style()
        assert style is not None
        padding = style.pixelMetric(QStyle.PixelMetric.PM_TabBarTabHSpace, None, bar)
        buttons = [b for b in bar.findChildren(QToolButton) if b.isVisible()]
        if buttons:
            problems.append(f"{area}: the tabs do not fit (scroll buttons shown)")
        for i in range(bar.count()):
            text, rect = bar.tabText(i), bar.tabRect(i)
            if rect.width() < metrics.horizontalAdvance(text) + padding:
                problems.append(f"{area}: tab {text!r} is elided ({rect.width()} px)")
            if not _inside(QRectF(rect), QRectF(bar.rect())):
                problems.append(f"{area}: tab {text!r} is out of sight")
    return problems


@pytest.mark.gl
@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_view_fits_its_area(window: MainWindow, require_gl: None, width: int, height: int) -> None:
    window.resize(width, height)
    _settle()
    assert (window.width(), window.height()) == (width, height)  # nothing forces the window wider
    problems = _check_tabs(window)
    for key in window.views:
        view = window.show_view(key)
        _settle()
        assert view.isVisible(), key
        area = window.areas[next(a for a, tabs in window.areas.items() if tabs.indexOf(view) >= 0)]
        if not _inside(_widget_rect(view, window), _widget_rect(area, window)):
            problems.append(f"{key}: the view is larger than its area")
        problems += _check_widgets(view) + _check_plots(view) + _check_canvas(view)
    assert not problems, "\n".join(problems)


def test_the_window_opens_within_the_screen(qtbot: QtBot) -> None:
    win = MainWindow(load_preset(DEFAULT_PRESET), backend="cpu")
    qtbot.addWidget(win)
    try:
        screen = win.screen()
        assert screen is not None
        available = screen.availableGeometry()
        assert win.width() <= available.width() and win.height() <= available.height()
        assert win.width() >= 0.8 * available.width()  # and uses most of it
        assert win.minimumSizeHint().width() <= SIZES[0][0] and win.minimumSizeHint().height() <= SIZES[0][1]
    finally:
        assert win.shutdown()
