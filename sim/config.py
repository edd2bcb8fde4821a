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

import copy
import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sim.errors import ConfigError, one_line, short_repr
from sim.yaml_io import parse_yaml_text, read_yaml_text

#: Side of the grid at scale 1; the grid side is ``BASE_SIDE * scale``.
BASE_SIDE = 16


@dataclass(frozen=True)
class ParamSpec:
    """The declaration of one parameter."""

    unit: str
    doc: str
    live: bool
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None

    def range_text(self) -> str:
        """Human-readable range, e.g. ``[0, 1]`` or ``(0, inf)``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "-inf" if self.lo is None else _fmt(self.lo)
        hi = "inf" if self.hi is None else _fmt(self.hi)
        left = "(" if self.lo_open or self.lo is None else "["
        right = ")" if self.hi_open or self.hi is None else "]"
        return f"{left}{lo}, {hi}{right}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _fmt_value(x: float) -> str:
    """:func:`_fmt` of a checked number, or its :func:`short_repr` when that would be long."""
    if isinstance(x, int) and abs(x) >= 10**15:
        return short_repr(x)
    return _fmt(x)


def _key_text(key: Any) -> str:
    """A mapping key as it appears in a dotted path: itself when short, else a short repr."""
    if isinstance(key, str) and len(key) <= 60 and key.isprintable():
        return key
    return short_repr(key)


def param(
    default: Any,
    *,
    unit: str = "",
    doc: str,
    live: bool = True,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """Declare a parameter field with its metadata."""
    spec = ParamSpec(unit, doc, live, lo, hi, lo_open, hi_open, choices)
    return field(default=default, metadata={"spec": spec})


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
    seed: int = param(
        1,
        doc="Seed of the random number generator (applies when the network is built)",
        live=False,
        lo=0,
        hi=2**64 - 1,
    )


@dataclass(frozen=True)
class ModelConfig:
    """The whole configuration of a run."""

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

    # -- conversions -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML-ready) of every value."""
        return dataclasses.asdict(self)

    @property
    def experiment(self) -> str:
        """The experiment this is a configuration of (its ``experiment:`` key)."""
        return EXPERIMENT

    def to_yaml(self) -> str:
        """The configuration as YAML text that :func:`config_from_dict` reads back."""
        return yaml.safe_dump({"experiment": EXPERIMENT, **self.to_dict()}, sort_keys=False)

    def get(self, path: str) -> Any:
        """Value at a dotted key path such as ``rewiring.ff.p_form``."""
        obj: Any = self
        for part in path.split("."):
            if not dataclasses.is_dataclass(obj) or part not in {f.name for f in dataclasses.fields(obj)}:
                raise ConfigError(f"unknown parameter {short_repr(path)}")
            obj = getattr(obj, part)
        return obj

    def replace(self, path: str, value: Any, *, source: str | None = None) -> ModelConfig:
        """Return a copy with one parameter changed, validated like a file value."""
        d = self.to_dict()
        parts = path.split(".")
        node = d
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown parameter {short_repr(path)}", source=source)
            node = node[part]
        if parts[-1] not in node or isinstance(node[parts[-1]], dict):
            raise ConfigError(f"unknown parameter {short_repr(path)}", source=source)
        node[parts[-1]] = value
        return config_from_dict(d, source=source)

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


_META_KEYS = ("name", "description")

#: The experiments a configuration file may name with its ``experiment:`` key (the first is the
#: default, so files without the key keep meaning what they meant).
KNOWN_EXPERIMENTS: tuple[str, ...] = ("topomap",)
#: What each experiment is, in a few words (for lists and menus).
EXPERIMENT_TITLES: dict[str, str] = {"topomap": "topographic map: rewiring and STDP form a map"}
#: The experiment whose configuration :class:`ModelConfig` is.
EXPERIMENT = "topomap"


def check_experiment(data: Mapping[str, Any], source: str | None) -> str:
    """The experiment ``data`` names with its ``experiment:`` key (default: the first known one)."""
    key = data.get("experiment", KNOWN_EXPERIMENTS[0])
    if not isinstance(key, str) or key not in KNOWN_EXPERIMENTS:
        known = ", ".join(KNOWN_EXPERIMENTS)
        raise ConfigError(
            f"unknown experiment {short_repr(key)} (known: {known})", source=source, path="experiment"
        )
    return key


T = TypeVar("T")


