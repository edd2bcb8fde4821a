"""Shared fixtures of the test suite.

* ``repo_root`` and ``presets_dir``: where the repository and its presets are.
* ``backend_name``: parametrised over every backend that can run on this
  machine (``sim.backends.available_backends()`` names whose reason is None),
  plus ``cuda-emulator`` (the CUDA backend's kernels run on the CPU, where g++
  is installed), so the conformance suite runs once per backend.
* ``make_config``: build a small validated :class:`~sim.experiments.topomap.config.ModelConfig`
  from dotted-key overrides, optionally on top of a preset.

Where Qt cannot open a window (a system library of its xcb platform plugin
missing, no X server: :func:`gui.qt_platform.qt_window_problem`), creating a
``QApplication`` would abort the whole session and leave pytest-xvfb's Xvfb
running. Every test that uses pytest-qt's ``qapp`` (also through ``qtbot`` or
``require_gl``) is then skipped with that one-line reason before its fixtures
are set up; all other tests run.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from app.presets import preset_path
from sim.backends import available_backends
from sim.experiments.topomap.config import ModelConfig, config_from_dict, resolve_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def _emulated_cuda() -> list[str]:
    """Register ``cuda-emulator``: the CUDA backend's kernels on the CPU (needs g++), for the suites."""
    if shutil.which("g++") is None:
        return []
    from sim.backends import register_backend
    from sim.backends.base import Backend

    def create() -> Backend:
        from sim.experiments.topomap.cuda.backend import CudaBackend
        from tests.support.cuda_emulator import EmulatedDevice

        return CudaBackend(EmulatedDevice(schedule="shuffle"))

    register_backend("cuda-emulator", create, lambda: None)
    return ["cuda-emulator"]


#: Backends that can run here, in the registry's order of preference, then the CUDA emulator.
AVAILABLE_BACKENDS: list[str] = [
    *(name for name, reason in available_backends().items() if reason is None),
    *_emulated_cuda(),
]


@functools.cache
def qt_window_problem() -> str | None:
    """Why Qt cannot open a window in this session (None when it can); decided once, on first use.

    First asked when a test that needs a ``QApplication`` is set up, so after
    pytest-xvfb has started its X server and set ``DISPLAY``.
    """
    from gui.qt_platform import qt_window_problem as problem

    return problem()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test that needs a ``QApplication`` when Qt cannot open a window, before its fixtures run."""
    if "qapp" in getattr(item, "fixturenames", ()):
        reason = qt_window_problem()
        if reason is not None:
            pytest.skip(reason)


def nested(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``{"rewiring.ff.p_form": 0.5}`` into ``{"rewiring": {"ff": {"p_form": 0.5}}}``."""
    out: dict[str, Any] = {}
    for path, value in overrides.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def small_config(overrides: Mapping[str, Any] | None = None, *, preset: str | None = None) -> ModelConfig:
    """A validated configuration: ``preset`` (a preset name) or the defaults, plus overrides.

    ``overrides`` maps dotted key paths to values, e.g. ``{"stimulus.f_peak": 0.0}``.
    """
    data: dict[str, Any] = {}
    if preset is not None:
        data = resolve_yaml(preset_path(preset))
        data.setdefault("name", preset)
    data = _merge(data, nested(overrides or {}))
    return config_from_dict(data, source=f"test config ({preset or 'defaults'})")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding ``sim/`` and ``presets/``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def presets_dir(repo_root: Path) -> Path:
    """The folder of the topographic map's YAML presets."""
    return repo_root / "presets" / "topomap"


@pytest.fixture(params=AVAILABLE_BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """Name of one backend that can run on this machine (the suite runs once per backend)."""
    return str(request.param)


@pytest.fixture(scope="session")
def make_config() -> Callable[..., ModelConfig]:
    """The :func:`small_config` helper: ``make_config({"dotted.key": value}, preset="bamford2010")``."""
    return small_config
