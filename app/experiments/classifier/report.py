"""Report figures of a sparse-classifier run, rendered off screen to PNG files.

Matplotlib is used only through :class:`matplotlib.figure.Figure` and the Agg
canvas: no pyplot, so no global figure state, no GUI backend, and the module
is safe to call from a worker thread. The figures follow the topographic
map's report (:mod:`app.experiments.topomap.report`): Okabe-Ito colours, a
heading naming the run, notes where there is nothing to plot.

>>> paths = write_figures(Path("out"), metrics, start, final, config, last_events)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter
from numpy.typing import NDArray

from app.experiments.classifier.experiment import FIGURE_FILES
from app.experiments.classifier.metrics import METRIC_COLUMNS, steps_per_epoch
from app.figures import DPI as FIGURE_DPI
from app.figures import new_figure, note, save_figures
from sim.events import FORMED, REMOVED
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.params import (
    SH_BATCH,
    SH_EPOCH,
    SH_EXAMPLE,
    SH_LABEL,
    SH_PREDICTION,
    SH_TRAINING,
    TABLE_IN,
    TABLE_NAMES,
    TABLE_REC,
)
from sim.experiments.classifier.snapshot import ClassifierSnapshot, TableView

__all__ = ["DPI", "FIGURE_FILES", "METRIC_KEYS", "REFERENCES", "make_figures", "write_figures"]

#: Resolution of every figure.
DPI = FIGURE_DPI
#: File names, in the order :func:`write_figures` returns them.
#: Columns the metrics table must have (those of ``metrics.csv``).
METRIC_KEYS: tuple[str, ...] = METRIC_COLUMNS
#: Reference test accuracies (fractions of 1) per data set name, drawn as dashed lines on
#: ``learning.png`` when the run's data set has any, e.g.
#: ``REFERENCES["digits"] = {"dense": 0.95, "static sparse 10%": 0.90}``.
#: Left empty here: the values are measured and filled in by the caller.
REFERENCES: dict[str, dict[str, float]] = {}

_Array = NDArray[np.float64]

# Colour-blind-safe palette (Okabe & Ito).
_BLUE, _ORANGE, _GREEN, _VERMILION, _PURPLE = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7"
_SKY, _GREY = "#56B4E9", "#7F7F7F"
#: Reference lines cycle through these (colour, dash pattern).
_REFERENCE_STYLES: tuple[tuple[str, str | tuple[int, tuple[int, ...]]], ...] = (
    (_PURPLE, "--"),
    (_GREEN, "-."),
    (_SKY, ":"),
    (_ORANGE, (0, (5, 2, 1, 2))),
)
_TITLE_SIZE = 13
_LABEL_SIZE = 11
#: Series with at most this many points are drawn with markers.
_MARKER_LIMIT = 40
#: Table names for titles.
#: The test set's scores at epoch ends: vermilion diamonds over the per-batch lines.
_TEST_MARKS: dict[str, Any] = {
    "linestyle": "none",
    "marker": "D",
    "markersize": 7,
    "color": _VERMILION,
    "markeredgecolor": "black",
    "markeredgewidth": 0.6,
    "zorder": 5,
}
_TABLE_TITLES = {TABLE_IN: "input \u2192 hidden", TABLE_REC: "hidden \u2192 hidden"}
_PRE_LABELS = {TABLE_IN: "pre: input unit", TABLE_REC: "pre: hidden neuron"}

#: Signed weights: RdBu's blue half for negative, red half for positive, without its white middle,
#: so a present synapse is never white however small its weight (white: no synapse).
_WEIGHT_CMAP = ListedColormap(
    np.vstack(
        [
            colormaps["RdBu_r"](np.linspace(0.0, 0.36, 128)),
            colormaps["RdBu_r"](np.linspace(0.64, 1.0, 128)),
        ]
    ),
    name="signed_weight",
).with_extremes(bad="white")


def write_figures(
    out_dir: Path,
    metrics: Mapping[str, NDArray[np.float64]],
    start: ClassifierSnapshot,
    final: ClassifierSnapshot,
    config: ClassifierConfig,
    events: NDArray[np.void] | None = None,
) -> list[Path]:
    """Render the report figures of a run into ``out_dir``.

    Each PNG is rendered to a temporary file in ``out_dir`` and moved into
    place (:func:`sim.files.write_atomic`), so a reader never sees a partial file.

    Parameters
    ----------
    out_dir : Path
        Folder for the figures; created if missing.
    metrics : mapping of str to ndarray
        Equal-length 1-D columns :data:`METRIC_KEYS`, one row per training
        batch (:func:`app.experiments.classifier.metrics.batch_rows`); may
        have no rows.
    start, final : ClassifierSnapshot
        The network when the run began and when it ended.
    config : ClassifierConfig
        The run's configuration (at its end).
    events : ndarray of ``sim.events.EVENT_DTYPE``, optional
        Rewiring events; those of the largest step (the last batch that
        rewired) are marked on the final connectivity masks.

    Returns
    -------
    list of Path
        The files :data:`FIGURE_FILES` in ``out_dir``, in that order.

    Raises
    ------
    ValueError
        If a metrics column is missing, not 1-D, or the columns differ in length.
    """
    return save_figures(make_figures(metrics, start, final, config, events), Path(out_dir), FIGURE_FILES)


def make_figures(
    metrics: Mapping[str, NDArray[np.float64]],
    start: ClassifierSnapshot,
    final: ClassifierSnapshot,
    config: ClassifierConfig,
    events: NDArray[np.void] | None = None,
) -> list[Figure]:
    """The figures :func:`write_figures` writes, in the order of :data:`FIGURE_FILES` (not saved)."""
    table = _check_metrics(metrics)
    heading = _heading(final, config)
    return [
        _learning_figure(table, final, config, heading),
        _rewiring_figure(table, final, config, heading),
        _connectivity_figure(start, final, events, heading),
        _weights_figure(start, final, heading),
        _activity_figure(final, config, heading),
    ]


# -- helpers --------------------------------------------------------------------------------------------
def _check_metrics(metrics: Mapping[str, NDArray[np.float64]]) -> dict[str, _Array]:
    """Return the metrics columns as float arrays after checking names and lengths."""
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"metrics lack the column(s) {', '.join(missing)}")
    table = {k: np.asarray(metrics[k], dtype=np.float64) for k in METRIC_KEYS}
    shapes = {k: v.shape for k, v in table.items()}
    if any(len(s) != 1 for s in shapes.values()) or len({s[0] for s in shapes.values()}) != 1:
        raise ValueError(f"metrics columns must be 1-D arrays of equal length, got shapes {shapes}")
    return table


def _heading(final: ClassifierSnapshot, config: ClassifierConfig) -> str:
    """``name (data set, connectivity, rewiring), after N epochs``."""
    c = config.connectivity
    if config.dense:
        wiring = "dense"
    else:
        rewired = "DEEP R" if config.rewiring.enabled else "static"
        wiring = f"p_in {c.p_in:g}, p_rec {c.p_rec:g}, {rewired}"
    epochs = f"{final.t:.3g}"
    return f"{config.name} ({config.data.name}, {wiring}), after {epochs} epoch{'' if epochs == '1' else 's'}"


def _grid(ax: Axes, axis: str = "both") -> None:
    ax.grid(True, axis=axis, color="#E5E5E5", linewidth=0.8)  # type: ignore[arg-type]
    ax.set_axisbelow(True)


def _epoch_axis(ax: Axes, end: float, *, label: bool = True) -> None:
    """x from 0 to ``end`` epochs (at least one), labelled."""
    end = max(end, 1.0) if np.isfinite(end) else 1.0
    ax.set_xlim(-0.02 * end, 1.03 * end)  # room for a marker at either end
    if end <= 2:  # a short run: fractions of an epoch
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    elif end <= 12:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    if label:
        ax.set_xlabel("epochs", fontsize=_LABEL_SIZE)
    _grid(ax)


def _running_mean(y: _Array, window: int) -> _Array:
    """Trailing mean of ``window`` consecutive values (``len(y) - window + 1`` values)."""
    return np.convolve(y, np.ones(window) / window, mode="valid")


def _smoothing_window(n: int) -> int:
    """Batches averaged for the smoothed line of ``n`` per-batch values (1: none drawn)."""
    return 1 if n <= _MARKER_LIMIT else int(np.clip(n // 25, 2, 500))


def _broken(x: _Array, y: _Array, epoch: _Array) -> tuple[_Array, _Array]:
    """``x`` and ``y`` with a NaN wherever the epoch changes, so no line crosses a test phase."""
    cuts = np.flatnonzero(np.diff(epoch) != 0) + 1
    return np.insert(x, cuts, np.nan), np.insert(y, cuts, np.nan)


def _per_batch(
    ax: Axes,
    t: _Array,
    epoch: _Array,
    y: _Array,
    colour: str,
    label: str,
    *,
    linestyle: str = "-",
    marker: str = "o",
    gid: str | None = None,
) -> list[Artist]:
    """Per-batch values, broken between epochs: a line with markers when few, else a faint line
    and a trailing running mean (the handle of the most readable line is last)."""
    window = _smoothing_window(t.size)
    x, v = _broken(t, y, epoch)
    if window == 1:
        (line,) = ax.plot(
            x,
            v,
            color=colour,
            linestyle=linestyle,
            linewidth=1.6,
            marker=marker,
            markersize=3.5,
            markerfacecolor="none" if marker == "o" else colour,
            label=label,
            gid=gid,
        )
        return [line]
    (raw,) = ax.plot(x, v, color=colour, linewidth=0.7, alpha=0.3, label=f"{label} (each batch)", gid=gid)
    xm, vm = _broken(t[window - 1 :], _running_mean(y, window), epoch[window - 1 :])
    (mean,) = ax.plot(
        xm, vm, color=colour, linestyle=linestyle, linewidth=2.0, label=f"{label} (mean of {window} batches)"
    )
    return [raw, mean]


def _present(view: TableView) -> tuple[NDArray[np.int64], NDArray[np.int64], _Array]:
    """``(pre, post, weight)`` of every synapse, as the figures index and plot them."""
    pre, post, weight = view.coo()
    return pre, post.astype(np.int64), weight.astype(np.float64)


def _degree_bins(values: NDArray[np.int64]) -> NDArray[np.float64]:
    """Integer-centred histogram edges covering ``values`` (at most about 60 bins)."""
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 1)
    width = max(1, -(-(hi - lo + 1) // 60))
    return np.arange(lo, hi + width + 1, width, dtype=np.float64) - 0.5


def _bars(ax: Axes, counts: NDArray[np.int64], edges: NDArray[np.float64], **style: Any) -> BarContainer:
    """A histogram's non-empty bars (``counts`` between ``edges``), white-edged."""
    full = counts > 0
    left, widths = edges[:-1][full], np.diff(edges)[full]
    return ax.bar(left, counts[full], width=widths, align="edge", edgecolor="white", linewidth=0.4, **style)


