"""A sweep's table and figures, from the runs' own files.

``sweep.csv`` has one row per planned run: its id, preset, swept values and
seed, its status, wall time, worker and error, then its final metrics (the
last value each of its experiment's metrics took, from ``summary.json``, or
from ``metrics.csv`` where the last row has none) and the scalar results of
its ``summary.json``. The figures plot each experiment's sweep metrics
(:attr:`app.experiment.AppExperiment.sweep_metrics`) against every swept
parameter, mean and spread over seeds, and over time for every combination.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.experiment import get_app_experiment
from app.sweep.plan import PRESET_AXIS, Axis, SweepPlan
from app.sweep.runner import COMPLETE, RunState, read_summary, run_dir
from sim.experiment import get_experiment
from sim.files import write_atomic

#: Columns every row of ``sweep.csv`` starts with (the swept keys and seed follow ``preset``).
LEAD = ("run_id", "preset")
STATUS_COLUMNS = ("status", "skipped", "wall_seconds", "worker", "error")
#: Summary entries that are not results (the lead columns or the run's bookkeeping).
_NOT_RESULTS = {"seed", "steps", "duration_s", "t_start_s", "wall_seconds", "events_recorded"}
#: The largest ``metrics.csv`` read back for the figures.
MAX_METRICS_BYTES = 256 * 2**20
#: Combinations drawn as separate curves at most (more would be a legend nobody can read).
MAX_CURVES = 12


def final_metrics(folder: Path, experiment: str, summary: dict[str, Any]) -> dict[str, float]:
    """A complete run's final metrics: ``summary.json``'s last row, each empty value replaced by
    the last value its column took in ``metrics.csv``."""
    final = summary.get("final")
    out = {k: float(v) for k, v in final.items() if _number(v)} if isinstance(final, dict) else {}
    missing = [k for k, v in out.items() if math.isnan(v)]
    if missing:
        series = read_metrics(folder / "metrics.csv", missing)
        for key in missing:
            values = series.get(key)
            if values is not None and values.size:
                finite = values[np.isfinite(values)]
                if finite.size:
                    out[key] = float(finite[-1])
    return out


def summary_results(summary: dict[str, Any]) -> dict[str, Any]:
    """The scalar results of a ``summary.json``: numbers and flags at its top level."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key in _NOT_RESULTS:
            continue
        if isinstance(value, bool) or _number(value):
            out[key] = value
    return out


def read_metrics(path: Path, columns: Sequence[str]) -> dict[str, NDArray[np.float64]]:
    """``columns`` (and ``t``) of a run's ``metrics.csv``; empty cells are NaN, a missing or
    unreadable file gives no columns."""
    try:
        if path.stat().st_size > MAX_METRICS_BYTES:
            return {}
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                return {}
            wanted = [c for c in dict.fromkeys(["t", *columns]) if c in header]
            index = [header.index(c) for c in wanted]
            values: list[list[float]] = [[] for _ in wanted]
            for row in reader:
                if len(row) != len(header):
                    continue
                for out, i in zip(values, index, strict=True):
                    out.append(_float(row[i]))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    return {c: np.asarray(v, np.float64) for c, v in zip(wanted, values, strict=True)}


def sweep_rows(out_dir: Path, plan: SweepPlan, states: Sequence[RunState]) -> list[dict[str, Any]]:
    """One row per run: the lead and status columns, and for a complete run its results."""
    keys = [k for k in plan.keys if k != PRESET_AXIS]
    rows = []
    for state in states:
        run = state.run
        row: dict[str, Any] = {"run_id": run.run_id, "preset": run.preset}
        row.update({key: run.values.get(key, "") for key in keys})
        row["seed"] = run.seed
        row.update(
            status=state.status,
            skipped=state.skipped,
            wall_seconds=state.wall_seconds,
            worker=state.worker,
            error=state.error,
        )
        if state.status == COMPLETE:
            for key, value in run_results(out_dir, state).items():
                row.setdefault(key, value)
        rows.append(row)
    return rows


def run_results(out_dir: Path, state: RunState) -> dict[str, Any]:
    """A complete run's final metrics, then its summary results; read from its files the first time
    and kept on ``state`` (``sweep.csv`` is rewritten after every run, the figures read them again)."""
    if state.results is None:
        folder = run_dir(out_dir, state.run)
        summary = read_summary(folder) or {}
        results: dict[str, Any] = dict(final_metrics(folder, state.run.experiment, summary))
        for key, value in summary_results(summary).items():
            results.setdefault(key, value)
        state.results = results
    return state.results


