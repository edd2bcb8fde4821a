"""Loading any experiment's configuration: the file's ``experiment:`` key picks the root type.

>>> cfg = load_config("presets/topomap/demo.yaml")  # doctest: +SKIP
>>> cfg.experiment  # doctest: +SKIP
'topomap'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.experiment import experiment_key_of, get_experiment
from sim.parameters import ConfigRoot, resolve_yaml

__all__ = ["config_from_dict", "config_type", "load_config"]


def config_type(key: str) -> type[ConfigRoot]:
    """The configuration root of experiment ``key``."""
    return get_experiment(key).config_type


def config_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> ConfigRoot:
    """Validate a nested dict into the configuration of the experiment it names (default topomap)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be a mapping at the top level, got {type(data).__name__}", source=source)
    return config_type(experiment_key_of(data, source)).from_dict(data, source=source)


def load_config(path: str | Path) -> ConfigRoot:
    """Load and validate a YAML configuration file of any experiment, following ``extends``."""
    p = Path(path)
    data = resolve_yaml(p)
    data.setdefault("name", p.stem)
    return config_from_dict(data, source=str(path))
