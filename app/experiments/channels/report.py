"""Report figures of a channel-pruning run (SCA), rendered off screen to PNG files.

Matplotlib is used only through :class:`matplotlib.figure.Figure` and the Agg
canvas: no pyplot, so no global figure state, no GUI backend, and the module
is safe to call from a worker thread. The figures follow the classifier's
report (:mod:`app.experiments.classifier.report`): Okabe-Ito colours, a
heading naming the run, notes where there is nothing to plot. One colour code
runs through them: sky blue a kept channel, yellow one regrown at that
update, vermilion one masked at that update, near-black one masked.

>>> paths = write_figures(Path("out"), metrics, start, final, config, records)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from matplotlib.transforms import blended_transform_factory
from numpy.typing import NDArray

from app.experiments.channels.experiment import FIGURE_FILES
from app.experiments.channels.metrics import BASE_COLUMNS
from app.experiments.channels.records import RunRecords
from app.figures import DPI as FIGURE_DPI
from app.figures import LABEL_SIZE, new_figure, note, save_figures
from sim.events import FORMED, REMOVED
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.layers import Readout, parse_layers
from sim.experiments.channels.snapshot import ChannelsSnapshot

__all__ = ["DPI", "FIGURE_FILES", "METRIC_KEYS", "make_figures", "write_figures"]

#: Resolution of every figure.
DPI = FIGURE_DPI
#: Columns the metrics table must have (``kept_<b>`` per block may follow; they are not used here).
METRIC_KEYS: tuple[str, ...] = BASE_COLUMNS

_Array = NDArray[np.float64]
_Mask = NDArray[np.bool_]

# Colour-blind-safe palette (Okabe & Ito).
_BLUE, _ORANGE, _GREEN, _VERMILION, _PURPLE = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7"
_SKY, _YELLOW, _GREY = "#56B4E9", "#F0E442", "#7F7F7F"
#: What a channel did at an update, the same in every figure.
_KEPT, _REGROWN, _PRUNED, _MASKED = _SKY, _YELLOW, _VERMILION, "#262626"
#: Codes of the mask-over-time image, in the order of its colour map.
_C_MASKED, _C_PRUNED, _C_KEPT, _C_REGROWN = 0, 1, 2, 3
_MASK_CMAP = ListedColormap([_MASKED, _PRUNED, _KEPT, _REGROWN], name="channel_state")
_MASK_NORM = BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], _MASK_CMAP.N)
#: Edge of the yellow bars and patches, so they stand out on white.
_YELLOW_EDGE = "#8A7A00"
_TITLE_SIZE = 13
_LABEL_SIZE = LABEL_SIZE
#: Series with at most this many points are drawn with markers.
_MARKER_LIMIT = 40
#: Mask updates marked one by one on the learning curves at most.
_RUG_LIMIT = 100
#: Bins of the importance and gradient histograms.
_BINS = 24


@dataclass(frozen=True)
class _Ranking:
    """One mask update's per-channel rows: the scores it ranked by and the mask before and after it."""

    index: int  # the update's number (0: the first)
    importance: _Array
    gamma_grad: _Array
    after: _Mask
    before: _Mask | None  # None where the records do not tell (rows thinned out)


def write_figures(
    out_dir: Path,
    metrics: Mapping[str, NDArray[np.float64]],
    start: ChannelsSnapshot,
    final: ChannelsSnapshot,
    config: ChannelsConfig,
    records: RunRecords,
) -> list[Path]:
    """Render the report figures of a run into ``out_dir``.

    Each PNG is rendered to a temporary file in ``out_dir`` and moved into
    place (:func:`app.figures.save_figure`), so a reader never sees a partial file.

    Parameters
    ----------
    out_dir : Path
        Folder for the figures; created if missing.
    metrics : mapping of str to ndarray
        Equal-length 1-D columns, at least :data:`METRIC_KEYS`, one row per
        epoch (:func:`app.experiments.channels.metrics.epoch_rows`); may have no rows.
    start, final : ChannelsSnapshot
        The network when the run (or its resumed part) began and when it ended.
    config : ChannelsConfig
        The run's configuration (at its end).
    records : RunRecords
        Every snapshot's records, observed in order (batches, epochs, mask updates
        and their per-channel rows).

    Returns
    -------
    list of Path
        The files :data:`FIGURE_FILES` in ``out_dir``, in that order.

    Raises
    ------
    ValueError
        If a metrics column is missing, not 1-D, or the columns differ in length.
    """
    return save_figures(make_figures(metrics, start, final, config, records), Path(out_dir), FIGURE_FILES)


def make_figures(
    metrics: Mapping[str, NDArray[np.float64]],
    start: ChannelsSnapshot,
    final: ChannelsSnapshot,
    config: ChannelsConfig,
    records: RunRecords,
) -> list[Figure]:
    """The figures :func:`write_figures` writes, in the order of :data:`FIGURE_FILES` (not saved)."""
    table = _check_metrics(metrics)
    heading = _heading(final, config)
    return [
        _learning_figure(table, start, final, config, records, heading),
        _mask_figure(start, final, config, records, heading),
        _kept_figure(start, final, config, records, heading),
        _importance_figure(start, final, records, heading, _score_name(config)),
        _cost_figure(table, start, final, config, records, heading),
    ]


