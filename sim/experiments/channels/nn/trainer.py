"""Training of the channel-pruning network, one batch at a time, resumable exactly.

A :class:`Trainer` owns the network, its SCA pruner, the optimiser and the
learning-rate schedule. :meth:`Trainer.train_batch` trains one batch (BPTT,
the L1 term on BN scales, the pruner's hooks around the optimiser step); at
the end of an epoch it scores the test set, steps the schedule and returns the
epoch's record. A mask update falls due at an epoch's end (or every N batches;
the first, with ``pruning.first``, after that many batches) and is made before
the next batch trains: the test set scores the network as it was trained, and
the last epoch's network is the one a run ends with.

The order of the training images in an epoch is drawn from the seed and the
epoch, so :meth:`Trainer.state_dict` (weights, optimiser, schedule, pruner,
position, running sums) is all a resumed run needs to continue exactly on the
same device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sim.data.images import ImageDataset
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.layers import parse_layers
from sim.experiments.channels.nn.compact import compact, parameter_count, synops_per_sample
from sim.experiments.channels.nn.network import SpikingConvNet, not_recording
from sim.experiments.channels.nn.sca import ChannelPruner, MaskUpdate
from sim.experiments.channels.selection import update_fraction

#: Test images the SynOps of an epoch's record are measured on.
SYNOPS_SAMPLES = 256
#: Images per forward pass when scoring the test set.
EVAL_BATCH = 512


@dataclass(frozen=True)
class EpochRecord:
    """One epoch's results, and the network as it would be compacted at its end."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_accuracy: float
    channel_sparsity: float
    kept: tuple[int, ...]
    params: int
    synops: float


@dataclass(frozen=True)
class BatchResult:
    """One training batch: its loss and score, the mask update made before it, and at an epoch's
    end the epoch's record."""

    #: Index of the batch among all batches trained (0-based; the engine's step).
    index: int
    epoch: int
    batch: int
    loss: float
    correct: int
    size: int
    lr: float
    update: MaskUpdate | None
    record: EpochRecord | None


