"""The part of a snapshot every experiment shares, and the merge of snapshots nobody took.

An experiment's snapshot is a frozen dataclass deriving from
:class:`SnapshotBase`: read-only host copies of what its views and reports
need after the last completed step. ``RECORDS`` names its *appendable
records*: arrays of what happened since the engine's previous snapshot (the
rewiring events, one row per batch). When the window's mailbox replaces a
snapshot that nobody took, :func:`merge_snapshots` prepends the old records
to the new ones, so no event or row is ever lost; everything else in a
snapshot is either current (a state) or cumulative (a count), and the newer
snapshot's value is the right one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

_S = TypeVar("_S", bound="SnapshotBase")
_A = TypeVar("_A", bound="np.ndarray[Any, Any]")


def frozen_copy(a: _A) -> _A:
    """A read-only copy of ``a``."""
    out = a.copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class SnapshotBase:
    """Fields every snapshot has: which one, how far the run is, where and how fast it runs."""

    #: Names of the appendable record fields (arrays along their first axis).
    RECORDS: ClassVar[tuple[str, ...]] = ()

    #: Number of the snapshot within its engine (1, 2, ...).
    seq: int
    #: Steps completed.
    step: int
    #: Model time (seconds), or the experiment's measure of progress.
    t: float
    #: The backend that runs the network.
    backend: str
    #: Model seconds per wall second over the last run call (None when not measured).
    realtime_factor: float | None


def merge_snapshots(old: _S, new: _S) -> _S:
    """``new`` with the records of ``old`` (not taken) before its own; ``new`` itself when there are none."""
    if type(old) is not type(new):
        return new
    changes: dict[str, Any] = {}
    for name in new.RECORDS:
        earlier = getattr(old, name)
        if len(earlier):
            merged = np.concatenate([earlier, getattr(new, name)])
            merged.setflags(write=False)
            changes[name] = merged
    return dataclasses.replace(new, **changes) if changes else new
