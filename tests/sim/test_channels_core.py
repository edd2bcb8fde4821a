"""The channel experiment's network, SCA pruner and compaction (PyTorch), on small networks."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sim.errors import ConfigError
from sim.experiments.channels.layers import Conv, Pool, Readout, layer_string, parse_layers, plan_shapes
from sim.experiments.channels.nn.compact import compact, parameter_count, synops_per_sample
from sim.experiments.channels.nn.compaction import FLOAT64_ROUNDING, float64_agreement
from sim.experiments.channels.nn.network import LIF, SpikingConvNet, spike, triples
from sim.experiments.channels.nn.sca import ChannelPruner, restart_moments
from sim.experiments.channels.selection import next_mask

LAYERS = "8C3-AP2-12C3-AP2-12C3-4FC"
SHAPE = (1, 16, 16)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def network() -> SpikingConvNet:
    return SpikingConvNet(parse_layers(LAYERS), SHAPE, steps=4)


def batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand((n, *SHAPE), generator=g) * 2.0, torch.randint(0, 4, (n,), generator=g)


def train(model: nn.Module, pruner: ChannelPruner | None, batches: int, opt: torch.optim.Optimizer) -> None:
    x, y = batch()
    for _ in range(batches):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        if pruner is not None:
            pruner.after_backward()
        opt.step()
        if pruner is not None:
            pruner.apply()


# -- the layer string ---------------------------------------------------------------------------


def test_layer_strings_parse_to_blocks_pools_and_a_readout() -> None:
    assert parse_layers("64C3-AP2-128C3-10FC") == (Conv(64, 3), Pool(2), Conv(128, 3), Readout(10))
    assert plan_shapes(parse_layers(LAYERS), SHAPE) == [
        (8, 16, 16),
        (8, 8, 8),
        (12, 8, 8),
        (12, 4, 4),
        (12, 4, 4),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("64C3-XP2-10FC", "'XP2' (layer 2, character 6) is not a layer"),
        ("64C4-10FC", "'64C4' (layer 1, character 1): the kernel must be odd"),
        ("64C3-10FC-AP2", "'AP2' (layer 3, character 11) follows the readout"),
        ("64C3-AP2", "must end with the readout"),
        ("AP2-10FC", "must start with a conv block"),
        ("10FC", "has no conv block"),
        ("0C3-10FC", "channels must be in"),
        ("", "must be a layer string"),
    ],
)
def test_a_bad_layer_string_is_named_with_its_position(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"network\.layers") as info:
        parse_layers(text)
    assert message in str(info.value)


@pytest.mark.parametrize("text", ["16C3-AP2-32C3-AP2-32C3-AP2-6FC", "64C3-64C3-AP2-128C3-10FC", "8C5-4FC"])
def test_a_layer_string_is_given_back_by_its_layers(text: str) -> None:
    assert layer_string(parse_layers(text)) == text


def test_a_pooling_that_leaves_no_pixel_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"AP2 \(layer 4\) pools a 1x1 map"):
        plan_shapes(parse_layers("4C3-AP4-AP2-AP2-2FC"), (1, 8, 8))


# -- neurons --------------------------------------------------------------------------------------


def test_lif_integrates_decays_fires_and_resets_hard() -> None:
    lif = LIF(1)
    x = torch.full((4, 1, 1), 1.5)
    # h: 0.75, then 0.75 + (1.5 - 0.75) / 2 = 1.125 >= 1: spike, reset to 0, then again 0.75, 1.125
    assert lif(x).flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    lif.recording = True
    lif(x)
    np.testing.assert_allclose(lif.v_abs_sum.item(), (0.75 + 1.125) / 2)
    assert lif.rate_sum.item() == 0.5 and lif.passes == 1


def test_the_surrogate_is_the_sigmoid_derivative_with_slope_4() -> None:
    x = torch.tensor([0.0, 0.5, -1.0], requires_grad=True)
    spike(x).sum().backward()
    s = torch.sigmoid(4.0 * x.detach())
    torch.testing.assert_close(x.grad, 4.0 * s * (1 - s))
    assert spike(torch.tensor([-1e-6, 0.0])).tolist() == [0.0, 1.0]


def test_triples_are_found_in_a_users_own_model() -> None:
    own = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        LIF(6),
        nn.Conv2d(6, 5, 1),
        nn.BatchNorm2d(5),
        LIF(5),
    )
    found = list(triples(own))
    assert [(c.out_channels, b.num_features, n.v_abs_sum.numel()) for c, b, n in found] == [
        (6, 6, 6),
        (5, 5, 5),
    ]
    assert len(list(triples(network()))) == 3


# -- masking and SCA ------------------------------------------------------------------------------


def test_a_masked_channel_is_exactly_silent_and_its_gamma_gradient_informative() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="random", sparsity=0.5, seed=3)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    train(model, pruner, 3, opt)  # running statistics and biases move
    outputs: list[torch.Tensor] = []
    hooks = [b.neuron.register_forward_hook(lambda _m, _i, o: outputs.append(o)) for b in model.blocks()]
    x, y = batch()
    for mode in (model.train, model.eval):
        mode()
        outputs.clear()
        model.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        for block, mask, z in zip(model.blocks(), pruner.masks, outputs, strict=True):
            assert torch.all(z[:, :, ~mask] == 0)
            assert torch.all(block.conv.weight.grad[~mask] == 0)
            assert torch.all(block.bn.weight[~mask] == 0) and torch.all(block.bn.bias[~mask] == 0)
        assert outputs[0][:, :, pruner.masks[0]].sum() > 0  # the kept channels do spike
    for hook in hooks:
        hook.remove()
    assert any(
        float(b.bn.weight.grad[~m].abs().sum()) > 0 for b, m in zip(model.blocks(), pruner.masks, strict=True)
    )


def test_sca_reaches_the_sparsity_then_swaps_keeping_it_exactly() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.5, fraction=0.25)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    train(model, pruner, 2, opt)
    first = pruner.update(opt)
    n = pruner.n_channels
    assert n - sum(first.kept) == round(0.5 * n) and not first.regrown and all(k >= 1 for k in first.kept)
    # the first update masked the lowest scores among all blocks at once, but a block's last channel
    scores = np.concatenate(first.importance)
    masked = ~np.concatenate([m.numpy() for m in pruner.masks])
    sole = np.concatenate([np.full(m.numel(), int(m.sum()) == 1) for m in pruner.masks])
    assert scores[masked].max() <= scores[~masked & ~sole].min()
    for _ in range(3):
        train(model, pruner, 2, opt)
        scores = np.concatenate(pruner.importance())
        grads = np.concatenate(pruner.gamma_grad())
        before = ~np.concatenate([m.numpy() for m in pruner.masks])
        update = pruner.update(opt)
        swap = round(0.25 * sum(first.kept))
        assert len(update.pruned) == len(update.regrown) == swap
        assert pruner.channel_sparsity == pytest.approx(round(0.5 * n) / n)
        flat = np.cumsum([0, *pruner.sizes])
        pruned = np.array([flat[b] + c for b, c in update.pruned])
        regrown = np.array([flat[b] + c for b, c in update.regrown])
        # the pruned were the lowest scores of the kept, but for a block's last channel
        survived = ~before.copy()
        survived[pruned] = False
        block_of = np.repeat(np.arange(len(pruner.sizes)), pruner.sizes)
        left = np.bincount(block_of[survived], minlength=len(pruner.sizes))
        could_go = survived & (left[block_of] > 1)
        assert scores[pruned].max() <= scores[could_go].min()
        assert grads[regrown].min() >= np.sort(grads[before])[::-1][swap - 1] - 1e-12
        regrown_in = [{c for b, c in update.regrown if b == k} for k in range(len(pruner.sizes))]
        for b, c in update.regrown:
            bn = pruner.triples[b][1]
            assert bn.weight[c] == 1.0 and bn.bias[c] == 0.0
            # momenta restart at 0; second moments at the mean of the block's other kept channels
            others = [k for k in range(pruner.sizes[b]) if pruner.masks[b][k] and k not in regrown_in[b]]
            for param in (bn.weight, bn.bias):
                assert opt.state[param]["exp_avg"][c] == 0.0
                expected = float(opt.state[param]["exp_avg_sq"][others].mean()) if others else 0.0
                assert float(opt.state[param]["exp_avg_sq"][c]) == pytest.approx(expected)


def test_a_restarted_channel_takes_adam_steps_the_size_of_its_neighbours() -> None:
    # late in training (bias correction ~1), a second moment cleared to 0 would make the first
    # step lr * (1 - b1) / sqrt(1 - b2) = 3.2 lr; at the block's mean it is about lr * (1 - b1)
    param = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.Adam([param], lr=0.01)
    for _ in range(2000):
        opt.zero_grad()
        param.grad = torch.ones(4)
        opt.step()
    others = torch.tensor([False, True, True, True])
    restart_moments(opt.state[param], param, torch.tensor([0]), others)
    assert opt.state[param]["exp_avg"][0] == 0.0
    assert float(opt.state[param]["exp_avg_sq"][0]) == pytest.approx(float(opt.state[param]["exp_avg_sq"][1]))
    before = param.detach().clone()
    param.grad = torch.ones(4)
    opt.step()
    step = float((param.detach() - before)[0].abs())
    assert step < 0.2 * 0.01  # (1 - b1) = 0.1 of the usual step, not 3.2 times it
    restart_moments(opt.state[param], param, torch.tensor([0, 1, 2, 3]), torch.zeros(4, dtype=torch.bool))
    assert float(opt.state[param]["exp_avg_sq"].abs().sum()) == 0.0  # no other kept channel: 0


def test_prune_only_changes_the_mask_once_random_never_and_none_not_at_all() -> None:
    model = network()
    opt = torch.optim.SGD(model.parameters(), 0.1)
    pruner = ChannelPruner(model, mode="prune_only", sparsity=0.4, fraction=0.3)
    train(model, pruner, 1, opt)
    pruner.update()
    mask = [m.clone() for m in pruner.masks]
    train(model, pruner, 1, opt)
    assert not pruner.update().pruned and all(
        torch.equal(a, b) for a, b in zip(mask, pruner.masks, strict=True)
    )
    pruner.sparsity = 0.6  # a live change: the difference is masked at the next update
    assert len(pruner.update().pruned) == round(0.6 * pruner.n_channels) - round(0.4 * pruner.n_channels)

    a = ChannelPruner(network(), mode="random", sparsity=0.5, seed=7)
    b = ChannelPruner(network(), mode="random", sparsity=0.5, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.masks, b.masks, strict=True))
    assert a.channel_sparsity == pytest.approx(round(0.5 * a.n_channels) / a.n_channels)
    assert not a.update().pruned
    none = ChannelPruner(network(), mode="none", sparsity=0.5)
    assert none.channel_sparsity == 0.0 and not none.update().pruned


def test_normalised_ranking_compares_each_block_with_its_own_mean() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="prune_only", sparsity=0.5, normalise=True)
    train(model, pruner, 2, torch.optim.SGD(model.parameters(), 0.1))
    scores = pruner.importance()
    deeper = [s * (100.0 if b == 0 else 1.0) for b, s in enumerate(scores)]  # block 0 runs far higher
    ranked = pruner.ranking_scores(deeper)
    assert np.allclose(ranked, pruner.ranking_scores(scores))  # a block's scale does not matter
    for part, sizes in zip(np.split(ranked, np.cumsum(pruner.sizes)[:-1]), pruner.sizes, strict=True):
        assert len(part) == sizes and part.mean() == pytest.approx(1.0)
    pruner.normalise = False
    assert np.array_equal(pruner.ranking_scores(deeper), np.concatenate(deeper))


def test_normalised_regrowth_compares_each_blocks_gradients_with_their_own_mean() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.5, normalise=True)
    train(model, pruner, 2, torch.optim.SGD(model.parameters(), 0.1))
    grads = pruner.gamma_grad()
    louder = [g * (50.0 if b == 0 else 1.0) for b, g in enumerate(grads)]  # block 0's gradients larger
    assert np.allclose(pruner.regrowth_scores(louder), pruner.regrowth_scores(grads))
    for part in np.split(pruner.regrowth_scores(grads), np.cumsum(pruner.sizes)[:-1]):
        assert part.mean() == pytest.approx(1.0)
    pruner.normalise = False
    assert np.array_equal(pruner.regrowth_scores(louder), np.concatenate(louder))


def test_a_regrown_channel_is_not_pruned_again_within_its_grace_period() -> None:
    def swaps(grace: int) -> list[tuple[set[tuple[int, int]], set[tuple[int, int]]]]:
        torch.manual_seed(0)
        model = network()
        pruner = ChannelPruner(model, mode="sca", sparsity=0.5, fraction=0.25, grace=grace)
        opt = torch.optim.Adam(model.parameters(), 1e-2)
        out = []
        for _ in range(5):
            train(model, pruner, 2, opt)
            update = pruner.update(opt)
            out.append((set(update.pruned), set(update.regrown)))
        return out

    for grace in (1, 2):
        history = swaps(grace)
        for i, (_, regrown) in enumerate(history):
            for j in range(i + 1, min(i + 1 + grace, len(history))):
                assert not regrown & history[j][0], (grace, i, j)  # none pruned within the grace
        assert all(len(p) == len(r) > 0 for p, r in history[1:])  # and the swaps still happen
    # without one, the channels regrown at an update are the first pruned at the next in this network
    plain = swaps(0)
    assert any(plain[i][1] & plain[i + 1][0] for i in range(1, len(plain) - 1))
    with pytest.raises(ValueError, match="grace period"):
        ChannelPruner(network(), grace=-1)


def test_an_update_can_swap_a_fraction_other_than_the_configured_one() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.5, fraction=0.25)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    train(model, pruner, 1, opt)
    first = pruner.update(opt)
    train(model, pruner, 1, opt)
    assert not pruner.update(opt, fraction=0.0).regrown
    train(model, pruner, 1, opt)
    assert len(pruner.update(opt, fraction=0.5).regrown) == round(0.5 * sum(first.kept))
    with pytest.raises(ValueError, match="update fraction"):
        pruner.update(opt, fraction=1.5)


def test_the_selection_masks_the_lowest_then_swaps_for_the_largest_gradients() -> None:
    importance = np.array([0.5, 0.1, 0.3, 0.9, 0.2, 0.4])
    grad = np.zeros(6)
    mask = np.ones(6, bool)
    # first update: mask the lowest half, never a block's last channel (blocks of 2 and 4)
    first = next_mask(mask, (2, 4), importance, grad, mode="sca", sparsity=0.5, fraction=0.5, swap=False)
    assert first.tolist() == [True, False, False, True, False, True]
    # later: a swap of round(0.5 * 3) = 2 kept channels for the masked ones of largest gradient
    grad = np.array([0.0, 0.3, 0.1, 0.0, 0.7, 0.0])
    importance = np.array([0.5, 0.0, 0.0, 0.9, 0.0, 0.4])
    after = next_mask(first, (2, 4), importance, grad, mode="sca", sparsity=0.5, fraction=0.5, swap=True)
    assert (first & ~after).tolist() == [False, False, False, False, False, True]  # block 0 keeps one
    assert (~first & after).tolist() == [False, False, False, False, True, False]
    # a channel in its grace period is passed over: the next lowest that may go goes instead
    exempt = np.array([False, False, False, False, False, True])
    spared = next_mask(
        first, (2, 4), importance, grad, mode="sca", sparsity=0.5, fraction=0.5, swap=True, exempt=exempt
    )
    assert (first & ~spared).tolist() == [False, False, False, True, False, False]
    for mode in ("random", "none"):
        assert np.array_equal(
            next_mask(first, (2, 4), importance, grad, mode=mode, sparsity=0.5, fraction=0.5, swap=True),
            first,
        )


def test_every_block_keeps_a_channel_at_high_sparsity() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.99)
    train(model, pruner, 1, torch.optim.SGD(model.parameters(), 0.1))
    update = pruner.update()
    assert min(update.kept) >= 1 and sum(update.kept) == len(update.kept)


def test_the_pruner_continues_exactly_from_its_state() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.5, fraction=0.25)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    train(model, pruner, 1, opt)
    pruner.update()
    train(model, pruner, 1, opt)
    twin_model = copy.deepcopy(model)
    twin = ChannelPruner(twin_model, mode="sca", sparsity=0.5, fraction=0.25)
    twin.load_state_dict(pruner.state_dict())
    a, b = pruner.update(), twin.update()
    assert a.pruned == b.pruned and a.regrown == b.regrown and a.kept == b.kept


# -- compaction -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_the_compact_network_gives_the_masked_networks_logits(mode: str) -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.6, fraction=0.25)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(3):
        train(model, pruner, 2, opt)
        pruner.update(opt)
    small = compact(model, pruner.masks)
    getattr(model, mode)()
    getattr(small, mode)()
    x, _ = batch(16)
    with torch.no_grad():
        masked, compacted = model(x), small(x)
    assert torch.equal(masked, compacted)
    assert masked.abs().sum() > 0
    assert [b.bn.num_features for b in small.blocks()] == pruner.kept()
    layers, kept = parse_layers(LAYERS), pruner.kept()
    assert sum(p.numel() for p in small.parameters()) == parameter_count(layers, SHAPE, kept)
    assert sum(p.numel() for p in model.parameters()) == parameter_count(layers, SHAPE)
    assert synops_per_sample(small, x) <= synops_per_sample(model, x)


def test_the_float64_check_passes_a_compaction_and_catches_a_wrong_one() -> None:
    model = network()
    pruner = ChannelPruner(model, mode="sca", sparsity=0.5, fraction=0.25)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    train(model, pruner, 2, opt)
    pruner.update(opt)
    x, _ = batch(16)
    small = compact(model, pruner.masks)
    difference, same = float64_agreement(model, small, x)
    assert difference <= FLOAT64_ROUNDING and same
    with torch.no_grad():  # a readout bias changed: no longer the same network
        small.readout.bias[0] += 0.5
    difference, _ = float64_agreement(model, small, x)
    assert difference == pytest.approx(0.5)
    assert model.blocks()[0].bn.weight.dtype == torch.float32  # the check ran on copies


def test_synops_count_every_spike_times_its_fan_out() -> None:
    model = SpikingConvNet(parse_layers("2C3-3FC"), (1, 4, 4), steps=2).eval()
    with torch.no_grad():
        model.blocks()[0].conv.weight.fill_(1.0)
    x = torch.ones(5, 1, 4, 4)  # every conv output >= 4: every neuron fires at every step
    assert synops_per_sample(model, x) == 2 * (2 * 4 * 4) * 3  # steps x spikes x readout fan-out
    model2 = SpikingConvNet(parse_layers("1C1-1C3-2FC"), (1, 3, 3), steps=1).eval()
    with torch.no_grad():
        model2.blocks()[0].conv.weight.fill_(5.0)
        model2.blocks()[1].conv.weight.fill_(-1.0)  # silent: the readout counts nothing
    # 9 spikes into a 3x3 conv with padding 1 on a 3x3 map: 4 corners reach 4, 4 edges 6, the centre 9
    assert synops_per_sample(model2, torch.ones(1, 1, 3, 3)) == 4 * 4 + 4 * 6 + 9


def test_the_readme_example_prunes_a_users_own_model(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- channels-example -->\n```python\n(.*?)```", readme, re.S)
    assert found is not None, "the README's channels example is missing"
    namespace: dict[str, object] = {}
    exec(compile(found.group(1), "README.md (channels example)", "exec"), namespace)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].endswith("regrown 0") and lines[1].endswith("regrown 2")
    pruner = namespace["pruner"]
    assert isinstance(pruner, ChannelPruner) and pruner.channel_sparsity == pytest.approx(0.5)