# -- helpers --------------------------------------------------------------------------------------------
def _check_metrics(metrics: Mapping[str, NDArray[np.float64]]) -> dict[str, _Array]:
    """Return the metrics columns :data:`METRIC_KEYS` as float arrays after checking names and lengths."""
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"metrics lack the column(s) {', '.join(missing)}")
    table = {k: np.asarray(metrics[k], dtype=np.float64) for k in METRIC_KEYS}
    shapes = {k: v.shape for k, v in table.items()}
    if any(len(s) != 1 for s in shapes.values()) or len({s[0] for s in shapes.values()}) != 1:
        raise ValueError(f"metrics columns must be 1-D arrays of equal length, got shapes {shapes}")
    return table


def _target(config: ChannelsConfig) -> float:
    """The channel sparsity the run aims at (0 when nothing is pruned)."""
    return 0.0 if config.pruning.mode == "none" else float(config.pruning.sparsity)


def _mode_text(config: ChannelsConfig) -> str:
    p = config.pruning
    if p.mode == "none":
        return "mode none: dense"
    return f"mode {p.mode}, target sparsity {p.sparsity:.0%}"


def _heading(final: ChannelsSnapshot, config: ChannelsConfig) -> str:
    """``name (data set, mode, target sparsity, seed), after N epochs``."""
    epochs = f"{final.t:.3g}"
    return (
        f"{config.name} ({config.data.name}, {_mode_text(config)}, seed {config.run.seed}), "
        f"after {epochs} epoch{'' if epochs == '1' else 's'}"
    )


def schedule_text(config: ChannelsConfig, batches_per_epoch: int) -> str:
    """When the mask is updated, in words (``batches_per_epoch``: training batches of an epoch)."""
    pruning = config.pruning
    if pruning.mode == "none":
        return "mode none: no channel is ever masked"
    if pruning.mode == "random":
        return "random mask drawn at the start, fixed"
    n = int(pruning.interval)
    if n == 1:
        every = "after every batch"
    elif n <= 0:
        every = "at every epoch's end"
    else:
        epochs = f"{n / max(int(batches_per_epoch), 1):.3g}"
        every = f"every {n} batches ({epochs} epoch{'' if epochs == '1' else 's'})"
    first = int(pruning.first)
    if first <= 0:
        return f"mask updated {every}"
    return f"mask updated first after {first} batch{'' if first == 1 else 'es'}, then {every}"


def _classes(config: ChannelsConfig) -> int | None:
    """Classes of the readout, or None when the layer string does not read."""
    try:
        readout = parse_layers(config.network.layers)[-1]
    except Exception:  # a report never fails on a configuration the run already accepted
        return None
    return readout.classes if isinstance(readout, Readout) else None


def _grid(ax: Axes, axis: str = "both") -> None:
    ax.grid(True, axis=axis, color="#E5E5E5", linewidth=0.8)  # type: ignore[arg-type]
    ax.set_axisbelow(True)


def _epoch_axis(ax: Axes, lo: float, hi: float, *, label: bool = True) -> None:
    """x from ``lo`` to ``hi`` epochs (at least one wide), labelled."""
    lo = lo if np.isfinite(lo) else 0.0
    hi = max(hi, lo + 1.0) if np.isfinite(hi) else lo + 1.0
    pad = 0.03 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)  # room for a marker at either end
    if hi - lo <= 2:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    if label:
        ax.set_xlabel("epochs", fontsize=_LABEL_SIZE)
    _grid(ax)


