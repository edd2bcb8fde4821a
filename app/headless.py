"""Headless runs: run a preset of any experiment for its duration and write metrics, summary and figures.

Output folder layout::

    metrics.csv        one row per recording interval (t = 0 is the initial network)
    summary.json       configuration, seed, backend, final metrics, real-time factor
    events.npy         every synapse formed or removed (step, pre, post, projection, kind)
    ...                the experiment's data files and figures (:mod:`app.experiment`)

``metrics.csv`` gains a row per record and ``events.npy`` a chunk of events
per engine call as the run goes (see :mod:`app.eventlog`), so an interrupted
run keeps what it measured and memory does not grow with model time; the other
files are written atomically at the end, ``summary.json`` last of the results,
then the checkpoint. A run first removes the files an earlier run left in its
folder, so a folder never mixes two runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.eventlog import EventLogWriter
from app.experiment import all_run_files, app_experiment_of
from app.metrics import MetricsCsvWriter, MetricsRecorder
from sim.engine import Engine
from sim.errors import ConfigError, OutputError
from sim.experiment import experiment_keys, experiment_of
from sim.files import TEMP_SUFFIX, check_file_target, check_folder_target, write_atomic
from sim.parameters import ConfigRoot

#: Files every run writes into its output folder (besides its experiment's data files and figures).
RUN_FILES: tuple[str, ...] = ("metrics.csv", "summary.json", "events.npy")
#: Files of earlier versions that a run also clears, so a folder never mixes two runs.
_OLD_RUN_FILES: tuple[str, ...] = ("events.npz",)
#: Model seconds per engine call within a recording interval (keeps Ctrl-C and the progress bar lively).
CHUNK_SECONDS = 0.5


@dataclass(frozen=True)
class RunResult:
    """What a headless run produced."""

    out_dir: Path
    metrics: dict[str, NDArray[np.float64]]
    summary: dict[str, Any]
    files: list[Path]
    #: True when the run stopped early on request (SIGINT or SIGTERM).
    interrupted: bool = False
    #: Where the checkpoint was written, if one was.
    checkpoint: Path | None = None


def run_file_names() -> tuple[str, ...]:
    """Every file name a run of any experiment owns in its output folder (data files and figures)."""
    return (*RUN_FILES, *_OLD_RUN_FILES, *all_run_files(experiment_keys()))


def prepare_output_dir(path: Path) -> Path:
    """Create ``path`` if needed and remove what an earlier run left there.

    Only the files a run owns (:func:`run_file_names`) and their hidden temporary
    files go; anything else in the folder stays. The caller has checked the
    target with :func:`~sim.files.check_folder_target`.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    names = run_file_names()
    try:
        for name in names:
            (path / name).unlink(missing_ok=True)
        for leftover in path.glob(f".*{TEMP_SUFFIX}"):
            if any(leftover.name.startswith(f".{name}.") for name in names):
                leftover.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot clear the previous run's files ({exc.strerror or exc})") from None
    return path


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


