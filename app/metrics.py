"""The columns of a run's metrics table (``metrics.csv``, the window's time series, figures)."""

from __future__ import annotations

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
