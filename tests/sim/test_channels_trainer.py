"""Training the channel-pruning network batch by batch: records, live changes, exact resume."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
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
        result = trainer.train_batch()
        if result.record is not None:
            records.append(result.record)
    return records


def test_an_epoch_ends_with_its_record_and_the_mask_updates_before_the_next_batch() -> None:
    trainer = make()
    assert trainer.batches_per_epoch == 3
    assert run(trainer, 2) == []
    (record,) = run(trainer, 1)
    assert record.epoch == 0 and trainer.epoch == 1 and trainer.batch == 0
    assert 0.0 <= record.test_accuracy <= 1.0 and record.train_loss > 0
    # the first epoch trained dense; its update is due and made before the next batch trains
    assert record.channel_sparsity == 0.0 and sum(record.kept) == 14 and trainer.pending
    assert trainer.pruner.updates == 0
    first = trainer.train_batch()
    assert first.update is not None and len(first.update.pruned) == 7 and not first.update.regrown
    assert not trainer.pending and trainer.pruner.channel_sparsity == pytest.approx(7 / 14)
    (second,) = run(trainer, 2)
    assert second.channel_sparsity == pytest.approx(7 / 14) and sum(second.kept) == 7
    assert second.params == sum(p.numel() for p in trainer.compact().parameters())
    assert second.synops == trainer.synops(trainer.compact()) >= 0
    swap = trainer.train_batch().update
    assert swap is not None and len(swap.pruned) == len(swap.regrown) == 2


def test_scoring_the_test_set_leaves_the_importance_to_the_training_batches() -> None:
    trainer = make()
    trainer.train_batch()
    before = [(n.v_abs_sum.clone(), n.rate_sum.clone(), n.passes) for _, _, n in trainer.pruner.triples]
    trainer.accuracy(trainer.model)
    trainer.synops(trainer.model)
    after = [(n.v_abs_sum, n.rate_sum, n.passes) for _, _, n in trainer.pruner.triples]
    for (v0, r0, p0), (v1, r1, p1) in zip(before, after, strict=True):
        assert torch.equal(v0, v1) and torch.equal(r0, r1) and p0 == p1 == 1
    assert all(n.recording for _, _, n in trainer.pruner.triples)


def test_the_mask_updates_every_n_batches_when_asked() -> None:
    trainer = make(**{"pruning.interval": 2})
    results = [trainer.train_batch() for _ in range(4)]
    assert [r.update is not None for r in results] == [False, False, True, False]  # due after batch 2
    assert [(r.index, r.epoch, r.batch) for r in results] == [(0, 0, 0), (1, 0, 1), (2, 0, 2), (3, 1, 0)]
    assert results[2].record is not None and results[3].record is None
    assert trainer.pruner.updates == 1 and trainer.pending  # due again after batch 4
    assert all(r.size == 32 and 0 <= r.correct <= 32 and r.loss > 0 and r.lr > 0 for r in results)


@pytest.mark.parametrize(
    ("first", "interval", "updated"),
    [
        (1, 0, [1, 3, 6]),  # the first after one batch, then at every epoch's end
        (5, 0, [5, 6]),  # no update at the first epoch's end: the first falls due later
        (1, 2, [1, 2, 4, 6]),  # then every 2 batches
    ],
)
def test_the_first_update_can_fall_due_before_the_others(
    first: int, interval: int, updated: list[int]
) -> None:
    trainer = make(**{"pruning.first": first, "pruning.interval": interval})
    results = [trainer.train_batch() for _ in range(7)]
    assert [r.index for r in results if r.update is not None] == updated
    assert trainer.pruner.updates == len(updated)
    assert results[updated[0]].update.pruned and not results[updated[0]].update.regrown  # type: ignore[union-attr]


def test_a_first_update_moved_live_before_it_was_made_falls_due_at_once() -> None:
    trainer = make(**{"pruning.first": 5})
    results = [trainer.train_batch() for _ in range(2)]
    trainer.apply_live(trainer.config.replace_all({"pruning.first": 1}, source="test"))
    results += [trainer.train_batch() for _ in range(2)]
    assert [r.update is not None for r in results] == [False, False, False, True]  # due after batch 3


def test_an_annealed_update_fraction_falls_as_a_cosine_to_zero_at_the_planned_end() -> None:
    trainer = make(**{"pruning.anneal": True, "pruning.fraction": 0.4, "run.duration": 4.0})
    assert trainer.update_fraction() == pytest.approx(0.4)
    total = 4 * trainer.batches_per_epoch
    seen = []
    for _ in range(total):
        result = trainer.train_batch()
        done = trainer.batches_done / total
        assert trainer.update_fraction() == pytest.approx(0.4 * 0.5 * (1 + np.cos(np.pi * done)))
        if result.update is not None:
            seen.append(result.update)
    assert trainer.update_fraction() == pytest.approx(0.0, abs=1e-12)
    # the first update (after epoch 1) brings the mask to s; then round(p(t) * 7 kept) at t = 2/4, 3/4
    assert [len(u.regrown) for u in seen] == [
        0,
        round(0.2 * 7),
        round(0.4 * 0.5 * (1 + np.cos(0.75 * np.pi)) * 7),
    ]
    assert [len(u.regrown) for u in seen] == [0, 1, 0]
    assert make(**{"pruning.fraction": 0.4}).update_fraction() == 0.4  # not annealed: p throughout


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


# -- the state as arrays (the checkpoint's form) --------------------------------------------------


@pytest.mark.parametrize("optimiser", ["adam", "sgd"])
def test_the_state_as_arrays_has_its_layout_and_resumes_exactly(optimiser: str) -> None:
    from sim.experiments.channels.nn.state import load_state_arrays, state_arrays, state_layout

    straight = make(**{"learning.optimiser": optimiser})
    layout = state_layout(straight.config, straight.in_shape)
    fresh = state_arrays(straight)  # before any step: zero moments stand for none
    assert {k: (v.shape, v.dtype) for k, v in fresh.items()} == layout
    run(straight, 4)
    arrays = state_arrays(straight)
    assert {k: (v.shape, v.dtype) for k, v in arrays.items()} == layout
    expected = run(straight, 5)
    resumed = make(**{"learning.optimiser": optimiser})
    load_state_arrays(resumed, arrays)
    got = run(resumed, 5)
    assert [(r.train_loss, r.test_accuracy, r.kept) for r in got] == [
        (r.train_loss, r.test_accuracy, r.kept) for r in expected
    ]
    for (name, x), (_, y) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
    other = make(**{"learning.optimiser": optimiser})
    load_state_arrays(other, fresh)  # a state before any step continues as a new trainer does
    twin = make(**{"learning.optimiser": optimiser})
    assert run(other, 3)[0].train_loss == run(twin, 3)[0].train_loss


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("loss_sum"), "loss_sum: missing"),
        (
            lambda a: a.__setitem__("model/readout.bias", np.zeros(5, np.float32)),
            "model/readout.bias: expected",
        ),
        (lambda a: a["model/body.0.conv.weight"].__setitem__((0, 0, 0, 0), np.nan), "not finite"),
        (lambda a: a["pruner/1/mask"].fill(False), "masks every channel"),
        (lambda a: a["position"].__setitem__(1, 99), "an epoch of this data set has 3 batches"),
        (lambda a: a["pruner/0/passes"].__setitem__((), -1), "negative count"),
        (lambda a: a["pruner/1/regrown_after"].__setitem__(0, 50), "names an update after the"),
    ],
)
def test_bad_state_arrays_are_refused_before_the_trainer_sees_them(change: Any, message: str) -> None:
    from sim.experiments.channels.nn.state import load_state_arrays, state_arrays

    trainer = make()
    run(trainer, 1)
    arrays = {k: np.array(v) for k, v in state_arrays(trainer).items()}
    change(arrays)
    target = make()
    before = copy.deepcopy(target.model.state_dict())
    with pytest.raises(ValueError, match=message):
        load_state_arrays(target, arrays)
    for name, value in target.model.state_dict().items():
        assert torch.equal(value, before[name]), name
