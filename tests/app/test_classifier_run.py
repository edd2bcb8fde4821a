"""The sparse classifier on the command line: headless run and its outputs, resume, bench, bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

import main as cli
from app.experiments.classifier.metrics import METRIC_COLUMNS
from app.headless import run_headless
from sim.config import load_config
from sim.engine import Engine
from sim.errors import CheckpointError
from sim.events import FORMED, REMOVED

SMALL = """\
experiment: classifier
description: a small digits classifier for the tests
network: {n_hidden: 24}
connectivity: {p_in: 0.2, p_rec: 0.2}
learning: {lr: 0.01}
rewiring: {l1: 0.001}
data: {name: digits, n_steps: 10, batch_size: 8, n_train: 64, n_test: 20}
run: {duration: 2.0, record_interval: 0.25}
"""


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_run_writes_a_row_per_batch_and_the_classifiers_outputs(preset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", "--preset", str(preset), "--out", str(out), "--backend", "cpu", "--quiet"]) == 0
    with (out / "metrics.csv").open() as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == METRIC_COLUMNS
    rows = read_csv(out / "metrics.csv")
    batches_per_epoch = 64 // 8
    assert [(int(r["epoch"]), int(r["batch"])) for r in rows] == [
        (e, b) for e in range(2) for b in range(batches_per_epoch)
    ]
    tested = [r for r in rows if r["test_accuracy"] != ""]
    assert [int(r["batch"]) for r in tested] == [batches_per_epoch - 1] * 2  # at epoch ends, empty otherwise
    assert {r["synapses_in"] for r in rows} == {rows[0]["synapses_in"]}
    assert all(r["removed_rec"] == r["regrown_rec"] for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] == pytest.approx(float(tested[-1]["test_accuracy"]))
    assert summary["samples_per_second"] > 0 and summary["wall_seconds"] > 0
    assert (
        summary["seed"] == 1 and summary["backend"] == "cpu" and summary["config"]["data"]["name"] == "digits"
    )
    events = np.load(out / "events.npy")
    removed = sum(int(r["removed_in"]) + int(r["removed_rec"]) for r in rows)
    assert int((events["kind"] == REMOVED).sum()) == removed == int((events["kind"] == FORMED).sum())
    with np.load(out / "connectivity.npz") as f:
        assert len(f["in_pre"]) == int(rows[-1]["synapses_in"])
        assert f["readout_weight"].shape == (24, 10)
        assert np.all(f["rec_pre"] != f["rec_post"])
    for name in ("learning.png", "rewiring.png", "connectivity.png", "weights.png", "activity.png"):
        assert (out / name).stat().st_size > 10_000, name


def test_a_resumed_run_continues_exactly(preset: Path, tmp_path: Path) -> None:
    config = load_config(preset)
    straight = run_headless(config, tmp_path / "a", backend="cpu", progress=False, figures=False)
    ckpt = tmp_path / "half.npz"
    run_headless(
        config, tmp_path / "b", backend="cpu", duration=0.9, progress=False, checkpoint=ckpt, figures=False
    )
    resumed = run_headless(
        config, tmp_path / "c", backend="cpu", duration=1.1, resume=ckpt, progress=False, figures=False
    )
    for name in METRIC_COLUMNS:
        np.testing.assert_array_equal(resumed.metrics[name], straight.metrics[name], err_msg=name)
    with np.load(tmp_path / "a" / "connectivity.npz") as a, np.load(tmp_path / "c" / "connectivity.npz") as c:
        for key in a.files:
            np.testing.assert_array_equal(a[key], c[key], err_msg=key)


def test_bench_measures_sparse_and_dense(preset: Path, tmp_path: Path) -> None:
    target = tmp_path / "bench.json"
    args = ["bench", "--preset", str(preset), "--backend", "cpu", "--duration", "2", "--json", str(target)]
    assert cli.main([*args, "--connectivity", "0.2", "1.0", "--batch-sizes", "4", "8"]) == 0
    records = json.loads(target.read_text())
    assert [(r["connectivity"], r["batch_size"], r["dense"]) for r in records] == [
        (0.2, 4, False),
        (0.2, 8, False),
        (1.0, 4, True),
        (1.0, 8, True),
    ]
    assert all(r["samples_per_second"] > 0 and r["batches"] == 2 for r in records)
    assert cli.main([*args, "--scales", "2"]) == cli.EXIT_USER_ERROR  # the topographic map's knob


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("data: {name: mnist}", "data.name"),
        ("data: {name: shd}", "data.path"),
        ("data: {name: shd, path: /nonexistent/shd}", "data.path"),
        ("learning: {lr: 5.0}", "learning.lr"),
        ("rewiring: {temperature: -1.0}", "rewiring.temperature"),
        ("data: {batch_size: 500}", "data.batch_size"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {preset}\n{change}\n")
    out = tmp_path / "out"
    assert cli.main(["run", "--preset", str(bad), "--out", str(out), "--quiet"]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (out / "metrics.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "-1"], "--duration: must be a positive number of epochs"),
        (
            ["--checkpoint-every", "1e9", "--checkpoint", "c.ckpt"],
            "--checkpoint-every: must be a positive number of epochs",
        ),
        (["--scale", "2"], "--scale: applies to topographic map presets"),
    ],
)
def test_command_line_times_are_epochs_and_topographic_options_refused(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert (
        cli.main(["run", "--preset", str(preset), "--out", str(out), "--quiet", *args]) == cli.EXIT_USER_ERROR
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_a_checkpoint_of_another_experiment_is_refused_and_the_network_kept(
    preset: Path, tmp_path: Path
) -> None:
    from app.presets import load_preset

    other = tmp_path / "map.npz"
    with Engine.build(load_preset("demo"), backend="cpu") as eng:
        eng.save_checkpoint(other)
    with Engine.build(load_config(preset), backend="cpu") as eng:
        eng.step(15)
        with pytest.raises(CheckpointError, match="experiment 'topomap'") as info:
            eng.load_checkpoint(other)
        assert "\n" not in str(info.value)
        eng.step(5)
        assert eng.step_count == 20 and math.isfinite(eng.t)


def test_set_changes_parameters_and_refuses_unknown_ones(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = [
        "run",
        "--preset",
        str(preset),
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
        "--duration",
        "0.25",
    ]
    assert cli.main([*args, "--set", "network.n_hidden=12", "--set", "rewiring.enabled=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["config"]["network"]["n_hidden"] == 12 and summary["config"]["rewiring"]["enabled"] is False
    )
    capsys.readouterr()
    assert cli.main([*args, "--set", "network.hidden=12"]) == cli.EXIT_USER_ERROR
    assert "unknown parameter 'network.hidden'" in capsys.readouterr().err
