"""The topographic-map experiment (Bamford et al. 2010): its views, parameter groups and Lesion menu."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QMenu

from app.experiments.topomap.commands import Lesion
from gui.experiment import Experiment, MenuHost, ParameterGroup, StepAction, ViewSpec
from gui.experiments.topomap.views.activity_view import ActivityView
from gui.experiments.topomap.views.connectivity_view import ConnectivityView
from gui.experiments.topomap.views.events_view import EventsView
from gui.experiments.topomap.views.map_quality_view import MapQualityView
from gui.experiments.topomap.views.map_view import MapView
from gui.experiments.topomap.views.receptive_field_view import ReceptiveFieldView
from gui.experiments.topomap.views.synapses_view import SynapsesView

#: The lesion tools: key (as :meth:`gui.context.ViewContext.set_lesion_tool` takes it), text, tip.
LESION_TOOLS: tuple[tuple[str, str, str], ...] = (
    ("", "&No lesion tool", "Clicks on the map select neurons"),
    (
        "cut",
        "&Cut synapses: drag on the map",
        "Drag a rectangle on the Map view: every synapse onto "
        "its neurons (and LAT synapses from them) is removed; watch rewiring regrow the map",
    ),
    (
        "silence",
        "&Silence neurons: drag on the map",
        "Drag a rectangle on the Map view: its neurons stop firing until released",
    ),
)


def lesion_menu(host: MenuHost) -> Sequence[QMenu]:
    """The Lesion menu: choose a tool for dragging on the Map, or release silenced neurons."""
    menu = QMenu("&Lesion")
    menu.setObjectName("lesion_menu")
    menu.setToolTipsVisible(True)
    tools = QActionGroup(menu)
    for tool, text, tip in LESION_TOOLS:
        action = QAction(text, menu)
        action.setObjectName(f"lesion_tool_{tool or 'none'}")
        action.setCheckable(True)
        action.setChecked(tool == host.context.lesion_tool)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        tools.addAction(action)
        action.triggered.connect(lambda _c=False, t=tool: host.context.set_lesion_tool(t))
        menu.addAction(action)
    menu.addSeparator()
    release = QAction("&Release silenced neurons", menu)
    release.setToolTip("Let every silenced neuron fire again")
    release.triggered.connect(lambda: host.send(Lesion("restore")))
    menu.addAction(release)
    return (menu,)


TOPOGRAPHIC_MAP = Experiment(
    key="topomap",
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
    make_menus=lesion_menu,
    region_command=Lesion,
    step_actions=(
        StepAction("step", "Step", "Right", "Advance one time step (network.dt) and stop"),
        StepAction("stimulus", "Step stimulus", "Shift+Right", "Advance one stimulus period and stop"),
        StepAction("rewiring", "Step rewiring", "Ctrl+Right", "Advance one rewiring interval and stop"),
    ),
)

#: The declaration the registry finds (:data:`gui.experiment.BUILTIN_GUI_EXPERIMENTS`).
GUI_EXPERIMENT = TOPOGRAPHIC_MAP
