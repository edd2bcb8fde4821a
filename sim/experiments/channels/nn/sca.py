"""Channel pruning and regrowth by spiking activity (SCA, Li et al. 2024), on conv/BN/LIF triples.

A masked output channel has its BatchNorm scale ``gamma`` and shift ``beta``
held at 0: its BN output is exactly 0 whatever the running statistics, so its
neurons never spike and its conv filter gets no gradient, while ``dL/dgamma``
(the normalised conv output times the loss's gradient there) still says how
much the loss would fall if the channel came back.

Importance of a channel is the mean ``|V|`` (membrane potential before reset)
over steps, samples and positions, accumulated over the batches since the last
mask update (optionally plus the spike rate). At an update:

1. the mask is brought to the target sparsity ``s`` (the first update masks the
   lowest-scoring channels; a changed ``s`` masks or regrows the difference);
2. ``sca`` then masks a further fraction ``p`` of the kept channels with the
   lowest scores and unmasks as many of those masked before, with the largest
   accumulated ``|dL/dgamma|``, so ``s`` stays exactly constant.

Ranking is global over all blocks; every block keeps at least one channel.
With ``normalise`` each block's scores are first divided by their mean over
the block's kept channels: in a small network the first block, driven by the
image at every step, has a larger ``|V|`` than the blocks fed by sparse
spikes, and a raw ranking empties the deeper blocks first. A
regrown channel's ``gamma`` restarts at its initial value and ``beta`` at 0;
their momenta restart at 0 and Adam's second moments at the block's mean
(:func:`restart_moments`).

Modes: ``sca`` (prune and regrow), ``prune_only`` (step 1 only), ``random``
(a random mask of sparsity ``s`` drawn at the start, then fixed) and ``none``
(no mask).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from sim.experiments.channels.nn.network import LIF, triples
from sim.experiments.channels.selection import (
    in_grace,
    mask_lowest,
    next_mask,
    relative_to_mean,
    target_masked,
)

#: The pruning modes.
MODES = ("sca", "prune_only", "random", "none")


@dataclass(frozen=True)
class MaskUpdate:
    """What one mask update did: ``(block, channel)`` pairs masked and unmasked, the channels each
    block keeps after it, and the scores it ranked by (per block, float64)."""

    index: int
    pruned: tuple[tuple[int, int], ...]
    regrown: tuple[tuple[int, int], ...]
    kept: tuple[int, ...]
    importance: tuple[NDArray[np.float64], ...] = field(repr=False)
    gamma_grad: tuple[NDArray[np.float64], ...] = field(repr=False)


class ChannelPruner:
    """Masks the output channels of the conv/BN/neuron triples of ``model``.

    Call :meth:`after_backward` after every ``loss.backward()`` (before the
    optimiser step), :meth:`apply` after every optimiser step, and
    :meth:`update` whenever the mask should change (every epoch by default).
    """

    def __init__(
        self,
        model: nn.Module | Iterable[tuple[nn.Conv2d, nn.BatchNorm2d, LIF]],
        *,
        mode: str = "sca",
        sparsity: float = 0.5,
        fraction: float = 0.1,
        use_rate: bool = False,
        normalise: bool = False,
        grace: int = 0,
        seed: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.triples = list(triples(model) if isinstance(model, nn.Module) else model)
        if not self.triples:
            raise ValueError("the model has no conv -> BatchNorm2d -> LIF triple to prune")
        self.mode = mode
        self.sparsity = check_sparsity(sparsity)
        self.fraction = check_fraction(fraction)
        self.use_rate = bool(use_rate)
        self.normalise = bool(normalise)
        self.grace = check_grace(grace)
        self.updates = 0
        self.masks = [torch.ones(bn.num_features, dtype=torch.bool) for _, bn, _ in self.triples]
        self.gamma_init = [bn.weight.detach().clone() for _, bn, _ in self.triples]
        self.grad_sum = [torch.zeros(bn.num_features, dtype=torch.float64) for _, bn, _ in self.triples]
        self.grad_passes = 0
        #: One more than the update at which each channel (flat index) was last regrown (0: never).
        self.regrown_after = np.zeros(self.n_channels, dtype=np.int64)
        for _, _, neuron in self.triples:
            neuron.recording = True
        if mode == "random":
            flat = self._flat_mask()
            mask_lowest(
                flat, self.sizes, np.random.default_rng(seed).random(self.n_channels), self.target_masked()
            )
            self._set_masks(flat)
        self.apply()

    # -- sizes ------------------------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        """Output channels of every block."""
        return [int(m.numel()) for m in self.masks]

    @property
    def n_channels(self) -> int:
        """Output channels of all blocks together."""
        return sum(self.sizes)

    def kept(self) -> list[int]:
        """Channels every block keeps."""
        return [int(m.sum()) for m in self.masks]

    @property
    def channel_sparsity(self) -> float:
        """Share of all channels masked."""
        return 1.0 - sum(self.kept()) / self.n_channels

    def target_masked(self) -> int:
        """Channels to mask at sparsity :attr:`sparsity` (each block keeps one at least)."""
        return target_masked(self.n_channels, len(self.masks), self.sparsity, self.mode)

    # -- training hooks ---------------------------------------------------------------------------
    def after_backward(self) -> None:
        """Add ``|dL/dgamma|`` of every channel (the regrowth score) to the accumulators."""
        for acc, (_, bn, _) in zip(self.grad_sum, self.triples, strict=True):
            if bn.weight.grad is not None:
                acc += bn.weight.grad.detach().abs().to(acc.device, torch.float64).cpu()
        self.grad_passes += 1

    @torch.no_grad()
    def apply(self) -> None:
        """Hold ``gamma`` and ``beta`` of every masked channel at 0."""
        for mask, (_, bn, _) in zip(self.masks, self.triples, strict=True):
            off = ~mask.to(bn.weight.device)
            bn.weight[off] = 0.0
            bn.bias[off] = 0.0

    def importance(self) -> list[NDArray[np.float64]]:
        """Every block's channel scores since the last update: mean ``|V|`` (plus the spike rate
        with ``use_rate``); zeros before any forward pass."""
        out = []
        for _, _, neuron in self.triples:
            passes = max(neuron.passes, 1)
            score = neuron.v_abs_sum.detach().cpu().numpy() / passes
            if self.use_rate:
                score = score + neuron.rate_sum.detach().cpu().numpy() / passes
            out.append(np.asarray(score, np.float64))
        return out

    def ranking_scores(self, scores: list[NDArray[np.float64]]) -> NDArray[np.float64]:
        """The scores the global ranking compares, over all blocks: as they are, or with
        :attr:`normalise` each block's divided by the mean over its kept channels (so a block whose
        membrane potentials run lower as a whole, deeper ones fed by sparse spikes, is not emptied
        first)."""
        flat = np.concatenate(scores)
        return relative_to_mean(flat, self.sizes, self._flat_mask()) if self.normalise else flat

    def gamma_grad(self) -> list[NDArray[np.float64]]:
        """Every block's mean ``|dL/dgamma|`` since the last update."""
        passes = max(self.grad_passes, 1)
        return [g.numpy() / passes for g in self.grad_sum]

    # -- the update -------------------------------------------------------------------------------
    def regrowth_scores(self, grads: list[NDArray[np.float64]]) -> NDArray[np.float64]:
        """The ``|dL/dgamma|`` the regrowth compares, over all blocks: as they are, or with
        :attr:`normalise` each block's divided by its mean over all the block's channels (so the
        swaps do not drift channels into the block whose gradients run largest as a whole)."""
        flat = np.concatenate(grads)
        return relative_to_mean(flat, self.sizes) if self.normalise else flat

    @torch.no_grad()
    def update(
        self, optimizer: torch.optim.Optimizer | None = None, *, fraction: float | None = None
    ) -> MaskUpdate:
        """Change the mask (see the module's description), restart regrown channels, clear the
        accumulators, and return what changed. ``fraction`` overrides :attr:`fraction` for this
        update (a schedule's value)."""
        scores = self.importance()
        grads = self.gamma_grad()
        swap = self.fraction if fraction is None else check_fraction(fraction)
        before = self._flat_mask()
        after = next_mask(
            before,
            self.sizes,
            np.concatenate(scores),
            np.concatenate(grads),
            mode=self.mode,
            sparsity=self.sparsity,
            fraction=swap,
            swap=self.updates > 0,
            normalise=self.normalise,
            exempt=self._in_grace(),
        )
        self._set_masks(after)
        pruned_idx = np.flatnonzero(before & ~after)
        regrown_idx = np.flatnonzero(~before & after)
        self.regrown_after[regrown_idx] = self.updates + 1
        self._restart(regrown_idx, optimizer)
        self.apply()
        for _, _, neuron in self.triples:
            neuron.clear_record()
        for g in self.grad_sum:
            g.zero_()
        self.grad_passes = 0
        result = MaskUpdate(
            index=self.updates,
            pruned=tuple(self._locate(int(i)) for i in pruned_idx),
            regrown=tuple(self._locate(int(i)) for i in regrown_idx),
            kept=tuple(self.kept()),
            importance=tuple(scores),
            gamma_grad=tuple(grads),
        )
        self.updates += 1
        return result

    def _flat_mask(self) -> NDArray[np.bool_]:
        return np.concatenate([m.numpy() for m in self.masks])

    def _locate(self, flat: int) -> tuple[int, int]:
        offsets = np.cumsum([0, *self.sizes])
        block = int(np.searchsorted(offsets, flat, side="right") - 1)
        return block, int(flat - offsets[block])

    def _set_masks(self, flat: NDArray[np.bool_]) -> None:
        offsets = np.cumsum([0, *self.sizes])
        self.masks = [
            torch.from_numpy(flat[offsets[b] : offsets[b + 1]].copy()) for b in range(len(self.sizes))
        ]

    def _in_grace(self) -> NDArray[np.bool_]:
        """Channels regrown within the last :attr:`grace` updates (the swap does not prune them)."""
        return in_grace(self.regrown_after, self.updates, self.grace)

    def _restart(self, flat: NDArray[np.int64], optimizer: torch.optim.Optimizer | None) -> None:
        """Regrown channels: ``gamma`` back to its initial value and ``beta`` to 0; their optimiser
        state restarts as their block's (see :func:`restart_moments`)."""
        regrown = np.zeros(self.n_channels, dtype=bool)
        regrown[flat] = True
        offsets = np.cumsum([0, *self.sizes])
        for block, (_, bn, _) in enumerate(self.triples):
            mine = regrown[offsets[block] : offsets[block + 1]]
            if not mine.any():
                continue
            channels = torch.from_numpy(np.flatnonzero(mine))
            others = self.masks[block] & ~torch.from_numpy(mine)
            init = self.gamma_init[block][channels.to(self.gamma_init[block].device)]
            bn.weight[channels.to(bn.weight.device)] = init.to(bn.weight.device)
            bn.bias[channels.to(bn.bias.device)] = 0.0
            if optimizer is not None:
                for param in (bn.weight, bn.bias):
                    restart_moments(optimizer.state.get(param, {}), param, channels, others)

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, object]:
        """Everything :meth:`load_state_dict` needs to continue exactly."""
        return {
            "updates": self.updates,
            "masks": [m.clone() for m in self.masks],
            "gamma_init": [g.clone() for g in self.gamma_init],
            "grad_sum": [g.clone() for g in self.grad_sum],
            "grad_passes": self.grad_passes,
            "regrown_after": torch.from_numpy(self.regrown_after.copy()),
            "v_abs_sum": [n.v_abs_sum.clone() for _, _, n in self.triples],
            "rate_sum": [n.rate_sum.clone() for _, _, n in self.triples],
            "passes": [n.passes for _, _, n in self.triples],
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Continue from :meth:`state_dict`'s ``state`` (shapes must match this model's)."""
        masks = list(state["masks"])  # type: ignore[call-overload]
        saved = [int(m.numel()) for m in masks]
        if saved != self.sizes:
            raise ValueError(f"the saved masks have {saved} channels, not {self.sizes}")
        self.updates = int(state["updates"])  # type: ignore[call-overload]
        self.masks = [m.clone().to(torch.bool) for m in masks]
        self.gamma_init = [g.clone() for g in state["gamma_init"]]  # type: ignore[attr-defined]
        self.grad_sum = [g.clone() for g in state["grad_sum"]]  # type: ignore[attr-defined]
        self.grad_passes = int(state["grad_passes"])  # type: ignore[call-overload]
        values = np.asarray(state["regrown_after"], dtype=np.int64).reshape(-1)
        if values.size != self.n_channels:
            raise ValueError(f"the saved regrowth record has {values.size} channels, not {self.n_channels}")
        self.regrown_after = values.copy()
        for (_, _, neuron), v, r, p in zip(
            self.triples,
            state["v_abs_sum"],
            state["rate_sum"],
            state["passes"],
            strict=True,  # type: ignore[call-overload]
        ):
            neuron.v_abs_sum.copy_(v)
            neuron.rate_sum.copy_(r)
            neuron.passes = int(p)


#: Optimiser state that scales the step (Adam's second moments): a restarted channel takes its
#: block's mean over the channels kept, rather than 0.
SCALE_STATES = ("exp_avg_sq", "max_exp_avg_sq")


@torch.no_grad()
def restart_moments(
    state: dict[str, object], param: torch.Tensor, channels: torch.Tensor, others: torch.Tensor
) -> None:
    """Restart the per-channel optimiser ``state`` of ``param`` at ``channels``: momenta to 0, and
    second moments to their mean over the ``others`` (a boolean mask: the block's other kept
    channels; 0 when there are none).

    Cleared second moments would make Adam's first steps for a channel several times larger than
    its others' late in training (its bias correction is of the parameter's whole history, so a
    moment restarted from 0 stays far below its true value for hundreds of steps); at the block's
    mean the restarted channel steps as its neighbours do.
    """
    for name, value in state.items():
        if not isinstance(value, torch.Tensor) or value.shape != param.shape:
            continue
        fill = 0.0
        if name in SCALE_STATES and bool(others.any()):
            fill = float(value[others.to(value.device)].mean())
        value[channels.to(value.device)] = fill


def check_sparsity(value: float) -> float:
    """A channel sparsity: in [0, 1)."""
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"the channel sparsity must be in [0, 1), got {value:g}")
    return value


def check_grace(value: int) -> int:
    """A grace period in updates: a non-negative whole number."""
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"the grace period must be a whole number of updates >= 0, got {value!r}")
    return int(value)


def check_fraction(value: float) -> float:
    """An update fraction: in [0, 1]."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"the update fraction must be in [0, 1], got {value:g}")
    return value