def _span(*series: Sequence[float] | _Array, fallback: tuple[float, float]) -> tuple[float, float]:
    """Smallest and largest finite value of ``series`` (``fallback`` when there is none)."""
    values = np.concatenate([np.asarray(s, np.float64).ravel() for s in series] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else fallback


def _running_mean(y: _Array, window: int) -> _Array:
    """Trailing mean of ``window`` consecutive values (``len(y) - window + 1`` values)."""
    return np.convolve(y, np.ones(window) / window, mode="valid")


def _smoothing_window(n: int) -> int:
    """Batches averaged for the smoothed line of ``n`` per-batch values (1: none drawn)."""
    return 1 if n <= _MARKER_LIMIT else int(np.clip(n // 15, 2, 500))


def _marker(n: int) -> str | None:
    """Markers on a line of ``n`` points only when they are few enough to tell apart."""
    return "o" if n <= _MARKER_LIMIT else None


def _update_epochs(records: RunRecords, final: ChannelsSnapshot) -> _Array:
    """When each recorded mask update happened, in epochs (the end of the batch it followed)."""
    steps = np.asarray(records.updates.array()["step"], np.float64)
    return (steps + 1.0) / max(final.batches_per_epoch, 1)


def _initial_mask(start: ChannelsSnapshot, records: RunRecords) -> _Mask:
    """The mask before the first recorded update."""
    mask = records.initial_mask if records.initial_mask is not None else start.mask
    return np.asarray(mask, dtype=bool)


def _block_shares(mask: _Mask, sizes: Sequence[int]) -> _Array:
    """Share of each block's channels kept by ``mask``."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return np.array([mask[a:b].mean() if b > a else np.nan for a, b in pairwise(offsets)])


def _update_rug(ax: Axes, at: _Array) -> Artist | None:
    """Short grey ticks along the top of ``ax`` at the mask updates' times ``at`` (epochs); none when
    there are too many to tell apart (the heading says how often the mask is updated)."""
    if not at.size or at.size > _RUG_LIMIT:
        return None
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    (rug,) = ax.plot(
        at,
        np.full(at.size, 0.985),
        transform=transform,
        linestyle="none",
        marker="|",
        markersize=7,
        color=_GREY,
        clip_on=False,
        zorder=6,
        label=f"mask update ({at.size})",
        gid="update_rug",
    )
    return rug


def _legend_patch(colour: str, label: str) -> Patch:
    edge = _YELLOW_EDGE if colour == _REGROWN else "#555555"
    return Patch(facecolor=colour, edgecolor=edge, linewidth=0.6, label=label)


# -- 1. learning ----------------------------------------------------------------------------------------
def _learning_figure(
    table: dict[str, _Array],
    start: ChannelsSnapshot,
    final: ChannelsSnapshot,
    config: ChannelsConfig,
    records: RunRecords,
    heading: str,
) -> Figure:
    t = table["t"]
    batches = records.batches.array()
    per_epoch = max(final.batches_per_epoch, 1)
    t_batch = (np.asarray(batches["step"], np.float64) + 1.0) / per_epoch
    at = _update_epochs(records, final)
    lo = 0.0
    hi = max([final.t, *t.tolist(), *t_batch.tolist()])

    fig = new_figure(13.0, 5.4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    handles: dict[str, Artist] = {}

    # loss: every batch (faint, with a running mean) and the epochs' means
    loss = np.asarray(batches["loss"], np.float64)
    window = _smoothing_window(loss.size)
    if loss.size:
        (raw,) = ax_loss.plot(
            t_batch,
            loss,
            color=_BLUE,
            linewidth=0.7 if window > 1 else 1.2,
            alpha=0.35 if window > 1 else 0.8,
            label="each batch",
            gid="batch_loss",
        )
        handles["batch"] = raw
        if window > 1:
            (mean,) = ax_loss.plot(
                t_batch[window - 1 :],
                _running_mean(loss, window),
                color=_BLUE,
                linewidth=2.0,
                label=f"mean of {window} batches",
                gid="batch_loss_mean",
            )
            handles["mean"] = mean
    if t.size:
        (epoch_loss,) = ax_loss.plot(
            t,
            table["train_loss"],
            color=_ORANGE,
            linewidth=1.6,
            marker="o",
            markersize=6 if t.size <= _MARKER_LIMIT else 0,
            markeredgecolor="black",
            markeredgewidth=0.5,
            zorder=4,
            label="mean of each epoch (at its end)",
            gid="epoch_loss",
        )
        handles["epoch loss"] = epoch_loss
    if loss.size or t.size:
        low, top = _span(loss, table["train_loss"], fallback=(0.0, 1.0))
        pad = 0.08 * (top - low) if top > low else 0.1 * max(abs(top), 1.0)
        ax_loss.set_ylim(max(0.0, low - pad), top + pad)
        if not loss.size:
            note(ax_loss, "no per-batch records (only the epochs')", y=0.15)
    else:
        note(ax_loss, "no batch completed")
        ax_loss.set_ylim(0.0, 1.0)

    # accuracy: training (mean of each epoch) and test set (at each epoch's end)
    if t.size:
        for key, colour, marker, label in (
            ("train_accuracy", _BLUE, "o", "training, mean of each epoch"),
            ("test_accuracy", _VERMILION, "D", "test set, end of each epoch"),
        ):
            y = table[key]
            (line,) = ax_acc.plot(
                t,
                y,
                color=colour,
                linewidth=1.6,
                marker=marker,
                markersize=6 if t.size <= _MARKER_LIMIT else 0,
                markeredgecolor="black",
                markeredgewidth=0.5,
                label=label,
                gid=key,
                zorder=4,
            )
            handles[key] = line
        tested = np.isfinite(table["test_accuracy"])
        if tested.any():
            last = float(table["test_accuracy"][tested][-1])
            train = float(table["train_accuracy"][tested][-1])
            below = np.isfinite(train) and train > last  # keep clear of the training marker
            ax_acc.annotate(
                f"{last:.1%}",
                (float(t[tested][-1]), last),
                xytext=(0, -11 if below else 9),
                textcoords="offset points",
                ha="center",
                va="top" if below else "baseline",
                fontsize=9,
                color=_VERMILION,
                zorder=6,
            )
    else:
        note(ax_acc, "no epoch completed")
    classes = _classes(config)
    if classes:
        handles["chance"] = ax_acc.axhline(
            1.0 / classes,
            color=_GREY,
            linestyle=(0, (2, 2)),
            linewidth=1.3,
            zorder=1,
            label=f"chance (1/{classes})",
            gid="chance",
        )
    ax_acc.set_ylim(-0.02, 1.04)
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))

    for ax in (ax_loss, ax_acc):
        rug = _update_rug(ax, at)
        if rug is not None:
            handles["rug"] = rug
        _epoch_axis(ax, lo, hi)
    ax_loss.set_title("Training loss", fontsize=_TITLE_SIZE)
    ax_loss.set_ylabel("cross-entropy (readout averaged over T)", fontsize=_LABEL_SIZE)
    ax_acc.set_title("Accuracy", fontsize=_TITLE_SIZE)
    ax_acc.set_ylabel("examples classified correctly", fontsize=_LABEL_SIZE)
    if start.step > 0:
        ax_loss.axvline(start.t, color=_PURPLE, linestyle=":", linewidth=1.2, zorder=1)
        handles["resumed"] = Line2D([], [], color=_PURPLE, linestyle=":", label=f"resumed at {start.t:.3g}")
    fig.legend(
        handles=list(handles.values()), loc="outside lower center", ncols=min(len(handles), 4), fontsize=10
    )
    schedule = schedule_text(config, final.batches_per_epoch)
    fig.suptitle(f"Learning: {heading}\n{schedule}", fontsize=_TITLE_SIZE)
    return fig


# -- 2. mask over time ----------------------------------------------------------------------------------
def _state_codes(before: _Mask | None, after: _Mask) -> NDArray[np.int8]:
    """Each channel's code for the image: kept, regrown, masked at this update, or masked."""
    codes = np.where(after, _C_KEPT, _C_MASKED).astype(np.int8)
    if before is not None:
        codes[after & ~before] = _C_REGROWN
        codes[~after & before] = _C_PRUNED
    return codes


def _block_ticks(ax: Axes, final: ChannelsSnapshot, *, kept: Sequence[int] | None = None) -> None:
    """Block labels at the blocks' middles on the left, channel counts on the right, boundaries drawn."""
    offsets = final.offsets
    middles = (offsets[:-1] + offsets[1:]) / 2.0 - 0.5
    ax.set_yticks(middles, list(final.labels), fontsize=_LABEL_SIZE)
    ax.set_yticks(offsets - 0.5, minor=True)
    ax.tick_params(axis="y", which="major", length=0)
    ax.tick_params(axis="y", which="minor", length=8)
    for boundary in offsets[1:-1]:
        ax.axhline(boundary - 0.5, color="white", linewidth=2.0, zorder=3)
    if kept is not None:
        right = ax.twinx()
        right.set_ylim(ax.get_ylim())
        right.set_yticks(
            middles, [f"{k}/{n} kept" for k, n in zip(kept, final.sizes, strict=True)], fontsize=10
        )
        right.tick_params(axis="y", length=0)


def _mask_figure(
    start: ChannelsSnapshot,
    final: ChannelsSnapshot,
    config: ChannelsConfig,
    records: RunRecords,
    heading: str,
) -> Figure:
    n_channels = int(sum(final.sizes))
    initial = _initial_mask(start, records)
    index = np.asarray(records.masks.index, np.int64)
    rows = np.asarray(records.masks.values, dtype=bool)
    updates = records.updates.array()
    first_done = int(updates["index"][0]) if len(updates) else int(start.n_updates)
    # x: updates done (the initial mask sits at the updates done before the first recorded one)
    x = np.concatenate([[first_done], index + 1]).astype(np.float64)
    columns = [initial, *rows]
    codes = np.stack(
        [_state_codes(prev, now) for prev, now in zip([None, *columns[:-1]], columns, strict=True)], axis=1
    )
    # pixel edges halfway between the columns' update numbers (all one wide unless rows were thinned)
    if x.size > 1:
        mids = (x[:-1] + x[1:]) / 2.0
        edges = np.concatenate([[x[0] - (mids[0] - x[0])], mids, [x[-1] + (x[-1] - mids[-1])]])
    else:
        edges = np.array([x[0] - 0.5, x[0] + 0.5])

    height = float(np.clip(2.5 + n_channels / 40.0, 5.5, 11.0))
    fig = new_figure(13.0, height)
    ax = fig.add_subplot(1, 1, 1)
    ax.pcolormesh(
        edges,
        np.arange(n_channels + 1) - 0.5,
        codes,
        cmap=_MASK_CMAP,
        norm=_MASK_NORM,
        shading="flat",
        rasterized=True,
        gid="mask_image",
    )
    ax.set_ylim(n_channels - 0.5, -0.5)
    ax.set_xlim(edges[0], edges[-1])
    _block_ticks(ax, final, kept=final.kept)
    ax.set_ylabel("output channel, block after block", fontsize=_LABEL_SIZE)
    ax.set_xlabel(
        "mask updates done (leftmost column: the mask before the first shown)", fontsize=_LABEL_SIZE
    )
    if x.size <= 13:
        ax.set_xticks(x, [f"{v:.0f}" for v in x])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))

    # epochs on the top axis, where there are two or more columns to map between
    epochs = np.concatenate([[start.t], _update_epochs(records, final)])
    done = np.concatenate([[first_done], np.asarray(updates["index"], np.float64) + 1.0])
    if done.size > 1 and np.all(np.diff(done) > 0) and np.all(np.diff(epochs) > 0):

        def to_epochs(v: Any) -> Any:
            return np.interp(np.asarray(v, np.float64), done, epochs)

        def to_done(v: Any) -> Any:
            return np.interp(np.asarray(v, np.float64), epochs, done)

        top = ax.secondary_xaxis("top", functions=(to_epochs, to_done))
        top.set_xlabel("epochs", fontsize=_LABEL_SIZE)
        top.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))

    changed = int((codes[:, 1:] == _C_PRUNED).sum()), int((codes[:, 1:] == _C_REGROWN).sum())
    thinned = bool(index.size > 1 and np.any(np.diff(index) > 1))
    if not rows.shape[0]:
        note(ax, "no mask update yet: the mask as it started", y=0.08)
    elif config.pruning.mode == "none":
        note(ax, "mode none: every channel kept, the mask never changes", y=0.08)
    lines = [
        f"pixel: a channel after an update; {len(updates)} update{'' if len(updates) == 1 else 's'}, "
        f"{changed[0]} masked and {changed[1]} regrown between the columns shown",
        schedule_text(config, final.batches_per_epoch),
    ]
    if thinned:
        lines[1] += (
            f"; the records keep one update in {records.masks.stride} ({index.size} columns), "
            "changes are since the previous column"
        )
    legend = [
        _legend_patch(_KEPT, "kept"),
        _legend_patch(_REGROWN, "regrown at this update (kept)"),
        _legend_patch(_PRUNED, "masked at this update"),
        _legend_patch(_MASKED, "masked"),
    ]
    fig.legend(handles=legend, loc="outside lower center", ncols=4, fontsize=10)
    fig.suptitle(f"Mask over time: {heading}\n" + "\n".join(lines), fontsize=_TITLE_SIZE)
    return fig