class Trainer:
    """Trains ``config``'s network on ``data`` from ``seed``, on ``device``."""

    def __init__(self, config: ChannelsConfig, data: ImageDataset, seed: int, device: str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.seed = int(seed)
        self.layers = parse_layers(config.network.layers)
        self.train_x = torch.from_numpy(np.array(data.train_images)).to(self.device)
        self.train_y = torch.from_numpy(np.array(data.train_labels)).to(self.device)
        self.test_x = torch.from_numpy(np.array(data.test_images)).to(self.device)
        self.test_y = torch.from_numpy(np.array(data.test_labels)).to(self.device)
        self.in_shape = data.shape
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = config.network
            self.model = SpikingConvNet(self.layers, data.shape, steps=net.steps, tau=net.tau, v_th=net.v_th)
        self.model.to(self.device)
        p = config.pruning
        self.pruner = ChannelPruner(
            self.model,
            mode=p.mode,
            sparsity=p.sparsity,
            fraction=p.fraction,
            use_rate=p.use_rate,
            normalise=p.normalise,
            grace=p.grace,
            seed=self.seed,
        )
        learning = config.learning
        if learning.optimiser == "adam":
            self.optimiser: torch.optim.Optimizer = torch.optim.Adam(self.model.parameters(), lr=learning.lr)
        else:
            self.optimiser = torch.optim.SGD(
                self.model.parameters(), lr=learning.lr, momentum=learning.momentum
            )
        self.epochs_planned = max(1, int(np.ceil(config.run.duration)))
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimiser, self._lr_factor)
        self.epoch = 0
        self.batch = 0
        self.batches_done = 0
        #: A mask update is due before the next batch.
        self.pending = False
        self._loss_sum = 0.0
        self._correct = 0
        self._seen = 0
        self._order_of: tuple[int, Tensor] | None = None

    # -- sizes ------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """Images per training batch."""
        return self.config.data.batch_size

    @property
    def batches_per_epoch(self) -> int:
        """Training batches of an epoch (the last may be smaller)."""
        return -(-int(self.train_x.shape[0]) // self.batch_size)

    def _lr_factor(self, epoch: int) -> float:
        if not self.config.learning.cosine:
            return 1.0
        return 0.5 * (1.0 + float(np.cos(np.pi * min(epoch, self.epochs_planned) / self.epochs_planned)))

    def update_fraction(self) -> float:
        """The update fraction ``p`` of the next mask update: the configured one, or with
        ``pruning.anneal`` that times a cosine of the run's progress (1 at the start, 0 at the
        planned end), so the mask settles while the learning rate runs down."""
        p = self.config.pruning
        planned = self.epochs_planned * self.batches_per_epoch
        return update_fraction(p.fraction, p.anneal, self.batches_done, planned)

    def _order(self) -> Tensor:
        """The epoch's order of the training images, drawn from the seed and the epoch."""
        if self._order_of is None or self._order_of[0] != self.epoch:
            rng = np.random.default_rng([self.seed, 0x43484E4C, self.epoch])  # "CHNL"
            order = torch.from_numpy(rng.permutation(int(self.train_x.shape[0]))).to(self.device)
            self._order_of = (self.epoch, order)
        return self._order_of[1]

    # -- live parameters --------------------------------------------------------------------------
    def apply_live(self, config: ChannelsConfig) -> None:
        """Take ``config``'s live parameters (s, p, interval, rate option, L1, learning rate)."""
        self.config = config
        p = config.pruning
        self.pruner.sparsity = p.sparsity
        self.pruner.fraction = p.fraction
        self.pruner.use_rate = p.use_rate
        self.pruner.normalise = p.normalise
        self.pruner.grace = p.grace
        self.schedule.base_lrs = [config.learning.lr for _ in self.optimiser.param_groups]
        for group in self.optimiser.param_groups:
            group["lr"] = config.learning.lr * self._lr_factor(self.epoch)

    # -- training ---------------------------------------------------------------------------------
    def train_batch(self) -> BatchResult:
        """Train the next batch; at an epoch's end also score the test set and make its record."""
        update = None
        if self.pending:
            update = self.pruner.update(self.optimiser, fraction=self.update_fraction())
            self.pending = False
        model = self.model
        model.train()
        size = self.batch_size
        index = self._order()[self.batch * size : (self.batch + 1) * size]
        x, y = self.train_x[index], self.train_y[index]
        self.optimiser.zero_grad(set_to_none=True)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        total = loss
        if self.config.pruning.l1 > 0:
            total = loss + self.config.pruning.l1 * sum(
                bn.weight.abs().sum() for _, bn, _ in self.pruner.triples
            )
        total.backward()
        self.pruner.after_backward()
        self.optimiser.step()
        self.pruner.apply()
        batch_loss = float(loss.detach())
        correct = int((logits.detach().argmax(dim=1) == y).sum())
        self._loss_sum += batch_loss * len(index)
        self._correct += correct
        self._seen += len(index)
        lr = float(self.optimiser.param_groups[0]["lr"])
        epoch, batch, done = self.epoch, self.batch, self.batches_done
        self.batch += 1
        self.batches_done += 1
        end_of_epoch = self.batch == self.batches_per_epoch
        if self._update_due(end_of_epoch):
            self.pending = True
        record = None
        if end_of_epoch:
            record = self._end_epoch()
        return BatchResult(done, epoch, batch, batch_loss, correct, len(index), lr, update, record)

    def _update_due(self, end_of_epoch: bool) -> bool:
        """Whether a mask update falls due after the batch just trained: the first after
        ``pruning.first`` batches when that is set, every other at each interval's (or epoch's)
        end."""
        p = self.config.pruning
        done = self.batches_done
        if p.first > 0 and self.pruner.updates == 0 and not self.pending:
            return done >= p.first
        return done % p.interval == 0 if p.interval > 0 else end_of_epoch

    def _end_epoch(self) -> EpochRecord:
        test_accuracy = self.accuracy(self.model)
        small = self.compact()
        record = EpochRecord(
            epoch=self.epoch,
            train_loss=self._loss_sum / max(self._seen, 1),
            train_accuracy=self._correct / max(self._seen, 1),
            test_accuracy=test_accuracy,
            channel_sparsity=self.pruner.channel_sparsity,
            kept=tuple(self.pruner.kept()),
            params=parameter_count(self.layers, self.in_shape, self.pruner.kept()),
            synops=self.synops(small),
        )
        self.epoch += 1
        self.batch = 0
        self._loss_sum, self._correct, self._seen = 0.0, 0, 0
        self.schedule.step()
        return record

    # -- measures ---------------------------------------------------------------------------------
    @torch.no_grad()
    def predictions(self, model: nn.Module) -> Tensor:
        """The class ``model`` (in eval mode) gives every test image."""
        model.eval()
        with not_recording(model):
            out = [
                model(self.test_x[i : i + EVAL_BATCH]).argmax(dim=1)
                for i in range(0, len(self.test_x), EVAL_BATCH)
            ]
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=self.device)

    def accuracy(self, model: nn.Module) -> float:
        """Share of the test set ``model`` classifies right (in eval mode)."""
        return self.share_right(self.predictions(model))

    def share_right(self, predictions: Tensor) -> float:
        """Share of the test set that ``predictions`` (one class per test image) get right."""
        return float((predictions == self.test_y).sum()) / max(int(self.test_x.shape[0]), 1)

    def compact(self) -> SpikingConvNet:
        """The network with its masked channels removed (eval mode)."""
        return compact(self.model, self.pruner.masks).eval()

    def synops(self, model: SpikingConvNet) -> float:
        """SynOps per sample of ``model`` on the first :data:`SYNOPS_SAMPLES` test images."""
        model.eval()
        with not_recording(model):
            return synops_per_sample(model, self.test_x[:SYNOPS_SAMPLES])

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue exactly (tensors on the CPU)."""
        return {
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimiser": _to_cpu(self.optimiser.state_dict()),
            "schedule": self.schedule.state_dict(),
            "pruner": _to_cpu(self.pruner.state_dict()),
            "position": [
                self.epoch,
                self.batch,
                self.batches_done,
                self._correct,
                self._seen,
                int(self.pending),
            ],
            "loss_sum": self._loss_sum,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s ``state``."""
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.schedule.load_state_dict(state["schedule"])
        self.pruner.load_state_dict(state["pruner"])
        self.epoch, self.batch, self.batches_done, self._correct, self._seen, pending = (
            int(v) for v in state["position"]
        )
        self.pending = bool(pending)
        self._loss_sum = float(state["loss_sum"])


def _to_cpu(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value
