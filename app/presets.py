"""Preset discovery: the YAML files in the project's ``presets/`` folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.config import ModelConfig, load_config, read_yaml
from sim.errors import ConfigError, one_line, short_repr

#: The folder holding the shipped presets.
PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
#: The preset the app opens on.
DEFAULT_PRESET = "demo"


@dataclass(frozen=True)
class PresetInfo:
    """One preset: its name, one-line description and file."""

    name: str
    description: str
    path: Path


def list_presets(folder: Path = PRESETS_DIR) -> list[PresetInfo]:
    """Every preset in ``folder``, sorted by name."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            desc = read_yaml(path).get("description", "")
            if not isinstance(desc, str):
                desc = short_repr(desc)
        except ConfigError as exc:
            desc = f"(unreadable: {exc.reason})"
        out.append(PresetInfo(path.stem, desc, path))
    return out


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; ``False`` for names the file system cannot hold (too long, NUL)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def preset_path(name_or_file: str, folder: Path = PRESETS_DIR) -> Path:
    """The file of a preset name, or the given path if it names a YAML file."""
    candidate = Path(name_or_file)
    if candidate.suffix in (".yaml", ".yml"):
        if not _exists(candidate):
            raise ConfigError("file not found", source=one_line(str(candidate), 200))
        return candidate
    path = folder / f"{name_or_file}.yaml"
    if not _exists(path):
        names = ", ".join(p.name for p in list_presets(folder))
        raise ConfigError(f"unknown preset {short_repr(name_or_file)} (available: {names})")
    return path


def load_preset(name_or_file: str, folder: Path = PRESETS_DIR) -> ModelConfig:
    """Load a preset by name (``bamford2010``) or from a YAML file path."""
    return load_config(preset_path(name_or_file, folder))