def check_duration(
    duration: float, dt_ms: float | None, what: str = "duration", config_type: type[ConfigRoot] | None = None
) -> float:
    """Validate a length of run time in ``config_type``'s unit (``run.duration``'s: model seconds,
    epochs): positive, finite, at most ``run.duration``'s upper bound and, given the time step
    ``dt_ms``, at least one step. Without ``config_type`` (the preset not yet known) only
    positive and finite."""
    if config_type is None:
        value = float(duration)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{what}: must be a positive number, in the preset's unit, got {value:g}")
        return value
    spec = config_type.param_spec("run.duration")
    hi = spec.hi
    unit = "model seconds" if spec.unit in ("", "s") else spec.unit
    value = float(duration)
    if not (math.isfinite(value) and 0 < value <= (hi or math.inf)):
        raise ConfigError(f"{what}: must be a positive number of {unit} up to {hi:g}, got {value:g}")
    if dt_ms is not None and value * 1e3 < dt_ms * (1.0 - 1e-9):
        step = f" ({dt_ms:g} ms)" if unit == "model seconds" else ""
        raise ConfigError(f"{what}: {value:g} {unit} is shorter than one time step{step}")
    return float(value)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def run_headless(
    config: ConfigRoot,
    out_dir: Path,
    *,
    backend: str = "auto",
    seed: int | None = None,
    duration: float | None = None,
    progress: bool = True,
    figures: bool = True,
    resume: Path | None = None,
    checkpoint: Path | None = None,
    checkpoint_every: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Run ``config`` headless and write every output file into ``out_dir``.

    ``duration`` (in the experiment's unit: model seconds, epochs) defaults
    to the configuration's ``run.duration``; ``seed`` to ``run.seed``. With
    ``resume`` the run continues the checkpoint (whose configuration and seed
    then apply) for ``duration`` more; with ``checkpoint`` the final state is
    saved there, and with ``checkpoint_every`` also every so often.

    Every target is checked before the network is built, and the output folder
    is cleared of an earlier run's files only once the network is built.
    ``stop()`` is asked after every chunk of steps: when it returns True the
    run ends there, writes what it has (no figures) and the checkpoint, and
    returns with ``interrupted`` set.
    """
    out_dir = Path(out_dir)
    check_folder_target(out_dir, "output folder")
    if checkpoint is not None:
        check_file_target(checkpoint, "checkpoint")
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ConfigError("checkpoint_every: needs a checkpoint file to write")
        check_duration(checkpoint_every, None, "checkpoint_every")
    if resume is None:  # refused before the build; a checkpoint's time step is known after it
        duration = _check_run_duration(config, duration)
        if checkpoint_every is not None:
            check_duration(checkpoint_every, None, "checkpoint_every", type(config))
    wall0 = time.perf_counter()
    if resume is not None:
        engine = Engine.from_checkpoint(resume, backend=backend)
        config = engine.config
    else:
        engine = Engine.build(config, backend=backend, seed=seed)
    with engine as eng:
        if resume is not None:
            duration = _check_run_duration(config, duration)
            if checkpoint_every is not None:
                check_duration(checkpoint_every, None, "checkpoint_every", type(config))
        assert duration is not None
        build_s = time.perf_counter() - wall0
        prepare_output_dir(out_dir)
        metrics_path, events_path = out_dir / "metrics.csv", out_dir / "events.npy"
        eng.take_events()  # a resumed run's log starts at its checkpoint
        exp = app_experiment_of(config)
        counts = exp.event_stats(config)
        columns = exp.columns_for(config)
        recorder = MetricsRecorder(columns, exp.metrics_rows)
        record_steps = max(1, eng.steps_for(config.get("run.record_interval")))
        chunk_steps = max(1, eng.steps_for(CHUNK_SECONDS))
        ckpt_steps = max(1, eng.steps_for(checkpoint_every)) if checkpoint_every is not None else None
        total_steps = eng.steps_for(duration)
        backend_note = eng.backend_note
        if backend_note and progress:
            print(f"backend: {backend_note}", file=sys.stderr)
        sim_wall = 0.0
        done = 0
        interrupted = False
        seconds = eng.experiment.model_seconds
        bar = _progress_bar(duration, f"{config.name} on {eng.backend_name}", progress, exp.progress_unit)
        with contextlib.ExitStack() as files:
            csv_out = MetricsCsvWriter(metrics_path, columns)
            files.callback(csv_out.close)
            log = EventLogWriter(events_path)
            files.callback(log.close)
            if bar is not None:
                files.callback(bar.close)
            start = eng.snapshot()
            exp.observe(counts, start)
            restored: list[dict[str, float]] = []
            if eng.loaded_history is not None:  # a resumed run's table starts where the run began
                restored = recorder.continue_from(eng.loaded_history, start)
                for row in restored:
                    csv_out.append_row(row)
            if not restored or abs(restored[-1]["t"] - start.t) >= 1e-9:
                for row in recorder.record(start):
                    csv_out.append_row(row)
            next_record = min(total_steps, record_steps)
            next_ckpt = ckpt_steps if ckpt_steps is not None else total_steps + 1
            while done < total_steps:
                n = min(chunk_steps, next_record - done, next_ckpt - done)
                t0 = time.perf_counter()
                eng.step(n)
                sim_wall += time.perf_counter() - t0
                done += n
                events = eng.take_events()
                log.append_events(events)
                counts.add(events)
                if bar is not None:
                    newest = recorder.rows.row(-1) if len(recorder.rows) else None
                    bar.set_postfix_str(exp.progress_note(config, done, sim_wall, newest), refresh=False)
                    bar.update(seconds(config, n))
                interrupted = stop is not None and stop() and done < total_steps
                if done == next_record or interrupted:
                    snap = eng.snapshot()
                    exp.observe(counts, snap)
                    for row in recorder.record(snap):
                        csv_out.append_row(row)
                    next_record = min(total_steps, next_record + record_steps)
                if done == next_ckpt and checkpoint is not None and done < total_steps:
                    eng.save_checkpoint(checkpoint, recorder.table())
                    next_ckpt += ckpt_steps or 0
                if interrupted:
                    break
        final = eng.snapshot()
        exp.observe(counts, final)
        rtf = seconds(config, done) / sim_wall if sim_wall > 0 else float("nan")
        seed_used = eng.seed
        backend_used = eng.backend_name
        metrics = recorder.table()
        files_written = [metrics_path, events_path, *exp.write_results(out_dir, final, config)]
        final_files, final_summary = exp.write_final(out_dir, eng, config) if not interrupted else ([], {})
        files_written += final_files
        summary: dict[str, Any] = {
            "preset": config.name,
            "experiment": config.experiment,
            "status": "interrupted" if interrupted else "complete",
            "config": config.to_dict(),
            "seed": seed_used,
            "backend": backend_used,
            "backend_note": backend_note,
            "duration_s": duration,
            "t_start_s": start.t,
            "t_end_s": final.t,
            "resumed_from": str(resume) if resume is not None else None,
            "checkpoint": str(checkpoint) if checkpoint is not None else None,
            "steps": done,
            "final": {c: float(metrics[c][-1]) if len(metrics[c]) else math.nan for c in columns},
            "events_recorded": log.count,
            **exp.summary(config, start, final, metrics, counts, sim_wall),
            **final_summary,
            "realtime_factor": rtf,
            "build_seconds": build_s,
        }
        if figures and not interrupted:
            files_written += exp.write_figures(out_dir, metrics, start, final, config, counts)
        summary_path = out_dir / "summary.json"
        summary["wall_seconds"] = time.perf_counter() - wall0
        summary["peak_rss_mb"] = peak_rss_mb()
        write_json(summary_path, summary)
        files_written.append(summary_path)
        if checkpoint is not None:
            eng.save_checkpoint(checkpoint, metrics)
    return RunResult(out_dir, metrics, summary, files_written, interrupted, checkpoint)


def _check_run_duration(config: ConfigRoot, duration: float | None) -> float:
    """The run's duration (default ``run.duration``), checked against ``config``'s time step."""
    value = config.get("run.duration") if duration is None else duration
    eng_exp = experiment_of(config)
    step_ms = eng_exp.model_seconds(config, 1) * 1e3
    return check_duration(value, step_ms, config_type=type(config))


def _progress_bar(total: float, desc: str, enabled: bool, unit: str = "model s") -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=False,
        bar_format=(
            "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} "
            + unit
            + " [{elapsed}<{remaining}{postfix}]"
        ),
    )
