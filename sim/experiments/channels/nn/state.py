"""A trainer's whole state as named NumPy arrays, and back, checked: the checkpoint's form.

:func:`state_layout` gives every array's shape and dtype from the
configuration alone (the network is laid out on torch's ``meta`` device, so
nothing of its size is allocated); :func:`state_arrays` reads a
:class:`~sim.experiments.channels.nn.trainer.Trainer` into arrays of that
layout, and :func:`load_state_arrays` checks arrays (layout, finite values,
masks that keep a channel per block, counters in range) before a trainer is
given them. The learning-rate schedule is not stored: it follows from the
configuration's rate and the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from numpy.typing import NDArray

from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.layers import blocks, parse_layers
from sim.experiments.channels.nn.network import SpikingConvNet
from sim.experiments.channels.nn.trainer import Trainer
from sim.experiments.channels.state import POSITION_FIELDS, Layout, state_problem


def _optimiser_keys(config: ChannelsConfig) -> tuple[str, ...]:
    return ("step", "exp_avg", "exp_avg_sq") if config.learning.optimiser == "adam" else ("momentum_buffer",)


def state_layout(config: ChannelsConfig, in_shape: tuple[int, int, int]) -> Layout:
    """Every array of a trainer of ``config`` on images of ``in_shape``: name -> (shape, dtype)."""
    layers = parse_layers(config.network.layers)
    with torch.device("meta"):
        model = SpikingConvNet(layers, in_shape, steps=config.network.steps)
    out: Layout = {}
    for name, value in model.state_dict().items():
        out[f"model/{name}"] = (tuple(value.shape), np.dtype(str(value.dtype).removeprefix("torch.")))
    for i, param in enumerate(model.parameters()):
        for key in _optimiser_keys(config):
            shape = () if key == "step" else tuple(param.shape)
            out[f"optimiser/{i}/{key}"] = (shape, np.dtype(np.float32))
    for b, block in enumerate(blocks(layers)):
        out[f"pruner/{b}/mask"] = ((block.channels,), np.dtype(np.bool_))
        for key in ("gamma_init", "grad_sum", "v_abs_sum", "rate_sum"):
            dtype = np.float32 if key == "gamma_init" else np.float64
            out[f"pruner/{b}/{key}"] = ((block.channels,), np.dtype(dtype))
        out[f"pruner/{b}/passes"] = ((), np.dtype(np.int64))
        out[f"pruner/{b}/regrown_after"] = ((block.channels,), np.dtype(np.int64))
    out["position"] = ((len(POSITION_FIELDS),), np.dtype(np.int64))
    out["loss_sum"] = ((), np.dtype(np.float64))
    return out


def state_arrays(trainer: Trainer, view: bool = False) -> dict[str, NDArray[np.generic]]:
    """``trainer``'s state as arrays of :func:`state_layout`'s names, shapes and dtypes (copies).

    With ``view`` only what a snapshot shows: the pruner's arrays, the position and the BN scales
    (no weights, no optimiser moments: a fraction of a large network's state).
    """
    out: dict[str, NDArray[np.generic]] = {}
    for name, value in trainer.model.state_dict().items():
        if not view or name.endswith(".bn.weight"):
            out[f"model/{name}"] = value.detach().cpu().numpy().copy()
    keys = () if view else _optimiser_keys(trainer.config)
    for i, param in enumerate(trainer.model.parameters()):
        state = trainer.optimiser.state.get(param, {})
        for key in keys:
            value = state.get(key)
            if value is None:
                value = torch.zeros(() if key == "step" else param.shape)
            out[f"optimiser/{i}/{key}"] = np.asarray(value.detach().cpu().numpy(), np.float32).copy()
    pruner = trainer.pruner
    for b, (_, _, neuron) in enumerate(pruner.triples):
        out[f"pruner/{b}/mask"] = pruner.masks[b].numpy().copy()
        out[f"pruner/{b}/gamma_init"] = pruner.gamma_init[b].detach().cpu().numpy().astype(np.float32)
        out[f"pruner/{b}/grad_sum"] = pruner.grad_sum[b].numpy().copy()
        out[f"pruner/{b}/v_abs_sum"] = neuron.v_abs_sum.detach().cpu().numpy().copy()
        out[f"pruner/{b}/rate_sum"] = neuron.rate_sum.detach().cpu().numpy().copy()
        out[f"pruner/{b}/passes"] = np.asarray(neuron.passes, np.int64)
    offsets = np.cumsum([0, *pruner.sizes])
    for b in range(len(pruner.triples)):
        out[f"pruner/{b}/regrown_after"] = pruner.regrown_after[offsets[b] : offsets[b + 1]].copy()
    position = [trainer.epoch, trainer.batch, trainer.batches_done, trainer._correct, trainer._seen]
    out["position"] = np.asarray(
        [*position, pruner.updates, pruner.grad_passes, int(trainer.pending)], np.int64
    )
    out["loss_sum"] = np.asarray(trainer._loss_sum, np.float64)
    return out


def load_state_arrays(trainer: Trainer, arrays: Mapping[str, NDArray[np.generic]]) -> None:
    """Give ``trainer`` the state ``arrays`` (checked first: ``ValueError`` names what is wrong)."""
    layout = state_layout(trainer.config, trainer.in_shape)
    problem = state_problem(arrays, layout, trainer.batches_per_epoch, trainer.batch_size)
    if problem is not None:
        raise ValueError(problem)
    device = trainer.device
    model_state = {
        name.removeprefix("model/"): torch.from_numpy(np.array(arrays[name]))
        for name in layout
        if name.startswith("model/")
    }
    trainer.model.load_state_dict(model_state)
    keys = _optimiser_keys(trainer.config)
    trainer.optimiser.state.clear()
    for i, param in enumerate(trainer.model.parameters()):
        state = {key: torch.from_numpy(np.array(arrays[f"optimiser/{i}/{key}"])).to(device) for key in keys}
        if "step" in state:
            state["step"] = state["step"].cpu()
        trainer.optimiser.state[param] = state
    pruner = trainer.pruner
    for b, (_, _, neuron) in enumerate(pruner.triples):
        pruner.masks[b] = torch.from_numpy(np.array(arrays[f"pruner/{b}/mask"]))
        pruner.gamma_init[b] = torch.from_numpy(np.array(arrays[f"pruner/{b}/gamma_init"])).to(device)
        pruner.grad_sum[b] = torch.from_numpy(np.array(arrays[f"pruner/{b}/grad_sum"]))
        neuron.v_abs_sum.copy_(torch.from_numpy(np.array(arrays[f"pruner/{b}/v_abs_sum"])))
        neuron.rate_sum.copy_(torch.from_numpy(np.array(arrays[f"pruner/{b}/rate_sum"])))
        neuron.passes = int(arrays[f"pruner/{b}/passes"])
    pruner.regrown_after = np.concatenate(
        [np.array(arrays[f"pruner/{b}/regrown_after"], np.int64) for b in range(len(pruner.triples))]
    )
    position = [int(v) for v in arrays["position"]]
    trainer.epoch, trainer.batch, trainer.batches_done, trainer._correct, trainer._seen = position[:5]
    pruner.updates, pruner.grad_passes = position[5:7]
    trainer.pending = bool(position[7])
    trainer._loss_sum = float(arrays["loss_sum"])
    trainer.schedule.base_lrs = [trainer.config.learning.lr for _ in trainer.optimiser.param_groups]
    trainer.schedule.last_epoch = trainer.epoch
    for group in trainer.optimiser.param_groups:
        group["lr"] = trainer.config.learning.lr * trainer._lr_factor(trainer.epoch)
