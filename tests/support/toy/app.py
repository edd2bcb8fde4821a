"""The toy's declaration to the application core (:class:`app.experiment.AppExperiment`) and its bench."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from app.experiment import AppExperiment, BenchKnob, EventStats, Metrics
from app.headless import write_npz
from sim.engine import Engine
from sim.events import FORMED, REMOVED

#: The toy's metrics columns.
COLUMNS: tuple[str, ...] = ("t", "synapses", "formations", "eliminations", "mean_count")


class ToyEventStats:
    """Formations and removals of a run, counted chunk by chunk."""

    def __init__(self) -> None:
        self.formed = 0
        self.removed = 0

    def add(self, events: NDArray[np.void]) -> None:
        """Count one chunk of events."""
        self.formed += int(np.count_nonzero(events["kind"] == FORMED))
        self.removed += int(np.count_nonzero(events["kind"] == REMOVED))


@dataclass(frozen=True)
class ToyBenchRecord:
    """One toy measurement."""

    preset: str
    backend: str
    neurons: int
    steps_per_second: float
    realtime_factor: float

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict."""
        return asdict(self)


class ToyApp(AppExperiment):
    """Synapse count, rewiring per interval and mean count; ``degrees.npz`` at the end."""

    key: ClassVar[str] = "toy"
    columns: ClassVar[tuple[str, ...]] = COLUMNS
    data_files: ClassVar[tuple[str, ...]] = ("degrees.npz",)
    bench_knobs: ClassVar[tuple[BenchKnob, ...]] = (
        BenchKnob("--toy-sizes", "network.n", "population sizes to measure", int, metavar="N"),
    )
    bench_header: ClassVar[str] = (
        f"{'preset':<12} {'backend':<14} {'neurons':>7} {'steps/s':>10} {'realtime':>9}"
    )

    def metrics_row(self, snapshot: Any, previous: Any | None) -> dict[str, float]:
        """Totals now; formations and eliminations since ``previous``."""
        formed = snapshot.formed - (previous.formed if previous is not None else snapshot.formed)
        removed = snapshot.removed - (previous.removed if previous is not None else snapshot.removed)
        return {
            "t": snapshot.t,
            "synapses": float(snapshot.n_synapses),
            "formations": float(formed),
            "eliminations": float(removed),
            "mean_count": float(np.mean(snapshot.count)),
        }

    def event_stats(self, config: Any) -> EventStats:
        """Formations and removals."""
        return ToyEventStats()

    def write_results(self, out_dir: Path, final: Any, config: Any) -> list[Path]:
        """``degrees.npz``: the final in-degrees."""
        path = out_dir / "degrees.npz"
        write_npz(path, in_degree=np.asarray(final.in_degree))
        return [path]

    def summary(
        self, config: Any, start: Any, final: Any, metrics: Metrics, stats: EventStats, sim_wall: float
    ) -> dict[str, Any]:
        """Size and the events counted."""
        assert isinstance(stats, ToyEventStats)
        return {"neurons": config.network.n, "formed": stats.formed, "removed": stats.removed}

    def bench_one(self, config: Any, backend: str, duration: float, seed: int) -> Any:
        """Steps per second over ``duration`` model seconds, after a warm-up."""
        with Engine.build(config, backend=backend, seed=seed) as eng:
            eng.step(10)
            steps = eng.steps_for(duration)
            t0 = time.perf_counter()
            eng.step(steps)
            wall = time.perf_counter() - t0
            return ToyBenchRecord(
                config.name, eng.backend_name, config.network.n, steps / wall, duration / wall
            )

    def format_bench(self, record: Any) -> str:
        """One line of the table."""
        r = record
        speed = f"{r.steps_per_second:>10,.0f} {r.realtime_factor:>8.2f}x"
        return f"{r.preset:<12} {r.backend:<14} {r.neurons:>7} {speed}"


#: The declaration (registered by :func:`tests.support.toy.register_app`).
APP_EXPERIMENT = ToyApp()
