"""The topographic-map experiment (Bamford et al. 2010): its views and parameter groups."""

from __future__ import annotations

from gui.experiments.base import Experiment, ParameterGroup, ViewSpec
from gui.views.activity_view import ActivityView
from gui.views.connectivity_view import ConnectivityView
from gui.views.events_view import EventsView
from gui.views.map_quality_view import MapQualityView
from gui.views.map_view import MapView
from gui.views.receptive_field_view import ReceptiveFieldView
from gui.views.synapses_view import SynapsesView

TOPOGRAPHIC_MAP = Experiment(
    key="topographic_map",
    title="Topographic map",
    views=(
        ViewSpec(MapView, "left"),
        ViewSpec(ReceptiveFieldView, "left"),
        ViewSpec(ConnectivityView, "centre"),
        ViewSpec(ActivityView, "centre"),
        ViewSpec(MapQualityView, "right"),
        ViewSpec(SynapsesView, "right"),
        ViewSpec(EventsView, "right"),
    ),
    parameter_groups=(
        ParameterGroup("Stimulus", "stimulus"),
        ParameterGroup("Neurons", "neuron"),
        ParameterGroup("STDP", "stdp"),
        ParameterGroup("Rewiring", "rewiring", exclude=("rewiring.ff", "rewiring.lat")),
        ParameterGroup("Rewiring FF", "rewiring.ff"),
        ParameterGroup("Rewiring LAT", "rewiring.lat"),
        ParameterGroup("Connectivity", "connectivity"),
        ParameterGroup("Network", "network"),
        ParameterGroup("Run", "run"),
    ),
)
