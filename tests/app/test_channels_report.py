"""The channel-pruning run's report figures, from synthetic records and one tiny run of the engine.

Most tests feed :class:`RunRecords` with made-up snapshots (a mask process that prunes and
regrows like SCA, with known events), so the edge cases (no epoch, no update, mode none,
thinned rows, a resumed run) are cheap and their expected content is known exactly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image

from app.experiments.channels import report
from app.experiments.channels.experiment import APP_EXPERIMENT
from app.experiments.channels.metrics import columns_for, epoch_rows
from app.experiments.channels.records import RunRecords
from sim.config import load_config
from sim.engine import Engine
from sim.events import EVENT_DTYPE, FORMED, REMOVED
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.records import BATCH_DTYPE, EPOCH_DTYPE, UPDATE_DTYPE, empty_records
from sim.experiments.channels.snapshot import ChannelsSnapshot
from tests.conftest import REPO_ROOT

SIZES = (4, 8, 6)
LABELS = ("1: 4C3", "2: 8C3", "3: 6C3")
N = sum(SIZES)
OFFSETS = np.concatenate([[0], np.cumsum(SIZES)])
BATCHES_PER_EPOCH = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Run(NamedTuple):
    config: ChannelsConfig
    start: ChannelsSnapshot
    final: ChannelsSnapshot
    metrics: dict[str, np.ndarray]
    records: RunRecords


def config(mode: str = "sca", interval: int = 2, **changes: Any) -> ChannelsConfig:
    """A configuration whose layers match :data:`SIZES` (the figures read only names and numbers)."""
    return ChannelsConfig.from_dict(
        {
            "experiment": "channels",
            "name": "synthetic",
            "network": {"layers": "4C3-AP2-8C3-AP2-6C3-AP2-4FC"},
            "pruning": {"mode": mode, "sparsity": 0.5, "fraction": 0.25, "interval": interval},
            "data": {"name": "shapes", "classes": 4, "size": 16},
            "run": {"seed": 7},
            **changes,
        }
    )


def snapshot(step: int, mask: np.ndarray, mode: str, n_updates: int, **records: Any) -> ChannelsSnapshot:
    """A snapshot after ``step`` batches with ``records`` (the rest of the records empty)."""
    rows: dict[str, Any] = dict(empty_records(len(SIZES), N))
    rows.update(records)
    kept = [int(mask[a:b].sum()) for a, b in pairwise(OFFSETS)]
    return ChannelsSnapshot(
        seq=1,
        step=step,
        t=step / BATCHES_PER_EPOCH,
        backend="cpu",
        realtime_factor=None,
        epoch=step // BATCHES_PER_EPOCH,
        batch=step % BATCHES_PER_EPOCH,
        batches_per_epoch=BATCHES_PER_EPOCH,
        n_updates=n_updates,
        labels=LABELS,
        sizes=SIZES,
        mask=mask.copy(),
        importance=np.zeros(N),
        gamma_grad=np.zeros(N),
        gamma=np.ones(N, np.float32),
        regrown_after=np.zeros(N, np.int64),
        params_dense=5000,
        params=int(5000 * (0.3 + 0.7 * sum(kept) / N)),
        mode=mode,
        sparsity=0.5,
        events=rows.pop("events", np.zeros(0, EVENT_DTYPE)),
        **rows,
    )


def synthetic(
    mode: str = "sca",
    epochs: int = 3,
    interval: int = 2,
    cap: int = 512,
    resumed_at: int = 0,
    seed: int = 0,
) -> Run:
    """A made-up run: one snapshot per epoch; an update every ``interval`` batches masks the least
    important half at first, then (sca) swaps a quarter of the kept channels for the masked ones with
    the largest gradient. ``resumed_at`` batches were run before the records begin."""
    rng = np.random.default_rng(seed)
    mask = np.ones(N, bool)
    records: RunRecords | None = None
    metrics: list[dict[str, float]] = []
    n_updates = 0
    start = final = None
    for step in range(resumed_at + epochs * BATCHES_PER_EPOCH + 1):
        if step == resumed_at:
            start = snapshot(step, mask, mode, n_updates)
            records = RunRecords(SIZES, LABELS, cap=cap)
            records.observe(start)
        if step == resumed_at + epochs * BATCHES_PER_EPOCH:
            break
        rec: dict[str, list[Any]] = {k: [] for k in ("batches", "updates", "kept", "masks", "imp", "grad")}
        events: list[tuple[int, int, int, int, int]] = []
        loss = 1.4 * np.exp(-step / 20) + 0.05 * rng.random()
        batches = np.array(
            [(step, step // BATCHES_PER_EPOCH, step % BATCHES_PER_EPOCH, loss, 0.5, 1e-3)], BATCH_DTYPE
        )
        ups = np.zeros(0, UPDATE_DTYPE)
        if (step + 1) % interval == 0:
            importance = np.where(mask, rng.uniform(0.2, 0.8, N), 0.0)
            grad = rng.lognormal(-7, 1.5, N)
            grad[rng.random(N) < 0.1] = 0.0  # exact zeros must not break the log axis
            before = mask.copy()
            pruned: np.ndarray = np.zeros(0, np.int64)
            regrown: np.ndarray = np.zeros(0, np.int64)
            if mode in ("sca", "prune_only") and n_updates == 0:
                pruned = np.argsort(np.where(mask, importance, np.inf))[: N // 2]
            elif mode == "sca":
                k = max(1, int(mask.sum()) // 4)
                pruned = np.argsort(np.where(mask, importance, np.inf))[:k]
                regrown = np.argsort(np.where(mask, -np.inf, grad))[::-1][:k]
            mask[pruned] = False
            mask[regrown] = True
            for kind, chans in ((REMOVED, pruned), (FORMED, regrown)):
                for c in chans:
                    block = int(np.searchsorted(OFFSETS, c, side="right") - 1)
                    events.append((step, int(c - OFFSETS[block]), int(c - OFFSETS[block]), block, kind))
            assert np.array_equal(before, mask) == (not len(pruned) and not len(regrown))
            ups = np.array(
                [(step, n_updates, step // BATCHES_PER_EPOCH, len(pruned), len(regrown), 1 - mask.mean())],
                UPDATE_DTYPE,
            )
            rec["kept"].append([mask[a:b].sum() for a, b in pairwise(OFFSETS)])
            rec["masks"].append(mask.copy())
            rec["imp"].append(importance)
            rec["grad"].append(grad)
            n_updates += 1
        epochs_rows = np.zeros(0, EPOCH_DTYPE)
        epoch_kept = np.zeros((0, len(SIZES)), np.int32)
        if (step + 1) % BATCHES_PER_EPOCH == 0:
            epochs_rows = np.array(
                [(step, step // BATCHES_PER_EPOCH, loss, 0.6, 0.55, 1 - mask.mean(), 3000, 1e4, 1e-3)],
                EPOCH_DTYPE,
            )
            epoch_kept = np.array([[mask[a:b].sum() for a, b in pairwise(OFFSETS)]])
        final = snapshot(
            step + 1,
            mask,
            mode,
            n_updates,
            events=np.array(events, EVENT_DTYPE),
            batches=batches,
            epochs=epochs_rows,
            epoch_kept=epoch_kept.astype(np.int32),
            updates=ups,
            update_kept=np.array(rec["kept"], np.int32).reshape(-1, len(SIZES)),
            update_masks=np.array(rec["masks"], bool).reshape(-1, N),
            update_importance=np.array(rec["imp"], np.float32).reshape(-1, N),
            update_grad=np.array(rec["grad"], np.float32).reshape(-1, N),
        )
        if step >= resumed_at:
            assert records is not None
            records.observe(final)
            metrics += epoch_rows(final)
    assert start is not None and records is not None
    final = final if final is not None else start
    columns = columns_for(len(SIZES))
    table = {c: np.array([r[c] for r in metrics], np.float64) for c in columns}
    return Run(config(mode, interval), start, final, table, records)


def figures(r: Run) -> dict[str, Figure]:
    """The figures of run ``r`` by file name (made, not drawn)."""
    made = report.make_figures(r.metrics, r.start, r.final, r.config, r.records)
    return dict(zip(report.FIGURE_FILES, made, strict=True))


def texts(fig: Figure) -> str:
    """Every text of ``fig`` (titles, labels, notes, legend entries), one per line."""
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def by_gid(fig: Figure, kind: type, gid: str) -> list[Any]:
    return [a for a in fig.findobj(kind) if a.get_gid() == gid]


def mask_codes_of(fig: Figure, n_channels: int) -> np.ndarray:
    """The mask-over-time image's codes, ``(channels, columns)``."""
    (mesh,) = by_gid(fig, QuadMesh, "mask_image")
    return np.asarray(mesh.get_array()).reshape(n_channels, -1)


