"""The run's time series travels with a checkpoint, and a hostile one is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sim.checkpoint import MAX_HISTORY_ROWS, load_checkpoint
from sim.engine import Engine
from sim.errors import CheckpointError
from sim.experiments.topomap.config import ModelConfig


def _history(t_end: float, rows: int = 5) -> dict[str, np.ndarray]:
    t = np.linspace(0.0, t_end, rows)
    return {
        "t": t,
        "ff_synapses": np.full(rows, 4096.0),
        "ad_conn": np.r_[np.nan, np.linspace(2, 1, rows - 1)],
    }


@pytest.fixture
def saved(make_config: Callable[..., ModelConfig], tmp_path: Path) -> tuple[Path, Engine]:
    eng = Engine.build(make_config(), backend="cpu", seed=2)
    eng.run(0.05)
    path = tmp_path / "c.npz"
    eng.save_checkpoint(path, _history(eng.t))
    yield path, eng
    eng.close()


def test_the_history_comes_back_as_saved(saved: tuple[Path, Engine]) -> None:
    path, eng = saved
    ckpt = load_checkpoint(path)
    assert ckpt.history is not None
    expected = _history(eng.t)
    assert list(ckpt.history) == list(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(ckpt.history[name], values)
    assert eng.load_checkpoint(path) is not None
    with Engine.from_checkpoint(path, backend="cpu") as other:
        assert other.loaded_history is not None
        np.testing.assert_array_equal(other.loaded_history["t"], expected["t"])


def test_a_checkpoint_without_history_loads_with_none(
    make_config: Callable[..., ModelConfig], tmp_path: Path
) -> None:
    with Engine.build(make_config(), backend="cpu", seed=2) as eng:
        eng.save_checkpoint(tmp_path / "c.npz")
        assert eng.load_checkpoint(tmp_path / "c.npz") is None
    assert load_checkpoint(tmp_path / "c.npz").history is None


def _rewrite(path: Path, **entries: np.ndarray) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(entries)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"history_columns": np.array("ff_synapses,t")}, "starting with t"),
        ({"history_columns": np.array("t,t")}, "starting with t"),
        ({"history_columns": np.array("t,Bad Name")}, "starting with t"),
        ({"history_columns": np.array(",".join(["t"] + [f"c{i}" for i in range(40)]))}, "history_columns"),
        ({"history": np.zeros((3, 2))}, "expected (rows, 3) float64"),
        ({"history": np.zeros((3, 3), np.float32)}, "expected (rows, 3) float64"),
        ({"history": np.zeros((MAX_HISTORY_ROWS + 1, 3))}, "at most"),
        ({"history": np.array([[0.0, 1, 1], [0.0, 1, 1]])}, "does not rise"),
        ({"history": np.array([[0.0, 1, 1], [1e9, 1, 1]])}, "model time of the state"),
        ({"history": np.array([[-1.0, 1, 1]])}, "model time of the state"),
        ({"history": np.array([[0.0, np.inf, 1]])}, "history.ff_synapses[0]"),
        ({"history": np.array([[np.nan, 1, 1]])}, "model time of the state"),
    ],
)
def test_a_hostile_history_is_refused_in_one_line(
    saved: tuple[Path, Engine], entries: dict[str, np.ndarray], message: str
) -> None:
    path, _ = saved
    _rewrite(path, **entries)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert message in str(err.value) and "\n" not in str(err.value)
