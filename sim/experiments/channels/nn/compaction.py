"""Compaction of a trained state: the masked network, its physically smaller copy, and what each costs.

:func:`compact_state` rebuilds the masked network of a state (the engine's
arrays), removes its masked channels (:func:`~sim.experiments.channels.nn.compact.compact`),
checks on a test batch that both give the same logits, scores both on the
test set and times their inference on the same batch. "Before" is the network
as trained: every channel computed, masked ones silent.

In float32 a conv over fewer input channels sums in another order, so the two
networks' logits differ by rounding (about 1e-6), and now and then that
rounding decides whether a membrane potential reaches the threshold. The
compaction itself is checked in float64 on the whole test set, where rounding
is some 1e9 times smaller: there the two networks must agree.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from sim.data.images import ImageDataset
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.layers import compact_layers, layer_string, parameter_count
from sim.experiments.channels.nn.network import not_recording
from sim.experiments.channels.nn.state import load_state_arrays
from sim.experiments.channels.nn.trainer import EVAL_BATCH, Trainer
from sim.experiments.channels.state import ChannelsState

#: Test images the logits are compared on and inference is timed with.
TIMING_BATCH = 256
#: The largest float64 logit difference read as rounding: beyond it the compaction is not exact.
FLOAT64_ROUNDING = 1e-9
#: Timed forward passes of each network (after one untimed); the median is reported.
TIMING_REPEATS = 7


@dataclass(frozen=True)
class CompactionResult:
    """The compact network and the numbers before (masked, full size) and after compaction."""

    #: Channels every block keeps, and the compact network's layer string.
    kept: tuple[int, ...]
    layers: str
    params_dense: int
    params_compact: int
    synops_dense: float
    synops_compact: float
    test_accuracy: float
    compact_test_accuracy: float
    #: Whether the compact network's logits equal the masked one's on the timing batch bit for bit,
    #: by how much they differ at most (float32 rounding: a conv over fewer input channels sums in
    #: another order), and whether both predict the same class for every image of the test set.
    logits_equal: bool
    logits_max_difference: float
    predictions_equal: bool
    #: Test images the two networks classify differently in float32 (of :attr:`test_images`).
    predictions_differing: int
    test_images: int
    #: The largest logit difference over the whole test set with both networks in float64, and
    #: whether they predict the same class for every test image there: the compaction's own check.
    float64_logits_max_difference: float
    float64_predictions_equal: bool
    #: Median wall milliseconds of one forward pass of :attr:`inference_batch` test images.
    inference_ms_dense: float
    inference_ms_compact: float
    inference_batch: int
    device: str
    #: The compact network's parameters and buffers (``state_dict`` names), and every block's mask.
    weights: dict[str, NDArray[np.generic]] = field(repr=False)
    masks: tuple[NDArray[np.bool_], ...] = field(repr=False)

    @property
    def exact(self) -> bool:
        """Whether the compaction is exact: the same classes and logits within
        :data:`FLOAT64_ROUNDING` with both networks in float64."""
        return self.float64_predictions_equal and self.float64_logits_max_difference <= FLOAT64_ROUNDING

    @property
    def verdict(self) -> str:
        """How the compact network's outputs compare with the masked one's: ``"equal"`` (bit for
        bit), ``"rounding"`` (float32 rounding, the same classes), ``"class_changed"`` (float32
        rounding changed some test image's class) or ``"not_exact"`` (different even in float64)."""
        if not self.exact:
            return "not_exact"
        if not self.predictions_equal:
            return "class_changed"
        return "equal" if self.logits_equal else "rounding"

    def float64_agreement_words(self) -> str:
        """How closely the two agree in float64, in words (``"exactly"``, ``"to 2e-15"``)."""
        difference = self.float64_logits_max_difference
        return "exactly" if difference == 0 else f"to {difference:.1g}"

    def verdict_words(self) -> str:
        """:attr:`verdict` in a sentence, for the command line and the window."""
        verdict = self.verdict
        if verdict == "equal":
            return "logits equal to the masked network's, bit for bit"
        digits = 1 if verdict == "rounding" else 2
        apart = f"{self.logits_max_difference:.{digits}g}"
        if verdict == "not_exact":
            return (
                f"logits differ from the masked network's by up to {apart}, and by "
                f"{self.float64_logits_max_difference:.2g} in float64: the compaction is not exact"
            )
        agree = f"in float64 the two networks agree {self.float64_agreement_words()}"
        if verdict == "rounding":
            return (
                f"logits equal to the masked network's up to float32 rounding (at most {apart} apart: "
                f"sums over fewer channels round differently); {agree}"
            )
        return (
            f"{self.predictions_differing} of {self.test_images} test images change class: float32 "
            f"rounding (logits up to {apart} apart) moved a membrane potential across the threshold; "
            f"{agree}: the compaction is exact"
        )

    def numbers(self) -> dict[str, object]:
        """Everything but the arrays (for summaries and messages)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("weights", "masks")}
        out["kept"] = list(self.kept)
        out["exact"] = self.exact
        return out


@torch.inference_mode()
def time_pair(
    first: nn.Module, second: nn.Module, images: Tensor, repeats: int = TIMING_REPEATS
) -> tuple[float, float]:
    """Median wall milliseconds of a forward pass of each of two networks on ``images``, timed in
    alternation (after one untimed pass of each), so that a machine's drift affects both alike."""
    first.eval()
    second.eval()
    sync = torch.cuda.synchronize if images.is_cuda else (lambda: None)
    times: tuple[list[float], list[float]] = ([], [])
    for model in (first, second):
        model(images)
    sync()
    for _ in range(max(1, repeats)):
        for model, out in ((first, times[0]), (second, times[1])):
            t0 = time.perf_counter()
            model(images)
            sync()
            out.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def float64_agreement(first: nn.Module, second: nn.Module, images: Tensor) -> tuple[float, bool]:
    """The largest logit difference between two networks run in float64 (copies, in eval mode) on
    ``images``, and whether they predict the same class for every image."""
    pair = [copy.deepcopy(model).double().eval() for model in (first, second)]
    largest, same = 0.0, True
    with torch.inference_mode(), not_recording(pair[0]), not_recording(pair[1]):
        for i in range(0, len(images), EVAL_BATCH):
            chunk = images[i : i + EVAL_BATCH].double()
            a, b = pair[0](chunk), pair[1](chunk)
            if a.numel():
                largest = max(largest, float((a - b).abs().max()))
                same = same and bool(torch.equal(a.argmax(dim=1), b.argmax(dim=1)))
    return largest, same


@torch.inference_mode()
def time_inference(model: nn.Module, images: Tensor, repeats: int = TIMING_REPEATS) -> float:
    """Median wall milliseconds of ``model(images)`` over ``repeats`` passes (after one untimed)."""
    model.eval()
    sync = torch.cuda.synchronize if images.is_cuda else (lambda: None)
    model(images)
    sync()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        model(images)
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def compact_state(
    state: ChannelsState,
    config: ChannelsConfig,
    data: ImageDataset,
    seed: int,
    device: str = "cpu",
    repeats: int = TIMING_REPEATS,
    update_first: bool = False,
) -> CompactionResult:
    """Compact the network of ``state`` (a state of ``config``) and measure it on ``data``'s test set.

    With ``update_first`` a mask update is made first (from the scores accumulated so far) when
    the mask is not yet at its sparsity: a network measured before its first epoch ended.
    """
    trainer = Trainer(config, data, seed, device=device)
    load_state_arrays(trainer, state.arrays)
    pruner = trainer.pruner
    if update_first and pruner.n_channels - sum(pruner.kept()) != pruner.target_masked():
        pruner.update(trainer.optimiser)
    masked = trainer.model.eval()
    small = trainer.compact()
    batch = trainer.test_x[:TIMING_BATCH]
    with torch.inference_mode(), not_recording(masked):
        before, after = masked(batch), small(batch)
        ms_masked, ms_compact = time_pair(masked, small, batch, repeats)
    difference = float((before - after).abs().max()) if before.numel() else 0.0
    classes_masked, classes_small = trainer.predictions(masked), trainer.predictions(small)
    differing = int((classes_masked != classes_small).sum())
    exact_difference, exact_same = float64_agreement(masked, small, trainer.test_x)
    kept = tuple(trainer.pruner.kept())
    compact_spec = compact_layers(trainer.layers, kept)
    return CompactionResult(
        kept=kept,
        layers=layer_string(compact_spec),
        params_dense=parameter_count(trainer.layers, trainer.in_shape),
        params_compact=parameter_count(trainer.layers, trainer.in_shape, kept),
        synops_dense=trainer.synops(masked),
        synops_compact=trainer.synops(small),
        test_accuracy=trainer.share_right(classes_masked),
        compact_test_accuracy=trainer.share_right(classes_small),
        logits_equal=bool(torch.equal(before, after)),
        logits_max_difference=difference,
        predictions_equal=differing == 0,
        predictions_differing=differing,
        test_images=int(trainer.test_x.shape[0]),
        float64_logits_max_difference=exact_difference,
        float64_predictions_equal=exact_same,
        inference_ms_dense=ms_masked,
        inference_ms_compact=ms_compact,
        inference_batch=int(batch.shape[0]),
        device=device,
        weights={k: v.detach().cpu().numpy().copy() for k, v in small.state_dict().items()},
        masks=tuple(m.numpy().copy() for m in trainer.pruner.masks),
    )