def mask_codes(fig: Figure) -> np.ndarray:
    """The codes of a synthetic run's mask-over-time image."""
    return mask_codes_of(fig, N)


def draw(fig: Figure) -> None:
    """Lay out and render ``fig`` as saving does, without the file and at a low resolution (fast)."""
    fig.set_dpi(40)
    FigureCanvasAgg(fig).draw()


@pytest.fixture(scope="module")
def sca() -> Run:
    return synthetic("sca")


@pytest.fixture(scope="module")
def sca_figures(sca: Run) -> dict[str, Figure]:
    return figures(sca)


# --------------------------------------------------------------------------- files


def test_writes_the_five_figures_as_pngs_in_order(sca: Run, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    paths = report.write_figures(out, sca.metrics, sca.start, sca.final, sca.config, sca.records)
    assert APP_EXPERIMENT.figure_files == report.FIGURE_FILES
    assert paths == [out / name for name in report.FIGURE_FILES]
    assert sorted(p.name for p in out.iterdir()) == sorted(report.FIGURE_FILES)  # no temporary left
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        width, height = struct.unpack(">II", data[16:24])
        with Image.open(path) as image:
            image.verify()
        assert 1200 <= width <= 3000 and 600 <= height <= 2400, (path.name, width, height)
        assert len(data) > 20_000, path.name  # something drawn, not an empty canvas


def test_missing_metrics_column_raises(sca: Run) -> None:
    broken = {k: v for k, v in sca.metrics.items() if k != "synops"}
    with pytest.raises(ValueError, match="synops"):
        report.make_figures(broken, sca.start, sca.final, sca.config, sca.records)
    ragged = {**sca.metrics, "params": np.zeros(len(sca.metrics["t"]) + 1)}
    with pytest.raises(ValueError, match="equal length"):
        report.make_figures(ragged, sca.start, sca.final, sca.config, sca.records)


# --------------------------------------------------------------------------- content


def test_every_heading_names_preset_mode_sparsity_and_seed(sca_figures: dict[str, Figure]) -> None:
    for name, fig in sca_figures.items():
        heading = fig.get_suptitle()
        for part in ("synthetic", "mode sca", "target sparsity 50%", "seed 7", "after 3 epochs"):
            assert part in heading, (name, heading)


def test_mask_image_shows_pruned_and_regrown_channels_update_by_update(
    sca: Run, sca_figures: dict[str, Figure]
) -> None:
    codes = mask_codes(sca_figures["mask_over_time.png"])
    masks = sca.records.masks.values
    assert codes.shape == (N, 1 + len(masks))
    assert np.all(codes[:, 0] == 2)  # the start: every channel kept
    initial = sca.records.initial_mask
    assert initial is not None
    for col in range(1, codes.shape[1]):
        before = np.asarray(initial if col == 1 else masks[col - 2], bool)
        after = np.asarray(masks[col - 1], bool)
        assert np.all(codes[after & ~before, col] == 3)  # regrown
        assert np.all(codes[before & ~after, col] == 1)  # masked at this update
        assert np.all(codes[before & after, col] == 2) and np.all(codes[~before & ~after, col] == 0)
    assert (codes == 3).any() and (codes == 1).any()
    text = texts(sca_figures["mask_over_time.png"])
    for label in (*LABELS, "regrown at this update (kept)", "masked at this update", "epochs"):
        assert label in text


def test_prune_only_mask_stops_changing_after_the_first_update() -> None:
    run = synthetic("prune_only")
    codes = mask_codes(figures(run)["mask_over_time.png"])
    assert (codes[:, 1] == 1).sum() == N // 2  # the first update masks half
    assert not (codes == 3).any()  # nothing ever regrown
    assert np.all(codes[:, 2:] == codes[:, -1:])  # and nothing changes afterwards


def test_kept_lines_and_bars_follow_the_update_records(sca: Run, sca_figures: dict[str, Figure]) -> None:
    fig = sca_figures["kept_per_layer.png"]
    kept = sca.records.update_kept.array()
    for b, size in enumerate(SIZES):
        (line,) = by_gid(fig, Line2D, f"kept_{b + 1}")
        y = np.asarray(line.get_ydata(), float)
        assert y[0] == 1.0
        np.testing.assert_allclose(y[1:], kept[:, b] / size)
    updates = sca.records.updates.array()
    pruned = [p.get_height() for p in by_gid(fig, Rectangle, "pruned_bars")]
    regrown = [p.get_height() for p in by_gid(fig, Rectangle, "regrown_bars")]
    np.testing.assert_array_equal(pruned, updates["pruned"])
    np.testing.assert_array_equal(regrown, -updates["regrown"])  # drawn downwards
    assert f"{int(updates['pruned'].sum())} masked, {int(updates['regrown'].sum())} regrown" in texts(fig)


def test_importance_groups_the_channels_the_last_update_ranked(
    sca: Run, sca_figures: dict[str, Figure]
) -> None:
    fig = sca_figures["importance.png"]
    masks = sca.records.masks.values
    before, after = masks[-2], masks[-1]
    for b, (a, z) in enumerate(pairwise(OFFSETS)):
        kept = sum(p.get_height() for p in by_gid(fig, Rectangle, f"importance_kept_{b + 1}"))
        pruned = sum(p.get_height() for p in by_gid(fig, Rectangle, f"importance_pruned_{b + 1}"))
        assert kept == (before & after)[a:z].sum()
        assert pruned == (before & ~after)[a:z].sum()
    regrown = sum(p.get_height() for p in by_gid(fig, Rectangle, "grad_regrown"))
    grad = sca.records.gamma_grad.values[-1]
    assert regrown == (after & ~before & (grad > 0)).sum() > 0
    (ax_grad,) = [ax for ax in fig.axes if ax.get_xscale() == "log"]
    zeros = int((grad == 0).sum())
    assert zeros > 0 and f"{zeros} exact zeros not shown" in ax_grad.get_title()
    draw(fig)


def test_cost_draws_dense_reference_and_target(sca: Run, sca_figures: dict[str, Figure]) -> None:
    fig = sca_figures["cost.png"]
    (dense,) = by_gid(fig, Line2D, "params_dense")
    assert set(dense.get_ydata()) == {sca.final.params_dense}
    (target,) = by_gid(fig, Line2D, "sparsity_target")
    assert set(target.get_ydata()) == {0.5}
    (params,) = by_gid(fig, Line2D, "params")
    np.testing.assert_array_equal(params.get_ydata(), sca.metrics["params"])


def test_learning_plots_every_batch_and_marks_the_updates(sca: Run, sca_figures: dict[str, Figure]) -> None:
    fig = sca_figures["learning.png"]
    (loss,) = by_gid(fig, Line2D, "batch_loss")
    assert len(loss.get_xdata()) == len(sca.records.batches) == 3 * BATCHES_PER_EPOCH
    np.testing.assert_allclose(loss.get_xdata()[-1], 3.0)  # epochs on x
    rugs = by_gid(fig, Line2D, "update_rug")
    assert len(rugs) == 2 and len(rugs[0].get_xdata()) == len(sca.records.updates)
    (test,) = by_gid(fig, Line2D, "test_accuracy")
    np.testing.assert_array_equal(test.get_xdata(), [1.0, 2.0, 3.0])


# --------------------------------------------------------------------------- edge cases


def test_a_run_without_any_epoch_or_update() -> None:
    run = synthetic("sca", epochs=0)
    assert not len(run.metrics["t"]) and not len(run.records.updates)
    made = figures(run)
    codes = mask_codes(made["mask_over_time.png"])
    assert codes.shape == (N, 1) and np.all(codes == 2)
    assert "no mask update yet" in texts(made["importance.png"])
    assert "no batch completed" in texts(made["learning.png"])
    assert "no mask update yet" in texts(made["kept_per_layer.png"])
    for fig in made.values():
        draw(fig)


def test_one_epoch_with_a_single_update_at_its_end() -> None:
    run = synthetic("sca", epochs=1, interval=BATCHES_PER_EPOCH, seed=1)
    assert len(run.metrics["t"]) == 1 and len(run.records.updates) == 1
    made = figures(run)
    assert mask_codes(made["mask_over_time.png"]).shape == (N, 2)
    for name in ("learning.png", "kept_per_layer.png", "cost.png"):  # single points and bars
        draw(made[name])


def test_mode_none_keeps_every_channel() -> None:
    run = synthetic("none")
    made = figures(run)
    assert np.all(mask_codes(made["mask_over_time.png"]) == 2)
    assert "mode none: dense" in made["cost.png"].get_suptitle()
    (target,) = by_gid(made["cost.png"], Line2D, "sparsity_target")
    assert set(target.get_ydata()) == {0.0}
    assert "no channel was masked or regrown at any update" in texts(made["kept_per_layer.png"])
    for name in ("kept_per_layer.png", "importance.png"):
        draw(made[name])


def test_thinned_mask_rows_span_the_whole_run() -> None:
    run = synthetic("sca", epochs=5, interval=1, cap=4, seed=2)
    index = run.records.masks.index
    assert len(run.records.updates) == 20 and len(index) <= 4 and index.max() >= 16
    made = figures(run)
    codes = mask_codes(made["mask_over_time.png"])
    assert codes.shape == (N, 1 + len(index))
    assert f"one update in {run.records.masks.stride}" in made["mask_over_time.png"].get_suptitle()
    # the newest kept row is not the newest update: its mask before is unknown, kept vs masked after
    heading = made["importance.png"].get_suptitle()
    assert f"update {index[-1] + 1} (the newest the records keep, of 20)" in heading
    assert "grouped by the mask after it" in heading
    for name in ("mask_over_time.png", "importance.png", "kept_per_layer.png"):
        draw(made[name])


def test_a_resumed_run_starts_its_axes_where_it_resumed() -> None:
    run = synthetic("sca", epochs=2, resumed_at=2 * BATCHES_PER_EPOCH, seed=3)
    assert run.start.step == 8 and run.records.updates.array()["index"][0] > 0
    made = figures(run)
    mesh = by_gid(made["mask_over_time.png"], QuadMesh, "mask_image")[0]
    left = mesh.get_coordinates()[0, 0, 0]
    assert left == pytest.approx(run.records.updates.array()["index"][0] - 0.5)  # after 4 updates done
    assert "resumed at 2" in texts(made["learning.png"])
    (kept,) = by_gid(made["kept_per_layer.png"], Line2D, "kept_1")
    assert kept.get_xdata()[0] == 2.0
    for name in ("learning.png", "mask_over_time.png", "cost.png"):
        draw(made[name])


# --------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def engine_run() -> Iterator[Run]:
    """One epoch of a tiny SCA network in two snapshots (8 batches, an update every 2 batches)."""
    pytest.importorskip("torch")
    cfg = load_config(REPO_ROOT / "presets" / "channels" / "channels_shapes.yaml").replace_all(
        {
            "network.layers": "4C3-AP2-8C3-AP2-4FC",
            "data.classes": 4,
            "data.size": 8,
            "data.n_train": 64,
            "data.n_test": 16,
            "data.batch_size": 8,
            "pruning.fraction": 0.2,
            "pruning.interval": 2,
            "pruning.first": 0,
        }
    )
    with Engine.build(cfg, backend="cpu", seed=5) as eng:
        start = eng.snapshot()
        records = RunRecords(start.sizes, start.labels)
        records.observe(start)
        rows: list[dict[str, float]] = []
        for _ in range(2):
            eng.step(4)
            final = eng.snapshot()
            records.observe(final)
            rows += epoch_rows(final)
    metrics = {c: np.array([r[c] for r in rows], np.float64) for c in columns_for(len(start.sizes))}
    assert isinstance(cfg, ChannelsConfig)
    yield Run(cfg, start, final, metrics, records)


def test_figures_of_a_real_run(engine_run: Run) -> None:
    r = engine_run
    assert len(r.metrics["t"]) == 1 and len(r.records.updates) >= 3
    made = figures(r)
    codes = mask_codes_of(made["mask_over_time.png"], sum(r.final.sizes))
    assert codes.shape[1] == 1 + len(r.records.masks.index)
    assert np.array_equal(codes[:, -1] >= 2, r.final.mask)  # the last column is the mask now
    for name in ("mask_over_time.png", "importance.png"):
        draw(made[name])


@pytest.mark.parametrize(
    ("mode", "interval", "first", "words"),
    [
        ("sca", 0, 0, "mask updated at every epoch's end"),
        ("sca", 1, 0, "mask updated after every batch"),
        ("prune_only", 20, 0, "mask updated every 20 batches (0.5 epochs)"),
        ("sca", 0, 30, "mask updated first after 30 batches, then at every epoch's end"),
        ("sca", 40, 1, "mask updated first after 1 batch, then every 40 batches (1 epoch)"),
        ("random", 0, 30, "random mask drawn at the start, fixed"),
        ("none", 0, 0, "mode none: no channel is ever masked"),
    ],
)
def test_the_figures_say_when_the_mask_is_updated(mode: str, interval: int, first: int, words: str) -> None:
    changed = config(mode, interval).replace_all({"pruning.first": first}, source="test")
    assert report.schedule_text(changed, batches_per_epoch=40) == words
