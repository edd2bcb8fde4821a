"""Structural events as they leave the engine, streamed to a file.

The events themselves are not kept in memory, so a run of any length holds
at most one chunk of events at a time.

``events.npy`` is a NumPy array file of :data:`sim.events.EVENT_DTYPE` records
that grows as the run goes: records are appended in chunks, then the header's
length is updated in place. The header is written with room for any length,
so the file is a valid ``.npy`` after every chunk, and a run killed at any
moment leaves a file that loads with every record written before the last
header update (``numpy.load("events.npy")``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sim.events import EVENT_DTYPE
from sim.files import GrowingFile

#: Width of the header of ``events.npy`` (magic, version, length, dict): room for any count.
_HEADER_BYTES = 256


def _npy_header(count: int) -> bytes:
    """A version-1.0 ``.npy`` header for ``count`` event records, padded to :data:`_HEADER_BYTES`."""
    text = f"{{'descr': {EVENT_DTYPE.descr!r}, 'fortran_order': False, 'shape': ({count},), }}"
    body_len = _HEADER_BYTES - 10  # magic (6) + version (2) + length (2)
    if len(text) + 1 > body_len:
        raise AssertionError("events.npy header does not fit its reserved width")
    body = (text + " " * (body_len - len(text) - 1) + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


class EventLogWriter(GrowingFile):
    """Appends event records to ``events.npy`` chunk by chunk (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "events")
        self.count = 0
        self.append(_npy_header(0))

    def append_events(self, events: NDArray[np.void]) -> None:
        """Write ``events`` after those already written, then count them in the header."""
        if not len(events):
            return
        if events.dtype != EVENT_DTYPE:
            raise ValueError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
        self.append(np.ascontiguousarray(events).tobytes())
        self.count += len(events)
        self.put(_npy_header(self.count), 0)
