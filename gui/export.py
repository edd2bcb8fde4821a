"""Writing images: single PNG or JPEG files (atomically), numbered frame sequences, the export size.

* :func:`save_image` writes a ``QImage`` as PNG (``.png``) or JPEG (``.jpg``,
  ``.jpeg``), through a temporary file renamed into place, with the user's
  umask; :func:`save_png` always writes PNG.
* :class:`FrameRecorder` saves ``frame_000001.png``, ``frame_000002.png``, ...
* :func:`parse_size` reads an export size such as ``1920x1080``.
* :class:`ExportSizeMenu` is the "Export size" submenu of the window: common
  sizes, the on-screen size or a custom one; the choice is remembered in the
  application's settings.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QSettings, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QImage
from PyQt6.QtWidgets import QInputDialog, QMenu, QWidget

from sim.errors import OutputError
from sim.files import write_atomic

__all__ = [
    "DEFAULT_EXPORT_SIZE",
    "IMAGE_SUFFIXES",
    "MAX_SIDE",
    "MIN_SIDE",
    "SIZE_PRESETS",
    "ExportSizeMenu",
    "FrameRecorder",
    "ImageSource",
    "format_size",
    "image_format",
    "parse_size",
    "save_image",
    "save_png",
]

#: Image file types by suffix (lower case) and the Qt format that writes them.
IMAGE_SUFFIXES: dict[str, str] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: JPEG quality (0 to 100) of exported images: high, since they go on slides and into papers.
JPEG_QUALITY = 92
#: Smallest and largest width or height of an exported image, in pixels.
MIN_SIDE, MAX_SIDE = 16, 8192
#: The export size used unless the user chose another: slide size (Full HD).
DEFAULT_EXPORT_SIZE: tuple[int, int] = (1920, 1080)
#: The sizes offered in the window's "Export size" menu, with a short name each.
SIZE_PRESETS: tuple[tuple[tuple[int, int], str], ...] = (
    ((1920, 1080), "Full HD"),
    ((1280, 720), "HD"),
    ((3840, 2160), "4K"),
)

_SIZE = re.compile(r"\s*(\d+)\s*[xX\u00d7]\s*(\d+)\s*")


def parse_size(text: str) -> tuple[int, int]:
    """Read ``"WIDTHxHEIGHT"`` (e.g. ``"1920x1080"``) as ``(width, height)`` in pixels.

    Raises :class:`ValueError` with a one-line message when ``text`` is not of
    that form or a side lies outside :data:`MIN_SIDE` to :data:`MAX_SIDE`.
    """
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected WIDTHxHEIGHT in pixels, such as 1920x1080; got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise ValueError(f"{name} must be {MIN_SIDE} to {MAX_SIDE} pixels, got {value} (in {text!r})")
    return width, height


def format_size(size: tuple[int, int]) -> str:
    """``(1920, 1080)`` as ``"1920x1080"`` (what :func:`parse_size` reads)."""
    return f"{size[0]}x{size[1]}"


def image_format(path: str | Path) -> str:
    """The Qt image format (``"PNG"`` or ``"JPEG"``) that the suffix of ``path`` asks for.

    Raises :class:`~sim.errors.OutputError` for any other suffix.
    """
    suffix = Path(path).suffix.lower()
    try:
        return IMAGE_SUFFIXES[suffix]
    except KeyError:
        kinds = ", ".join(IMAGE_SUFFIXES)
        got = f"'{Path(path).suffix}'" if suffix else "no suffix"
        raise OutputError(f"{path}: the file name must end in {kinds}; got {got}") from None


def save_image(image: QImage, path: str | Path, *, quality: int | None = None) -> Path:
    """Write ``image`` to ``path`` atomically, as PNG or JPEG by the suffix (see :func:`image_format`).

    The image is written to a temporary file beside ``path`` (with the
    permissions of any new file of the user) and renamed into place, so a
    reader never sees a partial file. ``quality`` (0 to 100) defaults to
    Qt's for PNG and to :data:`JPEG_QUALITY` for JPEG. Raises
    :class:`~sim.errors.OutputError` naming ``path`` when the suffix is not
    supported, the image is empty or the file cannot be written.
    """
    path = Path(path)
    fmt = image_format(path)
    if image.isNull():
        raise OutputError(f"{path}: nothing to save (the view has no image)")
    if quality is None:
        quality = JPEG_QUALITY if fmt == "JPEG" else -1
    if fmt == "JPEG" and image.hasAlphaChannel():
        image = image.convertToFormat(QImage.Format.Format_RGB32)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, not a file")
    encoded = QByteArray()
    buffer = QBuffer(encoded)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buffer, fmt, quality)
    buffer.close()
    if not ok:
        raise OutputError(f"{path}: could not encode the image as {fmt}")
    data = encoded.data()
    write_atomic(path, lambda fh: fh.write(data))
    return path


def save_png(image: QImage, path: str | Path) -> Path:
    """Write ``image`` as PNG atomically; ``.png`` is appended to a path with another suffix."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    return save_image(image, path)


