"""The layer string of a convolutional spiking network, parsed and checked without torch.

A network is written as its layers joined by ``-``, as in Li et al. (2024):
``64C3-AP2-128C3-AP2-256C3-AP2-10FC``.

- ``NCK``: a block of ``N`` output channels, a ``K x K`` convolution (stride 1,
  padding ``K // 2``, no bias), BatchNorm and LIF neurons: the
  conv/BN/neuron triple whose output channels the pruner masks;
- ``APK``: average pooling over ``K x K`` windows (stride ``K``);
- ``NFC``: the linear readout of ``N`` classes, last and only once.

:func:`parse_layers` names the token and its character position when a
string cannot be read; :func:`plan_shapes` follows an input shape through the
layers and refuses a pooling that leaves no pixel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sim.errors import ConfigError

#: The most output channels of one block and kernel side, and blocks in one network.
MAX_CHANNELS = 4096
MAX_KERNEL = 15
MAX_LAYERS = 64

_TOKEN = re.compile(r"^(?:(?P<conv_n>\d+)C(?P<conv_k>\d+)|AP(?P<pool_k>\d+)|(?P<fc_n>\d+)FC)$")
_EXPECTED = (
    "expected NCK (conv block, e.g. 64C3), APK (average pooling, e.g. AP2) or NFC (readout, e.g. 10FC)"
)


@dataclass(frozen=True)
class Conv:
    """A conv -> BN -> LIF block: ``channels`` outputs, a ``kernel x kernel`` convolution."""

    channels: int
    kernel: int


@dataclass(frozen=True)
class Pool:
    """Average pooling over ``size x size`` windows, stride ``size``."""

    size: int


@dataclass(frozen=True)
class Readout:
    """The linear readout: ``classes`` outputs from every feature of the last block."""

    classes: int


Layer = Conv | Pool | Readout


def parse_layers(text: str, key: str = "network.layers") -> tuple[Layer, ...]:
    """The layers of ``text`` (``64C3-AP2-10FC``); a :class:`ConfigError` at ``key`` names the
    token and its position when one cannot be read or the order is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"must be a layer string such as 64C3-AP2-10FC, got {text!r}", path=key)
    layers: list[Layer] = []
    position = 0
    tokens = text.split("-")
    if len(tokens) > MAX_LAYERS:
        raise ConfigError(f"at most {MAX_LAYERS} layers, got {len(tokens)}", path=key)
    for index, raw in enumerate(tokens):
        token = raw.strip()
        where = f"{token!r} (layer {index + 1}, character {position + 1})"
        position += len(raw) + 1
        match = _TOKEN.match(token)
        if match is None:
            raise ConfigError(f"{where} is not a layer: {_EXPECTED}", path=key)
        if layers and isinstance(layers[-1], Readout):
            raise ConfigError(f"{where} follows the readout: the FC layer must be the last", path=key)
        if match["conv_n"] is not None:
            n, k = int(match["conv_n"]), int(match["conv_k"])
            if not 1 <= n <= MAX_CHANNELS:
                raise ConfigError(f"{where}: channels must be in [1, {MAX_CHANNELS}]", path=key)
            if not (1 <= k <= MAX_KERNEL and k % 2 == 1):
                raise ConfigError(f"{where}: the kernel must be odd and in [1, {MAX_KERNEL}]", path=key)
            layers.append(Conv(n, k))
        elif match["pool_k"] is not None:
            k = int(match["pool_k"])
            if not 2 <= k <= 16:
                raise ConfigError(f"{where}: the pooling size must be in [2, 16]", path=key)
            if not layers:
                raise ConfigError(f"{where}: the network must start with a conv block", path=key)
            layers.append(Pool(k))
        else:
            n = int(match["fc_n"])
            if not 2 <= n <= MAX_CHANNELS:
                raise ConfigError(f"{where}: classes must be in [2, {MAX_CHANNELS}]", path=key)
            layers.append(Readout(n))
    if not any(isinstance(layer, Conv) for layer in layers):
        raise ConfigError(f"{text!r} has no conv block (NCK)", path=key)
    if not isinstance(layers[-1], Readout):
        raise ConfigError(f"{text!r} must end with the readout (NFC, e.g. 10FC)", path=key)
    return tuple(layers)


