"""An experiment: the views and parameter groups a kind of model brings to the window.

The main window knows nothing of particular views. It asks the experiment
that applies to the loaded configuration for its views (and where they go)
and its parameter groups. A new experiment (sparse classifiers, channel
pruning) is a new module in this package with its own views, registered in
:data:`gui.experiments.EXPERIMENTS`; no existing view or window code changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gui.views.base import View
from sim.config import ModelConfig

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


@dataclass(frozen=True)
class Experiment:
    """The window layout of one kind of experiment."""

    key: str
    title: str
    views: tuple[ViewSpec, ...]
    parameter_groups: tuple[ParameterGroup, ...]

    def applies_to(self, config: ModelConfig) -> bool:
        """Whether this experiment shows ``config`` (the topographic-map one shows every current model)."""
        return True
