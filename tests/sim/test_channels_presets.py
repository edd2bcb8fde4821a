"""Every channel preset builds and trains: a few batches, then a sane snapshot and its ablation's mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.config import load_config
from sim.engine import Engine
from sim.experiments.channels.layers import blocks, parse_layers

PRESETS = sorted((Path(__file__).resolve().parents[2] / "presets" / "channels").glob("*.yaml"))


@pytest.fixture(scope="module")
def cifar_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small folder of CIFAR-10's binary layout (random images, labels 0-9)."""
    folder = tmp_path_factory.mktemp("cifar-10-batches-bin")
    rng = np.random.default_rng(3)
    for name, n in (("data_batch_1.bin", 12), ("test_batch.bin", 4)):
        records = rng.integers(0, 256, size=(n, 3073), dtype=np.uint8)
        records[:, 0] = rng.integers(0, 10, size=n)
        (folder / name).write_bytes(records.tobytes())
    return folder


def test_every_experiment_has_its_presets() -> None:
    names = {p.stem for p in PRESETS}
    for data in ("digits", "shapes", "cifar10"):
        for suffix in ("", "_prune_only", "_random", "_dense"):
            assert f"channels_{data}{suffix}" in names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_trains(path: Path, cifar_folder: Path) -> None:
    config: Any = load_config(path)
    changes: dict[str, object] = {}
    if config.data.name == "cifar10":
        changes = {"data.path": str(cifar_folder), "data.batch_size": 4}
    config = config.replace_all(changes) if changes else config
    mode = config.pruning.mode
    suffixes = {"_prune_only": "prune_only", "_random": "random", "_dense": "none"}
    assert mode == next((m for end, m in suffixes.items() if path.stem.endswith(end)), "sca")
    with Engine.build(config, backend="cpu", seed=1) as eng:
        eng.step(2)
        snap = eng.snapshot()
    assert snap.step == 2 and len(snap.batches) == 2
    assert np.all(np.isfinite(snap.batches["loss"])) and np.all(snap.batches["loss"] > 0)
    sizes = tuple(b.channels for b in blocks(parse_layers(config.network.layers)))
    assert snap.sizes == sizes and snap.params_dense > 0
    if mode == "random":  # drawn at the start, at its sparsity
        masked = int((~snap.mask).sum())
        assert masked == min(round(config.pruning.sparsity * sum(sizes)), sum(sizes) - len(sizes))
    else:  # no update before the first epoch ends
        assert snap.mask.all() and snap.params == snap.params_dense


def test_a_snapshot_from_the_view_equals_one_from_the_whole_state() -> None:
    config = load_config(PRESETS[0].parent / "channels_shapes.yaml").replace_all(
        {
            "network.layers": "4C3-AP2-8C3-AP2-6FC",
            "data.n_train": 64,
            "data.n_test": 16,
            "data.batch_size": 8,
            "pruning.first": 0,
        }
    )
    with Engine.build(config, backend="cpu", seed=1) as eng:
        eng.step(11)  # past the first update, mid epoch
        light = eng.snapshot()
        whole = eng.experiment.snapshot(
            eng.state(),
            eng.config,
            seq=0,
            backend="cpu",
            realtime_factor=None,
            events=light.events,
            records={},
        )
        backend: Any = eng._require()
        view = backend.pull_view()
    assert not any(k.startswith("optimiser/") or k.endswith("conv.weight") for k in view.arrays)
    assert not light.mask.all()
    for name in (
        "mask",
        "importance",
        "gamma_grad",
        "gamma",
        "kept",
        "params",
        "n_updates",
        "epoch",
        "batch",
    ):
        assert np.array_equal(np.asarray(getattr(light, name)), np.asarray(getattr(whole, name))), name