# -- 3. kept channels per layer -------------------------------------------------------------------------
def _block_colours(n: int) -> list[Any]:
    """One colour per block, from shallow (dark) to deep (light), on a perceptual scale."""
    return [colormaps["viridis"](v) for v in np.linspace(0.0, 0.85, max(n, 1))][:n]


def _kept_figure(
    start: ChannelsSnapshot,
    final: ChannelsSnapshot,
    config: ChannelsConfig,
    records: RunRecords,
    heading: str,
) -> Figure:
    updates = records.updates.array()
    at = _update_epochs(records, final)
    sizes = np.asarray(final.sizes, np.float64)
    kept = np.asarray(records.update_kept.array(), np.float64).reshape(len(updates), len(sizes))
    x = np.concatenate([[start.t], at])
    shares = np.vstack([_block_shares(_initial_mask(start, records), final.sizes), kept / sizes])
    lo, hi = start.t, max([final.t, *x.tolist()])

    fig = new_figure(13.0, 7.4)
    ax_kept, ax_bars = fig.subplots(2, 1, sharex=True, height_ratios=[1.6, 1.0])
    marker = _marker(x.size)
    for b, (label, colour) in enumerate(zip(final.labels, _block_colours(len(sizes)), strict=True)):
        ax_kept.plot(
            x,
            shares[:, b],
            color=colour,
            linewidth=2.0,
            drawstyle="steps-post",
            label=f"{label} ({round(float(shares[-1, b] * sizes[b]))}/{int(sizes[b])} kept)",
            gid=f"kept_{b + 1}",
        )
        if marker:
            ax_kept.plot(x, shares[:, b], color=colour, linestyle="none", marker=marker, markersize=4)
    overall = np.concatenate([[1.0 - start.channel_sparsity], 1.0 - updates["channel_sparsity"]])
    ax_kept.plot(
        x,
        overall,
        color="black",
        linestyle="--",
        linewidth=1.3,
        drawstyle="steps-post",
        label="all channels",
        gid="kept_all",
    )
    ax_kept.set_ylim(-0.02, 1.04)
    ax_kept.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_kept.set_ylabel("share of the block's channels kept", fontsize=_LABEL_SIZE)
    ax_kept.set_title("Kept channels per block (starts at the mask before the first update)", fontsize=12)
    ax_kept.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0.0)
    if not len(updates):
        note(ax_kept, "no mask update yet", y=0.6)
    elif np.all(shares == 1.0):
        note(ax_kept, "every block keeps all of its channels (the lines lie on 100%)", y=0.6)
    _epoch_axis(ax_kept, lo, hi, label=False)

    pruned = np.asarray(updates["pruned"], np.float64)
    regrown = np.asarray(updates["regrown"], np.float64)
    width = 0.0
    if len(updates):
        gaps = np.diff(np.concatenate([[start.t], at]))
        gaps = gaps[gaps > 0]
        span = max(hi - lo, 1.0)
        width = min(0.8 * float(gaps.min()) if gaps.size else 0.2, 0.1 * span)
        width = min(width, 0.02 * span) if len(updates) > 60 else width
        ax_bars.bar(at, pruned, width=width, color=_PRUNED, label="masked", gid="pruned_bars")
        ax_bars.bar(
            at,
            -regrown,
            width=width,
            color=_REGROWN,
            edgecolor=_YELLOW_EDGE,
            linewidth=0.4,
            label="regrown",
            gid="regrown_bars",
        )
        top = max(float(pruned.max()), float(regrown.max()), 1.0)
        ax_bars.set_ylim(-1.15 * top, 1.15 * top)
        ax_bars.axhline(0.0, color="black", linewidth=0.8)
        ax_bars.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))
        ax_bars.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6, symmetric=True))
        if not pruned.any() and not regrown.any():
            note(ax_bars, "no channel was masked or regrown at any update")
        ax_bars.text(
            0.01,
            0.97,
            f"total: {int(pruned.sum())} masked, {int(regrown.sum())} regrown",
            transform=ax_bars.transAxes,
            ha="left",
            va="top",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#BBBBBB", "alpha": 0.9},
            zorder=6,
        )
        ax_bars.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0.0)
    else:
        note(ax_bars, "no mask update yet")
        ax_bars.set_yticks([])
    ax_bars.set_ylabel("channels per update\n(masked up, regrown down)", fontsize=_LABEL_SIZE)
    ax_bars.set_title("Channels masked and regrown at each update", fontsize=12)
    _epoch_axis(ax_bars, lo, hi)
    if width > 0:  # the bars at either end stay whole
        left, right = ax_bars.get_xlim()
        ax_bars.set_xlim(min(left, float(at.min()) - width), max(right, float(at.max()) + width))
    schedule = schedule_text(config, final.batches_per_epoch)
    fig.suptitle(f"Kept channels per block: {heading}\n{schedule}", fontsize=_TITLE_SIZE)
    return fig


