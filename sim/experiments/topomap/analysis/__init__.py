"""Analysis of simulation results: receptive fields, connectivity, rewiring events, activity.

Pure NumPy; no GUI or plotting dependencies.
"""

from __future__ import annotations

from sim.experiments.topomap.analysis.activity import mean_rates, population_rate
from sim.experiments.topomap.analysis.connectivity import (
    DisplacementStats,
    by_displacement,
    in_degree,
    out_degree,
    radial_profile,
)
from sim.experiments.topomap.analysis.events import event_rates, events_by_distance
from sim.experiments.topomap.analysis.receptive_fields import ReceptiveFields, in_star, receptive_fields

__all__ = [
    "DisplacementStats",
    "ReceptiveFields",
    "by_displacement",
    "event_rates",
    "events_by_distance",
    "in_degree",
    "in_star",
    "mean_rates",
    "out_degree",
    "population_rate",
    "radial_profile",
    "receptive_fields",
]
