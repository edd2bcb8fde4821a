"""A sweep's plan: the cross product of presets, parameter values and seeds, checked before any
run starts.

Every run is named by what it computes: its id ends in a digest of its whole
resolved configuration (seed and duration included), so the same command run
again finds the runs it already completed, and a changed value makes a new run
rather than overwriting an old one. Nothing here imports Dask.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.presets import load_preset, parse_value, split_setting
from sim.errors import ConfigError, short_repr
from sim.experiment import experiment_of
from sim.parameters import ConfigRoot

#: The column of the preset when several are swept.
PRESET_AXIS = "preset"
#: Most runs one sweep may plan (a typo in a value list should not submit a million runs).
MAX_RUNS = 100_000
#: Characters of the digest that ends a run id.
DIGEST_CHARS = 10


@dataclass(frozen=True)
class Axis:
    """One swept dimension: a parameter path (or :data:`PRESET_AXIS`) and its values, in order."""

    key: str
    values: tuple[Any, ...]

    @property
    def numeric(self) -> bool:
        """Whether every value is a number (plotted on a number line rather than as categories)."""
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep."""

    run_id: str
    preset: str
    #: The swept values of this run, by axis key (the preset too, when several are swept).
    values: dict[str, Any]
    seed: int
    config: ConfigRoot

    @property
    def experiment(self) -> str:
        """The experiment the run belongs to."""
        return self.config.experiment

    def config_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (``experiment:`` first), as the worker rebuilds it."""
        return {"experiment": self.config.experiment, **self.config.to_dict()}


@dataclass(frozen=True)
class SweepPlan:
    """Every run of a sweep, and how they were made."""

    axes: tuple[Axis, ...]
    #: Parameters set to one value in every run.
    fixed: dict[str, Any]
    seeds: tuple[int, ...]
    runs: tuple[PlannedRun, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept keys, in the order given."""
        return tuple(axis.key for axis in self.axes)

    @property
    def experiments(self) -> tuple[str, ...]:
        """The experiments the runs belong to, in order of first appearance."""
        return tuple(dict.fromkeys(run.experiment for run in self.runs))


