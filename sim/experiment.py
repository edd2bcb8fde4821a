"""What an experiment declares to the shared core, and the registry that finds experiments by key.

The core (engine, checkpoints, backend registry, configuration loading) knows
no experiment: it asks the :class:`Experiment` that a configuration belongs to
(``config.experiment``, the key its file names with ``experiment:``) for what
differs. An experiment package subclasses :class:`Experiment` once and exposes
the instance as ``EXPERIMENT`` in the module that :data:`BUILTIN_EXPERIMENTS`
names; the registry imports that module by name the first time the key is
asked for, so the core has no import of any experiment. Tests and plug-ins add
their own with :func:`register_experiment`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import NDArray

from sim.errors import ConfigError, short_repr
from sim.parameters import ConfigRoot

#: The experiments that come with Rewire Lab: key -> the module whose ``EXPERIMENT`` declares it.
BUILTIN_EXPERIMENTS: dict[str, str] = {
    "topomap": "sim.experiments.topomap.experiment",
    "classifier": "sim.experiments.classifier.experiment",
    "channels": "sim.experiments.channels.experiment",
}
#: What a configuration file without an ``experiment:`` key configures.
DEFAULT_EXPERIMENT = "topomap"

#: Shape and dtype of every array of a state, by name (what a checkpoint must hold).
Layout = dict[str, tuple[tuple[int, ...], np.dtype[Any]]]


class BackendEntry(NamedTuple):
    """One way to run an experiment: a factory and why it cannot run here (None when it can)."""

    create: Callable[[], Any]
    unavailable_reason: Callable[[], str | None]


class Experiment:
    """The declaration of one experiment: its configuration, state, backends, clock and snapshot.

    Subclasses set the class attributes and implement the methods; the core
    calls nothing else. A *state* is the experiment's own host-side object
    holding everything a run needs to continue bit for bit; a *backend* is
    what advances it (the engine hands it over with :meth:`attach`).
    """

    #: The key files name with ``experiment:`` (``topomap``).
    key: ClassVar[str]
    #: What it is, in a few words (lists and menus).
    title: ClassVar[str]
    #: Its configuration root.
    config_type: ClassVar[type[ConfigRoot]]
    #: Unit of :meth:`step_seconds`' time in messages ("model s"); None: a step has no duration.
    time_unit: ClassVar[str | None] = "s"

    # -- backends ---------------------------------------------------------------------------------
    def backends(self) -> Mapping[str, BackendEntry]:
        """The backends that run it, in the order ``auto`` prefers them."""
        raise NotImplementedError

    # -- building and running ---------------------------------------------------------------------
    def build_state(self, config: Any, seed: int) -> Any:
        """A new network of ``config`` drawn from ``seed``."""
        raise NotImplementedError

    def attach(self, backend: Any, state: Any, config: Any, seed: int) -> None:
        """Give ``backend`` a copy of ``state`` and everything it needs of ``config`` and ``seed``."""
        raise NotImplementedError

    def apply_live(self, backend: Any, old: Any, new: Any, seed: int) -> None:
        """Bring ``backend`` from configuration ``old`` to ``new`` (live parameters only differ)."""
        raise NotImplementedError

    def state_step(self, state: Any) -> int:
        """The steps completed by ``state``."""
        raise NotImplementedError

    def model_seconds(self, config: Any, steps: int) -> float:
        """Model seconds of ``steps`` steps (the clock that durations and real-time factors use)."""
        raise NotImplementedError

    def steps_for(self, config: Any, seconds: float) -> int:
        """Whole number of steps in ``seconds`` of model time."""
        raise NotImplementedError

    def step_units(self, config: Any) -> dict[str, int]:
        """The named units a user steps by (``step`` first), each as a number of steps."""
        return {"step": 1}

    def snapshot(
        self,
        state: Any,
        config: Any,
        *,
        seq: int,
        backend: str,
        realtime_factor: float | None,
        events: NDArray[np.void],
        records: Mapping[str, NDArray[np.void]],
    ) -> Any:
        """A read-only snapshot of ``state`` (a :class:`sim.snapshot.SnapshotBase`).

        ``events`` are the structural events since the previous snapshot;
        ``records`` the other appendable records a backend reported since then
        (its ``take_records()``, by name; a classifier's per-batch rows).
        """
        raise NotImplementedError

    # -- checkpoints ------------------------------------------------------------------------------
    def expected_layout(self, config: Any) -> Layout:
        """Shape and dtype of every state array of ``config``; ``ValueError`` when too large."""
        raise NotImplementedError

    def check_fits(self, config: Any) -> None:
        """Raise :class:`ConfigError` when a network of ``config`` cannot fit in this machine's memory."""

    def state_to_arrays(self, state: Any) -> dict[str, NDArray[Any]]:
        """``{name: array}`` of the whole state (names and shapes as :meth:`expected_layout`)."""
        raise NotImplementedError

    def state_from_arrays(self, arrays: Mapping[str, NDArray[Any]], config: Any) -> Any:
        """Inverse of :meth:`state_to_arrays` (arrays already of the expected layout)."""
        raise NotImplementedError

    def state_problem(self, state: Any, config: Any, seed: int | None = None) -> str | None:
        """The first value of ``state`` that the kernels of ``config`` must not be given, or None.

        ``seed`` is the run's (default ``run.seed``), for checks against what it draws.
        """
        raise NotImplementedError


_lock = threading.Lock()
_registered: dict[str, Experiment] = {}


def register_experiment(experiment: Experiment) -> None:
    """Make ``experiment`` known under its key (tests and plug-ins; replaces one of the same key)."""
    with _lock:
        _registered[experiment.key] = experiment


def unregister_experiment(key: str) -> None:
    """Forget an experiment added with :func:`register_experiment` (built-ins load again on demand)."""
    with _lock:
        _registered.pop(key, None)


def experiment_keys() -> tuple[str, ...]:
    """Every known experiment key: the built-in ones first, then those registered."""
    with _lock:
        extra = tuple(k for k in _registered if k not in BUILTIN_EXPERIMENTS)
    return (*BUILTIN_EXPERIMENTS, *extra)


def get_experiment(key: str) -> Experiment:
    """The experiment declared under ``key``; :class:`ConfigError` naming the known keys otherwise."""
    with _lock:
        found = _registered.get(key) if isinstance(key, str) else None
    if found is not None:
        return found
    module = BUILTIN_EXPERIMENTS.get(key) if isinstance(key, str) else None
    if module is None:
        known = ", ".join(experiment_keys())
        raise ConfigError(f"unknown experiment {short_repr(key)} (known: {known})", path="experiment")
    experiment = importlib.import_module(module).EXPERIMENT
    if (
        not isinstance(experiment, Experiment) or experiment.key != key
    ):  # pragma: no cover - a packaging error
        raise TypeError(f"{module}.EXPERIMENT does not declare experiment {key!r}")
    with _lock:
        return _registered.setdefault(key, experiment)


def experiment_of(config: ConfigRoot) -> Experiment:
    """The experiment ``config`` is a configuration of."""
    return get_experiment(config.experiment)


def experiment_key_of(data: Mapping[str, Any], source: str | None = None) -> str:
    """The experiment a configuration mapping names with ``experiment:`` (default: the topographic map).

    An unknown key is refused in one line naming the known ones.
    """
    key = data.get("experiment", DEFAULT_EXPERIMENT)
    if not isinstance(key, str) or key not in experiment_keys():
        known = ", ".join(experiment_keys())
        raise ConfigError(
            f"unknown experiment {short_repr(key)} (known: {known})", source=source, path="experiment"
        )
    return key


def experiment_title(key: str) -> str:
    """The title of experiment ``key``, or the key itself when no experiment has it."""
    try:
        return get_experiment(key).title
    except ConfigError:
        return key