def _outline(ax: Axes, counts: NDArray[np.int64], edges: NDArray[np.float64]) -> Artist:
    """A histogram's outline (black steps), for the start of the run."""
    return ax.stairs(counts, edges, color="black", linewidth=1.0, baseline=0.0, zorder=3)


# -- 1. learning ----------------------------------------------------------------------------------------
def _learning_figure(
    table: dict[str, _Array], final: ClassifierSnapshot, config: ClassifierConfig, heading: str
) -> Figure:
    t = table["t"]
    tested = np.isfinite(table["test_accuracy"])
    t_test = table["epoch"][tested] + 1.0  # the test set runs after the epoch's training batches
    end = max([final.t, *t.tolist(), *t_test.tolist()])
    n_classes = int(final.w_out.shape[1])
    chance = 1.0 / n_classes
    references = REFERENCES.get(config.data.name, {})

    fig = new_figure(13.0, 5.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    handles: list[Artist] = []
    if t.size:
        handles += _per_batch(ax_loss, t, table["epoch"], table["train_loss"], _BLUE, "training")
        ax_loss.plot(t_test, table["test_loss"][tested], **_TEST_MARKS)
        _per_batch(ax_acc, t, table["epoch"], table["train_accuracy"], _BLUE, "training")
        (test_marks,) = ax_acc.plot(
            t_test,
            table["test_accuracy"][tested],
            **_TEST_MARKS,
            label=f"test set, end of each epoch ({int(tested.sum())})",
            gid="test_accuracy",
        )
        handles.append(test_marks)
        if tested.any():
            last = float(table["test_accuracy"][tested][-1])
            ax_acc.annotate(
                f"{last:.1%}",
                (float(t_test[-1]), last),
                xytext=(0, 9),
                textcoords="offset points",
                ha="center",
                fontsize=9,
                color=_VERMILION,
                zorder=6,
            )
        top = float(np.nanmax(np.concatenate([table["train_loss"], table["test_loss"][tested]])))
        ax_loss.set_ylim(0.0, 1.08 * top if np.isfinite(top) and top > 0 else 1.0)
    else:
        for ax in (ax_loss, ax_acc):
            note(ax, "no batch completed")
        ax_loss.set_ylim(0.0, 1.0)

    chance_line = ax_acc.axhline(
        chance,
        color=_GREY,
        linestyle=(0, (2, 2)),
        linewidth=1.3,
        zorder=1,
        label=f"chance (1/{n_classes} = {chance:.1%})",
        gid="chance",
    )
    handles.append(chance_line)
    for (name, value), (colour, dash) in zip(
        references.items(), _REFERENCE_STYLES * (1 + len(references) // len(_REFERENCE_STYLES)), strict=False
    ):
        handles.append(
            ax_acc.axhline(
                value,
                color=colour,
                linestyle=dash,
                linewidth=1.4,
                zorder=1,
                label=f"{name}: {value:.1%}",
                gid=f"reference:{name}",
            )
        )
    ax_acc.set_ylim(-0.02, 1.04)  # markers at 0 % stay whole
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_loss.set_title("Loss", fontsize=_TITLE_SIZE)
    ax_loss.set_ylabel("cross-entropy of the summed readout", fontsize=_LABEL_SIZE)
    ax_acc.set_title("Accuracy", fontsize=_TITLE_SIZE)
    ax_acc.set_ylabel("examples classified correctly", fontsize=_LABEL_SIZE)
    for ax in (ax_loss, ax_acc):
        _epoch_axis(ax, end)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=10)
    fig.suptitle(f"Learning: {heading}", fontsize=_TITLE_SIZE + 1)
    return fig


# -- 2. rewiring ----------------------------------------------------------------------------------------
def _rewiring_off(config: ClassifierConfig) -> str | None:
    """Why nothing is rewired in ``config``, or None when DEEP R runs."""
    if config.dense:
        return "dense kernel: every connection present,\nnothing is rewired"
    if not config.rewiring.enabled:
        return "rewiring off (DEEP R disabled):\nthe sparse table stays static"
    return None


def _rewiring_figure(
    table: dict[str, _Array], final: ClassifierSnapshot, config: ClassifierConfig, heading: str
) -> Figure:
    t = table["t"]
    end = max([final.t, *t.tolist()])
    off = _rewiring_off(config)
    fig = new_figure(13.0, 5.2)
    axes = fig.subplots(1, 2)
    handles: dict[str, Artist] = {}
    for code, ax in zip((TABLE_IN, TABLE_REC), axes, strict=True):
        name = TABLE_NAMES[code]
        synapses = table[f"synapses_{name}"]
        counts = {what: table[f"{what}_{name}"] for what in ("removed", "regrown", "refused")}
        rewired = any(bool(np.nansum(c) > 0) for c in counts.values())
        title = f"{_TABLE_TITLES[code]}"
        if synapses.size and np.all(synapses == synapses[0]):
            title += f"\nconstant: {int(synapses[0])} synapses"
        elif synapses.size:
            title += f"\nsynapses from {int(np.nanmin(synapses))} to {int(np.nanmax(synapses))}"
            twin = ax.twinx()
            (line,) = twin.plot(t, synapses, color=_GREY, linewidth=1.2, label="synapses (right axis)")
            twin.set_ylabel("synapses", fontsize=_LABEL_SIZE, color=_GREY)
            twin.yaxis.set_major_locator(MaxNLocator(integer=True))
            handles["synapses"] = line
        ax.set_title(title, fontsize=_TITLE_SIZE)
        if not t.size:
            note(ax, "no batch completed")
            ax.set_yticks([])
        elif off is not None and not rewired:
            note(ax, off)
            ax.set_yticks([])
        else:
            same = np.array_equal(counts["removed"], counts["regrown"])
            styles = [
                ("removed = regrown" if same else "removed", "removed", _VERMILION, "-", "o"),
                ("refused (redrawn)", "refused", _PURPLE, "--", "s"),
            ]
            if not same:
                styles.insert(1, ("regrown", "regrown", _GREEN, "--", "x"))
            for label, what, colour, dash, mark in styles:
                lines = _per_batch(
                    ax,
                    t,
                    table["epoch"],
                    counts[what],
                    colour,
                    label,
                    linestyle=dash,
                    marker=mark,
                    gid=f"{what}_{name}",
                )
                for line in lines:
                    handles.setdefault(str(line.get_label()), line)
            totals = ", ".join(f"{w} {int(np.nansum(c))}" for w, c in counts.items())
            text = f"total: {totals}" + ("\nregrown = removed in every batch" if same else "")
            ax.text(
                0.02,
                0.97,
                text,
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=9,
                bbox={
                    "boxstyle": "round,pad=0.3",
                    "facecolor": "white",
                    "edgecolor": "#BBBBBB",
                    "alpha": 0.9,
                },
                zorder=6,
            )
            top = max(float(np.nanmax(c)) for c in counts.values())
            ax.set_ylim(0.0, 1.3 * top if top > 0 else 1.0)
            if off is not None:
                note(ax, "DEEP R was switched off by the end of the run", y=0.8)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("synapses per batch", fontsize=_LABEL_SIZE)
        _epoch_axis(ax, end)
    if handles:
        fig.legend(
            handles=list(handles.values()),
            loc="outside lower center",
            ncols=min(len(handles), 4),
            fontsize=10,
        )
    fig.suptitle(f"Rewiring per training batch: {heading}", fontsize=_TITLE_SIZE + 1)
    return fig


# -- 3. connectivity ------------------------------------------------------------------------------------
def _weight_image(view: TableView) -> NDArray[np.float64]:
    """The weights as a ``(n_pre, n_post)`` image, NaN where no synapse is."""
    image = np.full((view.n_pre, view.n_post), np.nan)
    pre, post, weight = _present(view)
    image[pre, post] = weight
    return image


def _last_batch(events: NDArray[np.void] | None) -> NDArray[np.void] | None:
    """The events of the largest step (the last batch that rewired), or None."""
    if events is None or not len(events):
        return None
    return events[events["step"] == events["step"].max()]


def _connectivity_figure(
    start: ClassifierSnapshot, final: ClassifierSnapshot, events: NDArray[np.void] | None, heading: str
) -> Figure:
    views = {TABLE_IN: (start.tin, final.tin), TABLE_REC: (start.trec, final.trec)}
    n_pre = max(v[1].n_pre for v in views.values())
    n_post = max(v[1].n_post for v in views.values())
    # At least a pixel per pre/post pair where the figure allows (700 x 512 for the SHD input table).
    panel_w = float(np.clip(n_post / 110.0, 3.6, 6.0))
    panel_h = float(np.clip(n_pre / 110.0, 3.6, 6.6))
    fig = new_figure(2.0 * (panel_w + 1.9), 2.0 * (panel_h + 0.9) + 1.5)
    axes = fig.subplots(2, 2)
    last = _last_batch(events)
    marks: dict[str, Artist] = {}
    for col, code in enumerate((TABLE_IN, TABLE_REC)):
        images = [_weight_image(view) for view in views[code]]
        present = np.concatenate([np.abs(im[np.isfinite(im)]) for im in images])
        vmax = float(present.max()) if present.size and present.max() > 0 else 1.0
        norm = Normalize(-vmax, vmax)
        shown = None
        for row, (when, image, view) in enumerate(zip(("start", "end"), images, views[code], strict=True)):
            ax = axes[row, col]
            shown = ax.imshow(
                np.ma.masked_invalid(image),
                cmap=_WEIGHT_CMAP,
                norm=norm,
                interpolation="nearest",
                aspect="auto",
                extent=(-0.5, view.n_post - 0.5, view.n_pre - 0.5, -0.5),
                gid=f"mask_{TABLE_NAMES[code]}_{when}",
            )
            count = int(np.isfinite(image).sum())
            title = f"{when}: {_TABLE_TITLES[code]}, {count} synapses"
            ax.set_title(title, fontsize=_TITLE_SIZE - 1)
            ax.set_ylabel(_PRE_LABELS[code], fontsize=_LABEL_SIZE)
            ax.set_xlabel("post: hidden neuron", fontsize=_LABEL_SIZE)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator(integer=True, nbins=6))
            if row == 1 and last is not None:
                _mark_events(ax, last[last["projection"] == code], view, panel_h, marks)
        assert shown is not None
        cbar = fig.colorbar(shown, ax=list(axes[:, col]), shrink=0.6, aspect=30, pad=0.02)
        cbar.set_label(f"weight, {_TABLE_TITLES[code]} (white: no synapse)", fontsize=_LABEL_SIZE)
    subtitle = "pixel: a synapse, coloured by its signed weight (same scale at start and end)"
    if last is not None:
        t_last = float(last["step"][0]) / max(1, steps_per_epoch(final))
        subtitle += f"\nmarked on the end masks: the last batch's rewiring (t = {t_last:.3g} epochs)"
        legend = [
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markerfacecolor="none",
                markeredgecolor=_GREEN,
                markeredgewidth=1.5,
                markersize=7,
                label=f"regrown ({int((last['kind'] == FORMED).sum())})",
            ),
            Line2D(
                [],
                [],
                linestyle="none",
                marker="x",
                color=_VERMILION,
                markeredgewidth=1.5,
                markersize=7,
                label=f"pruned ({int((last['kind'] == REMOVED).sum())})",
            ),
        ]
        fig.legend(handles=legend, loc="outside lower center", ncols=2, fontsize=10)
    elif events is not None:
        subtitle += "\nno synapse was rewired"
    fig.suptitle(f"Connectivity: {heading}\n{subtitle}", fontsize=_TITLE_SIZE)
    return fig


