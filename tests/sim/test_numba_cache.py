"""Numba's kernel cache is keyed by the whole simulator source (see ``sim/__init__.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numba
import numpy as np
import pytest

import sim
from sim.synapses import add_synapse, empty_table


def test_any_source_change_moves_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing a file that kernels only inline (not their own file) still selects a fresh cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tree = tmp_path / "sim"
    shutil.copytree(sim.PACKAGE_DIR, tree, ignore=shutil.ignore_patterns("__pycache__"))
    before = sim.numba_cache_dir(tree)
    assert before == sim.numba_cache_dir(tree)
    assert before.is_relative_to(tmp_path / "cache" / "rewire-lab" / "numba")
    synapses = tree / "synapses.py"
    synapses.write_text(synapses.read_text() + "\n# edited\n")
    assert sim.numba_cache_dir(tree) != before


def test_the_kernels_use_that_cache() -> None:
    """The CPU kernels were set up to cache under the directory of this source tree."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        pytest.skip("NUMBA_CACHE_DIR chooses the cache here")
    assert str(sim.numba_cache_dir()) == numba.config.CACHE_DIR
    table = empty_table(2, 2, 1, 1)
    assert add_synapse(table, np.int64(0), np.int64(1), np.float32(1.0))
    assert list(sim.numba_cache_dir().rglob("synapses.add_synapse-*.nbi")), "no cache index for add_synapse"