def _check_value(value: Any, ftype: str, spec: ParamSpec, source: str | None, path: str) -> Any:
    """Validate one leaf value against its declared type and range."""

    def fail(msg: str) -> ConfigError:
        return ConfigError(msg, source=source, path=path)

    if ftype == "bool":
        if not isinstance(value, bool):
            raise fail(f"must be true or false, got {short_repr(value)}")
        return value
    if ftype == "str":
        if not isinstance(value, str):
            raise fail(f"must be a string, got {short_repr(value)}")
        if spec.choices is not None and value not in spec.choices:
            raise fail(f"must be {spec.range_text()}, got {short_repr(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"must be a number, got {short_repr(value)}")
    if ftype == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise fail(f"must be a whole number, got {short_repr(value)}")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise fail(f"must be a finite number, got {short_repr(value)}")
    lo_bad = spec.lo is not None and (value < spec.lo or (spec.lo_open and value == spec.lo))
    hi_bad = spec.hi is not None and (value > spec.hi or (spec.hi_open and value == spec.hi))
    if lo_bad or hi_bad:
        raise fail(f"must be in {spec.range_text()}, got {_fmt_value(value)}")
    return value


def _build(cls: type[T], data: Mapping[str, Any], source: str | None, prefix: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"must be a mapping of keys to values, got {short_repr(data)}", source=source, path=prefix or None
        )
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            path = f"{prefix}.{_key_text(key)}" if prefix else _key_text(key)
            hint = ", ".join(sorted(known))
            raise ConfigError(f"unknown key (known keys: {hint})", source=source, path=path)
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name not in data:
            continue
        path = f"{prefix}.{name}" if prefix else name
        value = data[name]
        default = cls.__dataclass_fields__[name].default_factory  # type: ignore[attr-defined]
        if default is not dataclasses.MISSING:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"must be a mapping of keys to values, got {short_repr(value)}", source=source, path=path
                )
            kwargs[name] = _build_over(default(), value, source, path)
            continue
        if name in _META_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"must be a string, got {short_repr(value)}", source=source, path=path)
            kwargs[name] = value
            continue
        kwargs[name] = _check_value(value, str(f.type), f.metadata["spec"], source, path)
    return cls(**kwargs)


def _build_over(base: T, data: Mapping[str, Any], source: str | None, prefix: str) -> T:
    """Build a section from ``data`` on top of the defaults held in ``base``."""
    merged = _deep_merge(dataclasses.asdict(base), dict(data))  # type: ignore[call-overload]
    return _build(type(base), merged, source, prefix)


def config_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> ModelConfig:
    """Validate a nested dict and return the configuration it describes.

    Missing keys take their defaults. Unknown keys, wrong types and values out
    of range raise :class:`ConfigError` naming ``source`` and the key path.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be a mapping at the top level, got {type(data).__name__}", source=source)
    if check_experiment(data, source) != EXPERIMENT:  # pragma: no cover - one experiment so far
        raise ConfigError("is not a topographic-map configuration", source=source, path="experiment")
    data = {k: v for k, v in data.items() if k not in ("extends", "experiment")}
    cfg = _build(ModelConfig, data, source, "")
    cfg.validate(source)
    return cfg


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping, raising :class:`ConfigError` naming the file on any problem.

    The file is read and parsed within fixed bounds (size, nesting, number of
    values after aliases are expanded; see :mod:`sim.yaml_io`), and a key given
    twice in one mapping is refused.
    """
    return parse_yaml_text(read_yaml_text(path), str(path))


def resolve_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML configuration and merge it over the file it ``extends`` (recursively).

    ``extends: NAME`` names a file ``NAME.yaml`` in the same folder (or a path
    relative to it).
    """
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ConfigError(f"'extends' forms a cycle: {chain}", source=str(path))
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(
            f"must name a preset or file, got {short_repr(parent)}", source=str(path), path="extends"
        )
    ppath = Path(parent)
    if ppath.suffix not in (".yaml", ".yml"):
        ppath = ppath.with_suffix(".yaml")
    if not ppath.is_absolute():
        ppath = path.parent / ppath
    try:
        exists = ppath.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL character
        exists = False
    if not exists:
        raise ConfigError(
            f"extends {short_repr(parent)}, which does not exist ({one_line(str(ppath), 200)})",
            source=str(path),
            path="extends",
        )
    base = resolve_yaml(ppath, (*_seen, path))
    return _deep_merge(base, data)


def load_config(path: str | Path) -> ModelConfig:
    """Load and validate a YAML configuration file, following ``extends``."""
    p = Path(path)
    data = resolve_yaml(p)
    data.setdefault("name", p.stem)
    return config_from_dict(data, source=str(path))


def iter_params(cfg: Any = None, prefix: str = "") -> Iterator[tuple[str, ParamSpec, Any]]:
    """Yield ``(path, spec, value)`` for every declared parameter, in declaration order.

    With no argument the defaults of :class:`ModelConfig` are listed.
    """
    obj = ModelConfig() if cfg is None else cfg
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value):
            yield from iter_params(value, path)
        elif "spec" in f.metadata:
            yield path, f.metadata["spec"], value


def param_spec(path: str) -> ParamSpec:
    """The declaration of the parameter at ``path``."""
    return _param_field(path)[1]


def check_param(path: str, value: Any) -> Any:
    """Validate one value for the parameter at ``path`` (type and range) and return it converted.

    Cross-field rules (such as ``v_reset < v_thresh``) need a whole
    configuration; :meth:`ModelConfig.replace` checks those.
    """
    ftype, spec = _param_field(path)
    return _check_value(value, ftype, spec, None, path)


def _param_field(path: str) -> tuple[str, ParamSpec]:
    if not isinstance(path, str):
        raise ConfigError(f"a parameter path must be a string, got {short_repr(path)}")
    obj: Any = ModelConfig()
    parts = path.split(".")
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else {}
        f = fields.get(part)
        if f is None:
            break
        if i == len(parts) - 1 and "spec" in f.metadata:
            return str(f.type), f.metadata["spec"]
        obj = getattr(obj, part)
    raise ConfigError(f"unknown parameter {short_repr(path)}")
