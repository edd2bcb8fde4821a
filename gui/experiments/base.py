"""An experiment: the views and parameter groups a kind of model brings to the window.

The main window knows nothing of particular views. It asks the experiment
that applies to the loaded configuration for its views (and where they go)
and its parameter groups. A new experiment (sparse classifiers, channel
pruning) is a new module in this package with its own views, registered in
:data:`gui.experiments.EXPERIMENTS`; no existing view or window code changes.
"""

from __future__ import annotations

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