def parse_sweep_settings(items: Sequence[str]) -> list[tuple[str, tuple[Any, ...]]]:
    """``--set KEY=V1,V2,...`` items as ``(KEY, values)``; a key given twice is an error."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    seen: set[str] = set()
    for item in items:
        key, text = split_setting(item)
        if key in seen:
            raise ConfigError(f"--set: {key} is given twice; list its values once, separated by commas")
        if key == PRESET_AXIS:
            raise ConfigError("--set: list the presets after --preset, not as --set preset=...")
        seen.add(key)
        parts = _split_values(text)
        if any(not p.strip() for p in parts) and len(parts) > 1:
            raise ConfigError(f"--set: {key}: an empty value in {short_repr(text)}")
        values = tuple(parse_value(key, p) for p in parts)
        if len(set(map(_canonical, values))) != len(values):
            raise ConfigError(f"--set: {key}: a value is listed twice in {short_repr(text)}")
        out.append((key, values))
    return out


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes, so ``[1, 2]`` stays one value."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def plan_sweep(
    presets: Sequence[str],
    settings: Sequence[tuple[str, tuple[Any, ...]]],
    seeds: Sequence[int] | None = None,
    duration: float | None = None,
) -> SweepPlan:
    """The runs of the cross product of ``presets``, each setting's values and ``seeds``.

    Every combination's configuration is built and validated here, so an
    unknown key or a value out of its range is one :class:`ConfigError`
    naming the key, the value and the preset before anything runs.
    ``seeds`` defaults to each preset's own; ``duration`` (in each preset's
    unit) to the preset's ``run.duration``.
    """
    from app.headless import check_duration

    if not presets:
        raise ConfigError("--preset: name at least one preset")
    if len(set(presets)) != len(presets):
        raise ConfigError("--preset: a preset is listed twice")
    if seeds is not None:
        if not seeds:
            raise ConfigError("--seeds: give at least one seed")
        if len(set(seeds)) != len(seeds):
            raise ConfigError("--seeds: a seed is listed twice")
    count = len(presets) * (len(seeds) if seeds else 1)
    for _, values in settings:
        count *= len(values)
    if count > MAX_RUNS:
        raise ConfigError(f"the sweep would make {count:,} runs; at most {MAX_RUNS:,} are allowed")
    fixed = {key: values[0] for key, values in settings if len(values) == 1}
    swept = [(key, values) for key, values in settings if len(values) > 1]
    axes = [Axis(key, values) for key, values in swept]
    if len(presets) > 1:
        axes.insert(0, Axis(PRESET_AXIS, tuple(presets)))
    runs: list[PlannedRun] = []
    ids: dict[str, PlannedRun] = {}
    for preset in presets:
        base = load_preset(preset)
        where = f"preset {preset}"
        if duration is not None:
            step_ms = experiment_of(base).model_seconds(base, 1) * 1e3
            check_duration(duration, step_ms, f"--duration ({where})", type(base))
        for combo in itertools.product(*(values for _, values in swept)):
            changes = dict(fixed)
            changes.update({key: value for (key, _), value in zip(swept, combo, strict=True)})
            if duration is not None:
                changes["run.duration"] = float(duration)
            try:
                cfg = base.replace_all(changes, source="--set") if changes else base
            except ConfigError as exc:
                raise ConfigError(f"{exc} ({where})") from None
            for seed in seeds if seeds else (int(cfg.get("run.seed")),):
                try:
                    run_cfg = cfg.replace("run.seed", seed, source="--seeds")
                except ConfigError as exc:
                    raise ConfigError(f"{exc} ({where})") from None
                chosen: dict[str, Any] = {key: value for (key, _), value in zip(swept, combo, strict=True)}
                if len(presets) > 1:
                    chosen = {PRESET_AXIS: preset, **chosen}
                run = PlannedRun(run_id(preset, chosen, seed, run_cfg), preset, chosen, int(seed), run_cfg)
                twin = ids.get(run.run_id)
                if twin is not None:
                    raise ConfigError(
                        f"two runs of the sweep would compute the same thing ({_describe(twin)} and "
                        f"{_describe(run)}): a swept value does not change the configuration"
                    )
                ids[run.run_id] = run
                runs.append(run)
    return SweepPlan(tuple(axes), fixed, tuple(int(s) for s in seeds) if seeds else (), tuple(runs))


def config_digest(config_dict: dict[str, Any]) -> str:
    """A digest of a resolved configuration (as :meth:`PlannedRun.config_dict` gives it)."""
    text = json.dumps(config_dict, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_id(preset: str, values: dict[str, Any], seed: int, config: ConfigRoot) -> str:
    """``<preset>[-<key>=<value>...]-s<seed>-<digest>``: readable, and unique to what the run computes."""
    digest = config_digest({"experiment": config.experiment, **config.to_dict()})[:DIGEST_CHARS]
    name = Path(preset).stem if Path(preset).suffix in (".yaml", ".yml") else preset
    parts = [_slug(name, 40)]
    parts += [
        f"{_slug(key.rsplit('.', 1)[-1], 24)}={_slug(_label(v), 24)}"
        for key, v in values.items()
        if key != PRESET_AXIS
    ]
    return "-".join([*parts, f"s{seed}", digest])


def _label(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _slug(text: str, limit: int) -> str:
    return re.sub(r"[^A-Za-z0-9._+]", "_", text)[:limit] or "_"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _describe(run: PlannedRun) -> str:
    values = ", ".join(f"{k}={_label(v)}" for k, v in run.values.items())
    return f"{run.preset} seed {run.seed}" + (f" with {values}" if values else "")
