"""Writing files safely: whole files replaced atomically, with the user's permissions.

Every file Rewire Lab writes goes through :func:`write_atomic`: the content is
written to a hidden temporary file beside the target, flushed to disk and
renamed into place, so a reader (or a run killed half-way) never sees a
partial file. The file gets the permissions any new file of the user gets
(``0666`` less the umask), not the ``0600`` of a bare temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sim.errors import OutputError

#: Suffix of the temporary files :func:`write_atomic` makes (removed on any error).
TEMP_SUFFIX = ".tmp"


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no way to read it alone: set and restore at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Permission bits of a new regular file for this process: ``0o666`` less the umask."""
    return 0o666 & ~current_umask()


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place.

    Raises :class:`~sim.errors.OutputError` naming ``path`` when the file cannot be
    written (folder missing or read-only, disk full); the temporary file is removed
    on every error and on interruption.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, not a file")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), new_file_mode())
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"{path}: cannot write file ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def probe_writable(folder: Path, what: str) -> None:
    """Check that a file can be created in existing ``folder`` by creating and removing one.

    ``what`` names the target in the message (an option such as ``--checkpoint``).
    Catches read-only file systems and permissions that :func:`os.access` can miss.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rewire-lab-probe.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise OutputError(f"{what}: cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_file_target(path: str | Path, what: str) -> Path:
    """Check, before any work, that a file can be written at ``path``.

    The path must not be a folder, its folder must exist and take new files.
    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{what}: {p} is a folder; give a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{what}: folder {folder} does not exist")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{what}: {p} is not writable")
    probe_writable(folder, what)
    return p


def check_folder_target(path: str | Path, what: str) -> Path:
    """Check, before any work, that ``path`` is or can become a writable folder (nothing is created)."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise OutputError(f"{what}: {p} exists and is not a folder")
        probe_writable(p, what)
        return p
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{what}: cannot create folder {p}: {parent} is not a folder")
    probe_writable(parent, what)
    return p


class GrowingFile:
    """A file that a run writes as it goes: created empty (with the user's umask), then appended to.

    :meth:`append` writes its bytes at the end in one call where the system allows, so a
    process killed between calls leaves every earlier append whole; :meth:`put` rewrites bytes
    already written (a header). Errors are :class:`~sim.errors.OutputError` naming the file
    and ``what`` it holds. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self._what = what
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, new_file_mode())
        except OSError as exc:
            raise self._error(exc) from None

    def append(self, data: bytes) -> None:
        """Write ``data`` at the end of the file."""
        view = memoryview(data)
        try:
            os.lseek(self._fd, 0, os.SEEK_END)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise self._error(exc) from None

    def put(self, data: bytes, offset: int) -> None:
        """Overwrite the bytes at ``offset`` with ``data``."""
        try:
            os.pwrite(self._fd, data, offset)
        except OSError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        """Flush the file to disk and close it (again: nothing)."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        except OSError as exc:
            raise self._error(exc) from None
        finally:
            os.close(fd)

    def __enter__(self) -> GrowingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, exc: OSError) -> OutputError:
        return OutputError(f"{self.path}: cannot write {self._what} ({exc.strerror or exc})")