def write_sweep_csv(out_dir: Path, plan: SweepPlan, states: Sequence[RunState]) -> Path:
    """Write ``out_dir/sweep.csv`` atomically (every run's row; a column for every result any
    run has)."""
    rows = sweep_rows(out_dir, plan, states)
    columns: dict[str, None] = dict.fromkeys(
        [*LEAD, *(k for k in plan.keys if k != PRESET_AXIS), "seed", *STATUS_COLUMNS]
    )
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c, "")) for c in columns])
    data = buf.getvalue().encode()
    return write_atomic(Path(out_dir) / "sweep.csv", lambda fh: fh.write(data))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return str(value)
    return str(value)


# -- figures ----------------------------------------------------------------------------------------
def write_sweep_figures(out_dir: Path, plan: SweepPlan, states: Sequence[RunState]) -> list[Path]:
    """Draw the sweep's figures into ``out_dir``: for every experiment of the sweep, each metric
    against each swept parameter (``sweep_<key>.png``) and over time (``sweep_curves.png``);
    prefixed by the experiment when the sweep spans several."""
    from app.figures import save_figure

    done = [s for s in states if s.status == COMPLETE]
    files: list[Path] = []
    experiments = plan.experiments
    for experiment in experiments:
        mine = [s for s in done if s.run.experiment == experiment]
        if not mine:
            continue
        prefix = "sweep_" if len(experiments) == 1 else f"sweep_{experiment}_"
        metrics = _metrics_of(experiment, mine)
        finals = {s.run.run_id: run_results(out_dir, s) for s in mine}
        varied = [a for a in plan.axes if len({_key(s.run.values.get(a.key)) for s in mine}) > 1]
        for axis in varied:
            fig = parameter_figure(axis, varied, mine, finals, metrics)
            files.append(save_figure(fig, Path(out_dir) / f"{prefix}{_file_key(axis.key)}.png"))
        fig = curves_figure(out_dir, varied, mine, metrics, get_experiment(experiment).time_unit or "s")
        files.append(save_figure(fig, Path(out_dir) / f"{prefix}curves.png"))
    return files


def _metrics_of(experiment: str, states: Sequence[RunState]) -> tuple[str, ...]:
    declared = get_app_experiment(experiment).sweep_metrics
    if declared:
        return declared
    return tuple(c for c in get_app_experiment(experiment).columns if c != "t")


def _file_key(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._" else "_" for ch in key)


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 2 if n <= 4 else 3)
    return -(-n // cols), cols


def parameter_figure(
    axis: Axis,
    axes: Sequence[Axis],
    states: Sequence[RunState],
    finals: dict[str, dict[str, float]],
    metrics: Sequence[str],
) -> Any:
    """Each metric's final value against ``axis``: mean over seeds with its standard deviation as
    error bars and every seed as a dot, one line per combination of the other swept values."""
    from app.figures import LABEL_SIZE, new_figure, note

    rows, cols = _grid(len(metrics))
    fig = new_figure(4.6 * cols, 3.4 * rows)
    others = [a for a in axes if a.key != axis.key]
    groups: dict[tuple[Any, ...], list[RunState]] = defaultdict(list)
    for state in states:
        groups[tuple(_key(state.run.values.get(a.key)) for a in others)].append(state)
    positions = {_key(v): (float(v) if axis.numeric else i) for i, v in enumerate(axis.values)}
    colours = _colours(len(groups))
    for m, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, m + 1)
        drawn = False
        for g, (group, members) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
            label = ", ".join(
                f"{a.key.rsplit('.', 1)[-1]}={value_label(v)}" for a, v in zip(others, group, strict=True)
            )
            xs, means, sds = [], [], []
            for value in axis.values:
                ys = [
                    finals[s.run.run_id].get(metric, math.nan)
                    for s in members
                    if _key(s.run.values.get(axis.key)) == _key(value)
                ]
                ys = [y for y in ys if math.isfinite(y)]
                if not ys:
                    continue
                x = positions[_key(value)]
                ax.plot([x] * len(ys), ys, "o", color=colours[g], alpha=0.35, markersize=3.5)
                xs.append(x)
                means.append(float(np.mean(ys)))
                sds.append(float(np.std(ys, ddof=1)) if len(ys) > 1 else 0.0)
            if xs:
                drawn = True
                ax.errorbar(
                    xs,
                    means,
                    yerr=sds,
                    color=colours[g],
                    linestyle="-" if axis.numeric else "none",  # categories are not joined
                    marker="s",
                    markersize=5,
                    capsize=3,
                    label=label or None,
                )
        ax.set_title(metric, fontsize=LABEL_SIZE)
        ax.set_xlabel(axis.key, fontsize=LABEL_SIZE)
        if not axis.numeric:
            ax.set_xticks(
                range(len(axis.values)), [value_label(v) for v in axis.values], rotation=20, ha="right"
            )
        if not drawn:
            note(ax, "no complete run has this metric")
        elif others and m == 0 and len(groups) <= MAX_CURVES:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    seeds = sorted({s.run.seed for s in states})
    plural = "s" if len(seeds) != 1 else ""
    fig.suptitle(
        f"Final metrics against {axis.key} (mean ± sd over {len(seeds)} seed{plural}; dots: each seed)",
        fontsize=LABEL_SIZE + 1,
    )
    return fig


