"""Parameter declarations and YAML loading for any experiment's configuration.

An experiment's configuration is a tree of frozen dataclasses under one root
class deriving from :class:`ConfigRoot`. Each parameter is declared once, as
a field made by :func:`param`, with its default, unit, allowed range or
choices, whether it is *live* (changeable while the simulation runs) or
*structural* (needs a rebuild), and a one-line description. YAML validation,
the command line, checkpoints and the window's parameter panel all read these
declarations; nothing here knows which experiment a root belongs to beyond
its ``EXPERIMENT`` key.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from sim.errors import ConfigError, one_line, short_repr
from sim.yaml_io import parse_yaml_text, read_yaml_text

__all__ = [
    "ConfigRoot",
    "ParamSpec",
    "check_param",
    "deep_merge",
    "iter_params",
    "param",
    "param_spec",
    "parse_yaml_text",
    "read_yaml",
    "resolve_yaml",
    "seed_param",
]

#: Keys of a configuration file that describe it rather than the model.
META_KEYS = ("name", "description")
#: Keys that say where a file's values come from and what it configures.
FILE_KEYS = ("extends", "experiment")


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


def seed_param(default: int = 1) -> Any:
    """Declare the ``run.seed`` field every configuration root has: a structural 64-bit seed."""
    return param(
        default,
        doc="Seed of the random number generator (applies when the network is built)",
        live=False,
        lo=0,
        hi=2**64 - 1,
    )


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
        if name in META_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"must be a string, got {short_repr(value)}", source=source, path=path)
            kwargs[name] = value
            continue
        kwargs[name] = _check_value(value, str(f.type), f.metadata["spec"], source, path)
    return cls(**kwargs)


def _build_over(base: T, data: Mapping[str, Any], source: str | None, prefix: str) -> T:
    """Build a section from ``data`` on top of the defaults held in ``base``."""
    merged = deep_merge(dataclasses.asdict(base), dict(data))  # type: ignore[call-overload]
    return _build(type(base), merged, source, prefix)


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged into it, mapping by mapping (copies; neither is changed)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
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
    return deep_merge(base, data)


C = TypeVar("C", bound="ConfigRoot")


class ConfigRoot:
    """Behaviour shared by every experiment's configuration root.

    A root is a frozen dataclass deriving from this class, with the string
    fields ``name`` and ``description`` and one field per section (itself a
    dataclass of :func:`param` fields). ``EXPERIMENT`` is the key its files
    name with ``experiment:``. The engine and the headless commands read a
    section ``run`` with ``seed`` (int), ``duration`` and ``record_interval``
    (model seconds) and ``record_events`` (bool), so every root declares it.
    """

    EXPERIMENT: ClassVar[str]
    name: str
    description: str

    # -- reading ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], *, source: str | None = None) -> C:
        """Validate a nested dict and return the configuration it describes.

        Missing keys take their defaults. Unknown keys, wrong types and values
        out of range raise :class:`ConfigError` naming ``source`` and the key
        path; so does an ``experiment:`` key naming another experiment.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"must be a mapping at the top level, got {type(data).__name__}", source=source)
        key = data.get("experiment", cls.EXPERIMENT)
        if key != cls.EXPERIMENT:
            raise ConfigError(
                f"names experiment {short_repr(key)}, not {cls.EXPERIMENT!r}",
                source=source,
                path="experiment",
            )
        data = {k: v for k, v in data.items() if k not in FILE_KEYS}
        cfg = _build(cls, data, source, "")
        cfg.validate(source)
        return cfg

    @classmethod
    def param_spec(cls, path: str) -> ParamSpec:
        """The declaration of the parameter at ``path``."""
        return _param_field(cls, path)[1]

    @classmethod
    def check_param(cls, path: str, value: Any) -> Any:
        """Validate one value for the parameter at ``path`` (type and range) and return it converted.

        Cross-field rules need a whole configuration; :meth:`replace` checks those.
        """
        ftype, spec = _param_field(cls, path)
        return _check_value(value, ftype, spec, None, path)

    # -- conversions -----------------------------------------------------------------------------
    @property
    def experiment(self) -> str:
        """The experiment this is a configuration of (its ``experiment:`` key)."""
        return self.EXPERIMENT

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML-ready) of every value."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_yaml(self) -> str:
        """The configuration as YAML text that :meth:`from_dict` reads back (``experiment:`` first)."""
        return yaml.safe_dump({"experiment": self.EXPERIMENT, **self.to_dict()}, sort_keys=False)

    def get(self, path: str) -> Any:
        """Value at a dotted key path such as ``rewiring.ff.p_form``."""
        obj: Any = self
        for part in path.split("."):
            if not dataclasses.is_dataclass(obj) or part not in {f.name for f in dataclasses.fields(obj)}:
                raise ConfigError(f"unknown parameter {short_repr(path)}")
            obj = getattr(obj, part)
        return obj

    def replace(self: C, path: str, value: Any, *, source: str | None = None) -> C:
        """Return a copy with one parameter changed, validated like a file value."""
        return self.replace_all({path: value}, source=source)

    def replace_all(self: C, changes: Mapping[str, Any], *, source: str | None = None) -> C:
        """Return a copy with several parameters changed at once, then validated as a whole
        (so values that are only valid together, such as a dense connectivity's two probabilities,
        can be set)."""
        d = self.to_dict()
        for path, value in changes.items():
            parts = path.split(".")
            node = d
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"unknown parameter {short_repr(path)}", source=source)
                node = node[part]
            if parts[-1] not in node or isinstance(node[parts[-1]], dict):
                raise ConfigError(f"unknown parameter {short_repr(path)}", source=source)
            node[parts[-1]] = value
        return type(self).from_dict(d, source=source)

    def validate(self, source: str | None = None) -> None:
        """Cross-field checks that single ranges cannot express (none by default)."""

    def params(self) -> Iterator[tuple[str, ParamSpec, Any]]:
        """``(path, spec, value)`` of every declared parameter, in declaration order."""
        return iter_params(self)


def iter_params(cfg: Any, prefix: str = "") -> Iterator[tuple[str, ParamSpec, Any]]:
    """Yield ``(path, spec, value)`` for every declared parameter of ``cfg``, in declaration order."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        path = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value):
            yield from iter_params(value, path)
        elif "spec" in f.metadata:
            yield path, f.metadata["spec"], value


def param_spec(root: type[ConfigRoot], path: str) -> ParamSpec:
    """The declaration of the parameter at ``path`` of configuration type ``root``."""
    return root.param_spec(path)


def check_param(root: type[ConfigRoot], path: str, value: Any) -> Any:
    """:meth:`ConfigRoot.check_param` of ``root``."""
    return root.check_param(path, value)


def _param_field(root: type[ConfigRoot], path: str) -> tuple[str, ParamSpec]:
    if not isinstance(path, str):
        raise ConfigError(f"a parameter path must be a string, got {short_repr(path)}")
    obj: Any = root()
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
