"""Exports at a chosen size: every view without its options row, hidden tabs, frame sequences, files."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PyQt6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.commands import Run, SetSpeed
from app.presets import DEFAULT_PRESET, load_preset
from gui.app import _wait, dispose
from gui.context import ViewContext
from gui.export import (
    DEFAULT_EXPORT_SIZE,
    ExportSizeMenu,
    FrameRecorder,
    parse_size,
    save_image,
    save_png,
)
from gui.main_window import MainWindow
from gui.views.base import ExportSession, View, export_scale
from sim.errors import OutputError
from sim.files import current_umask

#: The colour given to the controls of the options rows: it must not appear in an export.
MARKER = (255, 0, 255)
MARKER_STYLE = "QComboBox, QCheckBox, QLabel { background-color: #ff00ff; color: #ff00ff; }"


def pixels(image: QImage) -> np.ndarray:
    """``(h, w, 3)`` uint8 RGB of ``image``."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = img.constBits()
    assert ptr is not None
    ptr.setsize(img.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def has_colour(image: QImage, rgb: tuple[int, int, int]) -> bool:
    return bool((pixels(image) == np.array(rgb, np.uint8)).all(axis=-1).any())


def distinct_colours(image: QImage) -> int:
    flat = pixels(image).reshape(-1, 3)
    return len(np.unique(flat[:, 0].astype(np.uint32) << 16 | flat[:, 1].astype(np.uint32) << 8 | flat[:, 2]))


def export_hosts() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.objectName().startswith("export_host")]


