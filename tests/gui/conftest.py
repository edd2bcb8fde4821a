"""Fixtures of the GUI tests.

Widgets run on whatever Qt platform the session has: under ``pytest-xvfb``
(as in CI, where ``.ci/run`` installs Xvfb and Mesa) that is X11 with
software OpenGL, so VisPy views draw; tests marked ``gl`` need that and are
skipped only where no OpenGL context can be made at all. One test opens the
window on the ``offscreen`` platform in a subprocess.

Where Qt cannot open a window at all (a system library of its xcb platform
plugin missing, no X server), the tests that use ``qapp`` (``qtbot``,
``require_gl``) are skipped with the reason: see ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.presets import DEFAULT_PRESET, load_preset
from gui.main_window import MainWindow


@functools.cache
def opengl_available() -> bool:
    """Whether this Qt session can create an OpenGL context (needs a QApplication)."""
    from PyQt6.QtGui import QOpenGLContext

    ctx = QOpenGLContext()
    return bool(ctx.create())


@pytest.fixture
def require_gl(qapp: object) -> None:
    """Skip the test when no OpenGL context can be created (no Xvfb/Mesa on this machine)."""
    if not opengl_available():
        pytest.skip("no OpenGL context on this Qt platform (install Xvfb and Mesa, as .ci/run does)")


#: How long a window test waits for the simulation thread (builds and runs on a busy machine).
TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    """The main window on the default preset (CPU backend), shown, its network built."""
    win = MainWindow(load_preset(DEFAULT_PRESET), backend="cpu")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.latest is not None, timeout=TIMEOUT_MS)
    yield win
    assert win.shutdown()


def settle(window: MainWindow, qtbot: QtBot) -> None:
    """Wait until the thread applied everything sent so far and the window showed the result."""
    assert window.controller.sync(60)
    qtbot.waitUntil(lambda: not window.poll(), timeout=TIMEOUT_MS)  # the last update is shown
