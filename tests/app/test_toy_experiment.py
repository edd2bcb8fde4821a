"""The toy experiment through the application core: headless run, bench, controller and step units."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import main as cli
from app.commands import Run, Step
from app.controller import SimController
from app.experiment import get_app_experiment
from app.headless import run_headless
from sim.config import load_config
from sim.experiment import unregister_experiment
from tests.support import toy

PRESET = toy.PRESETS_DIR / "toy" / "toy_small.yaml"


@pytest.fixture(autouse=True)
def toy_known() -> Iterator[None]:
    """The toy registered on every layer for one test."""
    toy.register_app()
    yield
    unregister_experiment(toy.KEY)


def test_a_headless_run_writes_the_toy_outputs(tmp_path: Path) -> None:
    """metrics.csv has the toy's columns, summary.json its entries, degrees.npz its data; events logged."""
    config = load_config(PRESET)
    result = run_headless(config, tmp_path / "out", backend="cpu", duration=0.05, progress=False)
    with (tmp_path / "out" / "metrics.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(get_app_experiment("toy").columns)
    assert len(rows) >= 2 and float(rows[-1][0]) == pytest.approx(0.05)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["neurons"] == config.network.n and summary["status"] == "complete"
    assert summary["formed"] > 0 and summary["events_recorded"] == summary["formed"] + summary["removed"]
    degrees = np.load(tmp_path / "out" / "degrees.npz")["in_degree"]
    assert degrees.shape == (config.network.n,) and degrees.sum() == result.metrics["synapses"][-1]
    events = np.load(tmp_path / "out" / "events.npy")
    assert len(events) == summary["events_recorded"]


def test_bench_sweeps_the_toy_knob_and_refuses_the_maps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench`` offers each experiment's knobs; another experiment's knob is refused in one line."""
    target = tmp_path / "bench.json"
    args = ["bench", "--preset", str(PRESET), "--backend", "cpu", "--duration", "0.02"]
    assert cli.main([*args, "--toy-sizes", "16", "24", "--json", str(target)]) == 0
    records = json.loads(target.read_text())
    assert [r["neurons"] for r in records] == [16, 24]
    assert all(r["steps_per_second"] > 0 for r in records)
    assert cli.main([*args, "--scales", "2"]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "--scales: applies to topomap presets; toy_small is a toy preset" in err


def test_the_controller_steps_by_the_toys_units() -> None:
    """Step units come from the toy's clock: ``ten`` is ten steps; a run for a duration stops there."""
    config = load_config(PRESET)
    with SimController(config, backend="cpu", seed=1) as controller:
        controller.submit(Step(2, "ten"))
        assert controller.sync()
        update = controller.take_update()
        assert update is not None and update.snapshot.step == 20
        controller.submit(Run(duration=0.01))
        assert controller.sync(timeout=60)


def test_the_run_command_reports_the_toys_final_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run`` on a toy preset ends with the toy's own result line; a topomap-only option is refused."""
    out = tmp_path / "run"
    args = ["run", "--preset", str(PRESET), "--backend", "cpu", "--duration", "0.02", "--quiet"]
    assert cli.main([*args, "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("toy_small: 0.02 s on cpu") and "synapses " in line and str(out) in line
    assert cli.main([*args, "--out", str(tmp_path / "other"), "--scale", "2"]) == cli.EXIT_USER_ERROR
    assert "--scale: applies to topographic map presets; toy_small is a toy preset" in capsys.readouterr().err
