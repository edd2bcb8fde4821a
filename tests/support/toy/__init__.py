"""A toy experiment that proves the seams of the shared core (EXPERIMENTS.md).

One population of N neurons, one N x N synapse table with the per-synapse
variable ``weight``, trivial random rewiring each step (a random synapse
formed, then a random one removed, from Philox draws keyed by seed and step,
recorded as structural events) and a leaky count per neuron. It runs on the
CPU (Numba) and, through ``toy.cu``, on any CUDA device, the tests' emulator
included; both give the same states bit for bit.

>>> from tests.support import toy
>>> toy.register()
>>> from sim.config import load_config
>>> load_config(toy.PRESETS_DIR / "toy" / "toy_small.yaml").experiment
'toy'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.experiment import register_experiment
from tests.support.toy.config import ToyConfig
from tests.support.toy.experiment import EXPERIMENT, ToyExperiment, ToySnapshot
from tests.support.toy.state import ToyState

__all__ = [
    "EXPERIMENT",
    "KEY",
    "PRESETS_DIR",
    "ToyConfig",
    "ToyExperiment",
    "ToySnapshot",
    "ToyState",
    "cuda_backend",
    "register",
    "register_app",
]

#: The toy's experiment key.
KEY = "toy"
#: The toy's presets folder (``PRESETS_DIR / "toy" / "toy_small.yaml"``), laid out like ``presets/``.
PRESETS_DIR = Path(__file__).resolve().parent / "presets"


def register() -> None:
    """Make the toy known to the experiment registry under ``toy`` (calling it again changes nothing)."""
    register_experiment(EXPERIMENT)


def register_app() -> None:
    """Also make the toy known to the application core and the window (its outputs, bench, views)."""
    from app.experiment import register_app_experiment
    from tests.support.toy.app import APP_EXPERIMENT

    register()
    register_app_experiment(APP_EXPERIMENT)
    try:
        from gui.experiment import register_gui_experiment
        from tests.support.toy.gui import GUI_EXPERIMENT
    except ImportError:  # no Qt here: the window's part is not needed
        return
    register_gui_experiment(GUI_EXPERIMENT)


def cuda_backend(device: Any = None) -> Any:
    """The toy's CUDA backend on ``device`` (default: the CUDA emulator, which needs g++)."""
    from tests.support.toy.cuda import ToyCudaBackend

    if device is None:
        from tests.support.cuda_emulator import EmulatedDevice

        device = EmulatedDevice(schedule="shuffle")
    return ToyCudaBackend(device)
