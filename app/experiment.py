"""What an experiment declares to the application core: metrics, outputs, figures and summary.

The headless commands (``run``, ``bench``) and the window's time series know no
experiment: they ask the :class:`AppExperiment` registered under the
configuration's experiment key (``config.experiment``) for its metrics columns,
how a snapshot becomes a row, the files and figures a run writes and what its
summary says. An experiment package on this layer subclasses
:class:`AppExperiment` once and exposes the instance as ``APP_EXPERIMENT`` in
the module that :data:`BUILTIN_APP_EXPERIMENTS` names; the registry imports it
by name, so the core has no import of any experiment. Tests and plug-ins add
their own with :func:`register_app_experiment`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from app.frame import Frame, History, Status
from sim.errors import ConfigError, short_repr

#: The experiments that come with Rewire Lab: key -> the module whose ``APP_EXPERIMENT`` declares it.
BUILTIN_APP_EXPERIMENTS: dict[str, str] = {
    "topomap": "app.experiments.topomap.experiment",
    "classifier": "app.experiments.classifier.experiment",
    "channels": "app.experiments.channels.experiment",
}

#: Column name -> values (``t`` first): a run's metrics table.
Metrics = Mapping[str, NDArray[np.float64]]


@dataclass(frozen=True)
class BenchKnob:
    """A command-line option of ``bench`` that the experiment offers.

    With ``switch`` set, the option is a flag that sets parameter ``path`` to
    ``switch``; otherwise it takes values of ``kind`` to sweep ``path`` over
    (``default`` when not given; an empty default keeps the preset's value).
    Each value also goes to the parameters ``also`` names (one option for
    several parameters that move together).
    """

    flag: str
    path: str
    help: str
    kind: type = float
    default: tuple[Any, ...] = ()
    metavar: str | None = None
    switch: Any = None
    also: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Every parameter the option sets."""
        return (self.path, *self.also)


class EventStats(Protocol):
    """Accumulates a run's structural events chunk by chunk (for figures and the summary)."""

    def add(self, events: NDArray[np.void]) -> None:
        """Account for one chunk of events (:data:`sim.events.EVENT_DTYPE`)."""


class AppExperiment:
    """The declaration of one experiment to the application layer."""

    #: The experiment key (as :attr:`sim.experiment.Experiment.key`).
    key: ClassVar[str]
    #: Columns of ``metrics.csv`` and of the window's time series, ``t`` first.
    columns: ClassVar[tuple[str, ...]]
    #: Data files a run writes besides ``metrics.csv``, ``summary.json`` and ``events.npy``.
    data_files: ClassVar[tuple[str, ...]] = ()
    #: Figure files a run writes.
    figure_files: ClassVar[tuple[str, ...]] = ()
    #: Unit of the progress bar and durations ("model s").
    progress_unit: ClassVar[str] = "model s"
    #: The metrics a sweep plots against its swept parameters and over time (default: every column
    #: but ``t``).
    sweep_metrics: ClassVar[tuple[str, ...]] = ()

    #: What ``bench`` can sweep or switch for this experiment.
    bench_knobs: ClassVar[tuple[BenchKnob, ...]] = ()
    #: The header line of the benchmark table.
    bench_header: ClassVar[str] = ""

    def bench_one(self, config: Any, backend: str, duration: float, seed: int) -> Any:
        """Measure ``config`` on ``backend`` for ``duration``; a record with ``as_dict()``."""
        raise NotImplementedError

    def format_bench(self, record: Any) -> str:
        """One line of the benchmark table."""
        raise NotImplementedError

    def columns_for(self, config: Any) -> tuple[str, ...]:
        """The metrics columns of a run of ``config`` (:attr:`columns`, unless they depend on the
        network: one per layer, say)."""
        return self.columns

    def history(self, config: Any, snapshot: Any) -> History:
        """A new, empty history of a network of ``config`` (whose first snapshot is ``snapshot``)."""
        return History(
            self.columns_for(config),
            lambda frame, previous: self.metrics_row(frame.snapshot, previous),
            config.get("run.record_interval"),
        )

    def frame(
        self, snapshot: Any, config: Any, status: Status, history: History, previous: Any | None
    ) -> Frame:
        """``snapshot`` as the views see it (the experiment's frame type, with its analyses)."""
        return Frame(snapshot, config, status, history, previous)

    def progress_note(self, config: Any, steps: int, sim_wall: float, row: Mapping[str, float] | None) -> str:
        """What the progress bar shows beside the progress: the speed (and the newest metrics ``row``)."""
        from sim.experiment import experiment_of

        rtf = experiment_of(config).model_seconds(config, steps) / sim_wall if sim_wall > 0 else 0.0
        return f"{rtf:.1f}x real time"

    def run_line(self, summary: Mapping[str, Any]) -> str:
        """How long the run was and how fast, for the line ``run`` prints at the end."""
        speed = summary["realtime_factor"]
        return f"{summary['duration_s']:g} s on {summary['backend']} at {speed:.1f}x real time"

    def result_line(self, final: Mapping[str, float]) -> str:
        """The final metrics in a few words, for the line ``run`` prints at the end."""
        shown = [c for c in final if c != "t"][:4]
        return ", ".join(f"{c} {final[c]:.4g}" for c in shown)

    def metrics_row(self, snapshot: Any, previous: Any | None) -> dict[str, float]:
        """The metrics row of ``snapshot``; interval quantities are over the time since ``previous``."""
        raise NotImplementedError

    def metrics_rows(self, snapshot: Any, previous: Any | None) -> list[dict[str, float]]:
        """The rows a headless run records at ``snapshot``: one (:meth:`metrics_row`) by default.

        An experiment whose rows are its snapshots' records (a classifier's
        batches) returns one per record, and none when there is none.
        """
        return [self.metrics_row(snapshot, previous)]

    def event_stats(self, config: Any) -> EventStats:
        """A fresh accumulator of a run's events."""
        raise NotImplementedError

    def observe(self, stats: EventStats, snapshot: Any) -> None:
        """Let ``stats`` keep what its figures need of every snapshot a headless run takes (each
        once, in order: their records together are the run's); nothing by default."""

    def write_results(self, out_dir: Path, final: Any, config: Any) -> list[Path]:
        """Write the run's final data files (:attr:`data_files`) atomically; return their paths."""
        return []

    def write_final(self, out_dir: Path, engine: Any, config: Any) -> tuple[list[Path], dict[str, Any]]:
        """Outputs that need the whole final state (``engine`` is still open): files written
        atomically, and what they add to ``summary.json``. None by default."""
        return [], {}

    def summary(
        self, config: Any, start: Any, final: Any, metrics: Metrics, stats: EventStats, sim_wall: float
    ) -> dict[str, Any]:
        """What the experiment adds to ``summary.json`` (``sim_wall``: wall seconds spent advancing)."""
        return {}

    def write_figures(
        self, out_dir: Path, metrics: Metrics, start: Any, final: Any, config: Any, stats: EventStats
    ) -> list[Path]:
        """Write the run's figures (:attr:`figure_files`) of the run from ``start`` to ``final``; return
        their paths."""
        return []


_lock = threading.Lock()
_registered: dict[str, AppExperiment] = {}


def register_app_experiment(experiment: AppExperiment) -> None:
    """Make ``experiment`` known under its key (tests and plug-ins)."""
    with _lock:
        _registered[experiment.key] = experiment


def get_app_experiment(key: str) -> AppExperiment:
    """The application declaration of experiment ``key``."""
    with _lock:
        found = _registered.get(key)
    if found is not None:
        return found
    module = BUILTIN_APP_EXPERIMENTS.get(key)
    if module is None:
        raise ConfigError(f"experiment {short_repr(key)} has no headless outputs declared", path="experiment")
    experiment = importlib.import_module(module).APP_EXPERIMENT
    if not isinstance(experiment, AppExperiment) or experiment.key != key:
        raise TypeError(f"{module}.APP_EXPERIMENT does not declare experiment {key!r}")
    with _lock:
        return _registered.setdefault(key, experiment)


def app_experiment_of(config: Any) -> AppExperiment:
    """The application declaration of the experiment ``config`` configures."""
    return get_app_experiment(config.experiment)


def all_run_files(keys: Sequence[str]) -> tuple[str, ...]:
    """Every data and figure file name a run of any of ``keys`` may write."""
    names: list[str] = []
    for key in keys:
        try:
            exp = get_app_experiment(key)
        except ConfigError:  # an experiment without headless outputs writes none
            continue
        names += [n for n in (*exp.data_files, *exp.figure_files) if n not in names]
    return tuple(names)
