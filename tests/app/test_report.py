"""Tests of ``app.experiments.topomap.report``: the PNG report figures of a run."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.image import imread
from numpy.typing import NDArray

from app.experiments.topomap.report import (
    FIGURE_NAMES,
    METRIC_KEYS,
    _map_quality_figure,
    _topographic_map_figure,
    published_reference,
    write_figures,
)
from app.figures import save_figure as _save
from sim.engine import Engine
from sim.events import FORMED, REMOVED, empty_events
from sim.experiments.topomap.analysis import receptive_fields
from sim.experiments.topomap.analysis.reference import BAMFORD_2010, case_of
from sim.experiments.topomap.config import ModelConfig, load_config
from sim.experiments.topomap.snapshot import Snapshot, Synapses

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Run = tuple[dict[str, NDArray[np.float64]], Snapshot, ModelConfig, NDArray[np.void]]


def metrics_row(snap: Snapshot, prev: Snapshot | None) -> dict[str, float]:
    """One row of the metrics table, measured on ``snap`` (``prev``: the previous record)."""
    n = snap.side
    by_count = receptive_fields(snap.ff.pre, snap.ff.post, n)
    by_weight = receptive_fields(snap.ff.pre, snap.ff.post, n, snap.ff.weight)
    interval = snap.t - prev.t if prev is not None else 0.0
    rate_src = float((snap.spikes_src - prev.spikes_src).mean()) / interval if prev is not None else 0.0
    rate_tgt = float((snap.spikes_tgt - prev.spikes_tgt).mean()) / interval if prev is not None else 0.0
    return {
        "t": snap.t,
        "ff_synapses": snap.ff.count,
        "lat_synapses": snap.lat.count,
        "formations": int(np.count_nonzero(snap.events["kind"] == FORMED)),
        "eliminations": int(np.count_nonzero(snap.events["kind"] == REMOVED)),
        "rate_source": rate_src,
        "rate_target": rate_tgt,
        "sigma_aff_conn": by_count.mean_sigma_aff,
        "sigma_aff_weight": by_weight.mean_sigma_aff,
        "ad_conn": by_count.mean_ad,
        "ad_weight": by_weight.mean_ad,
    }


@pytest.fixture(scope="module")
def run() -> Run:
    """A 0.2 s run of the Bamford 2010 preset, recorded every 0.05 s."""
    config = load_config(ROOT / "presets" / "topomap" / "bamford2010.yaml")
    rows: list[dict[str, float]] = []
    with Engine.build(config, backend="cpu", seed=1) as eng:
        prev = eng.snapshot()
        rows.append(metrics_row(prev, None))
        for _ in range(4):
            eng.run(0.05)
            snap = eng.snapshot()
            rows.append(metrics_row(snap, prev))
            prev = snap
        events = eng.take_events()
    metrics = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in METRIC_KEYS}
    return metrics, prev, config, events


def check_figures(paths: list[Path], out_dir: Path) -> None:
    """Every figure exists, is a readable, non-blank PNG, and no temporary file is left."""
    assert paths == [out_dir / name for name in FIGURE_NAMES]
    for path in paths:
        assert path.is_file()
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 300
        assert float(pixels[..., :3].std()) > 0.05, f"{path.name} looks blank"
    assert sorted(os.listdir(out_dir)) == sorted(FIGURE_NAMES)


def test_write_figures(run: Run, tmp_path: Path) -> None:
    metrics, snap, config, events = run
    assert metrics["t"].size == 5 and metrics["t"][-1] == pytest.approx(0.2)
    out_dir = tmp_path / "report" / "figures"  # created on demand
    paths = write_figures(out_dir, metrics, snap, config, events)
    check_figures(paths, out_dir)


def test_single_row_without_events_in_a_worker_thread(run: Run, tmp_path: Path) -> None:
    metrics, snap, config, _ = run
    first = {k: v[:1] for k, v in metrics.items()}
    initial = dataclasses.replace(snap, t=0.0, step=0)
    stale = tmp_path / FIGURE_NAMES[0]
    stale.write_bytes(b"not a picture")  # an old file is replaced, not appended to
    result: list[list[Path]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(write_figures(tmp_path, first, initial, config, empty_events()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert not errors, errors
    check_figures(result[0], tmp_path)


def test_no_ff_synapses_and_no_reference(run: Run, tmp_path: Path) -> None:
    metrics, snap, config, events = run
    empty = Synapses(
        pre=np.zeros(0, np.int32),
        post=np.zeros(0, np.int32),
        weight=np.zeros(0, np.float32),
        in_degree=np.zeros(snap.n_neurons, np.int32),
        formed=0,
        removed=0,
        refused=0,
    )
    bare = dataclasses.replace(snap, ff=empty)
    flat = {**metrics, "ff_synapses": np.zeros_like(metrics["t"])}
    for key in ("sigma_aff_conn", "sigma_aff_weight", "ad_conn", "ad_weight"):
        flat[key] = np.zeros_like(metrics["t"])
    config = config.replace("rewiring.enabled", False).replace("stimulus.input", "uncorrelated")
    assert case_of(config) is None
    check_figures(write_figures(tmp_path, flat, bare, config, events[:0]), tmp_path)


def test_bad_metrics_are_rejected(run: Run, tmp_path: Path) -> None:
    metrics, snap, config, events = run
    missing = {k: v for k, v in metrics.items() if k != "ad_weight"}
    with pytest.raises(ValueError, match="ad_weight"):
        write_figures(tmp_path, missing, snap, config, events)
    ragged = {**metrics, "t": metrics["t"][:-1]}
    with pytest.raises(ValueError, match="equal length"):
        write_figures(tmp_path, ragged, snap, config, events)
    assert os.listdir(tmp_path) == []


def test_import_pulls_in_no_gui_toolkit() -> None:
    code = (
        "import sys, app.experiments.topomap.report\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'pyqtgraph', 'vispy')"
        " or m == 'matplotlib.pyplot')\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=60)


def _scattered_map(snap: Snapshot, n: int, spread: int = 1) -> Snapshot:
    """``snap`` as an ``n x n`` network: 8 FF synapses per target from sources near its position."""
    rng = np.random.default_rng(0)
    post = np.repeat(np.arange(n * n), 8)
    x = np.clip(post % n + rng.integers(-spread, spread + 1, post.size), 0, n - 1)
    y = np.clip(post // n + rng.integers(-spread, spread + 1, post.size), 0, n - 1)
    ff = Synapses(
        pre=(y * n + x).astype(np.int32),
        post=post.astype(np.int32),
        weight=np.ones(post.size, np.float32),
        in_degree=np.full(n * n, 8, np.int32),
        formed=0,
        removed=0,
        refused=0,
    )
    return dataclasses.replace(snap, side=n, ff=ff)


def _collections(fig: Figure) -> tuple[LineCollection, LineCollection, PathCollection]:
    """The ideal map, the net and the centres of the topographic-map figure."""
    ax = fig.axes[0]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    net = next(c for c in lines if c.get_gid() == "receptive_field_net")
    ideal = next(c for c in lines if c is not net)
    dots = next(c for c in ax.collections if isinstance(c, PathCollection))
    return ideal, net, dots


@pytest.mark.parametrize(("scale", "lines"), [(1, 16), (4, 32), (8, 32)])
def test_topographic_map_draws_a_readable_net_at_any_scale(
    run: Run, scale: int, lines: int, tmp_path: Path
) -> None:
    _, snap, _, _ = run
    n = 16 * scale
    fig = _topographic_map_figure(_scattered_map(snap, n), "test")
    ideal, net, dots = _collections(fig)
    assert len(ideal.get_segments()) == 2 * lines, "ideal grid lines per axis"
    assert len(net.get_segments()) == 2 * lines * (lines - 1), "every centre of the net has input"
    assert len(dots.get_offsets()) == n * n, "every neuron's centre is drawn"
    width = float(net.get_linewidths()[0])
    size = float(dots.get_sizes()[0])
    if scale == 1:  # the 16 x 16 figure keeps its look: full net, ringed markers
        assert fig.get_size_inches() == pytest.approx((7.6, 7.0))
        assert width == pytest.approx(1.6) and size > 30
    else:  # thin lines, small dots, a bigger figure
        assert fig.get_size_inches()[0] > 10
        assert width <= 0.8 and size <= 30
        assert any(
            "every 2nd row and column" in t.get_text() or "every 4th" in t.get_text()
            for t in fig.legends[0].get_texts()
        )
    pixels = imread(_save(fig, tmp_path / "map.png"))
    assert pixels.shape[1] > (1500 if scale > 1 else 1000)


def test_bamford_reference_only_for_bamford_and_bogdan_models(presets_dir: Path) -> None:
    expected = {
        "bamford2010": 1,
        "bamford2010_stdp_only": 2,
        "bamford2010_uncorrelated": 3,
        "bogdan2018": 1,
        "bogdan2018_stdp_only": 2,
        "bogdan2018_uncorrelated": 3,
    }
    for path in sorted(presets_dir.glob("*.yaml")):
        config = load_config(path)
        published = published_reference(config)
        case = expected.get(path.stem)
        if case is None:
            assert published is None, f"{path.stem} gets no published reference"
        else:
            assert published is not None and published[0] == case, path.stem
            assert published[1] == BAMFORD_2010[case]
            assert published_reference(config.replace("network.scale", 2)) is None
    knight = load_config(presets_dir / "knight2025.yaml")
    assert case_of(knight) == 1 and published_reference(knight) is None


def test_map_quality_figure_labels_published_values(run: Run) -> None:
    metrics, _, config, _ = run
    table = {k: np.asarray(v, np.float64) for k, v in metrics.items()}

    def labels(cfg: ModelConfig) -> list[str]:
        fig = _map_quality_figure(table, cfg, "test")
        return [t.get_text() for t in fig.legends[0].get_texts()] + [fig.get_suptitle()]

    bamford = labels(config)
    assert "Bamford et al. 2010, published (counts)" in bamford
    assert "Bamford et al. 2010 case 1" in bamford[-1]
    knight = labels(load_config(ROOT / "presets" / "topomap" / "knight2025.yaml"))
    assert not [t for t in knight[:-1] if "Bamford" in t]
    assert "no published reference" in knight[-1]
