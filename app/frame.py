"""The simulation thread's state as the window sees it: :class:`SimState` and :class:`Status`.

What the views draw of a snapshot (frames with cached analyses, the run's
history) belongs to each experiment (``app.experiments.<key>.frame``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["SimState", "Status"]


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
