"""An experiment on the window: the views, parameter groups and menus it brings, found by key.

The main window knows nothing of particular views. It asks the experiment of
the loaded configuration (``config.experiment``) for its views (and where they
go), its parameter groups and its menus. An experiment package on this layer
(``gui/experiments/<key>/``) exposes an :class:`Experiment` as
``GUI_EXPERIMENT`` in the module that :data:`BUILTIN_GUI_EXPERIMENTS` names;
the registry imports it by name, so the window has no import of any
experiment. Tests and plug-ins add their own with :func:`register_gui_experiment`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from PyQt6.QtWidgets import QMenu, QWidget

from app.commands import Command
from gui.context import ViewContext
from gui.views.base import View
from sim.parameters import ConfigRoot

#: Where a view goes: one of the window's three tab areas, left to right.
Area = Literal["left", "centre", "right"]
AREAS: tuple[Area, ...] = ("left", "centre", "right")


@dataclass(frozen=True)
class ViewSpec:
    """A view class and the tab area it opens in (the first view of each area is shown at start)."""

    view: type[View]
    area: Area = "left"


@dataclass(frozen=True)
class ParameterGroup:
    """A titled group of the parameter panel: every parameter under ``prefix`` (a key path)."""

    title: str
    prefix: str
    #: Parameters under ``prefix`` that belong to a more specific group.
    exclude: tuple[str, ...] = ()


class MenuHost(Protocol):
    """What an experiment's menus may use of the window: commands, the shared view context, a parent."""

    context: ViewContext

    def send(self, command: Command) -> int | None:
        """Submit ``command`` to the simulation thread (a failure is shown, not raised)."""
        ...


def _no_menus(_host: MenuHost) -> Sequence[QMenu]:
    return ()


@dataclass(frozen=True)
class StepAction:
    """A way to step the run: a unit of the experiment's clock, its label, shortcut and tip."""

    unit: str
    text: str
    shortcut: str
    tip: str


#: Every experiment steps by single steps.
STEP = StepAction("step", "Step", "Right", "Advance one time step and stop")


@dataclass(frozen=True)
class Experiment:
    """The window layout of one kind of experiment.

    ``key`` is the experiment's key in configuration files (``experiment:``).
    ``menus`` makes the experiment's own menus for a window (the topographic
    map's Lesion menu); they go before View and are made again whenever the
    window installs the experiment.
    """

    key: str
    title: str
    views: tuple[ViewSpec, ...]
    parameter_groups: tuple[ParameterGroup, ...]
    make_menus: Callable[[MenuHost], Sequence[QMenu]] = _no_menus
    #: The step units of the run controls, the first being the Step button's
    #: (units of :meth:`sim.experiment.Experiment.step_units`).
    step_actions: tuple[StepAction, ...] = (STEP,)
    #: The command a region dragged with a tool makes: ``(tool, x0, y0, x1, y1) -> Command``
    #: (the topographic map's lesions); None when the experiment has no region tools.
    region_command: Callable[[str, float, float, float, float], Command] | None = None

    def applies_to(self, config: ConfigRoot) -> bool:
        """Whether this experiment shows ``config``: the configuration is of this experiment."""
        return config.experiment == self.key

    def menus(self, host: MenuHost) -> Sequence[QMenu]:
        """New menus of this experiment for ``host`` (parented to it when it is a widget)."""
        menus = self.make_menus(host)
        for menu in menus:
            if isinstance(host, QWidget) and menu.parent() is None:
                menu.setParent(host, menu.windowFlags())
        return menus


#: The experiments that come with Rewire Lab: key -> the module whose ``GUI_EXPERIMENT`` declares it.
BUILTIN_GUI_EXPERIMENTS: dict[str, str] = {
    "topomap": "gui.experiments.topomap.experiment",
    "classifier": "gui.experiments.classifier.experiment",
    "channels": "gui.experiments.channels.experiment",
}

_lock = threading.Lock()
_registered: dict[str, Experiment] = {}


def register_gui_experiment(experiment: Experiment) -> None:
    """Make ``experiment`` known to the window under its key (tests and plug-ins)."""
    with _lock:
        _registered[experiment.key] = experiment


def get_gui_experiment(key: str) -> Experiment:
    """The window's declaration of experiment ``key``; ``LookupError`` when there is none."""
    with _lock:
        found = _registered.get(key)
    if found is not None:
        return found
    module = BUILTIN_GUI_EXPERIMENTS.get(key)
    if module is None:
        raise LookupError(f"the window has no views for experiment {key!r}")
    experiment = importlib.import_module(module).GUI_EXPERIMENT
    if not isinstance(experiment, Experiment) or experiment.key != key:
        raise TypeError(f"{module}.GUI_EXPERIMENT does not declare experiment {key!r}")
    with _lock:
        return _registered.setdefault(key, experiment)


def experiment_for(config: ConfigRoot) -> Experiment:
    """The experiment that shows ``config``."""
    return get_gui_experiment(config.experiment)
