"""The topographic map's metrics: the columns of ``metrics.csv`` and how a snapshot becomes a row.

The same rows feed ``metrics.csv``, the window's time series and the figures.
"""

from __future__ import annotations

from sim.experiments.topomap.analysis import receptive_fields
from sim.experiments.topomap.snapshot import Snapshot

#: Column names, in the order of ``metrics.csv``: model time (s); FF and LAT synapse totals;
#: synapses formed and removed since the previous row (both projections); mean source and
#: target rates over that interval (Hz); sigma_aff and AD from synapse counts and from weights
#: (grid units).
METRIC_COLUMNS: tuple[str, ...] = (
    "t",
    "ff_synapses",
    "lat_synapses",
    "formations",
    "eliminations",
    "rate_source",
    "rate_target",
    "sigma_aff_conn",
    "sigma_aff_weight",
    "ad_conn",
    "ad_weight",
)


def map_metrics(snap: Snapshot) -> dict[str, float]:
    """sigma_aff and AD (network means) on FF counts and weights."""
    n = snap.side
    counts = receptive_fields(snap.ff.pre, snap.ff.post, n)
    weights = receptive_fields(snap.ff.pre, snap.ff.post, n, weights=snap.ff.weight)
    return {
        "sigma_aff_conn": counts.mean_sigma_aff,
        "sigma_aff_weight": weights.mean_sigma_aff,
        "ad_conn": counts.mean_ad,
        "ad_weight": weights.mean_ad,
    }


def counts_row(snap: Snapshot, prev: Snapshot | None) -> dict[str, float]:
    """The columns of a metrics row other than the map metrics.

    Synapse totals at ``snap``; formations and eliminations (both projections)
    and mean source and target rates over the interval since ``prev`` (zeros
    without a previous snapshot or interval).
    """
    formations = eliminations = rate_src = rate_tgt = 0.0
    if prev is not None and snap.t > prev.t:
        interval = snap.t - prev.t
        formations = float(snap.ff.formed + snap.lat.formed - prev.ff.formed - prev.lat.formed)
        eliminations = float(snap.ff.removed + snap.lat.removed - prev.ff.removed - prev.lat.removed)
        scale = 1.0 / (snap.n_neurons * interval)
        rate_src = float(snap.spikes_src.sum() - prev.spikes_src.sum()) * scale
        rate_tgt = float(snap.spikes_tgt.sum() - prev.spikes_tgt.sum()) * scale
    return {
        "t": snap.t,
        "ff_synapses": float(snap.ff.count),
        "lat_synapses": float(snap.lat.count),
        "formations": formations,
        "eliminations": eliminations,
        "rate_source": rate_src,
        "rate_target": rate_tgt,
    }


def metrics_row(snap: Snapshot, prev: Snapshot | None) -> dict[str, float]:
    """A whole row: :func:`counts_row` and :func:`map_metrics`."""
    return {**counts_row(snap, prev), **map_metrics(snap)}