def _mark_events(
    ax: Axes, events: NDArray[np.void], view: TableView, panel_h: float, marks: dict[str, Artist]
) -> None:
    """Regrown (green rings) and pruned (vermilion crosses) synapses at their (post, pre) pixels."""
    cell = panel_h * 72.0 / max(view.n_pre, 1)  # points per table row
    size = float(np.clip(2.0 * cell, 7.0, 11.0)) ** 2  # rings two rows wide, at least 7 points
    for kind, style in (
        (FORMED, {"marker": "o", "facecolors": "none", "edgecolors": _GREEN}),
        (REMOVED, {"marker": "x", "color": _VERMILION}),
    ):
        mine = events[events["kind"] == kind]
        if len(mine):
            marks[str(kind)] = ax.scatter(
                mine["post"],
                mine["pre"],
                s=size,
                linewidths=1.5,
                zorder=4,
                gid=f"{'regrown' if kind == FORMED else 'pruned'}_marks",
                **style,  # type: ignore[arg-type]
            )


# -- 4. weights and degrees -----------------------------------------------------------------------------
def _weights_figure(start: ClassifierSnapshot, final: ClassifierSnapshot, heading: str) -> Figure:
    fig = new_figure(14.0, 8.6)
    grid = fig.add_gridspec(2, 6)
    weight_axes = [fig.add_subplot(grid[0, 0:3]), fig.add_subplot(grid[0, 3:6])]
    degree_axes = [fig.add_subplot(grid[1, 2 * i : 2 * i + 2]) for i in range(3)]
    handles: dict[str, Any] = {}
    for ax, code, begin, end in zip(
        weight_axes, (TABLE_IN, TABLE_REC), (start.tin, start.trec), (final.tin, final.trec), strict=True
    ):
        w0 = _present(begin)[2]
        w = _present(end)[2]
        both = np.abs(np.concatenate([w0, w]))
        span = float(both.max()) if both.size and both.max() > 0 else 1.0
        edges = np.linspace(-span, span, 41)  # 0 is an edge: every bin holds one sign only
        counts = []
        for values, colour, label in (
            (w[w < 0], _BLUE, "negative"),
            (w[w > 0], _VERMILION, "positive"),
        ):
            n = np.histogram(values, bins=edges)[0]
            counts.append(n)
            bars = _bars(ax, n, edges, color=colour, alpha=0.85, gid=f"hist_{label}")
            if n.any():
                handles.setdefault(label, bars)
        n0 = np.histogram(w0, bins=edges)[0]
        handles.setdefault("start", _outline(ax, n0, edges))
        every = np.concatenate([*counts, n0])
        positive = every[every > 0]
        if positive.size and positive.max() > 8.0 * np.median(positive):  # a peak that flattens the rest
            ax.set_yscale("log")
            ax.set_ylabel("synapses (log scale)", fontsize=_LABEL_SIZE)
        else:
            ax.set_ylabel("synapses", fontsize=_LABEL_SIZE)
        share = f", {np.mean(w > 0):.0%} positive" if w.size else ""
        ax.set_title(f"Weights at the end, {_TABLE_TITLES[code]}: {w.size} synapses{share}", fontsize=12)
        ax.set_xlabel("weight", fontsize=_LABEL_SIZE)
        ax.axvline(0.0, color=_GREY, linewidth=0.8)
        _grid(ax, "y")
        if not w.size:
            note(ax, "no synapses")

    degree_panels = (
        (
            start.tin,
            final.tin,
            "in",
            "in-degree, input \u2192 hidden",
            "input synapses onto a hidden neuron",
        ),
        (
            start.trec,
            final.trec,
            "in",
            "in-degree, hidden \u2192 hidden",
            "recurrent synapses onto a neuron",
        ),
        (
            start.trec,
            final.trec,
            "out",
            "out-degree, hidden \u2192 hidden",
            "recurrent synapses from a neuron",
        ),
    )
    for ax, (begin, end, which, title, xlabel) in zip(degree_axes, degree_panels, strict=True):
        d0, d = (_degrees(v, which) for v in (begin, end))
        edges = _degree_bins(np.concatenate([d0, d]))
        bars = _bars(ax, np.histogram(d, bins=edges)[0], edges, color=_SKY, gid=f"degrees_{which}")
        _outline(ax, np.histogram(d0, bins=edges)[0], edges)
        handles.setdefault("degree end", bars)
        ax.set_title(f"{title}\nend: mean {d.mean():.1f}, sd {d.std():.1f}", fontsize=11)
        ax.set_xlabel(xlabel, fontsize=_LABEL_SIZE - 1)
        ax.set_ylabel("hidden neurons", fontsize=_LABEL_SIZE - 1)
        ax.set_xlim(edges[0] - 1.0, edges[-1] + 1.0)  # a single degree (dense) is not one wide bar
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _grid(ax, "y")
    labels = {
        "negative": "end, negative weights",
        "positive": "end, positive weights",
        "start": "start (outline)",
        "degree end": "end, degrees",
    }
    shown = [(handles[k], v) for k, v in labels.items() if k in handles]
    fig.legend(
        [h for h, _ in shown], [lbl for _, lbl in shown], loc="outside lower center", ncols=4, fontsize=10
    )
    fig.suptitle(f"Weights and degrees: {heading}", fontsize=_TITLE_SIZE + 1)
    return fig


