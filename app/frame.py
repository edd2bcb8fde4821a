"""What the window sees of a run: the thread's :class:`Status`, each snapshot as a :class:`Frame`,
and the run's :class:`History`.

:class:`Frame` and :class:`History` are the parts every experiment shares; an
experiment's own (``app.experiments.<key>.frame``) add the analyses its views
draw, computed once on first use and cached on the frame, and what its history
keeps besides the metrics rows (the topographic map's events by distance).
Rows are made by the experiment's :meth:`~app.experiment.AppExperiment.metrics_row`,
so the window's time series has the columns of the headless ``metrics.csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.metrics import MetricsTable, write_metrics_csv

__all__ = ["Frame", "History", "SimState", "Status"]


class SimState(Enum):
    """States of the simulation thread."""

    STARTING = "starting"  #: building the first network
    IDLE = "idle"  #: built, not running (after a step, a finished run-for, a reset)
    RUNNING = "running"  #: advancing as fast as allowed
    PAUSED = "paused"  #: a run paused by the user
    FAULTED = "faulted"  #: an error stopped the run; the state is kept and can be saved or reset
    CLOSED = "closed"  #: shut down


@dataclass(frozen=True)
class Status:
    """The controller's state as of one snapshot.

    Attributes
    ----------
    state : SimState
        What the simulation thread is doing.
    generation : int
        Increases whenever the network is rebuilt or replaced (reset, preset,
        checkpoint), so views know to start their histories afresh.
    last_command : int
        Id of the last command the thread applied.
    realtime_factor : float or None
        Model seconds per wall second achieved over the last second of running
        (None while not running).
    target_speed : float or None
        The requested multiple of real time; None runs as fast as possible.
    run_until : float or None
        Model time at which a "run for" stops.
    backend, seed :
        Where and with which seed the network runs.
    pending : tuple of str
        Structural parameters changed since the build; they apply on reset.
    """

    state: SimState
    generation: int
    last_command: int
    realtime_factor: float | None
    target_speed: float | None
    run_until: float | None
    backend: str
    seed: int
    pending: tuple[str, ...] = ()


class Frame:
    """A snapshot as the views see it.

    Parameters
    ----------
    snapshot :
        The network state to draw (the experiment's :class:`sim.snapshot.SnapshotBase`).
    config :
        The configuration the network runs with (live changes included).
    status : Status
        The controller's state when the snapshot was taken.
    history : History
        The run's history, already updated with this frame.
    previous :
        The snapshot of the previous frame of the same network; interval
        quantities (rates) are measured between the two.
    """

    def __init__(
        self, snapshot: Any, config: Any, status: Status, history: History, previous: Any | None = None
    ) -> None:
        self.snapshot = snapshot
        self.config = config
        self.status = status
        self.history = history
        self.previous = previous if previous is not None and previous.step < snapshot.step else None

    @property
    def t(self) -> float:
        """Model time in seconds."""
        return float(self.snapshot.t)

    @property
    def interval(self) -> float:
        """Model seconds since the previous frame (0 for the first)."""
        return 0.0 if self.previous is None else float(self.snapshot.t - self.previous.t)


class History:
    """The time series of one network since it was built: a metrics row per recording interval.

    Parameters
    ----------
    columns :
        The metrics columns, ``t`` first.
    row :
        ``row(frame, previous_snapshot)`` makes one row.
    record_interval : float
        Model seconds between rows (``run.record_interval`` of the configuration).
    """

    def __init__(
        self,
        columns: Sequence[str],
        row: Callable[[Any, Any | None], dict[str, float]],
        record_interval: float = 1.0,
    ) -> None:
        if not record_interval > 0:
            raise ValueError(f"record_interval must be positive, got {record_interval}")
        self.record_interval = float(record_interval)
        #: The metrics rows, by column.
        self.rows = MetricsTable(columns)
        self._make_row = row
        self._last: Any | None = None

    @property
    def last_t(self) -> float | None:
        """Model time of the last row, or None before the first."""
        return self.rows.row(-1)["t"] if len(self.rows) else None

    def add(self, frame: Frame) -> bool:
        """Account for ``frame`` (:meth:`account` always), a row when one is due; True if a row was added."""
        self.account(frame)
        snap = frame.snapshot
        last_t = self.last_t
        due = last_t is None or snap.t >= last_t + self.record_interval - 1e-9
        if not due or (last_t is not None and snap.t <= last_t):
            return False
        self.rows.append(self._make_row(frame, self._last))
        self._last = snap
        return True

    def account(self, frame: Frame) -> None:
        """What the history keeps of every frame besides its rows (nothing here; an experiment's may)."""

    def restore(self, columns: Mapping[str, NDArray[np.float64]], t: float) -> None:
        """Begin with the rows of the run before ``t`` (the time series saved with a checkpoint).

        Only an empty history takes them; rows after ``t`` are left out.
        """
        if len(self.rows) or "t" not in columns:
            return
        keep = np.asarray(columns["t"]) <= t + 1e-9
        self.rows.extend({name: np.asarray(values)[keep] for name, values in columns.items()})

    def table(self) -> dict[str, NDArray[np.float64]]:
        """Column arrays of every row (the columns of the headless ``metrics.csv``)."""
        return self.rows.columns()

    def write_csv(self, path: str | Path) -> None:
        """Write the rows as CSV (the columns of the headless ``metrics.csv``), atomically."""
        write_metrics_csv(Path(path), self.rows)
