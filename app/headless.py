"""Headless runs: run a preset for its duration and write metrics, summary, connectivity and figures.

Output folder layout::

    metrics.csv        one row per recording interval (t = 0 is the initial network)
    summary.json       configuration, seed, backend, final metrics, real-time factor
    connectivity.npz   final FF and LAT synapses (pre, post, weight)
    events.npz         every synapse formed or removed (step, pre, post, projection, kind)
    *.png              figures (see app.report)

Every file is written atomically; ``metrics.csv`` is rewritten after every
record, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.analysis import receptive_fields
from sim.analysis.reference import CASE_NAMES, case_of, reference_values
from sim.checkpoint import write_atomic
from sim.config import ModelConfig
from sim.engine import Engine
from sim.errors import OutputError
from sim.snapshot import Snapshot

METRIC_COLUMNS: tuple[str, ...] = (
    "t",
    "ff_synapses",
    "lat_synapses",
    "formations",
    "eliminations",
    "rate_source",
    "rate_target",
    "sigma_aff_conn",
    "sigma_aff_weight",
    "ad_conn",
    "ad_weight",
)


@dataclass(frozen=True)
class RunResult:
    """What a headless run produced."""

    out_dir: Path
    metrics: dict[str, NDArray[np.float64]]
    summary: dict[str, Any]
    files: list[Path]


def prepare_output_dir(path: Path) -> Path:
    """Create ``path`` if needed and check that files can be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise OutputError(f"{path}: output path exists and is not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    return path


def map_metrics(snap: Snapshot) -> dict[str, float]:
    """sigma_aff and AD (network means) on FF counts and weights."""
    n = snap.side
    counts = receptive_fields(snap.ff.pre, snap.ff.post, n)
    weights = receptive_fields(snap.ff.pre, snap.ff.post, n, weights=snap.ff.weight)
    return {
        "sigma_aff_conn": counts.mean_sigma_aff,
        "sigma_aff_weight": weights.mean_sigma_aff,
        "ad_conn": counts.mean_ad,
        "ad_weight": weights.mean_ad,
    }


def counts_row(snap: Snapshot, prev: Snapshot | None) -> dict[str, float]:
    """The columns of a metrics row other than the map metrics.

    Synapse totals at ``snap``; formations and eliminations (both projections)
    and mean source and target rates over the interval since ``prev`` (zeros
    without a previous snapshot or interval).
    """
    formations = eliminations = rate_src = rate_tgt = 0.0
    if prev is not None and snap.t > prev.t:
        interval = snap.t - prev.t
        formations = float(snap.ff.formed + snap.lat.formed - prev.ff.formed - prev.lat.formed)
        eliminations = float(snap.ff.removed + snap.lat.removed - prev.ff.removed - prev.lat.removed)
        scale = 1.0 / (snap.n_neurons * interval)
        rate_src = float(snap.spikes_src.sum() - prev.spikes_src.sum()) * scale
        rate_tgt = float(snap.spikes_tgt.sum() - prev.spikes_tgt.sum()) * scale
    return {
        "t": snap.t,
        "ff_synapses": float(snap.ff.count),
        "lat_synapses": float(snap.lat.count),
        "formations": formations,
        "eliminations": eliminations,
        "rate_source": rate_src,
        "rate_target": rate_tgt,
    }


class MetricsRecorder:
    """Turns successive snapshots into rows of the metrics table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._prev: Snapshot | None = None

    def record(self, snap: Snapshot) -> dict[str, float]:
        """Append the row for ``snap`` (rates and counts are over the interval since the previous one)."""
        row = {**counts_row(snap, self._prev), **map_metrics(snap)}
        self.rows.append(row)
        self._prev = snap
        return row

    def table(self) -> dict[str, NDArray[np.float64]]:
        """Column arrays of every row so far."""
        return metrics_table(self.rows)


def metrics_table(rows: list[dict[str, float]]) -> dict[str, NDArray[np.float64]]:
    """Column arrays (:data:`METRIC_COLUMNS`) of metrics rows."""
    return {c: np.array([r[c] for r in rows], dtype=np.float64) for c in METRIC_COLUMNS}


def write_metrics_csv(path: Path, rows: list[dict[str, float]]) -> None:
    """Write the metrics table as CSV, atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for r in rows:
        writer.writerow([_fmt(r[c]) for c in METRIC_COLUMNS])
    data = buf.getvalue().encode()
    write_atomic(path, lambda fh: fh.write(data))


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    data = (json.dumps(obj, indent=2, default=_json_default) + "\n").encode()
    write_atomic(path, lambda fh: fh.write(data))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_npz(path: Path, **arrays: NDArray[Any]) -> None:
    """Write arrays to ``path`` as a compressed .npz, atomically."""
    savez: Any = np.savez_compressed  # NumPy's stub mistakes array keywords for allow_pickle
    write_atomic(path, lambda fh: savez(fh, **arrays))


def run_headless(
    config: ModelConfig,
    out_dir: Path,
    *,
    backend: str = "auto",
    seed: int | None = None,
    duration: float | None = None,
    progress: bool = True,
    figures: bool = True,
    resume: Path | None = None,
    checkpoint: Path | None = None,
) -> RunResult:
    """Run ``config`` headless and write every output file into ``out_dir``.

    ``duration`` (model seconds) defaults to the configuration's
    ``run.duration``; ``seed`` to ``run.seed``. With ``resume`` the run
    continues the checkpoint (whose configuration and seed then apply) for
    ``duration`` more seconds; with ``checkpoint`` the final state is saved
    there.
    """
    out_dir = prepare_output_dir(Path(out_dir))
    wall0 = time.perf_counter()
    if resume is not None:
        engine = Engine.from_checkpoint(resume, backend=backend)
        config = engine.config
    else:
        engine = Engine.build(config, backend=backend, seed=seed)
    duration = config.run.duration if duration is None else float(duration)
    if duration <= 0:
        engine.close()
        raise ValueError(f"duration must be positive, got {duration} s")
    with engine as eng:
        build_s = time.perf_counter() - wall0
        recorder = MetricsRecorder()
        recorder.record(eng.snapshot())
        record_steps = max(1, eng.steps_for(config.run.record_interval))
        total_steps = eng.steps_for(duration)
        backend_note = eng.backend_note
        if backend_note and progress:
            print(f"backend: {backend_note}", file=sys.stderr)
        bar = _progress_bar(duration, f"{config.name} on {eng.backend_name}", progress)
        sim_wall = 0.0
        done = 0
        metrics_path = out_dir / "metrics.csv"
        try:
            while done < total_steps:
                target = min(total_steps, done + record_steps)
                while done < target:
                    n = min(target - done, max(1, eng.steps_for(0.5)))
                    t0 = time.perf_counter()
                    eng.step(n)
                    sim_wall += time.perf_counter() - t0
                    done += n
                    if bar is not None:
                        rtf = done * config.network.dt * 1e-3 / sim_wall if sim_wall > 0 else 0.0
                        bar.set_postfix_str(f"{rtf:.1f}x real time", refresh=False)
                        bar.update(n * config.network.dt * 1e-3)
                recorder.record(eng.snapshot())
                write_metrics_csv(metrics_path, recorder.rows)
        finally:
            if bar is not None:
                bar.close()
        final = eng.snapshot()
        events = eng.events()
        if checkpoint is not None:
            eng.save_checkpoint(checkpoint)
        rtf = done * config.network.dt * 1e-3 / sim_wall if sim_wall > 0 else float("nan")
        seed_used = eng.seed
        backend_used = eng.backend_name
    metrics = recorder.table()
    files = [metrics_path]
    conn_path = out_dir / "connectivity.npz"
    write_npz(
        conn_path,
        side=np.array(final.side),
        t=np.array(final.t),
        ff_pre=final.ff.pre,
        ff_post=final.ff.post,
        ff_weight=final.ff.weight,
        lat_pre=final.lat.pre,
        lat_post=final.lat.post,
        lat_weight=final.lat.weight,
    )
    ev_path = out_dir / "events.npz"
    write_npz(ev_path, events=events, dt_ms=np.array(config.network.dt))
    files += [conn_path, ev_path]
    if figures:
        from app.report import write_figures

        files += write_figures(out_dir, metrics, final, config, events)
    case = case_of(config)
    summary: dict[str, Any] = {
        "preset": config.name,
        "config": config.to_dict(),
        "seed": seed_used,
        "backend": backend_used,
        "backend_note": backend_note,
        "duration_s": duration,
        "t_start_s": float(metrics["t"][0]),
        "resumed_from": str(resume) if resume is not None else None,
        "steps": done,
        "neurons_per_layer": config.n_neurons,
        "final": {c: float(metrics[c][-1]) for c in METRIC_COLUMNS},
        "initial": {c: float(metrics[c][0]) for c in METRIC_COLUMNS if c.startswith(("sigma", "ad"))},
        "refused_formations": {"ff": final.ff.refused, "lat": final.lat.refused},
        "bamford2010_case": CASE_NAMES.get(case) if case is not None else None,
        "reference": reference_values(config),
        "realtime_factor": rtf,
        "build_seconds": build_s,
        "wall_seconds": time.perf_counter() - wall0,
    }
    summary_path = out_dir / "summary.json"
    write_json(summary_path, summary)
    files.append(summary_path)
    return RunResult(out_dir, metrics, summary, files)


def _progress_bar(total: float, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="model s",
        unit_scale=False,
        bar_format=(
            "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} model s [{elapsed}<{remaining}{postfix}]"
        ),
    )