def _degrees(view: TableView, which: str) -> NDArray[np.int64]:
    """In-degree of every post neuron (``which="in"``) or out-degree of every pre neuron."""
    pre, post, _ = _present(view)
    if which == "in":
        return np.bincount(post, minlength=view.n_post).astype(np.int64)
    return np.bincount(pre, minlength=view.n_pre).astype(np.int64)


# -- 5. activity ----------------------------------------------------------------------------------------
def _shown_caption(final: ClassifierSnapshot) -> str:
    """What the shown example is: example, label, prediction, where in the run."""
    info = [int(v) for v in final.shown_info]
    training = bool(info[SH_TRAINING])
    batch = info[SH_BATCH]
    if training:
        where = f"training batch {batch + 1}/{final.train_batches}"
    else:
        where = f"test batch {batch - final.train_batches + 1}/{final.test_batches}"
    verdict = "correct" if info[SH_PREDICTION] == info[SH_LABEL] else "wrong"
    return (
        f"example {info[SH_EXAMPLE]}: label {info[SH_LABEL]}, predicted {info[SH_PREDICTION]} ({verdict}); "
        f"{where} of epoch {info[SH_EPOCH] + 1}"
    )


def _activity_figure(final: ClassifierSnapshot, config: ClassifierConfig, heading: str) -> Figure:
    z = np.asarray(final.shown_z)
    y = np.asarray(final.shown_y, dtype=np.float64)
    dt = float(config.network.dt)
    n_steps, n_hidden = z.shape
    fig = new_figure(14.0, 8.0)
    grid = fig.add_gridspec(2, 2, width_ratios=[2.2, 1.0], height_ratios=[1.6, 1.0])
    ax_raster = fig.add_subplot(grid[0, 0])
    ax_out = fig.add_subplot(grid[1, 0], sharex=ax_raster)
    ax_rate = fig.add_subplot(grid[:, 1])
    time = np.arange(n_steps) * dt
    span = (-0.5 * dt, (n_steps - 0.5) * dt)

    if final.has_example:
        info = [int(v) for v in final.shown_info]
        steps, neurons = np.nonzero(z)
        tick = float(np.clip(4.0 * 72.0 / max(n_hidden, 1) * 1.2, 1.5, 8.0))  # about a row tall
        ax_raster.scatter(
            steps * dt, neurons, marker="|", s=tick**2, linewidths=0.9, color="black", gid="raster"
        )
        ax_raster.set_title(
            f"Hidden spikes: {steps.size} in {n_steps * dt:g} ms, "
            f"{np.count_nonzero(z.any(axis=0))} of {n_hidden} neurons fired",
            fontsize=12,
        )
        if not steps.size:
            note(ax_raster, "no hidden neuron fired in this trial")
        label, predicted = info[SH_LABEL], info[SH_PREDICTION]
        for k in range(y.shape[1]):
            if k not in (label, predicted):
                ax_out.plot(time, y[:, k], color="#B0B0B0", linewidth=0.9, zorder=2)
        ax_out.plot([], [], color="#B0B0B0", linewidth=0.9, label="other classes")
        ax_out.plot(
            time, y[:, label], color=_BLUE, linewidth=2.4, zorder=4, label=f"label {label}", gid="label_trace"
        )
        if predicted != label and 0 <= predicted < y.shape[1]:
            ax_out.plot(
                time,
                y[:, predicted],
                color=_VERMILION,
                linewidth=2.0,
                linestyle="--",
                zorder=3,
                label=f"predicted {predicted}",
            )
        ax_out.legend(loc="upper left", fontsize=9, framealpha=0.9)
        ax_out.set_title(
            f"Readout: predicted {predicted} (summed readout's largest), label {label}", fontsize=12
        )
        fig_caption = _shown_caption(final)
    else:
        note(ax_raster, "no trial completed yet")
        note(ax_out, "no trial completed yet")
        ax_out.set_yticks([])
        ax_raster.set_title("Hidden spikes", fontsize=12)
        ax_out.set_title("Readout", fontsize=12)
        fig_caption = "no example shown yet"
    ax_raster.set_xlim(*span)
    ax_raster.set_ylim(n_hidden - 0.5, -0.5)
    ax_raster.set_ylabel("hidden neuron", fontsize=_LABEL_SIZE)
    ax_raster.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_raster.tick_params(labelbottom=False)
    ax_out.set_xlabel("time in the trial (ms)", fontsize=_LABEL_SIZE)
    ax_out.set_ylabel("readout y", fontsize=_LABEL_SIZE)
    _grid(ax_out)

    rates = np.asarray(final.rates_hz, dtype=np.float64)
    f_target = float(config.learning.f_target)
    top = max(float(rates.max()) if rates.size else 0.0, f_target, 1.0)
    edges = np.linspace(0.0, 1.15 * top, 31)
    _bars(ax_rate, np.histogram(rates, bins=edges)[0], edges, color=_SKY)
    ax_rate.axvline(
        f_target, color=_VERMILION, linestyle="--", linewidth=1.5, label=f"target {f_target:g} Hz"
    )
    if rates.size:
        ax_rate.axvline(
            float(rates.mean()), color="black", linewidth=1.2, label=f"mean {float(rates.mean()):.2g} Hz"
        )
    ax_rate.legend(loc="upper right", fontsize=9, framealpha=0.9)
    ax_rate.set_title("Hidden firing rates\n(as the regularisation sees them)", fontsize=12)
    ax_rate.set_xlabel("rate (Hz)", fontsize=_LABEL_SIZE)
    ax_rate.set_ylabel("hidden neurons", fontsize=_LABEL_SIZE)
    ax_rate.yaxis.set_major_locator(MaxNLocator(integer=True))
    _grid(ax_rate, "y")
    fig.suptitle(f"Activity: {heading}\n{fig_caption}", fontsize=_TITLE_SIZE)
    return fig
