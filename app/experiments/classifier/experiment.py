"""The sparse classifier's declaration to the application core (:class:`app.experiment.AppExperiment`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from app import frame
from app.experiment import AppExperiment, BenchKnob, EventStats, Metrics
from app.experiments.classifier.bench import HEADER as BENCH_HEADER
from app.experiments.classifier.bench import bench_one, format_record
from app.experiments.classifier.metrics import METRIC_COLUMNS, batch_rows, last_test_accuracy
from app.headless import write_npz
from sim.events import FORMED, REMOVED
from sim.experiments.classifier.params import TABLE_NAMES

#: The figures of a run (:mod:`app.experiments.classifier.report`).
FIGURE_FILES: tuple[str, ...] = (
    "learning.png",
    "rewiring.png",
    "connectivity.png",
    "weights.png",
    "activity.png",
)


class ClassifierEvents:
    """A run's rewiring events, counted per table and kind; the last batch's kept for the figures."""

    def __init__(self) -> None:
        self.removed = [0, 0]
        self.formed = [0, 0]
        self.last: NDArray[np.void] | None = None

    def add(self, events: NDArray[np.void]) -> None:
        """Account for one chunk of events."""
        if not len(events):
            return
        for code in range(len(TABLE_NAMES)):
            mine = events["projection"] == code
            self.removed[code] += int((mine & (events["kind"] == REMOVED)).sum())
            self.formed[code] += int((mine & (events["kind"] == FORMED)).sum())
        newest = int(events["step"].max())
        self.last = events[events["step"] == newest]


class ClassifierApp(AppExperiment):
    """Per-batch learning and rewiring, the final tables, learning and connectivity figures."""

    key: ClassVar[str] = "classifier"
    columns: ClassVar[tuple[str, ...]] = METRIC_COLUMNS
    data_files: ClassVar[tuple[str, ...]] = ("connectivity.npz",)
    figure_files: ClassVar[tuple[str, ...]] = FIGURE_FILES
    progress_unit: ClassVar[str] = "epochs"
    sweep_metrics: ClassVar[tuple[str, ...]] = ("test_accuracy", "train_accuracy", "train_loss")

    bench_knobs: ClassVar[tuple[BenchKnob, ...]] = (
        BenchKnob(
            "--connectivity",
            "connectivity.p_in",
            "connection probabilities of both tables to measure (1: the dense kernel; default: the preset's)",
            float,
            metavar="P",
            also=("connectivity.p_rec",),
        ),
        BenchKnob(
            "--batch-sizes",
            "data.batch_size",
            "batch sizes to measure (default: the preset's)",
            int,
            metavar="B",
        ),
    )
    bench_header: ClassVar[str] = BENCH_HEADER

    def bench_one(self, config: Any, backend: str, duration: float, seed: int) -> Any:
        """:func:`app.experiments.classifier.bench.bench_one` (``duration``: training batches timed)."""
        return bench_one(config, backend, duration, seed)

    def format_bench(self, record: Any) -> str:
        """:func:`app.experiments.classifier.bench.format_record`."""
        return format_record(record)

    def history(self, config: Any, snapshot: Any) -> frame.History:
        """One row per training batch, and the newest batch's rewiring."""
        from app.experiments.classifier.frame import History

        return History(config.run.record_interval)

    def frame(
        self, snapshot: Any, config: Any, status: frame.Status, history: frame.History, previous: Any | None
    ) -> frame.Frame:
        """With the dense masks computed once on demand."""
        from app.experiments.classifier.frame import Frame

        return Frame(snapshot, config, status, history, previous)

    def progress_note(self, config: Any, steps: int, sim_wall: float, row: Mapping[str, float] | None) -> str:
        """Epoch, batch, the newest batch's loss and accuracy, and training samples per second."""
        speed = steps // config.data.n_steps * config.data.batch_size / sim_wall if sim_wall > 0 else 0.0
        if row is None:
            return f"{speed:,.0f} samples/s"
        return (
            f"epoch {int(row['epoch'])} batch {int(row['batch'])}: loss {row['train_loss']:.3f}, "
            f"accuracy {row['train_accuracy']:.3f}, {speed:,.0f} samples/s"
        )

    def run_line(self, summary: Mapping[str, Any]) -> str:
        """Epochs, backend and samples per second."""
        speed = summary["samples_per_second"]
        return f"{summary['epochs']:g} epochs on {summary['backend']} at {speed:,.0f} samples/s"

    def result_line(self, final: Mapping[str, float]) -> str:
        """The last batch's training accuracy and the last test accuracy."""
        test = final.get("test_accuracy", math.nan)
        shown = f"test accuracy {test:.3f}" if not math.isnan(test) else "no epoch completed"
        return f"{shown}, last batch's training accuracy {final.get('train_accuracy', math.nan):.3f}"

    def metrics_row(self, snapshot: Any, previous: Any | None) -> dict[str, float]:
        """The row of the newest batch in ``snapshot`` (NaN where none completed)."""
        rows = batch_rows(snapshot)
        return rows[-1] if rows else {c: (snapshot.t if c == "t" else math.nan) for c in self.columns}

    def metrics_rows(self, snapshot: Any, previous: Any | None) -> list[dict[str, float]]:
        """One row per training batch completed since the previous snapshot."""
        return batch_rows(snapshot)

    def event_stats(self, config: Any) -> EventStats:
        """Events counted per table and kind."""
        return ClassifierEvents()

    def write_results(self, out_dir: Path, final: Any, config: Any) -> list[Path]:
        """``connectivity.npz``: every synapse (pre, post, weight) of both tables, and the readout."""
        arrays: dict[str, NDArray[Any]] = {}
        for name, table in zip(TABLE_NAMES, (final.tin, final.trec), strict=True):
            pre, post, weight = table.coo()
            arrays |= {f"{name}_pre": pre.astype(np.int32), f"{name}_post": post, f"{name}_weight": weight}
            arrays[f"{name}_shape"] = np.array([table.n_pre, table.n_post], np.int64)
        arrays |= {"readout_weight": np.asarray(final.w_out), "readout_bias": np.asarray(final.b_out)}
        path = out_dir / "connectivity.npz"
        write_npz(path, **arrays)
        return [path]

    def summary(
        self, config: Any, start: Any, final: Any, metrics: Metrics, stats: EventStats, sim_wall: float
    ) -> dict[str, Any]:
        """Final test accuracy, samples per second, synapses, and the rewiring counted per table."""
        assert isinstance(stats, ClassifierEvents)
        trials = (final.step - start.step) // final.trial_steps
        samples = trials * config.data.batch_size
        return {
            "test_accuracy": last_test_accuracy(metrics),
            "epochs": final.t,
            "samples_per_second": samples / sim_wall if sim_wall > 0 else math.nan,
            "dense": config.dense,
            "synapses": {"in": final.tin.n_synapses, "rec": final.trec.n_synapses},
            "removed": dict(zip(TABLE_NAMES, stats.removed, strict=True)),
            "regrown": dict(zip(TABLE_NAMES, stats.formed, strict=True)),
        }

    def write_figures(
        self, out_dir: Path, metrics: Metrics, start: Any, final: Any, config: Any, stats: EventStats
    ) -> list[Path]:
        """Learning, rewiring, connectivity masks, weights and degrees, activity."""
        from app.experiments.classifier.report import write_figures

        assert isinstance(stats, ClassifierEvents)
        return write_figures(out_dir, metrics, start, final, config, stats.last)


#: The declaration the registry finds (:data:`app.experiment.BUILTIN_APP_EXPERIMENTS`).
APP_EXPERIMENT = ClassifierApp()
