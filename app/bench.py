"""The benchmark of any experiment: every backend and every combination of the swept parameters.

The experiment declares what ``bench`` can sweep (:attr:`app.experiment.AppExperiment.bench_knobs`:
the topographic map's scales and rewiring rates) and measures one configuration on one
backend (:meth:`~app.experiment.AppExperiment.bench_one`); this module resolves the
backends, runs the cross product in order and writes the records.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from app.experiment import app_experiment_of
from sim.backends import resolve_backend_name
from sim.parameters import ConfigRoot


def run_bench(
    config: ConfigRoot,
    backends: Sequence[str],
    sweeps: Mapping[str | tuple[str, ...], Sequence[Any]],
    duration: float,
    *,
    seed: int = 1,
    report: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Measure ``config`` on every backend at every combination of ``sweeps`` (parameter path, or
    paths that take the same value, -> values).

    A parameter without values keeps the configuration's own. ``report(record)``
    is called after each measurement.
    """
    exp = app_experiment_of(config)
    resolved: list[str] = []
    for b in backends:
        name = resolve_backend_name(b, config.experiment)
        if name not in resolved:
            resolved.append(name)
    paths = [(p,) if isinstance(p, str) else tuple(p) for p in sweeps]
    values = [list(sweeps[key]) or [config.get(p[0])] for key, p in zip(sweeps, paths, strict=True)]
    records = []
    for name in resolved:
        for combination in itertools.product(*values):
            cfg = config.replace_all(
                {path: value for group, value in zip(paths, combination, strict=True) for path in group}
            )
            record = exp.bench_one(cfg, name, duration, seed)
            records.append(record)
            if report is not None:
                report(record)
    return records


def write_json_records(path: Path, records: Sequence[Any]) -> None:
    """Write the records (each with ``as_dict()``) as JSON, atomically."""
    from app.headless import write_json

    write_json(path, [r.as_dict() for r in records])
