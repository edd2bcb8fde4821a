"""The toy experiment's configuration: one population, one synapse table, random rewiring.

Every parameter is declared once with :func:`sim.parameters.param`, like the
topographic map's; the sections mix live parameters (the rewiring and the
leak) and structural ones (sizes, capacities, the time step, the seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from sim.errors import ConfigError
from sim.parameters import ConfigRoot, param, seed_param

#: Largest value of ``rewiring.weight``: every weight a toy table holds lies in [0, MAX_WEIGHT].
MAX_WEIGHT = 1.0
#: Largest value of ``neuron.leak_shift``.
MAX_LEAK_SHIFT = 16


@dataclass(frozen=True)
class NetworkConfig:
    """Size of the population and the time step."""

    n: int = param(
        32, doc="Neurons of the population (rows and columns of the table)", live=False, lo=2, hi=4096
    )
    dt: float = param(
        1.0, unit="ms", doc="Model time of one step", live=False, lo=0.0, hi=1000.0, lo_open=True
    )


@dataclass(frozen=True)
class ConnectivityConfig:
    """Initial wiring and synapse storage."""

    fan_out: int = param(4, doc="Synapses drawn per presynaptic neuron at build", live=False, lo=0, hi=4096)
    row_capacity: int = param(16, doc="Synapse capacity of each presynaptic row", live=False, lo=1, hi=4096)
    col_capacity: int = param(
        16, doc="Synapse capacity of each postsynaptic column", live=False, lo=1, hi=4096
    )


@dataclass(frozen=True)
class RewiringConfig:
    """Trivial random rewiring: each swap removes a random synapse and forms a random new one."""

    enabled: bool = param(True, doc="Remove and form synapses while running")
    swaps: int = param(1, doc="Removals and formations attempted per step", lo=0, hi=64)
    weight: float = param(0.5, doc="Weight of a new synapse", lo=0.0, hi=MAX_WEIGHT)


@dataclass(frozen=True)
class NeuronConfig:
    """The leaky count of every neuron."""

    leak_shift: int = param(
        3,
        doc="Each step a count loses count >> leak_shift, then gains its in-degree",
        lo=1,
        hi=MAX_LEAK_SHIFT,
    )


@dataclass(frozen=True)
class RunConfig:
    """Run-level settings of headless runs (the same keys as every experiment's)."""

    duration: float = param(1.0, unit="s", doc="Model time of a headless run", lo=0.0, hi=1e7, lo_open=True)
    record_interval: float = param(
        0.1, unit="s", doc="Model time between metric records", lo=0.0, hi=1e7, lo_open=True
    )
    record_events: bool = param(True, doc="Keep a log of every synapse formed or removed")
    seed: int = seed_param()


@dataclass(frozen=True)
class ToyConfig(ConfigRoot):
    """The whole configuration of a toy run."""

    EXPERIMENT: ClassVar[str] = "toy"

    name: str = "custom"
    description: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    connectivity: ConnectivityConfig = field(default_factory=ConnectivityConfig)
    rewiring: RewiringConfig = field(default_factory=RewiringConfig)
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self, source: str | None = None) -> None:
        """The initial wiring fits the rows, and a record interval is at least one step."""
        c = self.connectivity
        if c.fan_out > c.row_capacity:
            raise ConfigError(
                f"exceeds connectivity.row_capacity ({c.row_capacity}), got {c.fan_out}",
                source=source,
                path="connectivity.fan_out",
            )
        if c.fan_out > self.network.n:
            raise ConfigError(
                f"exceeds network.n ({self.network.n}), got {c.fan_out}",
                source=source,
                path="connectivity.fan_out",
            )
        if self.run.record_interval * 1000.0 < self.network.dt:
            raise ConfigError("must be at least one time step", source=source, path="run.record_interval")
