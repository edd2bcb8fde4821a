"""Report figures of a finished (or paused) run, rendered off screen to PNG files.

Matplotlib is used only through :class:`matplotlib.figure.Figure` and the Agg
canvas: no pyplot, so no global figure state, no GUI backend, and the module
is safe to call from a worker thread.

>>> paths = write_figures(Path("out"), metrics, engine.snapshot(), engine.config,
...                       engine.take_events())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from app.experiments.topomap.events import EventCounts
from app.experiments.topomap.experiment import FIGURE_FILES
from app.experiments.topomap.metrics import METRIC_COLUMNS
from app.figures import DPI as FIGURE_DPI
from app.figures import new_figure, note, save_figure
from sim.events import FF
from sim.experiments.topomap.analysis import DisplacementStats, by_displacement, receptive_fields
from sim.experiments.topomap.analysis.reference import BAMFORD_2010, CASE_NAMES, bamford_case
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.snapshot import Snapshot

__all__ = ["DPI", "FIGURE_NAMES", "MAX_GRID_LINES", "METRIC_KEYS", "published_reference", "write_figures"]

#: Resolution of every figure.
DPI = FIGURE_DPI
#: File names, in the order :func:`write_figures` returns them.
FIGURE_NAMES: tuple[str, ...] = FIGURE_FILES
#: Columns the metrics table must have (those of ``metrics.csv``).
METRIC_KEYS: tuple[str, ...] = METRIC_COLUMNS

_Array = NDArray[np.float64]

# Colour-blind-safe palette (Okabe & Ito).
_BLUE, _ORANGE, _GREEN, _VERMILION, _PURPLE = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7"
#: Map-quality series: metric suffix, colour, line style, legend word.
_SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("conn", _BLUE, "-", "counts"),
    ("weight", _ORANGE, "-.", "weights"),
)
_TITLE_SIZE = 13
_LABEL_SIZE = 11
#: Series with at most this many points are drawn with markers.
_MARKER_LIMIT = 40
#: The topographic map joins at most this many rows and columns of neurons: on larger grids
#: every k-th row and column (a coarser net of the same map), so the plot stays readable.
MAX_GRID_LINES = 32
#: Grids larger than this side (scale 2 and above) are drawn in the topographic map's dense style.
_SPARSE_SIDE = 16


def published_reference(config: ModelConfig) -> tuple[int, dict[str, float]] | None:
    """Bamford et al. 2010's published map quality for ``config``: ``(case, values)``, or None.

    Only for a configuration of Bamford's model: see
    :func:`sim.experiments.topomap.analysis.reference.bamford_case`.
    """
    case = bamford_case(config)
    return None if case is None else (case, BAMFORD_2010[case])


def write_figures(
    out_dir: Path,
    metrics: Mapping[str, np.ndarray],
    snapshot: Snapshot,
    config: ModelConfig,
    events: EventCounts | np.ndarray,
) -> list[Path]:
    """Render the report figures of a run into ``out_dir``.

    Each PNG is rendered to a temporary file in ``out_dir`` and moved into
    place with :func:`os.replace`, so a reader never sees a partial file.

    Parameters
    ----------
    out_dir : Path
        Folder for the figures; created if missing.
    metrics : mapping of str to ndarray
        Equal-length 1-D columns :data:`METRIC_KEYS`: ``t`` (model seconds,
        the first row is the initial network), FF and LAT synapse counts,
        formations and eliminations within each recording interval, mean
        source and target rates (Hz), and mean ``sigma_aff`` and ``AD`` from
        synapse counts (``_conn``) and weights (``_weight``).
    snapshot : Snapshot
        The final network.
    config : ModelConfig
        The run's configuration (preset name, time step, case, ``g_max``).
    events : EventCounts or ndarray of ``sim.events.EVENT_DTYPE``
        The run's rewiring events, counted by distance as the run went
        (:class:`app.eventlog.EventCounts`), or the events themselves
        (may be empty).

    Returns
    -------
    list of Path
        ``map_quality.png``, ``synapses.png``, ``topographic_map.png`` and
        ``receptive_field.png`` in ``out_dir``, in that order.

    Raises
    ------
    ValueError
        If a metrics column is missing, not 1-D, or the columns differ in length.
    """
    table = _check_metrics(metrics)
    if not isinstance(events, EventCounts):
        counted = EventCounts(snapshot.side)
        counted.add(np.asarray(events))
        events = counted
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    heading = f"{config.name}, t = {_format_time(snapshot.t)}"
    figures = (
        _map_quality_figure(table, config, heading),
        _synapses_figure(table, heading),
        _topographic_map_figure(snapshot, heading),
        _receptive_field_figure(snapshot, config, events, heading),
    )
    return [save_figure(fig, out / name) for fig, name in zip(figures, FIGURE_NAMES, strict=True)]


# -- helpers --------------------------------------------------------------------------------------------
def _check_metrics(metrics: Mapping[str, np.ndarray]) -> dict[str, _Array]:
    """Return the metrics columns as float arrays after checking names and lengths."""
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"metrics lack the column(s) {', '.join(missing)}")
    table = {k: np.asarray(metrics[k], dtype=np.float64) for k in METRIC_KEYS}
    lengths = {k: v.shape for k, v in table.items()}
    if any(len(s) != 1 for s in lengths.values()) or len({s[0] for s in lengths.values()}) != 1:
        raise ValueError(f"metrics columns must be 1-D arrays of equal length, got shapes {lengths}")
    return table


def _format_time(t: float) -> str:
    """Model time for a title: ``0.2 s``, ``12.5 s``, ``300 s``."""
    return f"{t:.0f} s" if abs(t) >= 100 else f"{t:.3g} s"


def _time_axis(ax: Axes, t: _Array, *, label: bool = True) -> None:
    """Label the time axis and give it a sensible range even for a single row."""
    end = float(np.nanmax(t)) if t.size and np.isfinite(t).any() else 0.0
    span = end if end > 0 else 1.0
    ax.set_xlim(-0.02 * span, end + 0.02 * span if end > 0 else span)
    if label:
        ax.set_xlabel("model time (s)", fontsize=_LABEL_SIZE)
    ax.grid(True, color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)


def _upper(peak: float, headroom: float) -> float:
    """Top of a y axis that starts at 0 (1 when there is nothing above 0)."""
    return headroom * peak if peak > 0 else 1.0


def _finite_max(*arrays: _Array) -> float:
    """Largest finite value of ``arrays`` (0 when there is none)."""
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else 0.0


# -- 1. map quality -------------------------------------------------------------------------------------
def _map_quality_figure(table: dict[str, _Array], config: ModelConfig, heading: str) -> Figure:
    t = table["t"]
    published = published_reference(config)
    case, reference = published if published is not None else (None, None)
    fig = new_figure(12.0, 4.8)
    axes = fig.subplots(1, 2)
    panels = (
        ("sigma_aff", "Receptive-field spread $\\sigma_{aff}$", "$\\sigma_{aff}$ (grid units)"),
        ("ad", "Receptive-field offset AD", "AD (grid units)"),
    )
    marker = "o" if t.size <= _MARKER_LIMIT else None
    handles: dict[str, Artist] = {}
    for ax, (stem, title, ylabel) in zip(axes, panels, strict=True):
        top = 0.0
        for kind, colour, style, label in _SERIES:
            y = table[f"{stem}_{kind}"]
            (line,) = ax.plot(
                t,
                y,
                color=colour,
                linestyle=style,
                linewidth=2.0,
                marker=marker,
                markersize=3.5,
                label=f"network ({label})",
            )
            handles.setdefault(label, line)
            if y.size and np.isfinite(y[0]):
                handles.setdefault(
                    "initial",
                    ax.plot(
                        t[:1],
                        y[:1],
                        linestyle="none",
                        marker="D",
                        markersize=8,
                        markerfacecolor="white",
                        markeredgecolor="black",
                        markeredgewidth=1.4,
                        zorder=5,
                        label="initial network (t = 0)",
                    )[0],
                )
                if kind == "conn":
                    ax.annotate(
                        f"{y[0]:.2f}",
                        (float(t[0]), float(y[0])),
                        xytext=(8, 8),
                        textcoords="offset points",
                        fontsize=9,
                        zorder=6,
                        bbox={
                            "boxstyle": "round,pad=0.2",
                            "facecolor": "white",
                            "edgecolor": "none",
                            "alpha": 0.85,
                        },
                    )
            if reference is not None:
                value = reference[f"{stem}_{kind}"]
                ref = ax.axhline(
                    value,
                    color=colour,
                    linestyle="--",
                    linewidth=1.3,
                    alpha=0.85,
                    zorder=1,
                    label=f"Bamford et al. 2010, published ({label})",
                )
                handles.setdefault(f"ref {label}", ref)
                ax.annotate(
                    f"{value:.2f}",
                    (1.0, value),
                    xycoords=("axes fraction", "data"),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=9,
                    color=colour,
                )
                top = max(top, value)
            top = max(top, _finite_max(y))
        if not t.size:
            note(ax, "no metrics recorded")
        upper = _upper(top, 1.15)
        ax.set_ylim(-0.02 * upper, upper)  # a little room below 0 keeps a zero line visible
        ax.set_title(title, fontsize=_TITLE_SIZE)
        ax.set_ylabel(ylabel, fontsize=_LABEL_SIZE)
        _time_axis(ax, t)
    if reference is None:
        order, ncols = ["counts", "weights", "initial"], 3
    else:  # columns fill first: the network in the top row, the published values below it
        order, ncols = ["counts", "ref counts", "weights", "ref weights", "initial"], 3
    shown = [handles[k] for k in order if k in handles]
    fig.legend(handles=shown, loc="outside lower center", ncols=ncols, fontsize=10, frameon=False)
    if case is not None:
        subtitle = f"Bamford et al. 2010 {CASE_NAMES[case]} (dashed: its published values after 300 s)"
    else:
        subtitle = "no published reference for this model (Bamford et al. 2010's values are for its own)"
    fig.suptitle(f"Map quality: {heading}\n{subtitle}", fontsize=_TITLE_SIZE + 1)
    return fig


# -- 2. synapses ----------------------------------------------------------------------------------------
def _synapses_figure(table: dict[str, _Array], heading: str) -> Figure:
    t = table["t"]
    fig = new_figure(9.0, 7.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
    marker = "o" if t.size <= _MARKER_LIMIT else None
    top.plot(
        t,
        table["ff_synapses"],
        color=_BLUE,
        linewidth=2.0,
        marker=marker,
        markersize=3.5,
        label="feed-forward (FF)",
    )
    top.plot(
        t,
        table["lat_synapses"],
        color=_PURPLE,
        linewidth=2.0,
        linestyle="--",
        marker=marker,
        markersize=3.5,
        label="lateral (LAT)",
    )
    top.set_ylabel("synapses", fontsize=_LABEL_SIZE)
    top.set_title("Synapse counts", fontsize=_TITLE_SIZE)
    upper = _upper(_finite_max(table["ff_synapses"], table["lat_synapses"]), 1.1)
    top.set_ylim(-0.02 * upper, upper)
    top.legend(loc="best", fontsize=10, framealpha=0.9)
    _time_axis(top, t, label=False)

    if t.size >= 2:
        width = np.diff(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            formed = np.where(width > 0, table["formations"][1:] / width, np.nan)
            removed = np.where(width > 0, table["eliminations"][1:] / width, np.nan)
        bottom.stairs(formed, t, color=_GREEN, linewidth=2.0, label="formations", baseline=None)
        bottom.stairs(
            removed, t, color=_VERMILION, linewidth=2.0, linestyle="--", label="eliminations", baseline=None
        )
        peak = _finite_max(formed, removed)
        upper = _upper(peak, 1.1)
        bottom.set_ylim(-0.02 * upper, upper)
        bottom.legend(loc="best", fontsize=10, framealpha=0.9)
        if peak == 0:
            note(bottom, "no rewiring events in this run")
    else:
        note(bottom, "no recording interval yet")
    bottom.set_ylabel("events per second (1/s)", fontsize=_LABEL_SIZE)
    bottom.set_title("Rewiring events (FF + LAT), per recording interval", fontsize=_TITLE_SIZE)
    _time_axis(bottom, t)
    fig.suptitle(f"Synapses: {heading}", fontsize=_TITLE_SIZE + 1)
    return fig


# -- 3. topographic map ---------------------------------------------------------------------------------
def _grid_step(n: int) -> int:
    """Join every ``k``-th row and column of an ``n x n`` grid, so at most :data:`MAX_GRID_LINES` each."""
    return max(1, -(-n // MAX_GRID_LINES))


def _net_segments(centre: _Array, has_input: NDArray[np.bool_], n: int, step: int) -> _Array:
    """Segments ``(m, 2, 2)`` joining the centres of grid neighbours ``step`` apart (rows and columns
    ``0, step, 2 step, ...``); pairs without input, or wrapped around a tiled input, are left out."""
    picked = np.arange(0, n, step)
    ids = np.arange(n * n).reshape(n, n)[np.ix_(picked, picked)]  # [row, col]; position (col, row)
    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    gap = np.abs(centre[a] - centre[b])
    keep = has_input[a] & has_input[b] & (gap[:, 0] <= n / 2) & (gap[:, 1] <= n / 2)
    return np.stack([centre[a[keep]], centre[b[keep]]], axis=1)


def _topographic_map_figure(snapshot: Snapshot, heading: str) -> Figure:
    """The grid plot: every neuron's receptive-field centre, grid neighbours joined.

    Up to a 16 x 16 grid every neuron is joined to its neighbours and drawn as a
    ringed marker. Larger grids get a bigger figure, thin lines joining every
    ``k``-th row and column (at most :data:`MAX_GRID_LINES` each) and small
    dots for all centres, so the net stays readable however many neurons.
    """
    n = snapshot.side
    rf = receptive_fields(snapshot.ff.pre, snapshot.ff.post, n)
    dense = n > _SPARSE_SIDE
    step = _grid_step(n)
    axes_inches = 8.0 if dense else 5.5
    fig = new_figure(10.4, 9.6) if dense else new_figure(7.6, 7.0)
    ax = fig.subplots()
    cell = axes_inches * 72.0 / n  # approximate size of one grid cell in points
    if dense:
        line_width = float(np.clip(0.06 * cell * step, 0.25, 0.8))
        size = float(np.clip((0.3 * cell) ** 2, 1.0, 30.0))
    else:
        line_width = float(np.clip(0.12 * cell, 0.3, 1.6))
        size = float(np.clip((0.45 * cell) ** 2, 1.0, 80.0))

    # The ideal map: every neuron at its own position.
    pos = np.arange(0, n, step, dtype=np.float64)
    ideal = [[(x, 0.0), (x, n - 1.0)] for x in pos] + [[(0.0, y), (n - 1.0, y)] for y in pos]
    ax.add_collection(
        LineCollection(ideal, colors="#CFCFCF", linewidths=line_width, linestyles=":", zorder=1)
    )
    segments = _net_segments(rf.centre, rf.has_input, n, step)
    net = LineCollection(list(segments), colors="#404040", linewidths=line_width, zorder=2)
    net.set_gid("receptive_field_net")
    ax.add_collection(net)

    active = rf.has_input
    sigma = rf.sigma_aff[active]
    vmin, vmax = (float(sigma.min()), float(sigma.max())) if sigma.size else (0.0, 1.0)
    if vmax - vmin < 0.1:
        vmin, vmax = vmin - 0.05, vmax + 0.05
    points = ax.scatter(
        rf.centre[active, 0],
        rf.centre[active, 1],
        c=sigma,
        cmap="viridis",
        vmin=vmin,
        vmax=vmax,
        s=size,
        edgecolors="none" if dense else "black",
        linewidths=0.0 if dense else 0.3,
        zorder=3,
        clip_on=False,
    )
    if active.any():
        cbar = fig.colorbar(points, ax=ax, shrink=0.82, pad=0.02)
        cbar.set_label("$\\sigma_{aff}$ of the neuron (grid units)", fontsize=_LABEL_SIZE)
    if step > 1:
        ordinal = {2: "2nd", 3: "3rd"}.get(step, f"{step}th")
        net_label = f"every {ordinal} row and column of centres joined"
    else:
        net_label = "receptive-field centres, grid neighbours joined"
    handles: list[Artist] = [
        Line2D(
            [],
            [],
            color="#404040",
            linewidth=1.5,
            marker="o",
            markersize=4 if dense else 6,
            markerfacecolor=_GREEN,
            markeredgecolor="none" if dense else "black",
            markeredgewidth=0.3,
            label=net_label,
        ),
        Line2D([], [], color="#A0A0A0", linewidth=1.2, linestyle=":", label="ideal map"),
    ]
    if dense:
        handles.insert(
            1,
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=4,
                color=_GREEN,
                label="every neuron's centre",
            ),
        )
    if (~active).any():
        handles.append(
            ax.scatter(
                rf.centre[~active, 0],
                rf.centre[~active, 1],
                marker="x",
                color=_VERMILION,
                s=size,
                linewidths=0.6 if dense else 1.0,
                zorder=3,
                clip_on=False,
                label=f"no FF input ({int((~active).sum())} neurons)",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)
    if not active.any():
        note(ax, "no feed-forward synapses")

    ax.set_xlim(0.0, float(n))
    ax.set_ylim(float(n), 0.0)  # row 0 at the top, so the "lower" neighbour is drawn below
    ax.set_aspect("equal")
    ax.set_xlabel("receptive-field centre x in the source layer (grid units)", fontsize=_LABEL_SIZE)
    ax.set_ylabel("receptive-field centre y (grid units)", fontsize=_LABEL_SIZE)
    summary = (
        f"mean $\\sigma_{{aff}}$ = {rf.mean_sigma_aff:.2f}, mean AD = {rf.mean_ad:.2f} (from synapse counts)"
        if active.any()
        else "no neuron has feed-forward input"
    )
    ax.set_title(summary, fontsize=_LABEL_SIZE)
    fig.suptitle(f"Topographic map: {heading}", fontsize=_TITLE_SIZE + 1)
    return fig


# -- 4. mean receptive field ----------------------------------------------------------------------------
#: The displacement images show at least this many cells either side of 0 (all of a small grid).
_MIN_RADIUS = 8


def _crop_radius(stats: DisplacementStats, n: int) -> int:
    """Half-width of the displacement window that holds 99 % of the synapses, plus a margin of one cell."""
    half = n // 2
    total = int(stats.count.sum())
    if total == 0:
        return half
    off = np.abs(stats.offsets)
    ring = np.maximum(off[None, :], off[:, None])  # Chebyshev radius of each (dy, dx) cell
    per_ring = np.bincount(ring.ravel(), weights=stats.count.ravel().astype(np.float64), minlength=half + 1)
    radius = int(np.searchsorted(np.cumsum(per_ring) / total, 0.99)) + 1
    return min(half, max(radius, _MIN_RADIUS))


def _receptive_field_figure(
    snapshot: Snapshot, config: ModelConfig, events: EventCounts, heading: str
) -> Figure:
    n = snapshot.side
    ff = snapshot.ff
    stats = by_displacement(ff.pre, ff.post, n, ff.weight)
    radius = _crop_radius(stats, n)
    keep = np.abs(stats.offsets) <= radius
    window = np.ix_(keep, keep)
    shown = stats.offsets[keep]
    lo, hi = float(shown[0]) - 0.5, float(shown[-1]) + 0.5
    extent = (lo, hi, hi, lo)  # dy grows downwards, as rows do in the topographic map
    cropped = not keep.all()

    fig = new_figure(16.0, 5.2)
    ax_p, ax_w, ax_e = fig.subplots(1, 3, width_ratios=[1.0, 1.0, 1.15])
    probability = stats.probability[window]
    p_max = float(probability.max()) if probability.size else 0.0
    image = ax_p.imshow(
        probability,
        cmap="magma",
        vmin=0.0,
        vmax=p_max if p_max > 0 else 1.0,
        extent=extent,
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax_p, shrink=0.85).set_label(
        "connection probability (synapses per target)", fontsize=_LABEL_SIZE
    )
    ax_p.set_title(f"Connection probability ({ff.count} FF synapses)", fontsize=_TITLE_SIZE)

    g_max = config.stdp.g_max
    weight = stats.mean_weight[window]
    finite = np.isfinite(weight)
    w_max = max(g_max, float(weight[finite].max())) if finite.any() else g_max
    image = ax_w.imshow(weight, cmap="viridis", vmin=0.0, vmax=w_max, extent=extent, interpolation="nearest")
    fig.colorbar(image, ax=ax_w, shrink=0.85).set_label(
        f"mean weight ($g_{{max}}$ = {g_max:g}; blank: no synapse)", fontsize=_LABEL_SIZE
    )
    ax_w.set_title("Mean FF weight", fontsize=_TITLE_SIZE)
    for ax in (ax_p, ax_w):
        suffix = f", |d| ≤ {radius} shown" if cropped else ""
        ax.set_xlabel(f"source dx from target position (grid units{suffix})", fontsize=_LABEL_SIZE)
        ax.set_ylabel("source dy (grid units)", fontsize=_LABEL_SIZE)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axhline(0.0, color="white", linewidth=0.6, alpha=0.5)
        ax.axvline(0.0, color="white", linewidth=0.6, alpha=0.5)
        if ff.count == 0:
            note(ax, "no feed-forward synapses")

    _events_by_distance_panel(ax_e, events, n)
    fig.suptitle(f"Mean receptive field: {heading}", fontsize=_TITLE_SIZE + 1)
    return fig


def _events_by_distance_panel(ax: Axes, events: EventCounts, n: int) -> None:
    """Formations and eliminations of FF synapses by source-target distance."""
    ax.set_title("FF rewiring events by distance", fontsize=_TITLE_SIZE)
    ax.set_xlabel("distance between source and target position (grid units)", fontsize=_LABEL_SIZE)
    ax.set_ylabel("events over the whole run", fontsize=_LABEL_SIZE)
    ax.grid(True, axis="y", color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlim(0.0, float(np.hypot(n // 2, n // 2)))
    if events.total == 0:
        note(ax, "no rewiring events recorded")
        ax.set_yticks([])
        return
    edges, formed, removed = events.of(FF)
    if formed.sum() + removed.sum() == 0:
        note(ax, "no FF rewiring events recorded")
        ax.set_yticks([])
        return
    centres = (edges[:-1] + edges[1:]) / 2.0
    width = 0.4 * float(np.min(np.diff(edges)))
    ax.bar(centres - width / 2, formed, width=width, color=_GREEN, label=f"formed ({int(formed.sum())})")
    ax.bar(
        centres + width / 2,
        removed,
        width=width,
        color=_VERMILION,
        label=f"eliminated ({int(removed.sum())})",
    )
    last = int(np.flatnonzero((formed + removed) > 0)[-1])
    ax.set_xlim(float(edges[0]), float(edges[min(last + 2, edges.size - 1)]))
    ax.legend(loc="upper right", fontsize=10)
