"""Commands to the simulation thread: frozen, validated when created, numbered.

Every command gets an increasing :attr:`Command.id` when it is made; the
thread applies commands in the order they were submitted and reports the id
of the last one applied in every :class:`~app.frame.Status`, so a window can
tell when a change it asked for is visible.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.backends import BACKEND_CHOICES
from sim.config import config_type
from sim.experiment import DEFAULT_EXPERIMENT
from sim.parameters import ConfigRoot

_ids = itertools.count(1)
_ids_lock = threading.Lock()


def _next_id() -> int:
    with _ids_lock:
        return next(_ids)


#: Target speeds offered by the window (multiples of real time); None is "as fast as possible".
SPEED_CHOICES: tuple[float | None, ...] = (None, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class Command:
    """Base of every command."""

    id: int = field(default_factory=_next_id, init=False, compare=False)


@dataclass(frozen=True)
class Run(Command):
    """Run until paused, or for ``duration`` seconds of model time and then stop."""

    duration: float | None = None

    def __post_init__(self) -> None:
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise ValueError(f"run duration must be a positive number of seconds, got {self.duration}")


@dataclass(frozen=True)
class Pause(Command):
    """Stop running; the thread blocks until the next command."""


@dataclass(frozen=True)
class Step(Command):
    """Advance ``count`` units, then stop.

    ``unit`` names one of the experiment's step units
    (:meth:`sim.experiment.Experiment.step_units`: ``step`` always; the
    topographic map's ``stimulus`` and ``rewiring``, a classifier's batches).
    """

    count: int = 1
    unit: str = "step"

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"step count must be a positive integer, got {self.count!r}")
        unit = self.unit.value if isinstance(self.unit, Enum) else self.unit
        if not isinstance(unit, str) or not unit:
            raise ValueError(f"step unit must be a unit name, got {self.unit!r}")
        object.__setattr__(self, "unit", unit)


@dataclass(frozen=True)
class SetSpeed(Command):
    """Run at ``target`` times real time, or as fast as possible (None)."""

    target: float | None = None

    def __post_init__(self) -> None:
        if self.target is not None and not (math.isfinite(self.target) and self.target > 0):
            raise ValueError(f"speed must be a positive multiple of real time, got {self.target}")


@dataclass(frozen=True)
class SetPublishRate(Command):
    """Publish snapshots at most ``hz`` times per wall second (the redraw rate)."""

    hz: float = 30.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.hz) and 0.5 <= self.hz <= 240.0):
            raise ValueError(f"redraw rate must be in [0.5, 240] per second, got {self.hz}")


@dataclass(frozen=True)
class SetParameter(Command):
    """Change one parameter: live ones at once, structural ones on the next :class:`Reset`."""

    path: str = ""
    value: Any = None
    #: The configuration type the path belongs to (default: that of files without ``experiment:``).
    config_type: type[ConfigRoot] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Type and range of the single value; cross-field rules are checked against the running configuration.
        root = self.config_type if self.config_type is not None else config_type(DEFAULT_EXPERIMENT)
        object.__setattr__(self, "value", root.check_param(self.path, self.value))


@dataclass(frozen=True)
class Reset(Command):
    """Rebuild the network: with ``config`` if given, else the current one with the pending changes.

    ``backend`` and ``seed`` replace the current ones when given.
    """

    config: ConfigRoot | None = None
    backend: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.backend is not None and self.backend not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, got {self.backend!r}")
        if self.seed is not None:
            root = type(self.config) if self.config is not None else config_type(DEFAULT_EXPERIMENT)
            object.__setattr__(self, "seed", root.check_param("run.seed", self.seed))


@dataclass(frozen=True)
class SaveCheckpoint(Command):
    """Write the whole state to ``path`` (atomically).

    ``history`` is the run's time series as the window recorded it (column
    name -> values, ``t`` first); the rows up to the saved state's time are
    stored with it.
    """

    path: Path = Path()
    history: Mapping[str, NDArray[np.float64]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", _checked_path(self.path))


@dataclass(frozen=True)
class LoadCheckpoint(Command):
    """Continue from checkpoint ``path``.

    With ``rebuild=False`` the checkpoint must be of the running configuration
    (it is refused otherwise, naming the differences); with ``rebuild=True`` the
    network is rebuilt from the checkpoint's own configuration.
    """

    path: Path = Path()
    rebuild: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", _checked_path(self.path))


@dataclass(frozen=True)
class EngineCommand(Command):
    """Base of an experiment's own commands (the topographic map's lesions).

    The thread calls :meth:`apply` with the engine; its return value is
    reported to the user. Errors it raises are reported and change nothing,
    as for every command.
    """

    def apply(self, engine: Any) -> str:
        """Do the command on ``engine``; return what was done, in a few words."""
        raise NotImplementedError


@dataclass(frozen=True)
class Sync(Command):
    """Does nothing; :meth:`SimController.sync` waits until the thread reaches it."""

    done: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class Shutdown(Command):
    """Close the engine and end the thread."""


def _checked_path(path: Any) -> Path:
    if not isinstance(path, (str, Path)) or not str(path):
        raise ValueError(f"a file path is needed, got {path!r}")
    return Path(path)
