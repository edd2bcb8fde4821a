"""Preset discovery: the YAML files in the project's ``presets/<experiment>/`` folders.

Each experiment keeps its presets in a folder named by its key
(``presets/topomap/``). A preset is named by its file name alone
(``bamford2010``), which must then be unique across experiments, or with its
experiment (``topomap/bamford2010``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.config import load_config
from sim.errors import ConfigError, one_line, short_repr
from sim.experiment import DEFAULT_EXPERIMENT, experiment_keys
from sim.parameters import ConfigRoot, read_yaml

#: The folder holding the shipped presets, one subfolder per experiment.
PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
#: The preset the app opens on.
DEFAULT_PRESET = "demo"


@dataclass(frozen=True)
class PresetInfo:
    """One preset: its name, experiment, one-line description and file."""

    name: str
    description: str
    path: Path
    experiment: str = DEFAULT_EXPERIMENT


def list_presets(folder: Path = PRESETS_DIR) -> list[PresetInfo]:
    """Every preset in the experiment folders of ``folder``, by experiment (in the known order), then name."""
    out = []
    order = {key: i for i, key in enumerate(experiment_keys())}
    for path in sorted(folder.glob("*/*.yaml"), key=lambda p: (order.get(p.parent.name, len(order)), p)):
        try:
            desc = read_yaml(path).get("description", "")
            if not isinstance(desc, str):
                desc = short_repr(desc)
        except ConfigError as exc:
            desc = f"(unreadable: {exc.reason})"
        out.append(PresetInfo(path.stem, desc, path, path.parent.name))
    return out


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; ``False`` for names the file system cannot hold (too long, NUL)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def preset_path(name_or_file: str, folder: Path = PRESETS_DIR) -> Path:
    """The file of a preset name (``demo`` or ``topomap/demo``), or the given path if it names a YAML file."""
    candidate = Path(name_or_file)
    if candidate.suffix in (".yaml", ".yml"):
        if not _exists(candidate):
            raise ConfigError("file not found", source=one_line(str(candidate), 200))
        return candidate
    infos = list_presets(folder)
    matches = [i.path for i in infos if name_or_file in (i.name, f"{i.experiment}/{i.name}")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(f"{p.parent.name}/{p.stem}" for p in matches)
        raise ConfigError(
            f"preset {short_repr(name_or_file)} is in several experiments: say which ({options})"
        )
    names = ", ".join(i.name for i in infos)
    raise ConfigError(f"unknown preset {short_repr(name_or_file)} (available: {names})")


def load_preset(name_or_file: str, folder: Path = PRESETS_DIR) -> ConfigRoot:
    """Load a preset by name (``bamford2010``, ``topomap/bamford2010``) or from a YAML file path."""
    return load_config(preset_path(name_or_file, folder))


def parse_value(key: str, text: str, what: str = "--set") -> Any:
    """A command-line value as YAML reads it (``0.5``, ``true``, ``[1, 2]``, ``shd``); an empty
    text is the empty string."""
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"{what}: {key}: {short_repr(text)} is not a value") from None
    return "" if value is None else value


def split_setting(item: str, what: str = "--set") -> tuple[str, str]:
    """``KEY=TEXT`` as ``(KEY, TEXT)``; a missing ``=`` or key is an error naming ``what``."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{what}: expected KEY=VALUE, got {short_repr(item)}")
    return key.strip(), text


def parse_settings(items: Sequence[str], what: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict of parsed values (a later key wins)."""
    out: dict[str, Any] = {}
    for item in items:
        key, text = split_setting(item, what)
        out[key] = parse_value(key, text, what)
    return out
