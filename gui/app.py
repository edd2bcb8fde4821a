"""Starting the desktop app, interactively or scripted (screenshot and speed figures for documentation).

Scripted mode opens the window, lets the network build, runs as fast as
possible for a number of wall-clock seconds while the views draw, saves a
screenshot of the whole window and an image of every view at an export size
(either or both) and prints what it achieved::

    view_fps map=31.2 connectivity=30.9 ...
    realtime_factor=28.4 fps=30.1

``realtime_factor`` is model seconds per wall second and ``fps`` the frames
the window showed per wall second, both over the timed interval only (the
build, the final screenshot and the view images are outside it).
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
from PyQt6 import sip
from PyQt6.QtCore import QEvent, QEventLoop, QObject, QPoint, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication

from app.commands import Pause, Run
from app.frame import SimState
from gui.export import DEFAULT_EXPORT_SIZE, save_image
from gui.main_window import MainWindow
from sim.errors import OutputError
from sim.parameters import ConfigRoot

#: Longest wait for the first network to be built in scripted mode (wall seconds).
BUILD_TIMEOUT = 300.0


class _ErrorRelay(QObject):
    """Carries uncaught exceptions from any thread to the window (queued onto the GUI thread)."""

    error = pyqtSignal(str, str)


@contextmanager
def exception_hooks(window: MainWindow) -> Iterator[None]:
    """Show uncaught exceptions of the GUI thread and of other threads in the window's message bar.

    The previous hooks are restored on leaving, so nothing outlives the window
    through them.
    """
    relay = _ErrorRelay(window)
    relay.error.connect(lambda msg, detail: window.show_message("internal", msg, detail))

    def gui_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        detail = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(detail)
        relay.error.emit(f"{exc_type.__name__}: {exc}", detail)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        gui_hook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    previous = sys.excepthook, threading.excepthook
    sys.excepthook = gui_hook
    threading.excepthook = thread_hook
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook = previous


def dispose(window: MainWindow) -> None:
    """Close ``window`` and destroy it with everything in it now, while the application is alive.

    Left to interpreter exit, the window's Qt objects would be destroyed in
    no particular order relative to the ``QApplication``, which can crash the
    process after its work is done.
    """
    window.close()
    if not sip.isdeleted(window):
        sip.delete(window)
    # The signal proxies of destroyed senders delete themselves later, which Qt does only from
    # inside an event loop: run their deletions in a nested one, so that the closures they hold
    # (and through them the window's Python objects) go now as well.
    loop = QEventLoop()

    def flush() -> None:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        loop.quit()

    QTimer.singleShot(0, flush)
    loop.exec()
    gc.collect()


def application() -> QApplication:
    """The QApplication (created once)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Rewire Lab")
        app.setOrganizationName("Rewire Lab")
    assert isinstance(app, QApplication)
    return app


def run_gui(config: ConfigRoot, *, backend: str = "auto", seed: int | None = None) -> int:
    """Open the window on ``config``, start running, and return the exit status when it closes."""
    app = application()
    window = MainWindow(config, backend=backend, seed=seed)
    try:
        with exception_hooks(window):
            window.show()
            window.send(Run())  # applied as soon as the network is built
            return app.exec()
    finally:
        dispose(window)


@dataclass(frozen=True)
class ScriptedResult:
    """What a scripted run achieved."""

    realtime_factor: float
    fps: float
    view_fps: dict[str, float]
    model_seconds: float
    wall_seconds: float
    #: The screenshot of the window (None when none was asked for).
    screenshot: Path | None
    #: Where each visible OpenGL view lies in the screenshot: ``key -> (x, y, width, height)`` in pixels.
    gl_regions: dict[str, tuple[int, int, int, int]]
    #: The image of each view, by view key (empty when none were asked for).
    view_images: dict[str, Path] = field(default_factory=dict)
    #: The map's quality at the first and the last row of the run's time series that have it:
    #: ``(t, sigma_aff, AD)`` on synapse counts (empty when no row has it).
    map_quality: tuple[tuple[float, float, float], ...] = ()