# -- 4. importance --------------------------------------------------------------------------------------
def _mask_before(records: RunRecords, row: int, initial: _Mask) -> _Mask | None:
    """The mask just before the update of per-channel row ``row``, where the records tell it."""
    index = records.masks.index
    rows = records.masks.values
    if row > 0 and index[row - 1] == index[row] - 1:
        return np.asarray(rows[row - 1], dtype=bool)
    updates = records.updates.array()
    if row == 0 and len(updates) and index[0] == updates["index"][0]:
        return initial
    if len(updates) and index[row] == updates["index"][-1] and len(records.last_events):
        # the newest update: undo its events (``pre``: the channel in block ``projection``)
        events = records.last_events
        offsets = np.concatenate([[0], np.cumsum(records.sizes)]).astype(np.int64)
        channel = offsets[events["projection"].astype(np.int64)] + events["pre"].astype(np.int64)
        before = np.array(rows[row], dtype=bool)
        before[channel[events["kind"] == REMOVED]] = True
        before[channel[events["kind"] == FORMED]] = False
        return before
    return None


def _last_ranking(start: ChannelsSnapshot, records: RunRecords) -> _Ranking | None:
    """The newest update whose per-channel rows are kept, or None before the first update."""
    if not len(records.importance.index) or not len(records.masks.index):
        return None
    row = len(records.masks.index) - 1
    return _Ranking(
        index=int(records.masks.index[row]),
        importance=np.asarray(records.importance.values[-1], np.float64),
        gamma_grad=np.asarray(records.gamma_grad.values[-1], np.float64),
        after=np.asarray(records.masks.values[row], dtype=bool),
        before=_mask_before(records, row, _initial_mask(start, records)),
    )


