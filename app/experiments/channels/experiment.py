"""The channel-pruning network's declaration to the application core (:class:`AppExperiment`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from app import frame
from app.experiment import AppExperiment, BenchKnob, EventStats, Metrics
from app.experiments.channels.bench import HEADER as BENCH_HEADER
from app.experiments.channels.bench import bench_one, format_record
from app.experiments.channels.compaction import COMPACTION_FILES, compact_engine, write_compaction
from app.experiments.channels.metrics import BASE_COLUMNS, columns_for, epoch_rows, last_value
from app.experiments.channels.records import RunRecords
from sim.experiments.channels.layers import blocks, parse_layers
from sim.experiments.channels.snapshot import block_label

#: The figures of a run (:mod:`app.experiments.channels.report`).
FIGURE_FILES: tuple[str, ...] = (
    "learning.png",
    "mask_over_time.png",
    "kept_per_layer.png",
    "importance.png",
    "cost.png",
)


def _n_blocks(config: Any) -> int:
    return len(blocks(parse_layers(config.network.layers)))


class ChannelsApp(AppExperiment):
    """Per-epoch learning and channel counts, compaction at the end, mask and learning figures."""

    key: ClassVar[str] = "channels"
    columns: ClassVar[tuple[str, ...]] = BASE_COLUMNS
    data_files: ClassVar[tuple[str, ...]] = COMPACTION_FILES
    figure_files: ClassVar[tuple[str, ...]] = FIGURE_FILES
    progress_unit: ClassVar[str] = "epochs"
    sweep_metrics: ClassVar[tuple[str, ...]] = ("test_accuracy", "train_accuracy", "params", "synops")

    bench_knobs: ClassVar[tuple[BenchKnob, ...]] = (
        BenchKnob(
            "--sparsities",
            "pruning.sparsity",
            "channel sparsities to measure (default: the preset's)",
            float,
            metavar="S",
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
        """:func:`app.experiments.channels.bench.bench_one` (``duration``: training batches timed)."""
        return bench_one(config, backend, duration, seed)

    def format_bench(self, record: Any) -> str:
        """:func:`app.experiments.channels.bench.format_record`."""
        return format_record(record)

    def columns_for(self, config: Any) -> tuple[str, ...]:
        """The base columns, then ``kept_1`` ... one per conv block."""
        return columns_for(_n_blocks(config))

    def history(self, config: Any, snapshot: Any) -> frame.History:
        """One row per epoch, and every record of the run."""
        from app.experiments.channels.frame import History

        return History(snapshot, config.run.record_interval)

    def frame(
        self, snapshot: Any, config: Any, status: frame.Status, history: frame.History, previous: Any | None
    ) -> frame.Frame:
        """With the grid's colours and the newest update's channels."""
        from app.experiments.channels.frame import Frame

        return Frame(snapshot, config, status, history, previous)

    def progress_note(self, config: Any, steps: int, sim_wall: float, row: Mapping[str, float] | None) -> str:
        """The newest epoch's accuracies and channels kept, and training samples per second."""
        speed = steps * config.data.batch_size / sim_wall if sim_wall > 0 else 0.0
        if row is None:
            return f"{speed:,.0f} samples/s"
        return (
            f"epoch {int(row['epoch']) + 1}: loss {row['train_loss']:.3f}, test {row['test_accuracy']:.3f}, "
            f"sparsity {row['channel_sparsity']:.2f}, {speed:,.0f} samples/s"
        )

    def run_line(self, summary: Mapping[str, Any]) -> str:
        """Epochs, backend and samples per second."""
        return (
            f"{summary['epochs']:g} epochs on {summary['backend']} at "
            f"{summary['samples_per_second']:,.0f} samples/s"
        )

    def result_line(self, final: Mapping[str, float]) -> str:
        """The last test accuracy and the channel sparsity."""
        test = final.get("test_accuracy", math.nan)
        if math.isnan(test):
            return "no epoch completed"
        return f"test accuracy {test:.3f}, channel sparsity {final.get('channel_sparsity', math.nan):.2f}"

    def metrics_row(self, snapshot: Any, previous: Any | None) -> dict[str, float]:
        """The row of the newest epoch in ``snapshot`` (NaN where none completed)."""
        rows = epoch_rows(snapshot)
        if rows:
            return rows[-1]
        return {c: (snapshot.t if c == "t" else math.nan) for c in columns_for(len(snapshot.sizes))}

    def metrics_rows(self, snapshot: Any, previous: Any | None) -> list[dict[str, float]]:
        """One row per epoch completed since the previous snapshot."""
        return epoch_rows(snapshot)

    def event_stats(self, config: Any) -> EventStats:
        """Every record of the run (filled from its snapshots by :meth:`observe`)."""
        layers = parse_layers(config.network.layers)
        convs = blocks(layers)
        return RunRecords(
            tuple(b.channels for b in convs), tuple(block_label(i, b) for i, b in enumerate(convs))
        )

    def observe(self, stats: EventStats, snapshot: Any) -> None:
        """Append the snapshot's records."""
        assert isinstance(stats, RunRecords)
        stats.observe(snapshot)

    def write_final(self, out_dir: Path, engine: Any, config: Any) -> tuple[list[Path], dict[str, Any]]:
        """Compact the final network: ``mask.npz``, ``compact_model.npz``, ``compaction.json``, and
        the numbers before and after in the summary."""
        result = compact_engine(engine)
        numbers = result.numbers()
        summary = {
            "compact_test_accuracy": result.compact_test_accuracy,
            "compact_logits_equal": result.logits_equal,
            "compact_logits_max_difference": result.logits_max_difference,
            "compact_predictions_equal": result.predictions_equal,
            "compact_predictions_differing": result.predictions_differing,
            "compact_float64_logits_max_difference": result.float64_logits_max_difference,
            "compact_float64_predictions_equal": result.float64_predictions_equal,
            "compact_exact": result.exact,
            "compact_layers": result.layers,
            "params_dense": result.params_dense,
            "params_compact": result.params_compact,
            "synops_dense": result.synops_dense,
            "synops_compact": result.synops_compact,
            "inference_ms_dense": result.inference_ms_dense,
            "inference_ms_compact": result.inference_ms_compact,
            "inference_batch": numbers["inference_batch"],
        }
        return write_compaction(out_dir, result, config), summary

    def summary(
        self, config: Any, start: Any, final: Any, metrics: Metrics, stats: EventStats, sim_wall: float
    ) -> dict[str, Any]:
        """Final test accuracy, samples per second, channels kept, and the mask's changes."""
        assert isinstance(stats, RunRecords)
        batches = final.step - start.step
        samples = batches * config.data.batch_size
        regrown = stats.regrown_per_update()
        return {
            "test_accuracy": last_value(metrics, "test_accuracy"),
            "epochs": final.t,
            "samples_per_second": samples / sim_wall if sim_wall > 0 else math.nan,
            "mode": config.pruning.mode,
            "target_sparsity": config.pruning.sparsity if config.pruning.mode != "none" else 0.0,
            "channel_sparsity": final.channel_sparsity,
            "kept": dict(zip(final.labels, final.kept, strict=True)),
            "channels": dict(zip(final.labels, final.sizes, strict=True)),
            "mask_updates": final.n_updates,
            "pruned_total": stats.removed,
            "regrown_total": stats.formed,
            "regrown_per_update": regrown.tolist(),
        }

    def write_figures(
        self, out_dir: Path, metrics: Metrics, start: Any, final: Any, config: Any, stats: EventStats
    ) -> list[Path]:
        """Learning, mask over time, kept per layer, importance, parameters and SynOps."""
        from app.experiments.channels.report import write_figures

        assert isinstance(stats, RunRecords)
        return write_figures(out_dir, metrics, start, final, config, stats)


#: The declaration the registry finds (:data:`app.experiment.BUILTIN_APP_EXPERIMENTS`).
APP_EXPERIMENT = ChannelsApp()