class ImageSource(Protocol):
    """Where a :class:`FrameRecorder` takes its frames from (an export session of a view)."""

    def grab(self) -> QImage:
        """The picture as it is now."""
        ...

    def close(self) -> None:
        """Stop: nothing more will be grabbed."""
        ...


class FrameRecorder:
    """Saves successive images as ``frame_000001.png``, ``frame_000002.png``, ... in a folder.

    Numbering continues after the frames already in the folder. Frames are
    encoded and written by a worker thread (PNG encoding takes longer than
    drawing a frame at slide size, and Qt encodes without holding Python's
    lock), at most :attr:`QUEUE_SIZE` frames behind: :meth:`add` waits while
    the worker is that far behind. A frame that cannot be written is reported
    by the next :meth:`add` or by :meth:`close`. With a ``source``,
    :meth:`record` takes each frame from it and :meth:`close` closes it.
    """

    #: Frames waiting to be written at most.
    QUEUE_SIZE = 4
    #: Seconds the worker waits for a frame before it ends (a new frame starts another).
    IDLE_SECONDS = 0.5

    def __init__(self, folder: str | Path, source: ImageSource | None = None) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot create folder ({exc.strerror or exc})") from None
        existing = sorted(self.folder.glob("frame_*.png"))
        self.source = source
        #: Frames handed to the recorder.
        self.count = 0
        #: Frames written to files.
        self.written = 0
        self._start = len(existing)
        self._queue: queue.Queue[tuple[QImage, Path] | None] = queue.Queue(maxsize=self.QUEUE_SIZE)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._error: OutputError | None = None
        self._reported = False

    def add(self, image: QImage) -> Path:
        """Hand over the next frame (written soon after); returns the path it gets.

        Raises :class:`~sim.errors.OutputError` when an earlier frame could not be written.
        """
        self._raise_error()
        self.count += 1
        path = self.folder / f"frame_{self._start + self.count:06d}.png"
        image_format(path)
        self._queue.put((image, path))
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._write_frames, name="frame-writer", daemon=True)
                self._worker.start()
        return path

    def record(self) -> Path:
        """Hand over the source's picture as the next frame; returns the path it gets."""
        if self.source is None:
            raise RuntimeError("this recorder has no source; pass images to add()")
        return self.add(self.source.grab())

    def close(self) -> None:
        """Write the frames handed over, stop the worker and close the source (again: nothing).

        Raises :class:`~sim.errors.OutputError` when a frame could not be written
        and no :meth:`add` has said so yet.
        """
        self._queue.join()
        with self._lock:
            worker, self._worker = self._worker, None
            if worker is not None:
                self._queue.put(None)
        if worker is not None:
            worker.join()
        source, self.source = self.source, None
        if source is not None:
            source.close()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None and not self._reported:
            self._reported = True
            raise self._error

    def _write_frames(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            try:
                if item is None:
                    return
                image, path = item
                if self._error is None:  # after a failure the rest is dropped, not half written
                    save_image(image, path)
                    self.written += 1
            except OutputError as exc:
                self._error = exc
            except Exception as exc:  # reported like a write error, so that the recording stops
                self._error = OutputError(f"{self.folder}: could not write a frame ({exc})")
            finally:
                self._queue.task_done()


class ExportSizeMenu(QMenu):
    """The window's "Export size" submenu: common sizes, the on-screen size or a custom size.

    :attr:`chosen` is the chosen size, or None for the on-screen size. The
    choice is stored under :attr:`KEY` in the application's settings and read
    back by the next window.

    Signals
    -------
    error_shown(str)
        A custom size typed in was refused (the message says why).
    """

    error_shown = pyqtSignal(str)
    #: Settings key of the chosen size (``"1920x1080"`` or ``"screen"``).
    KEY = "export/size"
    #: Makes the settings store (tests replace it with a file of their own).
    settings: Callable[[], QSettings] = QSettings

    def __init__(self, title: str = "Export &size", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.setObjectName("export_size_menu")
        self._size: tuple[int, int] | None = self._load()
        group = QActionGroup(self)
        self.actions_by_size: dict[tuple[int, int] | None, QAction] = {}
        for size, name in SIZE_PRESETS:
            default = " (default)" if size == DEFAULT_EXPORT_SIZE else ""
            self._add_choice(group, f"{size[0]} x {size[1]} ({name}){default}", size)
        self._add_choice(group, "On-screen size", None)
        self.addSeparator()
        self.custom_action = QAction("Custom size…", self)
        self.custom_action.setCheckable(True)
        self.custom_action.setToolTip("Type a width and height in pixels, such as 1600x900")
        self.custom_action.triggered.connect(self._on_custom)
        group.addAction(self.custom_action)
        self.addAction(self.custom_action)
        self.setToolTipsVisible(True)
        self._show_choice()

    def _add_choice(self, group: QActionGroup, text: str, size: tuple[int, int] | None) -> None:
        action = QAction(text, self)
        action.setCheckable(True)
        tip = "the size the view has on screen" if size is None else f"{size[0]} x {size[1]} pixels"
        action.setToolTip(f"Export views and record frames at {tip}")
        action.triggered.connect(lambda _checked=False, s=size: self.set_size(s))
        group.addAction(action)
        self.addAction(action)
        self.actions_by_size[size] = action

    @property
    def chosen(self) -> tuple[int, int] | None:
        """The chosen export size ``(width, height)`` in pixels, or None for the on-screen size."""
        return self._size

    def describe(self) -> str:
        """The chosen size in words, for messages: ``"1920 x 1080"`` or ``"on-screen size"``."""
        return "on-screen size" if self._size is None else f"{self._size[0]} x {self._size[1]}"

    def set_size(self, size: tuple[int, int] | None) -> None:
        """Choose ``size`` (None: the on-screen size) and remember it."""
        if size is not None:
            size = parse_size(format_size(size))  # the same limits as typed sizes
        self._size = size
        type(self).settings().setValue(self.KEY, "screen" if size is None else format_size(size))
        self._show_choice()

    def _load(self) -> tuple[int, int] | None:
        stored = type(self).settings().value(self.KEY, format_size(DEFAULT_EXPORT_SIZE))
        if stored == "screen":
            return None
        try:
            return parse_size(str(stored))
        except ValueError:  # a hand-edited or damaged setting: use the default
            return DEFAULT_EXPORT_SIZE

    def _show_choice(self) -> None:
        action = self.actions_by_size.get(self._size)
        custom = action is None
        self.custom_action.setText(
            f"Custom size ({self._size[0]} x {self._size[1]})…" if custom and self._size else "Custom size…"
        )
        (self.custom_action if custom else action).setChecked(True)  # type: ignore[union-attr]

    def _on_custom(self) -> None:
        current = format_size(self._size or DEFAULT_EXPORT_SIZE)
        text, ok = QInputDialog.getText(
            self.parentWidget(), "Export size", "Width x height in pixels (such as 1600x900):", text=current
        )
        if ok:
            try:
                self.set_size(parse_size(text))
            except ValueError as exc:
                self.error_shown.emit(f"export size: {exc}")
        self._show_choice()  # a cancelled or refused entry leaves the previous choice checked
