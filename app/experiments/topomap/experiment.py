"""The topographic map's declaration to the application core (:class:`app.experiment.AppExperiment`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from app import frame
from app.experiment import AppExperiment, BenchKnob, EventStats, Metrics
from app.experiments.topomap.bench import HEADER as BENCH_HEADER
from app.experiments.topomap.bench import bench_one, format_record
from app.experiments.topomap.events import EventCounts
from app.experiments.topomap.frame import Frame, History
from app.experiments.topomap.metrics import METRIC_COLUMNS, metrics_row
from app.headless import write_npz
from sim.experiments.topomap.analysis.reference import CASE_NAMES, bamford_case, reference_values

#: The figures of a run (:mod:`app.experiments.topomap.report`).
FIGURE_FILES: tuple[str, ...] = (
    "map_quality.png",
    "synapses.png",
    "topographic_map.png",
    "receptive_field.png",
)


class TopographicMapApp(AppExperiment):
    """Map quality over time, the final connectivity, rewiring events by distance."""

    key: ClassVar[str] = "topomap"
    columns: ClassVar[tuple[str, ...]] = METRIC_COLUMNS
    data_files: ClassVar[tuple[str, ...]] = ("connectivity.npz",)
    figure_files: ClassVar[tuple[str, ...]] = FIGURE_FILES
    sweep_metrics: ClassVar[tuple[str, ...]] = ("sigma_aff_conn", "sigma_aff_weight", "ad_conn", "ad_weight")

    bench_knobs: ClassVar[tuple[BenchKnob, ...]] = (
        BenchKnob("--scales", "network.scale", "scales to measure (default: 1)", int, (1,), metavar="K"),
        BenchKnob(
            "--rewiring-rates",
            "rewiring.rate",
            "rewiring rates (attempts per second at scale 1) to measure, for the cost per call "
            "against the attempts (default: the preset's)",
            float,
            metavar="HZ",
        ),
        BenchKnob("--no-rewiring", "rewiring.enabled", "measure with rewiring switched off", switch=False),
    )
    bench_header: ClassVar[str] = BENCH_HEADER

    def bench_one(self, config: Any, backend: str, duration: float, seed: int) -> Any:
        """:func:`app.experiments.topomap.bench.bench_one`."""
        return bench_one(config, backend, duration, seed)

    def format_bench(self, record: Any) -> str:
        """:func:`app.experiments.topomap.bench.format_record`."""
        return format_record(record)

    def history(self, config: Any, snapshot: Any) -> frame.History:
        """Rows as the headless table, and events by distance."""
        return History(snapshot.side, config.run.record_interval)

    def frame(
        self, snapshot: Any, config: Any, status: frame.Status, history: frame.History, previous: Any | None
    ) -> frame.Frame:
        """With receptive fields and rates computed once on demand."""
        assert isinstance(history, History)
        return Frame(snapshot, config, status, history, previous)

    def result_line(self, final: Mapping[str, float]) -> str:
        """The final map quality."""
        return (
            f"sigma_aff {final['sigma_aff_conn']:.3f} (counts) {final['sigma_aff_weight']:.3f} (weights), "
            f"AD {final['ad_conn']:.3f} / {final['ad_weight']:.3f}"
        )

    def metrics_row(self, snapshot: Any, previous: Any | None) -> dict[str, float]:
        """Synapse totals, formations, eliminations, rates, sigma_aff and AD."""
        return metrics_row(snapshot, previous)

    def event_stats(self, config: Any) -> EventStats:
        """Events by projection, kind and distance."""
        return EventCounts(config.side)

    def write_results(self, out_dir: Path, final: Any, config: Any) -> list[Path]:
        """``connectivity.npz``: the final FF and LAT synapses (pre, post, weight)."""
        path = out_dir / "connectivity.npz"
        write_npz(
            path,
            side=np.array(final.side),
            t=np.array(final.t),
            ff_pre=final.ff.pre,
            ff_post=final.ff.post,
            ff_weight=final.ff.weight,
            lat_pre=final.lat.pre,
            lat_post=final.lat.post,
            lat_weight=final.lat.weight,
        )
        return [path]

    def summary(
        self, config: Any, start: Any, final: Any, metrics: Metrics, stats: EventStats, sim_wall: float
    ) -> dict[str, Any]:
        """Time step, size, the initial map quality, refusals and Bamford's published values."""
        case = bamford_case(config)
        return {
            "dt_ms": config.network.dt,
            "neurons_per_layer": config.n_neurons,
            "initial": {c: float(metrics[c][0]) for c in self.columns if c.startswith(("sigma", "ad"))},
            "refused_formations": {"ff": final.ff.refused, "lat": final.lat.refused},
            "bamford2010_case": CASE_NAMES.get(case) if case is not None else None,
            "reference": reference_values(config),
        }

    def write_figures(
        self, out_dir: Path, metrics: Metrics, start: Any, final: Any, config: Any, stats: EventStats
    ) -> list[Path]:
        """Map quality, synapses, the map and a receptive field (:mod:`app.experiments.topomap.report`)."""
        from app.experiments.topomap.report import write_figures

        assert isinstance(stats, EventCounts)
        return write_figures(out_dir, metrics, final, config, stats)


#: The declaration the registry finds (:data:`app.experiment.BUILTIN_APP_EXPERIMENTS`).
APP_EXPERIMENT = TopographicMapApp()
