"""Golden digests: the topographic map's results, frozen bit for bit.

SHA-256 digests of every state array after :data:`STEPS` steps of ``demo``,
``bogdan2018`` and ``knight2025`` (seed 1, scale 1), of the rewiring events of
those steps, of a short headless run's ``metrics.csv`` (its bytes) and
``connectivity.npz`` (each array in it), and of the state reached from a stored
checkpoint of today's format (``golden/topomap_knight2025_v2.npz``) are kept in
``golden/topomap.json``.
Every backend that can run here (the CPU, the CUDA emulator, a GPU) must give
the same digests: the backends agree bit for bit. The LIF scratch arrays
(``neurons.fac``, ``neurons.bits``) are left out: they are written before they
are read in every step, and a checkpoint does not keep them.

A change that alters any result fails here, naming the arrays that changed. A
change meant to alter results rewrites the file (and says why in its commit)::

    python -m tests.sim.test_golden --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.headless import run_headless
from app.presets import load_preset
from sim.engine import Engine

GOLDEN = Path(__file__).resolve().parent / "golden" / "topomap.json"
#: A checkpoint of ``knight2025`` after :data:`STEPS` steps, written once: later versions must read it.
CHECKPOINT = GOLDEN.parent / "topomap_knight2025_v2.npz"
PRESETS = ("demo", "bogdan2018", "knight2025")
#: Steps per preset: 0.2 model seconds at dt 0.1 ms (2 s for bogdan2018's 1 ms).
STEPS = 2000
#: State arrays that hold no result (scratch of the LIF update).
SCRATCH = frozenset({"neurons.fac", "neurons.bits"})
#: The headless run: preset, model seconds, seed.
HEADLESS = ("demo", 2.0, 1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def engine_digests(preset: str, backend: str) -> dict[str, str]:
    """Digests of every state array (scratch left out) and of the events after :data:`STEPS` steps."""
    with Engine.build(load_preset(preset), backend=backend, seed=1) as eng:
        eng.step(STEPS)
        arrays = eng.state().to_arrays()
        digests = {
            key: _sha(np.ascontiguousarray(a).tobytes()) for key, a in arrays.items() if key not in SCRATCH
        }
        digests["events"] = _sha(eng.take_events().tobytes())
    return digests


def headless_digests(out: Path) -> dict[str, str]:
    """Digests of a short headless run's ``metrics.csv`` and of each array of its ``connectivity.npz``."""
    preset, duration, seed = HEADLESS
    run_headless(
        load_preset(preset), out, backend="cpu", seed=seed, duration=duration, progress=False, figures=False
    )
    digests = {"metrics.csv": _sha((out / "metrics.csv").read_bytes())}
    with np.load(out / "connectivity.npz") as data:
        for key in sorted(data.files):
            digests[f"connectivity.npz:{key}"] = _sha(np.ascontiguousarray(data[key]).tobytes())
    return digests


def resumed_digests(backend: str) -> dict[str, str]:
    """Digests of the state :data:`STEPS` steps after :data:`CHECKPOINT` (a file of today's format)."""
    with Engine.from_checkpoint(CHECKPOINT, backend=backend) as eng:
        eng.step(STEPS)
        arrays = eng.state().to_arrays()
        digests = {
            key: _sha(np.ascontiguousarray(a).tobytes()) for key, a in arrays.items() if key not in SCRATCH
        }
        digests["events"] = _sha(eng.take_events().tobytes())
    return digests


def _golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def _changed(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    return sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))


@pytest.mark.parametrize("preset", PRESETS)
def test_state_and_events_match_the_golden_digests(backend_name: str, preset: str) -> None:
    changed = _changed(_golden()["engine"][preset], engine_digests(preset, backend_name))
    assert not changed, f"{preset} on {backend_name}: these results changed: {', '.join(changed)}"


def test_headless_outputs_match_the_golden_digests(tmp_path: Path) -> None:
    changed = _changed(_golden()["headless"], headless_digests(tmp_path / "out"))
    assert not changed, f"headless {HEADLESS[0]} run: these outputs changed: {', '.join(changed)}"


def test_a_checkpoint_of_this_format_continues_as_it_did(backend_name: str) -> None:
    changed = _changed(_golden()["resumed"], resumed_digests(backend_name))
    assert not changed, f"{CHECKPOINT.name} on {backend_name}: these results changed: {', '.join(changed)}"


def test_the_digests_cover_every_state_array() -> None:
    """Nothing the state holds escapes the freeze (a new array needs new digests)."""
    with Engine.build(load_preset("knight2025"), backend="cpu", seed=1) as eng:
        keys = set(eng.state().to_arrays()) - SCRATCH
    for preset in PRESETS:
        assert set(_golden()["engine"][preset]) == keys | {"events"}


def _write() -> None:
    import tempfile

    GOLDEN.parent.mkdir(exist_ok=True)
    if not CHECKPOINT.exists():  # written once; it stands for the files users already have
        with Engine.build(load_preset("knight2025"), backend="cpu", seed=1) as eng:
            eng.step(STEPS)
            eng.save_checkpoint(CHECKPOINT)
    with tempfile.TemporaryDirectory() as tmp:
        golden = {
            "engine": {preset: engine_digests(preset, "cpu") for preset in PRESETS},
            "headless": headless_digests(Path(tmp) / "out"),
            "resumed": resumed_digests("cpu"),
        }
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.sim.test_golden --write")
    _write()