def place(widget: QWidget) -> tuple[Any, ...]:
    """Where ``widget`` sits: its parent, its layout's index and stretch."""
    parent = widget.parentWidget()
    assert parent is not None
    layout = parent.layout()
    assert isinstance(layout, QBoxLayout)
    index = layout.indexOf(widget)
    return parent, index, layout.stretch(index)


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Export-size settings in a file of the tests' own, not the user's."""
    path = tmp_path_factory.mktemp("settings") / "settings.ini"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ExportSizeMenu, "settings", lambda: QSettings(str(path), QSettings.Format.IniFormat))
        yield path


@pytest.fixture(scope="module")
def window(qapp: QApplication, settings_file: Path) -> Iterator[MainWindow]:
    """The window on the default preset after 0.4 model seconds, paused."""
    win = MainWindow(load_preset(DEFAULT_PRESET), backend="cpu")
    win.show()
    _wait(lambda: win.latest is not None, 120.0)
    win.send(Run(duration=0.4))
    _wait(lambda: win.latest is not None and win.latest.snapshot.t >= 0.4, 120.0)
    assert win.controller.sync(60)
    _wait(lambda: not win.poll(), 0.3)
    yield win
    win.stop_recording()
    dispose(win)


def test_every_view_exports_at_the_size_without_its_options_row(window: MainWindow, tmp_path: Path) -> None:
    for key, view in window.views.items():
        widget = view.export_widget()
        if view.uses_gl and widget is view:  # OpenGL unavailable: the view shows a message instead
            continue
        view.setStyleSheet(MARKER_STYLE)
        try:
            path = window.export_view(key, tmp_path / f"{key}.png", (1920, 1080))
            image = QImage(str(path))
            assert (image.width(), image.height()) == (1920, 1080), key
            assert distinct_colours(image) > 8, f"the {key} export looks blank"
            assert not has_colour(image, MARKER), f"the {key} export shows its options row"
            window.show_view(key)
            QApplication.processEvents()
            screen = view.render_image()
            assert (screen.width(), screen.height()) != (1920, 1080)
            controls = [*view.findChildren(QComboBox), *view.findChildren(QCheckBox)]
            if [w for w in controls if not widget.isAncestorOf(w)]:  # the view has an options row
                assert has_colour(screen, MARKER), f"the {key} view shows no marked options row"
        finally:
            view.setStyleSheet("")
    assert export_hosts() == []


def test_hidden_tab_exports_and_its_picture_goes_back(window: MainWindow, tmp_path: Path) -> None:
    key = "events"
    view = window.views[key]
    tabs = window.areas["right"]
    if tabs.currentWidget() is view:
        tabs.setCurrentIndex(0)
    current = tabs.currentIndex()
    assert not view.isVisible()
    widget = view.export_widget()
    before = place(widget)
    image = view.export_image(800, 600)
    assert (image.width(), image.height()) == (800, 600)
    assert distinct_colours(image) > 8, "a hidden view exports its newest frame"
    assert place(widget) == before, "the picture is back in its layout, with its stretch"
    assert tabs.currentIndex() == current and tabs.indexOf(view) >= 0 and not view.isVisible()
    assert "devicePixelRatioF" not in widget.__dict__
    assert export_hosts() == []
    assert not widget.isHidden()

    window.show_view(key)
    QApplication.processEvents()
    assert view.isVisible() and widget.isVisible()
    assert widget.width() >= view.width() - 10 and widget.height() > view.height() // 2
    drawn = view.frames_drawn
    window.send(Run(duration=0.1))
    _wait(lambda: view.frames_drawn > drawn, 60.0)
    assert view.frames_drawn > drawn, "the view still draws"
    assert distinct_colours(view.render_image()) > 8


@pytest.mark.gl
def test_visible_opengl_view_exports_and_renders_at_its_screen_size_again(
    window: MainWindow, require_gl: None
) -> None:
    view = window.show_view("map")
    display = view.export_widget()
    if display is view:
        pytest.skip("no OpenGL canvas")
    QApplication.processEvents()
    before = place(display)
    sizes: list[tuple[int, int]] = []
    shown = view.display  # type: ignore[attr-defined]  # the canvas widget inside the exported one
    canvas = shown.canvas

    def note(*_: object) -> None:
        sizes.append(canvas.physical_size)

    shown.rendered.connect(note)
    try:
        image = view.export_image(1280, 720)
    finally:
        shown.rendered.disconnect(note)
    # The map keeps its data area square: its scene is rendered at the export's full height (not
    # an enlarged screen image), centred in the export's width.
    assert sizes and sizes[-1][1] == 720 and 720 <= sizes[-1][0] < 1280, sizes
    assert (image.width(), image.height()) == (1280, 720)
    assert distinct_colours(image) > 8
    assert place(display) == before and display.isVisible()
    assert "devicePixelRatioF" not in display.__dict__
    QApplication.processEvents()
    picture = shown.image()
    ratio = shown.devicePixelRatioF()
    assert (picture.width(), picture.height()) == (
        round(shown.width() * ratio),
        round(shown.height() * ratio),
    )


def test_recording_saves_numbered_frames_at_the_size(window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    view = window.views["synapses"]
    widget = view.export_widget()
    before = place(widget)
    window.start_recording(folder, "synapses", size=(320, 180))
    placeholder = view.findChild(QLabel, "export_placeholder")
    assert placeholder is not None and "Recording at 320 x 180" in placeholder.text()
    window.send(SetSpeed(1.0))
    window.send(Run(duration=0.3))
    _wait(lambda: len(list(folder.glob("frame_*.png"))) >= 3, 60.0)
    n = window.stop_recording()
    window.send(SetSpeed(None))
    files = sorted(folder.glob("frame_*.png"))
    assert n == len(files) >= 3
    assert [f.name for f in files] == [f"frame_{i:06d}.png" for i in range(1, n + 1)]
    for f in files:
        image = QImage(str(f))
        assert (image.width(), image.height()) == (320, 180)
    assert distinct_colours(QImage(str(files[-1]))) > 8
    assert place(widget) == before and view.findChild(QLabel, "export_placeholder") is None
    assert export_hosts() == []


def test_export_size_menu_sets_the_size_and_is_remembered(window: MainWindow, tmp_path: Path) -> None:
    menu = window.export_size_menu
    assert menu.chosen == DEFAULT_EXPORT_SIZE
    menu.set_size((320, 200))
    image = QImage(str(window.export_view("activity", tmp_path / "a.png")))
    assert (image.width(), image.height()) == (320, 200)
    assert ExportSizeMenu().chosen == (320, 200), "the next window reads the choice back"
    assert "320 x 200" in menu.custom_action.text() and menu.custom_action.isChecked()
    menu.set_size(None)
    view = window.show_view("activity")
    QApplication.processEvents()
    widget = view.export_widget()
    ratio = widget.devicePixelRatioF()
    image = QImage(str(window.export_view("activity", tmp_path / "b.jpg")))
    assert (image.width(), image.height()) == (round(widget.width() * ratio), round(widget.height() * ratio))
    assert ExportSizeMenu().chosen is None
    menu.set_size((1280, 720))
    assert menu.actions_by_size[(1280, 720)].isChecked()
    menu.set_size(DEFAULT_EXPORT_SIZE)


# -- views outside the window ---------------------------------------------------------------------
class Plain(View):
    """A view that fills itself with one colour (its picture is the whole view)."""

    key = "plain"
    title = "Plain"
    tooltip = "one colour"

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(10, 200, 30))
        painter.end()

    def draw_frame(self, frame: Any) -> None:
        pass


class Boxed(Plain):
    """A view whose picture is a widget in a box layout, between two others."""

    key = "boxed"

    def __init__(self, context: ViewContext) -> None:
        super().__init__(context)
        box = QVBoxLayout(self)
        box.addWidget(QLabel("options"))
        self.picture = Plain(context)
        box.addWidget(self.picture, 3, Qt.AlignmentFlag.AlignHCenter)
        box.addWidget(QLabel("below"), 1)

    def export_widget(self) -> QWidget:
        return self.picture


def test_default_export_widget_leaves_its_tab_and_comes_back(qtbot: QtBot) -> None:
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    view = Plain(ViewContext())
    tabs.addTab(QLabel("first"), "First")
    tabs.addTab(view, "Plain")
    tabs.setTabToolTip(1, "one colour")
    tabs.addTab(QLabel("third"), "Third")
    tabs.show()
    qtbot.waitExposed(tabs)
    assert view.export_widget() is view and not view.isVisible()
    image = view.export_image(300, 200)
    assert (image.width(), image.height()) == (300, 200)
    assert (pixels(image) == np.array([10, 200, 30], np.uint8)).all(), "the whole image is the view"
    assert tabs.count() == 3 and tabs.indexOf(view) == 1 and tabs.currentIndex() == 0
    assert tabs.tabText(1) == "Plain" and tabs.tabToolTip(1) == "one colour"
    tabs.setCurrentIndex(1)
    image = view.export_image(64, 32)
    assert (image.width(), image.height()) == (64, 32)
    assert tabs.currentWidget() is view and view.isVisible()
    assert export_hosts() == []


def test_picture_goes_back_with_its_stretch_and_alignment(qtbot: QtBot) -> None:
    view = Boxed(ViewContext())
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    layout = view.layout()
    assert isinstance(layout, QBoxLayout)
    with view.export_session(200, 100, message="away") as session:
        placeholder = session.placeholder
        assert layout.indexOf(placeholder) == 1 and layout.stretch(1) == 3
        assert placeholder.text() == "away" and view.picture.window() is session.host
        first, second = session.grab(), session.grab()
        assert first == second and (first.width(), first.height()) == (200, 100)
    assert layout.indexOf(view.picture) == 1 and layout.stretch(1) == 3
    item = layout.itemAt(1)
    assert item is not None and item.alignment() == Qt.AlignmentFlag.AlignHCenter
    assert view.picture.isVisible() and view.picture.parentWidget() is view
    with pytest.raises(RuntimeError, match="closed"):
        session.grab()


def test_top_level_view_exports_and_stays_a_window(qtbot: QtBot) -> None:
    view = Plain(ViewContext())
    qtbot.addWidget(view)
    assert view.isHidden()
    image = view.export_image(40, 30)
    assert (image.width(), image.height()) == (40, 30)
    assert view.parentWidget() is None and view.isHidden() and view.isWindow()


def test_export_scale_and_sizes(qtbot: QtBot) -> None:
    assert export_scale(1920, 1080) == pytest.approx(2.0)
    assert export_scale(3840, 2160) == pytest.approx(4.0)
    assert export_scale(320, 200) == 1.0
    view = Plain(ViewContext())
    qtbot.addWidget(view)
    session = ExportSession(view, 1001, 333, scale=1.5)
    try:
        assert session.scale == pytest.approx(1001 / round(1001 / 1.5))
        image = session.grab()
        assert (image.width(), image.height()) == (1001, 333)
    finally:
        session.close()
    with pytest.raises(ValueError, match="at least 1 x 1"):
        view.export_image(0, 10)
    with pytest.raises(ValueError, match="positive"):
        view.export_image(10, 10, scale=0.0)


# -- files ----------------------------------------------------------------------------------------
def test_save_image_writes_png_and_jpeg_by_suffix_atomically(qapp: QApplication, tmp_path: Path) -> None:
    image = QImage(64, 48, QImage.Format.Format_ARGB32)
    image.fill(QColor(200, 40, 40))
    mode = 0o666 & ~current_umask()
    for name, magic in (
        ("a.png", b"\x89PNG\r\n\x1a\n"),
        ("b.jpg", b"\xff\xd8\xff"),
        ("c.JPEG", b"\xff\xd8\xff"),
    ):
        path = save_image(image, tmp_path / name)
        assert path == tmp_path / name and path.read_bytes()[: len(magic)] == magic, name
        assert path.stat().st_mode & 0o777 == mode
        read = QImage(str(path))
        assert (read.width(), read.height()) == (64, 48)
    for bad in ("d.bmp", "e", "f.png.txt"):
        with pytest.raises(OutputError, match=r"must end in \.png, \.jpg, \.jpeg"):
            save_image(image, tmp_path / bad)
    with pytest.raises(OutputError, match="nothing to save"):
        save_image(QImage(), tmp_path / "g.png")
    with pytest.raises(OutputError, match="cannot write"):
        save_image(image, tmp_path / "missing" / "h.png")
    assert save_png(image, tmp_path / "i.jpg") == tmp_path / "i.jpg.png"
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.jpg", "c.JPEG", "i.jpg.png"], "no temporary file left"


def writers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "frame-writer"]


def test_frame_recorder_writes_in_the_background_and_numbers_on(qapp: QApplication, tmp_path: Path) -> None:
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor(0, 0, 0))
    (tmp_path / "frame_000001.png").write_bytes(b"")
    recorder = FrameRecorder(tmp_path)
    paths = [recorder.add(image) for _ in range(6)]
    assert paths[0].name == "frame_000002.png" and paths[-1].name == "frame_000007.png"
    recorder.close()
    assert recorder.written == recorder.count == 6 and all(p.is_file() for p in paths)
    assert QImage(str(paths[-1])).width() == 320
    assert writers() == []
    with pytest.raises(RuntimeError, match="no source"):
        recorder.record()


def test_frame_recorder_reports_a_frame_it_could_not_write(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(image: QImage, path: Path) -> Path:
        raise OutputError(f"{path}: disk full")

    monkeypatch.setattr("gui.export.save_image", failing)
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    recorder = FrameRecorder(tmp_path)
    recorder.add(image)
    with pytest.raises(OutputError, match="disk full"):
        recorder.close()
    recorder.close()  # reported once
    assert recorder.written == 0 and writers() == []


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1920x1080", (1920, 1080)),
        (" 640 X 480 ", (640, 480)),
        ("16x8192", (16, 8192)),
        ("800\u00d7600", (800, 600)),
    ],
)
def test_parse_size_reads_width_x_height(text: str, size: tuple[int, int]) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1920", "expected WIDTHxHEIGHT"),
        ("axb", "expected WIDTHxHEIGHT"),
        ("1920x1080x2", "expected WIDTHxHEIGHT"),
        ("-5x10", "expected WIDTHxHEIGHT"),
        ("15x100", "width must be 16 to 8192 pixels, got 15"),
        ("100x8193", "height must be 16 to 8192 pixels, got 8193"),
    ],
)
def test_parse_size_refuses_bad_sizes(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_size(text)


def test_export_during_a_recording_of_the_same_view(qtbot: QtBot) -> None:
    view = Boxed(ViewContext())
    qtbot.addWidget(view)
    view.show()
    with view.export_session(320, 180, message="recording") as outer:
        image = view.export_image(1920, 1080)  # an export while the picture is away for a recording
        assert (image.width(), image.height()) == (1920, 1080)
        assert view.picture.window() is outer.host
        assert view.picture.devicePixelRatioF() == pytest.approx(outer.scale)
        frame = outer.grab()
        assert (frame.width(), frame.height()) == (320, 180)
    assert view.picture.parentWidget() is view and "devicePixelRatioF" not in view.picture.__dict__


def test_custom_export_size_is_asked_for_and_checked(
    qapp: QApplication, settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    menu = ExportSizeMenu()
    errors: list[str] = []
    menu.error_shown.connect(errors.append)
    answers = iter([("1000x800", True), ("5x5", True), ("2000x1000", False)])
    monkeypatch.setattr("gui.export.QInputDialog.getText", lambda *a, **k: next(answers))
    menu.custom_action.trigger()
    assert menu.chosen == (1000, 800) and menu.custom_action.isChecked() and not errors
    menu.custom_action.trigger()
    assert menu.chosen == (1000, 800) and errors == [
        "export size: width must be 16 to 8192 pixels, got 5 (in '5x5')"
    ]
    menu.custom_action.trigger()  # cancelled
    assert menu.chosen == (1000, 800) and "1000 x 800" in menu.custom_action.text()
    menu.actions_by_size[None].trigger()
    assert menu.chosen is None and ExportSizeMenu().chosen is None
    menu.set_size(DEFAULT_EXPORT_SIZE)
