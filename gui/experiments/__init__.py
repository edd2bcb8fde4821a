"""The experiments the window can show; the first that applies to a configuration is used.

A new experiment is a module in this package that defines an
:class:`~gui.experiments.base.Experiment` with its own views, registered in
:func:`experiments` ahead of the ones it specialises.
"""

from __future__ import annotations

from gui.experiments.base import Experiment
from sim.parameters import ConfigRoot


def experiments() -> tuple[Experiment, ...]:
    """Every registered experiment, most specific first."""
    from gui.experiments.topographic import TOPOGRAPHIC_MAP

    return (TOPOGRAPHIC_MAP,)


def experiment_for(config: ConfigRoot) -> Experiment:
    """The experiment that shows ``config``."""
    for exp in experiments():
        if exp.applies_to(config):
            return exp
    raise LookupError(f"no experiment shows configuration '{config.name}'")
