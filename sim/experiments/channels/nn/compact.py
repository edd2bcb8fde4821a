"""Physical compaction of a masked network, and what a network costs: parameters and SynOps.

:func:`compact` removes every masked output channel: the conv's filters, the
BatchNorm entries, the next conv's input channels or the readout's features.
A masked channel is exactly silent, so the compact network computes the same
logits from the same spikes.

SynOps (synaptic operations) per sample count, for every layer fed by
spikes (every conv block but the first, which takes the image, and the
readout), each non-zero input times the synapses it drives: its fan-out
within the layer's window, borders included, over all steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional

from sim.experiments.channels.layers import compact_layers, parameter_count

__all__ = ["compact", "compact_layers", "parameter_count", "synops_per_sample"]
from sim.experiments.channels.nn.network import ConvBlock, SpikingConvNet


@torch.no_grad()
def compact(model: SpikingConvNet, masks: Sequence[Tensor]) -> SpikingConvNet:
    """A new network without the channels ``masks`` (one bool tensor per block, True: kept) drop."""
    blocks = model.blocks()
    sizes = [b.bn.num_features for b in blocks]
    if [int(m.numel()) for m in masks] != sizes:
        raise ValueError("one mask per conv block, of its channels, is needed")
    keep = [torch.nonzero(m.to(torch.bool).cpu()).flatten() for m in masks]
    if any(k.numel() == 0 for k in keep):
        raise ValueError("every block must keep a channel")
    first = blocks[0].neuron
    out = SpikingConvNet(
        compact_layers(model.layer_spec, [int(k.numel()) for k in keep]),
        model.in_shape,  # type: ignore[arg-type]
        steps=model.steps,
        tau=first.tau,
        v_th=first.v_th,
    ).to(next(model.parameters()).device, next(model.parameters()).dtype)
    previous: Tensor | None = None
    for block, new, k in zip(blocks, out.blocks(), keep, strict=True):
        weight = block.conv.weight[k.to(block.conv.weight.device)]
        if previous is not None:
            weight = weight[:, previous.to(weight.device)]
        new.conv.weight.copy_(weight)
        _copy_bn(block, new, k)
        previous = k
    assert previous is not None
    _, h, w = model.feature_shape
    features = (previous[:, None] * (h * w) + torch.arange(h * w)[None, :]).reshape(-1)
    out.readout.weight.copy_(model.readout.weight[:, features.to(model.readout.weight.device)])
    out.readout.bias.copy_(model.readout.bias)
    out.train(model.training)
    return out


def _copy_bn(block: ConvBlock, new: ConvBlock, keep: Tensor) -> None:
    keep = keep.to(block.bn.weight.device)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new.bn, name).copy_(getattr(block.bn, name)[keep])
    if new.bn.num_batches_tracked is not None and block.bn.num_batches_tracked is not None:
        new.bn.num_batches_tracked.copy_(block.bn.num_batches_tracked)
    new.bn.eps, new.bn.momentum = block.bn.eps, block.bn.momentum


@torch.no_grad()
def synops_per_sample(model: SpikingConvNet, images: Tensor) -> float:
    """Mean SynOps of one sample of ``images`` ``(N, C, H, W)`` (see the module's description)."""
    total = torch.zeros((), dtype=torch.float64)
    hooks = []

    def conv_ops(module: nn.Conv2d, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
        nonlocal total
        active = (inputs[0] != 0).to(torch.float32)
        k = module.kernel_size
        ones = torch.ones((1, module.in_channels, *k), dtype=active.dtype, device=active.device)
        reached = functional.conv2d(active, ones, padding=module.padding)
        total += reached.sum().to(torch.float64).cpu() * module.out_channels

    def linear_ops(module: nn.Linear, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
        nonlocal total
        total += (inputs[0] != 0).sum().to(torch.float64).cpu() * module.out_features

    for block in model.blocks()[1:]:
        hooks.append(block.conv.register_forward_hook(conv_ops))
    hooks.append(model.readout.register_forward_hook(linear_ops))
    try:
        model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return float(total) / images.shape[0]