def blocks(layers: tuple[Layer, ...]) -> tuple[Conv, ...]:
    """The conv blocks, in order: the layers whose channels are pruned."""
    return tuple(layer for layer in layers if isinstance(layer, Conv))


def plan_shapes(
    layers: tuple[Layer, ...], shape: tuple[int, int, int], key: str = "network.layers"
) -> list[tuple[int, int, int]]:
    """The ``(C, H, W)`` after every layer but the readout, from an input of ``shape``; the last
    is what the readout sees. A pooling that leaves no pixel is a :class:`ConfigError`."""
    c, h, w = shape
    out: list[tuple[int, int, int]] = []
    for index, layer in enumerate(layers):
        if isinstance(layer, Conv):
            c = layer.channels
        elif isinstance(layer, Pool):
            if h < layer.size or w < layer.size:
                raise ConfigError(
                    f"AP{layer.size} (layer {index + 1}) pools a {h}x{w} map: the input "
                    f"{shape[1]}x{shape[2]} is too small for this network",
                    path=key,
                )
            h, w = h // layer.size, w // layer.size
        else:
            break
        out.append((c, h, w))
    return out


def compact_layers(layers: Sequence[Layer], kept: Sequence[int]) -> tuple[Layer, ...]:
    """``layers`` with every conv block's channels replaced by ``kept`` (one per block, in order)."""
    counts = iter(kept)
    return tuple(Conv(next(counts), layer.kernel) if isinstance(layer, Conv) else layer for layer in layers)


def parameter_count(
    layers: Sequence[Layer], in_shape: tuple[int, int, int], kept: Sequence[int] | None = None
) -> int:
    """Trained parameters (conv weights, BN scales and shifts, readout weights and biases) of the
    network of ``layers``, with ``kept`` channels per block if given (as it would be compacted)."""
    spec = tuple(layers) if kept is None else compact_layers(layers, kept)
    model_shapes = plan_shapes(spec, in_shape)
    total, channels = 0, in_shape[0]
    for layer in spec:
        if isinstance(layer, Conv):
            total += layer.channels * channels * layer.kernel**2 + 2 * layer.channels
            channels = layer.channels
    c, h, w = model_shapes[-1]
    readout = spec[-1]
    assert isinstance(readout, Readout)
    classes = readout.classes
    return total + classes * c * h * w + classes


def layer_string(layers: Sequence[Layer]) -> str:
    """The layer string of parsed ``layers`` (``16C3-AP2-...-10FC``): :func:`parse_layers` inverted."""
    parts = []
    for layer in layers:
        if isinstance(layer, Conv):
            parts.append(f"{layer.channels}C{layer.kernel}")
        elif isinstance(layer, Pool):
            parts.append(f"AP{layer.size}")
        else:
            parts.append(f"{layer.classes}FC")
    return "-".join(parts)


#: Tensors of a block's output size BPTT keeps per step: the conv's and BN's outputs, the membrane
#: potential before and after reset, the spikes and the surrogate's input.
SAVED_PER_BLOCK = 6


def training_bytes(layers: Sequence[Layer], in_shape: tuple[int, int, int], steps: int, batch: int) -> int:
    """About how many bytes training a batch of ``batch`` images over ``steps`` steps takes: the
    activations backpropagation through time keeps (float32), and the parameters with their
    gradients and two optimiser moments."""
    shapes = plan_shapes(tuple(layers), in_shape)
    activations = 0
    for layer, (c, h, w) in zip(layers, shapes, strict=False):
        per_step = c * h * w * batch
        activations += per_step * (SAVED_PER_BLOCK if isinstance(layer, Conv) else 1)
    return 4 * steps * activations + 16 * parameter_count(layers, in_shape)