def curves_figure(
    out_dir: Path, axes: Sequence[Axis], states: Sequence[RunState], metrics: Sequence[str], unit: str
) -> Any:
    """Each metric over time, one curve per combination of swept values: the mean over seeds, with
    the range of the seeds shaded."""
    from app.figures import LABEL_SIZE, new_figure, note

    rows, cols = _grid(len(metrics))
    fig = new_figure(4.6 * cols, 3.4 * rows)
    groups: dict[tuple[Any, ...], list[RunState]] = defaultdict(list)
    for state in states:
        groups[tuple(_key(state.run.values.get(a.key)) for a in axes)].append(state)
    ordered = sorted(groups.items(), key=lambda kv: str(kv[0]))[:MAX_CURVES]
    series = {
        s.run.run_id: read_metrics(run_dir(out_dir, s.run) / "metrics.csv", metrics)
        for _, members in ordered
        for s in members
    }
    colours = _colours(len(ordered))
    for m, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, m + 1)
        drawn = False
        for g, (group, members) in enumerate(ordered):
            label = (
                ", ".join(
                    f"{a.key.rsplit('.', 1)[-1]}={value_label(v)}" for a, v in zip(axes, group, strict=True)
                )
                or "all runs"
            )
            t, stack = _aligned([series[s.run.run_id] for s in members], metric)
            if t.size == 0:
                continue
            drawn = True
            mean = np.nanmean(stack, axis=0)
            ax.plot(t, mean, color=colours[g], label=label, linewidth=1.4)
            if stack.shape[0] > 1:
                ax.fill_between(
                    t,
                    np.nanmin(stack, axis=0),
                    np.nanmax(stack, axis=0),
                    color=colours[g],
                    alpha=0.15,
                    linewidth=0,
                )
        ax.set_title(metric, fontsize=LABEL_SIZE)
        ax.set_xlabel(f"t ({unit})", fontsize=LABEL_SIZE)
        if not drawn:
            note(ax, "no values recorded")
        elif m == 0:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    more = len(groups) - len(ordered)
    title = "Metrics over time (mean over seeds; shaded: range of the seeds)"
    if more > 0:
        title += f"; {more} more combinations not drawn"
    fig.suptitle(title, fontsize=LABEL_SIZE + 1)
    return fig


def _aligned(
    runs: Iterable[dict[str, NDArray[np.float64]]], metric: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The runs' ``metric`` on the times all of them recorded it (rows: runs)."""
    pieces = []
    for cols in runs:
        t, y = cols.get("t"), cols.get(metric)
        if t is None or y is None:
            continue
        keep = np.isfinite(y) & np.isfinite(t)
        pieces.append((np.round(t[keep], 9), y[keep]))
    if not pieces:
        return np.zeros(0), np.zeros((0, 0))
    common = pieces[0][0]
    for t, _ in pieces[1:]:
        common = np.intersect1d(common, t)
    stack = np.empty((len(pieces), common.size))
    for i, (t, y) in enumerate(pieces):
        _, first = np.unique(t, return_index=True)
        lookup = dict(zip(t[first].tolist(), y[first].tolist(), strict=True))
        stack[i] = [lookup[x] for x in common.tolist()]
    return common, stack


def value_label(value: Any) -> str:
    """A swept value as a short label: a preset file by its name, anything long cut."""
    text = str(value)
    if text.endswith((".yaml", ".yml")):
        text = Path(text).stem
    return text if len(text) <= 24 else text[:23] + "…"


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "viridis"]
    return [cmap(i if n <= 10 else i / max(n - 1, 1)) for i in range(max(n, 1))]


def _key(value: Any) -> Any:
    return str(value) if isinstance(value, (list, dict)) else value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _float(text: str) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan
