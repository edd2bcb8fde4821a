"""The convolutional spiking network, in PyTorch: conv -> BN -> LIF blocks, pooling, a readout.

Structured as SpikingJelly models are: every block is a
:class:`ConvBlock` holding the conv/BN/neuron triple that the pruner
(:mod:`sim.experiments.channels.nn.sca`) masks channel by channel, so the
pruner applies as well to a user's own model made of such triples.

Time is the leading axis: a static image is the input current at each of
``T`` steps; convolution and BatchNorm see the ``T x B`` frames at once, the
neurons step through time. PyTorch differentiates everything (BPTT through
time and layers); only the spike's surrogate derivative is given here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from sim.experiments.channels.layers import Conv, Layer, Pool, Readout, plan_shapes

#: Slope of the sigmoid surrogate (Li et al. 2024, SpikingJelly's default).
SURROGATE_ALPHA = 4.0


class _Spike(torch.autograd.Function):
    """Heaviside step forward; the derivative of ``sigmoid(alpha x)`` backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor, alpha: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha  # type: ignore[attr-defined]
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors  # type: ignore[attr-defined]
        alpha = ctx.alpha  # type: ignore[attr-defined]
        s = torch.sigmoid(alpha * x)
        return grad * alpha * s * (1.0 - s), None


def spike(x: Tensor, alpha: float = SURROGATE_ALPHA) -> Tensor:
    """1 where ``x >= 0``, else 0, with the sigmoid surrogate gradient of slope ``alpha``."""
    out: Tensor = _Spike.apply(x, alpha)
    return out


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons over a sequence, as SpikingJelly's ``LIFNode``.

    ``h[t] = v[t-1] + (x[t] - v[t-1]) / tau`` (the input decays with the
    membrane), a spike where ``h[t] >= v_th``, then a hard reset to 0. The
    input is ``(T, N, C, ...)``; the output has its shape.

    While :attr:`recording` is set, every forward pass adds, per channel
    (axis 2), the mean of ``|h|`` (the membrane potential before reset) and
    the spike rate over steps, samples and positions to :attr:`v_abs_sum` and
    :attr:`rate_sum`, and counts the passes in :attr:`passes`: the pruner's
    importance.
    """

    v_abs_sum: Tensor
    rate_sum: Tensor

    def __init__(self, channels: int, tau: float = 2.0, v_th: float = 1.0, alpha: float = SURROGATE_ALPHA):
        super().__init__()
        self.tau = float(tau)
        self.v_th = float(v_th)
        self.alpha = float(alpha)
        self.recording = False
        self.register_buffer("v_abs_sum", torch.zeros(channels, dtype=torch.float64), persistent=False)
        self.register_buffer("rate_sum", torch.zeros(channels, dtype=torch.float64), persistent=False)
        self.passes = 0

    def forward(self, x: Tensor) -> Tensor:
        v = torch.zeros_like(x[0])
        out = []
        h_abs = torch.zeros(x.shape[2], dtype=torch.float64, device=x.device) if self.recording else None
        for t in range(x.shape[0]):
            h = v + (x[t] - v) / self.tau
            s = spike(h - self.v_th, self.alpha)
            v = h * (1.0 - s)
            out.append(s)
            if h_abs is not None:
                h_abs += _channel_mean(h.detach().abs())
        z = torch.stack(out)
        if h_abs is not None:
            self.v_abs_sum += h_abs / x.shape[0]
            self.rate_sum += _channel_mean(z.detach().flatten(0, 1))
            self.passes += 1
        return z

    def clear_record(self) -> None:
        """Forget the recorded importance."""
        self.v_abs_sum.zero_()
        self.rate_sum.zero_()
        self.passes = 0


def _channel_mean(x: Tensor) -> Tensor:
    """Mean over every axis but 1 (channels) of an ``(N, C, ...)`` tensor, in float64."""
    return x.transpose(0, 1).reshape(x.shape[1], -1).to(torch.float64).mean(dim=1)


class ConvBlock(nn.Module):
    """The conv -> BN -> LIF triple: its output channels are what the pruner keeps or masks."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, tau: float = 2.0, v_th: float = 1.0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.neuron = LIF(out_channels, tau=tau, v_th=v_th)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``(T, N, C, H, W)``."""
        t, n = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        return self.neuron(y.unflatten(0, (t, n)))


class SeqPool(nn.Module):
    """Average pooling of every frame of a ``(T, N, C, H, W)`` sequence."""

    def __init__(self, size: int):
        super().__init__()
        self.pool = nn.AvgPool2d(size)

    def forward(self, x: Tensor) -> Tensor:
        t, n = x.shape[:2]
        return self.pool(x.flatten(0, 1)).unflatten(0, (t, n))


class SpikingConvNet(nn.Module):
    """The network of a layer list for inputs of ``in_shape`` ``(C, H, W)``, over ``steps`` steps.

    :meth:`forward` takes images ``(N, C, H, W)`` (the same current at every
    step) or sequences ``(T, N, C, H, W)`` and returns the logits averaged
    over the steps, ``(N, classes)``.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        in_shape: tuple[int, int, int],
        steps: int = 4,
        tau: float = 2.0,
        v_th: float = 1.0,
    ):
        super().__init__()
        shapes = plan_shapes(tuple(layers), in_shape)
        self.layer_spec = tuple(layers)
        self.in_shape = tuple(in_shape)
        self.steps = int(steps)
        body: list[nn.Module] = []
        channels = in_shape[0]
        for layer in layers:
            if isinstance(layer, Conv):
                body.append(ConvBlock(channels, layer.channels, layer.kernel, tau=tau, v_th=v_th))
                channels = layer.channels
            elif isinstance(layer, Pool):
                body.append(SeqPool(layer.size))
        self.body = nn.Sequential(*body)
        c, h, w = shapes[-1]
        readout = layers[-1]
        assert isinstance(readout, Readout)
        self.feature_shape = (c, h, w)
        self.readout = nn.Linear(c * h * w, readout.classes)

    def blocks(self) -> list[ConvBlock]:
        """The conv blocks, in order."""
        return [m for m in self.body if isinstance(m, ConvBlock)]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4:
            x = x.unsqueeze(0).expand(self.steps, *x.shape)
        z = self.body(x)
        logits = self.readout(z.flatten(2))
        return logits.mean(dim=0)


def triples(model: nn.Module) -> Iterator[tuple[nn.Conv2d, nn.BatchNorm2d, LIF]]:
    """The conv/BN/neuron triples of ``model``, in module order: a ``Conv2d`` whose output feeds
    the next ``BatchNorm2d`` of as many channels, then a :class:`LIF` of as many channels.

    This is how the pruner finds what to prune in any model built from such triples
    (:class:`ConvBlock` or the user's own modules in that order).
    """
    conv: nn.Conv2d | None = None
    bn: nn.BatchNorm2d | None = None
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            conv, bn = module, None
        elif isinstance(module, nn.BatchNorm2d) and conv is not None:
            bn = module if module.num_features == conv.out_channels else None
        elif isinstance(module, LIF) and conv is not None and bn is not None:
            if module.v_abs_sum.numel() == bn.num_features:
                yield conv, bn, module
            conv, bn = None, None


@contextlib.contextmanager
def not_recording(model: nn.Module) -> Iterator[None]:
    """Within the block no :class:`LIF` of ``model`` records its importance (test and timing
    passes: the scores are of the training batches only)."""
    neurons = [m for m in model.modules() if isinstance(m, LIF)]
    saved = [n.recording for n in neurons]
    for n in neurons:
        n.recording = False
    try:
        yield
    finally:
        for n, was in zip(neurons, saved, strict=True):
            n.recording = was
