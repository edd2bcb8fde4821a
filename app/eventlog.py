"""Rewiring events as they leave the engine: counted by distance, and streamed to a file.

Neither keeps the events themselves in memory, so a run of any length holds
at most one chunk of events at a time.

``events.npy`` is a NumPy array file of :data:`sim.events.EVENT_DTYPE` records
that grows as the run goes: records are appended in chunks, then the header's
length is updated in place. The header is written with room for any length,
so the file is a valid ``.npy`` after every chunk, and a run killed at any
moment leaves a file that loads with every record written before the last
header update (``numpy.load("events.npy")``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from sim.errors import OutputError
from sim.events import EVENT_DTYPE, FF, FORMED, LAT, REMOVED
from sim.files import new_file_mode
from sim.geometry import distance

#: Width of the header of ``events.npy`` (magic, version, length, dict): room for any count.
_HEADER_BYTES = 256


class EventCounts:
    """Rewiring events by projection, kind and unit-width distance bin, accumulated chunk by chunk.

    Parameters
    ----------
    side : int
        Grid side of the network (both layers are ``side x side`` tori).
    """

    def __init__(self, side: int) -> None:
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self.side = int(side)
        n_bins = math.floor(math.hypot(side // 2, side // 2)) + 1
        #: Edges of the unit-width distance bins: 0, 1, ..., n_bins.
        self.edges = np.arange(n_bins + 1, dtype=np.float64)
        #: Counts by (projection FF/LAT, kind FORMED/REMOVED, distance bin).
        self.counts = np.zeros((2, 2, n_bins), np.int64)
        #: Events counted.
        self.total = 0

    def add(self, events: NDArray[np.void]) -> None:
        """Count ``events`` (:data:`~sim.events.EVENT_DTYPE`)."""
        if not len(events):
            return
        if events.dtype != EVENT_DTYPE:
            raise ValueError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
        n_bins = self.counts.shape[2]
        d = distance(events["pre"], events["post"], self.side)
        bins = np.minimum(np.floor(d + 1e-9).astype(np.int64), n_bins - 1)
        for p, proj in enumerate((FF, LAT)):
            for k, kind in enumerate((FORMED, REMOVED)):
                sel = (events["projection"] == proj) & (events["kind"] == kind)
                self.counts[p, k] += np.bincount(bins[sel], minlength=n_bins)
        self.total += len(events)

    def of(self, projection: int) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
        """``(edges, formed, removed)`` of one projection (``FF`` or ``LAT``)."""
        p = (FF, LAT).index(projection)
        return self.edges, self.counts[p, 0].copy(), self.counts[p, 1].copy()


def _npy_header(count: int) -> bytes:
    """A version-1.0 ``.npy`` header for ``count`` event records, padded to :data:`_HEADER_BYTES`."""
    text = f"{{'descr': {EVENT_DTYPE.descr!r}, 'fortran_order': False, 'shape': ({count},), }}"
    body_len = _HEADER_BYTES - 10  # magic (6) + version (2) + length (2)
    if len(text) + 1 > body_len:
        raise AssertionError("events.npy header does not fit its reserved width")
    body = (text + " " * (body_len - len(text) - 1) + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


class EventLogWriter:
    """Appends event records to ``events.npy`` chunk by chunk (see the module docstring).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, new_file_mode())
            os.write(self._fd, _npy_header(0))
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write events ({exc.strerror or exc})") from None

    def append(self, events: NDArray[np.void]) -> None:
        """Write ``events`` after those already written, then count them in the header."""
        if not len(events):
            return
        if events.dtype != EVENT_DTYPE:
            raise ValueError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
        data = np.ascontiguousarray(events).tobytes()
        try:
            os.lseek(self._fd, 0, os.SEEK_END)
            _write_all(self._fd, data)
            self.count += len(events)
            os.pwrite(self._fd, _npy_header(self.count), 0)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write events ({exc.strerror or exc})") from None

    def close(self) -> None:
        """Flush the file to disk and close it."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write events ({exc.strerror or exc})") from None
        finally:
            os.close(fd)

    def __enter__(self) -> EventLogWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
