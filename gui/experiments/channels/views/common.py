"""What the channel views share: colours, the epoch axis, block colours, histograms, number formats.

Every view colours the channels pruned at the newest mask update red and those
regrown green, kept channels blue and masked ones dark grey; the conv blocks
have one colour each, from light (shallow) to dark (deep), in every plot that
shows them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike, NDArray

from gui.views._plots import count_ceiling, step_histogram
from sim.experiments.channels.layers import compact_layers, layer_string, parse_layers
from sim.experiments.channels.selection import in_grace, next_mask, update_fraction
from sim.experiments.channels.snapshot import ChannelsSnapshot

__all__ = [
    "EPOCH_LABEL",
    "STATE_COLOURS",
    "TURNOVER_COLOURS",
    "block_colours",
    "coloured",
    "compact_layer_string",
    "count_ceiling",
    "epochs_of_batches",
    "gradient_now",
    "mode_text",
    "points",
    "predict_update",
    "si",
    "step_histogram",
]

#: Label of the time axes of the per-batch and per-epoch plots.
EPOCH_LABEL = "training progress (epochs)"
#: Colours of the channels pruned and regrown at the newest mask update, in every view.
TURNOVER_COLOURS: dict[str, str] = {"pruned": "#d62728", "regrown": "#2ca02c"}
#: Colours of kept and masked channels in the histograms and strips (the grid colours kept ones
#: by importance, and masked ones with :data:`STATE_COLOURS` ``["masked"]``).
STATE_COLOURS: dict[str, str] = {"kept": "#2171b5", "masked": "#4d4d4d"}

#: The pruning modes in words.
_MODES: dict[str, str] = {"sca": "SCA", "prune_only": "prune only", "random": "random mask", "none": "dense"}


def mode_text(mode: str) -> str:
    """The pruning mode ``mode`` in words."""
    return _MODES.get(mode, mode)


def coloured(text: str, colour: str) -> str:
    """``text`` in ``colour`` in a plot title (HTML): a title that names its curves, without a legend."""
    return f"<span style='color:{colour}'>{text}</span>"


def block_colours(n_blocks: int) -> list[str]:
    """One colour per conv block, from light (the first, shallow) to dark (the last, deep).

    Sampled from the ``viridis`` map without its pale yellow end, which is
    hard to see on white; reversed, so depth reads as darkness.
    """
    cmap = pg.colormap.get("viridis")
    if n_blocks <= 1:
        positions = np.array([0.35])
    else:
        positions = np.linspace(0.82, 0.0, n_blocks)
    return [pg.mkColor(cmap.map(float(p), mode="qcolor")).name() for p in positions]


def epochs_of_batches(step: ArrayLike, batches_per_epoch: int) -> NDArray[np.float64]:
    """Epochs of training done at the end of each batch of training step ``step``: ``(step + 1) / B``."""
    return (np.asarray(step, np.float64) + 1.0) / max(int(batches_per_epoch), 1)


def points(plot: Any, name: str | None, colour: str, size: int = 7, line: bool = False) -> pg.PlotDataItem:
    """Markers (one per epoch or update), joined by a thin line with ``line``."""
    item = pg.PlotDataItem(
        np.zeros(0),
        np.zeros(0),
        name=name,
        pen=pg.mkPen(colour, width=1.5) if line else None,
        symbol="o",
        symbolSize=size,
        symbolPen=pg.mkPen("w", width=1),
        symbolBrush=pg.mkBrush(colour),
    )
    plot.addItem(item)
    return item


def si(value: float, digits: int = 3) -> str:
    """``value`` with a k, M or G suffix: 14,902 -> ``14.9k``, 3.2e8 -> ``320M``."""
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= factor:
            return f"{value / factor:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def compact_layer_string(layers: str, kept: Sequence[int]) -> str:
    """The layer string of network ``layers`` with ``kept`` channels per conv block (as compacted)."""
    return layer_string(compact_layers(parse_layers(layers), kept))


def gradient_now(
    snapshot: ChannelsSnapshot, last_update: NDArray[Any] | None
) -> tuple[NDArray[np.float64], bool]:
    """Every channel's mean ``|dL/dgamma|`` as the views show it, and whether it is the last update's.

    The snapshot's are those gathered since the last mask update; right after
    an update nothing is gathered yet (all zero), and the views show the
    values that update ranked by instead (``last_update``, when known).
    """
    now = np.asarray(snapshot.gamma_grad, np.float64)
    if np.any(now > 0) or last_update is None:
        return now, False
    return np.asarray(last_update, np.float64), True


def predict_update(snap: ChannelsSnapshot, config: Any) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The channels the next mask update would mask and unmask if it were made now: the pruner's
    own selection (:func:`sim.experiments.channels.selection.next_mask`) on the snapshot's scores,
    with the configuration's sparsity, normalisation, grace period and (annealed) update fraction.
    Returns two boolean arrays over all channels: masked next, unmasked next."""
    pruning = config.pruning
    mask = np.asarray(snap.mask, bool)
    planned = max(1, math.ceil(float(config.run.duration))) * max(int(snap.batches_per_epoch), 1)
    after = next_mask(
        mask,
        snap.sizes,
        np.asarray(snap.importance, np.float64),
        np.asarray(snap.gamma_grad, np.float64),
        mode=snap.mode,
        sparsity=float(pruning.sparsity),
        fraction=update_fraction(pruning.fraction, bool(pruning.anneal), int(snap.step), planned),
        swap=snap.n_updates > 0,
        normalise=bool(pruning.normalise),
        exempt=in_grace(snap.regrown_after, snap.n_updates, int(pruning.grace)),
    )
    return mask & ~after, ~mask & after


def score_name(config: object) -> str:
    """What the importance is: mean |V|, plus the spike rate with ``pruning.use_rate``."""
    pruning = getattr(config, "pruning", None)
    return "mean |V| + spike rate" if getattr(pruning, "use_rate", False) else "mean |V|"
