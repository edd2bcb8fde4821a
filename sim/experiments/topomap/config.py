"""Model configuration: every parameter of the topographic-map model.

Each parameter is declared once, as a field of a frozen dataclass, together
with its default, unit, allowed range or choices, whether it is *live*
(changeable while the simulation runs) or *structural* (needs a rebuild), and
a one-line description. YAML validation, the command line and the GUI's
parameter panel all read these declarations.

Times inside the model are in milliseconds, rates in Hz, voltages in mV and
conductances in units of the leak conductance; run-level durations are in
seconds of model time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sim.errors import ConfigError
from sim.parameters import (
    ConfigRoot,
    ParamSpec,
    param,
    parse_yaml_text,
    read_yaml,
    resolve_yaml,
    seed_param,
)
from sim.parameters import iter_params as _iter_params

__all__ = [
    "BASE_SIDE",
    "ModelConfig",
    "ParamSpec",
    "check_param",
    "config_from_dict",
    "iter_params",
    "load_config",
    "param",
    "param_spec",
    "parse_yaml_text",
    "read_yaml",
    "resolve_yaml",
]

#: Side of the grid at scale 1; the grid side is ``BASE_SIDE * scale``.
BASE_SIDE = 16


@dataclass(frozen=True)
class NetworkConfig:
    """Grid size and time step."""

    scale: int = param(
        1, doc="Grid side is 16 x scale; neurons per layer 256 x scale^2", live=False, lo=1, hi=64
    )
    dt: float = param(0.1, unit="ms", doc="Integration time step", live=False, lo=0.0, hi=10.0, lo_open=True)


@dataclass(frozen=True)
class StimulusConfig:
    """The Poisson input of the source layer."""

    input: str = param(
        "correlated",
        doc="correlated: a moving Gaussian blob; uncorrelated: flat Poisson input",
        choices=("correlated", "uncorrelated"),
    )
    period: float = param(
        20.0, unit="ms", doc="A new stimulus location is drawn every period", lo=0.0, hi=1e7, lo_open=True
    )
    f_base: float = param(5.0, unit="Hz", doc="Background rate of every source neuron", lo=0.0, hi=1000.0)
    f_peak: float = param(152.8, unit="Hz", doc="Peak rate added at the stimulus location", lo=0.0, hi=1000.0)
    sigma: float = param(
        2.0, unit="grid", doc="Width of the stimulus Gaussian", lo=0.0, hi=1000.0, lo_open=True
    )
    flat_rate: float = param(
        20.0, unit="Hz", doc="Rate of every source neuron with uncorrelated input", lo=0.0, hi=1000.0
    )
    tiled: bool = param(
        False, doc="At scale > 1, repeat the 16 x 16 pattern (scale^2 blobs) instead of one blob"
    )


@dataclass(frozen=True)
class NeuronConfig:
    """Conductance-based leaky integrate-and-fire target neurons."""

    tau_m: float = param(20.0, unit="ms", doc="Membrane time constant", lo=0.0, hi=1e4, lo_open=True)
    v_rest: float = param(-70.0, unit="mV", doc="Resting potential", lo=-200.0, hi=100.0)
    v_reset: float = param(-70.0, unit="mV", doc="Reset potential after a spike", lo=-200.0, hi=100.0)
    v_thresh: float = param(-54.0, unit="mV", doc="Spike threshold", lo=-200.0, hi=100.0)
    tau_ref: float = param(0.0, unit="ms", doc="Refractory period", lo=0.0, hi=1000.0)
    e_ex: float = param(0.0, unit="mV", doc="Excitatory reversal potential", lo=-200.0, hi=200.0)
    e_inh: float = param(-80.0, unit="mV", doc="Inhibitory reversal potential", lo=-200.0, hi=200.0)
    tau_syn: float = param(
        5.0, unit="ms", doc="Decay time constant of both conductances", lo=0.0, hi=1e4, lo_open=True
    )
    v_init: str = param(
        "normal",
        doc="Initial membrane potential: drawn from N(mean, sd) or V_rest",
        live=False,
        choices=("normal", "rest"),
    )
    v_init_mean: float = param(
        -60.0, unit="mV", doc="Mean of the initial potential", live=False, lo=-200.0, hi=100.0
    )
    v_init_sd: float = param(
        5.0, unit="mV", doc="Standard deviation of the initial potential", live=False, lo=0.0, hi=100.0
    )


@dataclass(frozen=True)
class STDPConfig:
    """Pair-based additive STDP on both projections."""

    enabled: bool = param(True, doc="Apply STDP to FF and LAT weights")
    a_plus: float = param(0.02, doc="Potentiation amplitude (post after pre)", lo=0.0, hi=10.0)
    a_minus: float = param(0.0075, doc="Depression amplitude (pre after post)", lo=0.0, hi=10.0)
    tau_plus: float = param(
        20.0, unit="ms", doc="Potentiation window (pre trace)", lo=0.0, hi=1e5, lo_open=True
    )
    tau_minus: float = param(
        64.0, unit="ms", doc="Depression window (post trace)", lo=0.0, hi=1e5, lo_open=True
    )
    g_max: float = param(0.2, doc="Maximum weight; new synapses start here", lo=0.0, hi=100.0, lo_open=True)
    traces: str = param(
        "all_to_all",
        doc="Trace interaction: all-to-all (sum) or nearest neighbour",
        choices=("all_to_all", "nearest"),
    )


@dataclass(frozen=True)
class ProjectionRewiringConfig:
    """Formation and elimination probabilities of one projection."""

    p_form: float = param(0.16, doc="Peak formation probability", lo=0.0, hi=1.0)
    sigma_form: float = param(
        2.5, unit="grid", doc="Width of the formation Gaussian", lo=0.0, hi=1e4, lo_open=True
    )
    p_elim_dep: float = param(
        0.0245,
        doc="Elimination probability of a depressed synapse (w < g_max/2); above 1 means always",
        lo=0.0,
        hi=100.0,
    )
    p_elim_pot: float = param(
        1.3611e-4, doc="Elimination probability of a potentiated synapse (w >= g_max/2)", lo=0.0, hi=100.0
    )


def _lat_rewiring() -> ProjectionRewiringConfig:
    return ProjectionRewiringConfig(p_form=1.0, sigma_form=1.0)


@dataclass(frozen=True)
class RewiringConfig:
    """Structural plasticity: how and how often synapses form and disappear."""

    enabled: bool = param(True, doc="Form and remove synapses while running")
    scheme: str = param(
        "slot",
        doc="slot: a target and one of its s_max slots per attempt (Bamford); pair: random (pre, post) pairs",
        live=False,
        choices=("slot", "pair"),
    )
    interval: float = param(
        0.1,
        unit="ms",
        doc="Time between rewiring calls (rounded to whole steps)",
        lo=0.0,
        hi=1e6,
        lo_open=True,
    )
    rate: float = param(
        10000.0,
        unit="Hz",
        doc="Attempts per second at scale 1 (slot: per target layer; pair: per projection), times scale^2",
        lo=0.0,
        hi=1e9,
    )
    s_max: int = param(
        32,
        doc="Synapse slots per target neuron, shared by FF and LAT (slot scheme)",
        live=False,
        lo=1,
        hi=4096,
    )
    partner: str = param(
        "random",
        doc="Slot scheme partner: any neuron of either layer, or one that spiked in the previous step",
        choices=("random", "last_spike"),
    )
    ff: ProjectionRewiringConfig = field(default_factory=ProjectionRewiringConfig)
    lat: ProjectionRewiringConfig = field(default_factory=_lat_rewiring)


@dataclass(frozen=True)
class ConnectivityConfig:
    """Initial wiring and synapse storage."""

    wiring: str = param(
        "fixed_fan_in",
        doc="fixed_fan_in: accept-reject until each target has its fan-in; pairwise_bernoulli: each pair",
        live=False,
        choices=("fixed_fan_in", "pairwise_bernoulli"),
    )
    ff_fan_in: int = param(16, doc="Initial FF synapses per target (fixed_fan_in)", live=False, lo=0, hi=4096)
    lat_fan_in: int = param(
        16, doc="Initial LAT synapses per target (fixed_fan_in)", live=False, lo=0, hi=4096
    )
    ff_init_sigma: float = param(
        0.0,
        unit="grid units",
        doc="Spread of the initial FF wiring; 0: rewiring.ff.sigma_form (a wide spread starts a tangled map)",
        live=False,
        lo=0.0,
        hi=1e4,
    )
    ff_init_p: float = param(
        0.0,
        doc="Peak probability of the initial FF wiring (pairwise_bernoulli); 0: rewiring.ff.p_form",
        live=False,
        lo=0.0,
        hi=1.0,
    )
    lat_inhibitory: bool = param(
        False, doc="LAT synapses are inhibitory (reversal potential E_inh)", live=False
    )
    allow_autapses: bool = param(True, doc="A target neuron may synapse onto itself through LAT", live=False)
    row_capacity: int = param(64, doc="Synapse capacity of each presynaptic row", live=False, lo=1, hi=65536)
    col_capacity: int = param(
        64, doc="Synapse capacity per target neuron and projection", live=False, lo=1, hi=65536
    )


@dataclass(frozen=True)
class RunConfig:
    """Run-level settings of headless runs."""

    duration: float = param(300.0, unit="s", doc="Model time of a headless run", lo=0.0, hi=1e7, lo_open=True)
    record_interval: float = param(
        1.0, unit="s", doc="Model time between metric records", lo=0.0, hi=1e7, lo_open=True
    )
    record_events: bool = param(True, doc="Keep a log of every synapse formed or removed")
    seed: int = seed_param()


@dataclass(frozen=True)
class ModelConfig(ConfigRoot):
    """The whole configuration of a topographic-map run."""

    EXPERIMENT: ClassVar[str] = "topomap"

    name: str = "custom"
    description: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    stimulus: StimulusConfig = field(default_factory=StimulusConfig)
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    stdp: STDPConfig = field(default_factory=STDPConfig)
    rewiring: RewiringConfig = field(default_factory=RewiringConfig)
    connectivity: ConnectivityConfig = field(default_factory=ConnectivityConfig)
    run: RunConfig = field(default_factory=RunConfig)

    # -- derived sizes ---------------------------------------------------------------------------
    @property
    def side(self) -> int:
        """Grid side n."""
        return BASE_SIDE * self.network.scale

    @property
    def n_neurons(self) -> int:
        """Neurons per layer, n * n."""
        return self.side * self.side

    def validate(self, source: str | None = None) -> None:
        """Cross-field checks that single ranges cannot express."""
        n, c, r, s = self.neuron, self.connectivity, self.rewiring, self.stimulus
        if n.v_reset >= n.v_thresh:
            raise ConfigError(
                f"must be below neuron.v_thresh ({n.v_thresh}), got {n.v_reset}",
                source=source,
                path="neuron.v_reset",
            )
        if r.scheme == "slot":
            if c.wiring != "fixed_fan_in":
                raise ConfigError(
                    "the slot scheme needs fixed_fan_in wiring (its in-degree must fit rewiring.s_max)",
                    source=source,
                    path="connectivity.wiring",
                )
            if c.ff_fan_in + c.lat_fan_in > r.s_max:
                raise ConfigError(
                    f"ff_fan_in + lat_fan_in ({c.ff_fan_in + c.lat_fan_in}) exceeds s_max ({r.s_max})",
                    source=source,
                    path="connectivity.ff_fan_in",
                )
            if c.col_capacity < r.s_max:
                raise ConfigError(
                    f"must be at least rewiring.s_max ({r.s_max}) with the slot scheme, got {c.col_capacity}",
                    source=source,
                    path="connectivity.col_capacity",
                )
        for name, fan_in in (("ff_fan_in", c.ff_fan_in), ("lat_fan_in", c.lat_fan_in)):
            if c.wiring == "fixed_fan_in" and fan_in > c.col_capacity:
                raise ConfigError(
                    f"exceeds connectivity.col_capacity ({c.col_capacity}), got {fan_in}",
                    source=source,
                    path=f"connectivity.{name}",
                )
        if s.period < self.network.dt:
            raise ConfigError(
                f"must be at least network.dt ({self.network.dt} ms), got {s.period}",
                source=source,
                path="stimulus.period",
            )
        if r.interval < self.network.dt:
            raise ConfigError(
                f"must be at least network.dt ({self.network.dt} ms), got {r.interval}",
                source=source,
                path="rewiring.interval",
            )
        if self.run.record_interval * 1000.0 < self.network.dt:
            raise ConfigError("must be at least one time step", source=source, path="run.record_interval")


def config_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> ModelConfig:
    """:meth:`ModelConfig.from_dict`: validate a nested dict into a configuration."""
    return ModelConfig.from_dict(data, source=source)


def load_config(path: str | Path) -> ModelConfig:
    """Load and validate a topographic-map YAML configuration file, following ``extends``."""
    p = Path(path)
    data = resolve_yaml(p)
    data.setdefault("name", p.stem)
    return config_from_dict(data, source=str(path))


def iter_params(cfg: Any = None, prefix: str = "") -> Iterator[tuple[str, ParamSpec, Any]]:
    """``(path, spec, value)`` of every parameter of ``cfg`` (default: :class:`ModelConfig`'s defaults)."""
    return _iter_params(ModelConfig() if cfg is None else cfg, prefix)


def param_spec(path: str) -> ParamSpec:
    """The declaration of the topographic-map parameter at ``path``."""
    return ModelConfig.param_spec(path)


def check_param(path: str, value: Any) -> Any:
    """Validate one value for the parameter at ``path`` (type and range) and return it converted."""
    return ModelConfig.check_param(path, value)
