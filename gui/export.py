"""Writing images: single PNGs (atomically) and numbered frame sequences for videos."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PyQt6.QtGui import QImage

from sim.errors import OutputError
from sim.files import new_file_mode


def save_png(image: QImage, path: str | Path) -> Path:
    """Write ``image`` to ``path`` as PNG atomically (a temporary file renamed into place)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(path.suffix + ".png") if path.suffix else path.with_suffix(".png")
    if image.isNull():
        raise OutputError(f"{path}: nothing to save (the view has no image)")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=folder)
        os.fchmod(fd, new_file_mode())  # the user's umask, not mkstemp's 0600
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        if not image.save(tmp, "PNG"):
            raise OutputError(f"{path}: could not encode the image as PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class FrameRecorder:
    """Saves successive images as ``frame_000001.png``, ``frame_000002.png``, ... in a folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot create folder ({exc.strerror or exc})") from None
        existing = sorted(self.folder.glob("frame_*.png"))
        self.count = 0
        self._start = len(existing)

    def add(self, image: QImage) -> Path:
        """Save the next frame; returns its path."""
        self.count += 1
        return save_png(image, self.folder / f"frame_{self._start + self.count:06d}.png")
