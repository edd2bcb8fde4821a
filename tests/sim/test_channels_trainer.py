"""Training the channel-pruning network batch by batch: records, live changes, exact resume."""

from __future__ import annotations

import copy

import pytest
import torch

from sim.data.images import load_image_dataset
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.nn.trainer import EpochRecord, Trainer

SETTINGS = {
    "network.layers": "6C3-AP2-8C3-AP2-4FC",
    "data.size": 8,
    "data.n_train": 96,
    "data.n_test": 40,
    "data.batch_size": 32,
    "pruning.sparsity": 0.5,
    "pruning.fraction": 0.25,
    "run.duration": 3.0,
}


def make(seed: int = 1, **changes: object) -> Trainer:
    config = ChannelsConfig().replace_all({**SETTINGS, **changes}, source="test")
    data = load_image_dataset(
        config.data.name,
        seed=seed,
        n_train=config.data.n_train,
        n_test=config.data.n_test,
        **config.data_options(),
    )
    return Trainer(config, data, seed)


def run(trainer: Trainer, batches: int) -> list[EpochRecord]:
    records = []
    for _ in range(batches):
        record = trainer.train_batch()
        if record is not None:
            records.append(record)
    return records


def test_an_epoch_ends_with_its_record_and_the_mask_at_its_sparsity() -> None:
    trainer = make()
    assert trainer.batches_per_epoch == 3
    assert run(trainer, 2) == []
    (record,) = run(trainer, 1)
    assert record.epoch == 0 and trainer.epoch == 1 and trainer.batch == 0
    assert 0.0 <= record.test_accuracy <= 1.0 and record.train_loss > 0
    assert record.channel_sparsity == pytest.approx(7 / 14) and sum(record.kept) == 7
    assert record.update is not None and len(record.update.pruned) == 7
    assert record.params == sum(p.numel() for p in trainer.compact().parameters())
    assert record.synops == trainer.synops(trainer.compact()) >= 0
    (second,) = run(trainer, 3)
    assert second.update is not None and len(second.update.pruned) == len(second.update.regrown) == 2


def test_the_mask_updates_every_n_batches_when_asked() -> None:
    trainer = make(**{"pruning.interval": 2})
    run(trainer, 2)
    assert trainer.pruner.updates == 1
    record = run(trainer, 1)[0]
    assert record.update is None and trainer.pruner.updates == 1


def test_same_seed_same_training_and_live_changes_apply() -> None:
    a, b = make(), make()
    ra, rb = run(a, 3)[0], run(b, 3)[0]
    assert ra.test_accuracy == rb.test_accuracy and ra.train_loss == rb.train_loss and ra.kept == rb.kept
    live = a.config.replace_all({"pruning.sparsity": 0.25, "learning.lr": 0.01}, source="test")
    a.apply_live(live)
    assert all(g["lr"] == pytest.approx(0.01 * a._lr_factor(1)) for g in a.optimiser.param_groups)
    record = run(a, 3)[0]
    assert record.channel_sparsity == pytest.approx(round(0.25 * 14) / 14)


def test_a_resumed_trainer_continues_exactly() -> None:
    straight = make()
    run(straight, 4)  # mid-epoch
    saved = copy.deepcopy(straight.state_dict())
    expected = run(straight, 5)
    resumed = make()
    resumed.load_state_dict(saved)
    got = run(resumed, 5)
    assert [(r.epoch, r.train_loss, r.test_accuracy, r.kept) for r in got] == [
        (r.epoch, r.train_loss, r.test_accuracy, r.kept) for r in expected
    ]
    for (name, x), (_, y) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