def run_scripted(
    config: ConfigRoot,
    *,
    run_for: float,
    screenshot: Path | None = None,
    export_views: Path | None = None,
    export_size: tuple[int, int] = DEFAULT_EXPORT_SIZE,
    backend: str = "auto",
    seed: int | None = None,
) -> ScriptedResult:
    """Open the window, run at maximum speed for ``run_for`` wall seconds, save the images, close.

    ``screenshot`` (a ``.png``, ``.jpg`` or ``.jpeg`` file) receives the whole
    window; ``export_views`` (a folder, created if missing) receives one PNG
    per view, ``KEY.png``, of ``export_size`` pixels without the view's
    options row. Raises :class:`RuntimeError` when the network cannot be built
    or the simulation stops with an error, and
    :class:`~sim.errors.OutputError` when an image cannot be written.
    """
    app = application()
    window = MainWindow(config, backend=backend, seed=seed)
    try:
        with exception_hooks(window):
            window.show()
            result = _measure(app, window, run_for, screenshot)
            if export_views is None:
                return result
            images = export_all_views(window, export_views, export_size)
            return dataclasses.replace(result, view_images=images)
    finally:
        dispose(window)


def export_all_views(window: MainWindow, folder: Path, size: tuple[int, int]) -> dict[str, Path]:
    """Save every view of ``window`` as ``folder/KEY.png`` at ``size``; returns the paths by view key."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create folder ({exc.strerror or exc})") from None
    return {key: window.export_view(key, folder / f"{key}.png", size) for key in window.views}


def _measure(
    app: QApplication, window: MainWindow, run_for: float, screenshot: Path | None
) -> ScriptedResult:
    """Build, run for ``run_for`` wall seconds, pause and save the screenshot (see :func:`run_scripted`)."""
    _wait(lambda: window.latest is not None or window.state is SimState.FAULTED, BUILD_TIMEOUT)
    if window.latest is None:
        raise RuntimeError(f"could not build the network: {window.message_bar.label.text()}")
    window.send(Run())
    _wait(lambda: window.latest is not None and window.latest.status.state is SimState.RUNNING, 60.0)
    start_t = _model_time(window)
    start_frames = window.frames_shown
    start_views = {k: v.frames_drawn for k, v in window.views.items()}
    t0 = time.perf_counter()
    _wait(lambda: time.perf_counter() - t0 >= run_for, run_for + 60.0)
    wall = time.perf_counter() - t0
    model = _model_time(window) - start_t
    frames = window.frames_shown - start_frames
    view_fps = {k: (v.frames_drawn - start_views[k]) / wall for k, v in window.views.items()}
    if window.state is SimState.FAULTED:
        raise RuntimeError(f"the simulation stopped: {window.message_bar.label.text()}")
    window.send(Pause())
    window.controller.sync()
    window.poll()
    app.processEvents()
    regions: dict[str, tuple[int, int, int, int]] = {}
    path = None
    if screenshot is not None:
        image = window.grab().toImage()
        ratio = image.devicePixelRatio()
        for key, view in window.views.items():
            if view.uses_gl and view.isVisible():
                corner = view.mapTo(window, QPoint(0, 0))
                x, y, w, h = (round(v * ratio) for v in (corner.x(), corner.y(), view.width(), view.height()))
                regions[key] = (x, y, w, h)
        path = save_image(image, screenshot)
    return ScriptedResult(
        model / wall, frames / wall, view_fps, model, wall, path, regions, map_quality=_map_quality(window)
    )


def _map_quality(window: MainWindow) -> tuple[tuple[float, float, float], ...]:
    """``(t, sigma_aff, AD)`` on counts at the first and last rows of the history that have them."""
    if window.history is None:
        return ()
    table = window.history.table()
    if "ad_conn" not in table or "sigma_aff_conn" not in table:  # not a topographic map
        return ()
    measured = np.flatnonzero(np.isfinite(table["ad_conn"]) & np.isfinite(table["sigma_aff_conn"]))
    return tuple(
        (float(table["t"][i]), float(table["sigma_aff_conn"][i]), float(table["ad_conn"][i]))
        for i in (measured[:1].tolist() + measured[-1:].tolist())
    )


def _model_time(window: MainWindow) -> float:
    return 0.0 if window.latest is None else window.latest.snapshot.t


def _wait(done: Callable[[], bool], timeout: float) -> None:
    """Run the event loop as the interactive app does, until ``done()`` or ``timeout`` wall seconds."""
    end = time.perf_counter() + timeout
    if done():
        return
    loop = QEventLoop()

    def check() -> None:
        if done() or time.perf_counter() >= end:
            loop.quit()

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
