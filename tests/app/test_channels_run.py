"""The channel network on the command line: headless run and its outputs, compaction, bench, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import main as cli
from app.experiments.channels.metrics import columns_for
from app.headless import run_headless
from sim.config import load_config
from sim.engine import Engine
from sim.events import FORMED, REMOVED
from sim.experiments.channels.layers import parse_layers
from sim.experiments.channels.nn.network import SpikingConvNet

SMALL = """\
experiment: channels
description: a small channel network for the tests
network: {layers: 4C3-AP2-8C3-AP2-4FC}
pruning: {mode: sca, sparsity: 0.5, fraction: 0.25}
data: {name: shapes, classes: 4, size: 8, n_train: 64, n_test: 32, batch_size: 8}
run: {duration: 3.0}
"""


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_run_writes_a_row_per_epoch_the_compaction_and_the_figures(preset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", "--preset", str(preset), "--out", str(out), "--backend", "cpu", "--quiet"]) == 0
    with (out / "metrics.csv").open() as fh:
        header = tuple(next(csv.reader(fh)))
    assert header == columns_for(2) and header[-2:] == ("kept_1", "kept_2")
    rows = read_csv(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["t"]) for r in rows] == [1.0, 2.0, 3.0]
    # the first epoch trains dense; its end's update is made before the second epoch's first batch
    assert (int(rows[0]["kept_1"]), int(rows[0]["kept_2"]), float(rows[0]["channel_sparsity"])) == (4, 8, 0.0)
    for row in rows[1:]:  # then the mask is at its sparsity; every block keeps one
        kept = int(row["kept_1"]) + int(row["kept_2"])
        assert kept == 6 and float(row["channel_sparsity"]) == pytest.approx(0.5)
        assert int(row["kept_1"]) >= 1 and int(row["kept_2"]) >= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] == pytest.approx(float(rows[-1]["test_accuracy"]))
    assert summary["compact_test_accuracy"] == pytest.approx(summary["test_accuracy"])
    assert summary["compact_logits_equal"] is True and summary["compact_predictions_equal"] is True
    assert summary["compact_logits_max_difference"] == 0.0
    assert summary["compact_predictions_differing"] == 0 and summary["compact_exact"] is True
    assert summary["compact_float64_logits_max_difference"] <= 1e-9
    assert summary["params_compact"] == int(rows[-1]["params"]) < summary["params_dense"]
    assert summary["synops_compact"] <= summary["synops_dense"]
    assert summary["inference_ms_compact"] > 0 and summary["inference_ms_dense"] > 0
    # updates at the starts of epochs 2 and 3; the one due at the run's end is not made
    assert summary["mask_updates"] == 2 and summary["regrown_per_update"][0] == 0
    events = np.load(out / "events.npy")
    assert (
        int((events["kind"] == REMOVED).sum())
        == summary["pruned_total"]
        == 6 + sum(summary["regrown_per_update"])
    )
    assert int((events["kind"] == FORMED).sum()) == summary["regrown_total"]
    with np.load(out / "mask.npz", allow_pickle=False) as f:
        masks = [f["block_0"], f["block_1"]]
    assert [int(m.sum()) for m in masks] == [int(rows[-1]["kept_1"]), int(rows[-1]["kept_2"])]
    with np.load(out / "compact_model.npz", allow_pickle=False) as f:
        weights = {k: f[k] for k in f.files}
    layers = str(weights.pop("__layers__"))
    assert layers == summary["compact_layers"]
    in_shape = tuple(int(v) for v in weights.pop("__in_shape__"))
    steps = int(weights.pop("__steps__"))
    # the saved compact model loads into a network of its layer string
    model = SpikingConvNet(parse_layers(layers), in_shape, steps=steps)  # type: ignore[arg-type]
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    for name in ("learning.png", "mask_over_time.png", "kept_per_layer.png", "importance.png", "cost.png"):
        assert (out / name).stat().st_size > 10_000, name


def test_a_resumed_run_continues_exactly(preset: Path, tmp_path: Path) -> None:
    config = load_config(preset)
    straight = run_headless(config, tmp_path / "a", backend="cpu", progress=False, figures=False)
    ckpt = tmp_path / "half.npz"
    run_headless(
        config, tmp_path / "b", backend="cpu", progress=False, figures=False, duration=1.5, checkpoint=ckpt
    )
    resumed = run_headless(
        config, tmp_path / "c", backend="cpu", progress=False, figures=False, resume=ckpt, duration=1.5
    )
    for column in ("test_accuracy", "train_loss", "kept_1", "kept_2", "params"):
        assert np.array_equal(resumed.metrics[column], straight.metrics[column]), column
    with (
        np.load(tmp_path / "a" / "compact_model.npz") as a,
        np.load(tmp_path / "c" / "compact_model.npz") as c,
    ):
        assert a.files == c.files and all(np.array_equal(a[k], c[k]) for k in a.files)


def test_compact_command_on_a_checkpoint(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "run.npz"
    assert (
        cli.main(
            [
                "run",
                "--preset",
                str(preset),
                "--out",
                str(tmp_path / "r"),
                "--quiet",
                "--no-figures",
                "--duration",
                "2",
                "--checkpoint",
                str(ckpt),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["compact", str(ckpt), "--out", str(tmp_path / "c"), "--backend", "cpu"]) == 0
    line = capsys.readouterr().out
    assert "compacted to" in line and "parameters" in line and "SynOps" in line
    numbers = json.loads((tmp_path / "c" / "compaction.json").read_text())
    assert numbers["logits_equal"] is True and numbers["params_compact"] < numbers["params_dense"]
    with Engine.from_checkpoint(ckpt, backend="cpu") as eng:
        kept = eng.snapshot().kept
    assert tuple(numbers["kept"]) == kept


def test_bench_measures_training_and_inference(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    args = [
        "bench",
        "--preset",
        str(preset),
        "--backend",
        "cpu",
        "--duration",
        "2",
        "--sparsities",
        "0",
        "0.5",
    ]
    assert cli.main([*args, "--json", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "samples/s" in lines[0]
    records = json.loads(out.read_text())
    assert [r["sparsity"] for r in records] == [0.0, 0.5]
    dense, half = records
    assert dense["params_compact"] == dense["params_dense"] > half["params_compact"]
    assert all(r["samples_per_second"] > 0 and r["inference_ms_compact"] > 0 for r in records)


@pytest.mark.parametrize(
    ("sets", "fragments"),
    [
        (["network.layers=4C3-AP2-8C4-AP2-4FC"], ["network.layers", "8C4", "layer 3", "odd"]),
        (["pruning.sparsity=1.0"], ["pruning.sparsity", "1"]),
        (["pruning.sparsity=-0.1"], ["pruning.sparsity"]),
        (["data.size=8", "network.layers=4C3-AP2-8C3-AP2-AP2-AP2-4FC"], ["network.layers", "too small"]),
        (["network.layers=4C3-AP2-8C3-AP2-10FC"], ["network.layers", "10 classes", "4"]),
        (["data.name=cifar10", "data.path=/nonexistent/cifar", "network.layers=4C3-AP2-10FC"], ["cifar"]),
        (["pruning.mode=magic"], ["pruning.mode", "magic"]),
        (
            ["network.layers=512C3-512C3-512C3-AP2-4FC", "data.batch_size=4096", "data.n_train=4096"],
            ["data.batch_size", "available"],
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], sets: list[str], fragments: list[str]
) -> None:
    out = tmp_path / "out"
    args = ["run", "--preset", str(preset), "--out", str(out), "--quiet"]
    for item in sets:
        args += ["--set", item]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert not out.exists()


def test_compact_refuses_a_checkpoint_of_another_experiment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "classifier.npz"
    assert (
        cli.main(
            [
                "run",
                "--preset",
                "classifier_digits",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
                "--no-figures",
                "--duration",
                "0.01",
                "--checkpoint",
                str(ckpt),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["compact", str(ckpt), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'classifier'" in err and "channels" in err
    assert not (tmp_path / "c").exists()


def test_cifar10_from_binary_files_trains_and_compacts(tmp_path: Path) -> None:
    """The cifar10 preset's path, on a small folder of the binary layout (3073-byte records)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, n in (("data_batch_1.bin", 48), ("data_batch_2.bin", 16), ("test_batch.bin", 24)):
        records = rng.integers(0, 256, size=(n, 3073), dtype=np.uint8)
        records[:, 0] = rng.integers(0, 10, size=n)
        (folder / name).write_bytes(records.tobytes())
    out = tmp_path / "out"
    args = [
        "run",
        "--preset",
        "channels_cifar10",
        "--set",
        f"data.path={folder}",
        "--set",
        "network.layers=8C3-AP2-8C3-AP4-10FC",
        "--set",
        "data.batch_size=16",
        "--duration",
        "2",
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
    ]
    assert cli.main(args) == 0
    rows = read_csv(out / "metrics.csv")
    assert len(rows) == 2 and float(rows[1]["channel_sparsity"]) == pytest.approx(0.8, abs=0.07)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["compact_logits_equal"] is True and summary["params_compact"] < summary["params_dense"]