def _stacked_hist(ax: Axes, groups: list[tuple[_Array, str, str]], edges: _Array) -> None:
    """Stacked histogram bars of ``groups`` (values, colour, gid) between ``edges``."""
    bottom = np.zeros(edges.size - 1)
    for values, colour, gid in groups:
        counts = np.histogram(values, bins=edges)[0].astype(np.float64)
        if counts.any():
            ax.bar(
                edges[:-1],
                counts,
                width=np.diff(edges),
                bottom=bottom,
                align="edge",
                color=colour,
                edgecolor=_YELLOW_EDGE if colour == _REGROWN else "white",
                linewidth=0.5,
                gid=gid,
            )
        bottom += counts
    ax.set_ylim(0.0, max(1.0, float(bottom.max()) if bottom.size else 1.0) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))


def _score_name(config: ChannelsConfig) -> str:
    """What the importance is: mean |V|, plus the spike rate with ``pruning.use_rate``."""
    return "mean |V| + spike rate" if config.pruning.use_rate else "mean |V|"


def _importance_figure(
    start: ChannelsSnapshot, final: ChannelsSnapshot, records: RunRecords, heading: str, score: str
) -> Figure:
    n_blocks = len(final.sizes)
    height = float(np.clip(2.6 + 1.45 * n_blocks, 6.0, 13.0))
    fig = new_figure(13.5, height)
    grid = fig.add_gridspec(n_blocks, 2, width_ratios=[1.25, 1.0])
    block_axes = [fig.add_subplot(grid[b, 0]) for b in range(n_blocks)]
    for ax in block_axes[1:]:
        ax.sharex(block_axes[0])
    ax_grad = fig.add_subplot(grid[:, 1])
    ranking = _last_ranking(start, records)
    if ranking is None:
        for ax, label in zip(block_axes, final.labels, strict=True):
            ax.set_title(label, fontsize=10, loc="left")
            ax.set_yticks([])
            _grid(ax, "x")
        note(block_axes[n_blocks // 2] if n_blocks else ax_grad, "no mask update yet: nothing was ranked")
        note(ax_grad, "no mask update yet")
        ax_grad.set_xticks([])
        ax_grad.set_yticks([])
        block_axes[-1].set_xlabel(f"importance: {score} since the previous update", fontsize=_LABEL_SIZE)
        ax_grad.set_title("|dL/d\u03b3| of the BN scales", fontsize=12)
        fig.suptitle(f"Importance: {heading}", fontsize=_TITLE_SIZE)
        return fig

    after, before = ranking.after, ranking.before
    known = before is not None
    ranked = before if before is not None else np.ones_like(after)
    # channel groups: kept, masked at the update (among those ranked), regrown, masked throughout
    survived = after & ranked
    pruned = ~after & ranked if known else ~after
    regrown = after & ~ranked
    stayed = ~after & ~ranked

    imp = ranking.importance
    imp_lo, imp_hi = _span(imp[ranked], fallback=(0.0, 1.0))
    pad = 0.05 * (imp_hi - imp_lo) if imp_hi > imp_lo else 0.05 * max(abs(imp_hi), 1.0)
    edges = np.linspace(max(0.0, imp_lo - pad), imp_hi + pad, _BINS + 1)
    pruned_label = "masked at this update" if known else "masked after it"
    for b, (ax, label, part) in enumerate(
        zip(block_axes, final.labels, np.split(np.arange(after.size), final.offsets[1:-1]), strict=True)
    ):
        sel = np.zeros(after.size, dtype=bool)
        sel[part] = True
        _stacked_hist(
            ax,
            [
                (imp[sel & survived], _KEPT, f"importance_kept_{b + 1}"),
                (imp[sel & pruned], _PRUNED, f"importance_pruned_{b + 1}"),
            ],
            edges,
        )
        info = f"{int((sel & survived).sum())} kept, {int((sel & pruned).sum())} {pruned_label}"
        if known and (sel & ~ranked).any():
            info += f"; {int((sel & ~ranked).sum())} masked before it (not ranked)"
        ax.set_title(f"{label}: {info}", fontsize=10, loc="left")
        ax.set_ylabel("channels", fontsize=9)
        ax.tick_params(labelsize=9)
        if b < n_blocks - 1:
            ax.tick_params(labelbottom=False)
        _grid(ax, "x")
    block_axes[-1].set_xlabel(
        f"importance: {score} since the previous update (what the update ranked by)", fontsize=_LABEL_SIZE
    )

    # |dL/dgamma| on a log axis; exact zeros are counted in the title instead
    grad = np.abs(ranking.gamma_grad)
    positive = grad[grad > 0]
    groups = [
        (survived, _KEPT, "kept", "grad_kept"),
        (regrown, _REGROWN, "regrown at this update", "grad_regrown"),
        (pruned, _PRUNED, pruned_label, "grad_pruned"),
        (stayed, _MASKED, "masked before and after it", "grad_masked"),
    ]
    if positive.size:
        lo, hi = float(positive.min()), float(positive.max())
        if hi <= lo * 1.0001:
            lo, hi = lo / 2.0, hi * 2.0
        g_edges = np.geomspace(lo, hi * 1.0001, _BINS + 1)
        _stacked_hist(ax_grad, [(grad[m & (grad > 0)], c, gid) for m, c, _, gid in groups], g_edges)
        ax_grad.set_xscale("log")
        ax_grad.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        note(ax_grad, "every |dL/d\u03b3| is 0")
        ax_grad.set_yticks([])
    zeros = int((grad == 0).sum())
    ax_grad.set_title(
        "|dL/d\u03b3| of the BN scales since the previous update\n"
        "(what regrowth ranks the masked channels by)"
        + (f"\n{zeros} exact zeros not shown" if zeros else ""),
        fontsize=11,
    )
    ax_grad.set_xlabel("mean |dL/d\u03b3| (log scale)", fontsize=_LABEL_SIZE)
    ax_grad.set_ylabel("channels (all blocks)", fontsize=_LABEL_SIZE)
    _grid(ax_grad, "x")
    present = [(c, lbl) for m, c, lbl, _ in groups if m.any()]
    fig.legend(
        handles=[_legend_patch(c, lbl) for c, lbl in present],
        loc="outside lower center",
        ncols=len(present),
        fontsize=10,
    )
    updates = records.updates.array()
    when = f"update {ranking.index + 1}"
    if len(updates) and ranking.index != int(updates["index"][-1]):
        when += f" (the newest the records keep, of {len(updates)})"
    how = (
        "channels grouped by what the update did"
        if known
        else "the mask before this update is not in the records: channels grouped by the mask after it"
    )
    fig.suptitle(f"Importance: {heading}\nscores of mask {when}, bars stacked\n{how}", fontsize=_TITLE_SIZE)
    return fig


# -- 5. cost --------------------------------------------------------------------------------------------
def _cost_figure(
    table: dict[str, _Array],
    start: ChannelsSnapshot,
    final: ChannelsSnapshot,
    config: ChannelsConfig,
    records: RunRecords,
    heading: str,
) -> Figure:
    t = table["t"]
    lo, hi = min([start.t, *t.tolist()[:1]]), max([final.t, *t.tolist()])
    fig = new_figure(15.0, 5.2)
    ax_params, ax_synops, ax_sparse = fig.subplots(1, 3)
    marker = _marker(t.size)
    dense = float(final.params_dense)

    # parameters: the epochs' rows, and the start's network where no row is that early
    params = table["params"]
    ax_params.plot(
        t,
        params,
        color=_BLUE,
        linewidth=2.0,
        marker=marker,
        markersize=5,
        label="end of each epoch" if t.size else "_none",
        gid="params",
    )
    if not t.size or float(t.min()) > start.t:
        ax_params.plot(
            [start.t],
            [float(start.params)],
            linestyle="none",
            marker="o",
            markersize=7,
            markerfacecolor="white",
            markeredgecolor=_BLUE,
            markeredgewidth=1.5,
            label=f"start: {start.params:,}",
            gid="params_start",
        )
        params = np.concatenate([params, [float(start.params)]])
    ax_params.axhline(
        dense, color=_GREY, linestyle="--", linewidth=1.4, label=f"dense: {int(dense):,}", gid="params_dense"
    )
    ax_params.set_ylim(0.0, 1.12 * max(dense, float(np.nanmax(params)) if params.size else 0.0, 1.0))
    ax_params.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax_params.set_title(
        f"Trained parameters\nat the end {int(final.params):,} = "
        f"{final.params / max(dense, 1.0):.0%} of dense",
        fontsize=12,
    )
    ax_params.set_ylabel("parameters (as compacted)", fontsize=_LABEL_SIZE)
    ax_params.legend(loc="lower left", fontsize=9, framealpha=0.9)

    synops = table["synops"]
    if t.size:
        ax_synops.plot(t, synops, color=_GREEN, linewidth=2.0, marker=marker, markersize=5, gid="synops")
        top = _span(synops, fallback=(0.0, 1.0))[1]
        ax_synops.set_ylim(0.0, 1.12 * top if top > 0 else 1.0)
        last = synops[np.isfinite(synops)]
        title = f"at the end {last[-1]:,.0f}" if last.size else "not measured"
        ax_synops.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    else:
        note(ax_synops, "no epoch completed")
        ax_synops.set_yticks([])
        title = "none yet"
    ax_synops.set_title(f"Synaptic operations per sample (test set)\n{title}", fontsize=12)
    ax_synops.set_ylabel("SynOps per sample (spikes \u00d7 fan-out)", fontsize=_LABEL_SIZE)

    # channel sparsity: at every update (steps), at the epochs' ends (markers), and the target
    updates = records.updates.array()
    at = _update_epochs(records, final)
    if len(updates):
        ax_sparse.plot(
            np.concatenate([[start.t], at]),
            np.concatenate([[start.channel_sparsity], updates["channel_sparsity"]]),
            color=_PURPLE,
            linewidth=1.2,
            drawstyle="steps-post",
            label="after each update",
            gid="sparsity_updates",
        )
    if t.size:
        ax_sparse.plot(
            t,
            table["channel_sparsity"],
            color="black",
            linestyle="none",
            marker="o",
            markersize=5 if t.size <= _MARKER_LIMIT else 2,
            label="end of each epoch",
            gid="sparsity",
        )
    ax_sparse.axhline(
        _target(config),
        color=_VERMILION,
        linestyle="--",
        linewidth=1.3,
        label=f"target {_target(config):.0%}",
        gid="sparsity_target",
    )
    ax_sparse.set_ylim(-0.02, 1.04)
    ax_sparse.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_sparse.set_title(f"Channel sparsity\nat the end {final.channel_sparsity:.1%} masked", fontsize=12)
    ax_sparse.set_ylabel("share of all channels masked", fontsize=_LABEL_SIZE)
    ax_sparse.legend(loc="upper left", fontsize=9, framealpha=0.9)
    if not t.size and not len(updates):
        note(ax_sparse, "no epoch completed", y=0.3)
    for ax in (ax_params, ax_synops, ax_sparse):
        _epoch_axis(ax, lo, hi)
    fig.suptitle(f"Cost of the network as it would be compacted: {heading}", fontsize=_TITLE_SIZE)
    return fig
