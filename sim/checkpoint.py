"""Checkpoints: the whole state of a run in one ``.npz`` file, written atomically.

A checkpoint holds the configuration (as YAML text), the seed, the backend it
was written on and every state array: the network, not its history. The
rewiring events of a run go to the run's own files, so a checkpoint's size does
not grow with model time. It loads with
``allow_pickle=False``; anything missing, malformed or of the wrong shape
raises :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from sim.config import ModelConfig, config_from_dict
from sim.errors import CheckpointError, ConfigError, OutputError
from sim.files import write_atomic
from sim.state import N_ISTATE, NetworkState, empty_neurons
from sim.synapses import SynapseTable, empty_table

FORMAT = "rewire-lab-checkpoint"
VERSION = 2
#: Versions this module reads (version 1 also held the event log, which is ignored).
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Checkpoint:
    """The content of a checkpoint file."""

    config: ModelConfig
    seed: int
    backend: str
    state: NetworkState


def expected_layout(cfg: ModelConfig) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every state array for configuration ``cfg``."""
    n, con = cfg.n_neurons, cfg.connectivity
    empty = NetworkState(
        empty_neurons(n),
        empty_table(n, n, con.row_capacity, con.col_capacity),
        empty_table(n, n, con.row_capacity, con.col_capacity),
        np.zeros(N_ISTATE, np.int64),
    )
    return empty.expected_layout()


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically (an existing file is replaced only when complete)."""
    p = Path(path)
    if not p.parent.exists():
        raise CheckpointError(f"{p}: folder {p.parent} does not exist")
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "config_yaml": np.array(ckpt.config.to_yaml()),
        "seed": np.array(ckpt.seed, dtype=np.uint64),
        "backend": np.array(ckpt.backend),
    }
    for key, arr in ckpt.state.to_arrays().items():
        arrays[f"state.{key}"] = arr
    try:
        write_atomic(p, lambda fh: np.savez_compressed(fh, **arrays))
    except OutputError as exc:
        raise CheckpointError(f"cannot write checkpoint: {exc}") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint file."""
    p = Path(path)

    def fail(msg: str) -> CheckpointError:
        return CheckpointError(f"{p}: {msg}")

    if not p.is_file():
        raise fail("file not found")
    if not zipfile.is_zipfile(p):
        raise fail("not a checkpoint file (not an .npz archive)")
    try:
        with np.load(p, allow_pickle=False) as data:
            files = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise fail(f"not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if "format" not in files or str(files["format"]) != FORMAT:
        raise fail("not a Rewire Lab checkpoint (no format marker)")
    for key in ("version", "config_yaml", "seed", "backend"):
        if key not in files or files[key].dtype.hasobject:
            raise fail(f"'{key}' is missing")
    version = files["version"]
    if version.shape != () or version.dtype.kind not in "iu" or int(version) not in READABLE_VERSIONS:
        raise fail(f"checkpoint version {version!s} is not supported (this version reads 1 and 2)")
    seed = files["seed"]
    if seed.shape != () or seed.dtype.kind not in "iu" or not 0 <= int(seed) < 2**64:
        raise fail(f"seed {seed!s} is not a whole number in [0, 2**64)")
    if files["backend"].shape != () or files["backend"].dtype.kind != "U":
        raise fail("'backend' is not a name")
    try:
        cfg = config_from_dict(
            yaml.safe_load(str(files["config_yaml"])), source=f"{p} (embedded configuration)"
        )
    except (yaml.YAMLError, KeyError) as exc:
        raise fail(f"embedded configuration is unreadable ({exc})") from None
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    layout = expected_layout(cfg)
    state_arrays: dict[str, NDArray[np.generic]] = {}
    for key, (shape, dtype) in layout.items():
        arr = files.get(f"state.{key}")
        if arr is None:
            raise fail(f"state array '{key}' is missing")
        if arr.shape != shape or arr.dtype != dtype:
            raise fail(f"state array '{key}' has shape {arr.shape} {arr.dtype}, expected {shape} {dtype}")
        state_arrays[key] = arr
    state = NetworkState.from_arrays(state_arrays)
    _check_tables(state, fail)
    return Checkpoint(cfg, int(files["seed"]), str(files["backend"]), state)


def _check_tables(state: NetworkState, fail: Any) -> None:
    for name, t in (("ff", state.ff), ("lat", state.lat)):
        try:
            SynapseTable(t).check()
        except AssertionError as exc:
            raise fail(f"{name} synapse table is corrupt ({exc})") from None
