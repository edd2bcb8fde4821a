"""The topographic map's own commands and step units."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from app.commands import EngineCommand
from sim.experiments.topomap.lesion import cut_synapses, region_mask, restore, silence
from sim.experiments.topomap.params import I_REF_STEPS, kernel_params


class StepUnit(str, Enum):
    """The topographic map's step units (:meth:`TopographicMap.step_units`)."""

    STEP = "step"  #: one time step (network.dt)
    REWIRING = "rewiring"  #: one rewiring interval (rewiring.interval)
    STIMULUS = "stimulus"  #: one stimulus period (stimulus.period)


#: Lesion kinds: cut synapses, silence neurons, release every silenced neuron.
LESION_KINDS = ("cut", "silence", "restore")


@dataclass(frozen=True)
class Lesion(EngineCommand):
    """Cut the synapses of, or silence, the target neurons in a rectangle of the grid.

    The rectangle ``[x0, x1] x [y0, y1]`` is in grid units (neuron ``(x, y)`` is
    the point ``(x, y)``). ``kind="restore"`` releases every silenced neuron
    and ignores the rectangle.
    """

    kind: str = "cut"
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in LESION_KINDS:
            raise ValueError(f"lesion kind must be one of {', '.join(LESION_KINDS)}, got {self.kind!r}")
        for name in ("x0", "y0", "x1", "y1"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"lesion corner {name} must be a finite number, got {value!r}")

    def apply(self, engine: Any) -> str:
        """Cut, silence or restore on ``engine``'s state; what was done."""
        state = engine.state()
        limit = int(kernel_params(engine.config, engine.seed)[1][I_REF_STEPS])
        if self.kind == "restore":
            n = restore(state, limit)
            engine.replace_state(state)
            return f"released {n} silenced neurons"
        mask = region_mask(engine.config.side, self.x0, self.y0, self.x1, self.y1)
        if not mask.any():
            raise ValueError("the lesion region contains no neuron")
        if self.kind == "cut":
            n_ff, n_lat = cut_synapses(state, mask)
            engine.replace_state(state)
            return f"cut {n_ff} FF and {n_lat} LAT synapses of {int(mask.sum())} neurons"
        n = silence(state, mask)
        engine.replace_state(state)
        return f"silenced {n} neurons"
