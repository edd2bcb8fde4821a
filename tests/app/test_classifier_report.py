"""The sparse classifier's report figures, from small runs of the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image

from app.experiments.classifier import report
from app.experiments.classifier.metrics import METRIC_COLUMNS, batch_rows
from sim.engine import Engine
from sim.events import FORMED, REMOVED
from sim.experiment import register_experiment, unregister_experiment
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.experiment import EXPERIMENT
from sim.experiments.classifier.snapshot import ClassifierSnapshot

EPOCHS = 2
N_HIDDEN = 24


@pytest.fixture(autouse=True, scope="module")
def _classifier_known() -> Iterator[None]:
    """The classifier is made known to the core here until its application layer lists it."""
    register_experiment(EXPERIMENT)
    yield
    unregister_experiment(EXPERIMENT.key)


class Run(NamedTuple):
    config: ClassifierConfig
    start: ClassifierSnapshot
    final: ClassifierSnapshot
    metrics: dict[str, np.ndarray]
    events: np.ndarray


def config(**sections: dict[str, Any]) -> ClassifierConfig:
    """A small digits classifier with ``sections`` merged in."""
    base: dict[str, dict[str, Any]] = {
        "network": {"n_hidden": N_HIDDEN},
        "connectivity": {"p_in": 0.2, "p_rec": 0.2},
        "learning": {"lr": 0.01},
        "rewiring": {"l1": 1e-3},
        "data": {"name": "digits", "n_steps": 10, "batch_size": 8, "n_train": 64, "n_test": 16},
    }
    for key, values in sections.items():
        base.setdefault(key, {}).update(values)
    return ClassifierConfig.from_dict({"experiment": "classifier", **base})


def run(cfg: ClassifierConfig, epochs: float) -> Run:
    """Run ``cfg`` for ``epochs``; the metrics are the batch rows of the final snapshot."""
    with Engine.build(cfg, backend="cpu", seed=5) as eng:
        start = eng.snapshot()
        eng.step(round(epochs * eng.experiment.step_units(cfg)["epoch"]))
        final = eng.snapshot()
    rows = batch_rows(final)
    metrics = {c: np.array([r[c] for r in rows], np.float64) for c in METRIC_COLUMNS}
    return Run(cfg, start, final, metrics, np.asarray(final.events))


@pytest.fixture(scope="module")
def deep_r() -> Run:
    return run(config(), EPOCHS)


@pytest.fixture(scope="module")
def static() -> Run:
    return run(config(rewiring={"enabled": False}), 1)


@pytest.fixture(scope="module")
def dense() -> Run:
    return run(config(connectivity={"p_in": 1.0, "p_rec": 1.0}, rewiring={"enabled": False}), 1)


def figures(r: Run) -> dict[str, Figure]:
    """The figures of run ``r`` by file name (made, not drawn)."""
    made = report.make_figures(r.metrics, r.start, r.final, r.config, r.events)
    return dict(zip(report.FIGURE_FILES, made, strict=True))


@pytest.fixture(scope="module")
def made(deep_r: Run) -> dict[str, Figure]:
    """The DEEP R run's figures, shared by the tests that only look at them."""
    return figures(deep_r)


def texts(fig: Figure) -> str:
    """Every text of ``fig`` (titles, labels, notes, legend entries), one per line."""
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def by_gid(fig: Figure, kind: type, gid: str) -> list[Any]:
    return [a for a in fig.findobj(kind) if a.get_gid() == gid]


# --------------------------------------------------------------------------- files


def test_writes_the_five_figures_as_pngs_in_order(deep_r: Run, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    paths = report.write_figures(
        out, deep_r.metrics, deep_r.start, deep_r.final, deep_r.config, deep_r.events
    )
    assert paths == [out / name for name in report.FIGURE_FILES]
    assert report.FIGURE_FILES == (
        "learning.png",
        "rewiring.png",
        "connectivity.png",
        "weights.png",
        "activity.png",
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(report.FIGURE_FILES)  # no temporary left
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
            assert 900 <= width <= 4000 and 600 <= height <= 4000, (path.name, image.size)
            pixels = np.asarray(image.convert("L"))
            assert pixels.std() > 5  # something is drawn, not a blank page


def test_refuses_metrics_without_a_column(deep_r: Run, tmp_path: Path) -> None:
    metrics = {k: v for k, v in deep_r.metrics.items() if k != "test_accuracy"}
    with pytest.raises(ValueError, match="test_accuracy"):
        report.write_figures(tmp_path, metrics, deep_r.start, deep_r.final, deep_r.config)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- learning


def test_learning_marks_one_test_accuracy_per_epoch_and_chance(deep_r: Run, made: dict[str, Figure]) -> None:
    fig = made["learning.png"]
    (marks,) = by_gid(fig, Line2D, "test_accuracy")
    x, y = (np.asarray(v, np.float64) for v in marks.get_data())
    assert x.tolist() == [1.0, 2.0]  # the end of each epoch
    tested = np.isfinite(deep_r.metrics["test_accuracy"])
    assert tested.sum() == EPOCHS
    np.testing.assert_allclose(y, deep_r.metrics["test_accuracy"][tested])
    (chance,) = by_gid(fig, Line2D, "chance")
    assert np.asarray(chance.get_ydata(), np.float64)[0] == pytest.approx(1 / 10)
    assert not [a for a in fig.findobj(Line2D) if str(a.get_gid()).startswith("reference:")]


def test_learning_draws_the_references_known_for_the_data_set(
    deep_r: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(report.REFERENCES, "digits", {"dense": 0.9, "static sparse": 0.8})
    monkeypatch.setitem(report.REFERENCES, "shd", {"dense": 0.7})
    fig = figures(deep_r)["learning.png"]
    refs = {a.get_gid(): float(np.asarray(a.get_ydata())[0]) for a in fig.findobj(Line2D) if a.get_gid()}
    assert refs["reference:dense"] == pytest.approx(0.9)
    assert refs["reference:static sparse"] == pytest.approx(0.8)
    assert "dense: 90.0%" in texts(fig)


# --------------------------------------------------------------------------- rewiring


def test_rewiring_plots_each_table_and_says_the_count_is_constant(
    deep_r: Run, made: dict[str, Figure]
) -> None:
    fig = made["rewiring.png"]
    shown = texts(fig)
    assert f"constant: {deep_r.final.tin.n_synapses} synapses" in shown
    assert f"constant: {deep_r.final.trec.n_synapses} synapses" in shown
    for name in ("in", "rec"):
        (line,) = by_gid(fig, Line2D, f"removed_{name}")
        y = np.asarray(line.get_ydata(), np.float64)
        np.testing.assert_array_equal(y[np.isfinite(y)], deep_r.metrics[f"removed_{name}"])
        assert np.isnan(y).sum() == EPOCHS - 1  # no line across the test phase
    assert deep_r.metrics["removed_in"].sum() + deep_r.metrics["removed_rec"].sum() > 0


def test_rewiring_off_says_so_instead_of_plotting_zeros(static: Run, dense: Run) -> None:
    for r, words in ((static, "rewiring off"), (dense, "dense kernel")):
        fig = figures(r)["rewiring.png"]
        assert texts(fig).count(words) == 2  # one note per table
        assert not by_gid(fig, Line2D, "removed_in") and not by_gid(fig, Line2D, "removed_rec")


# --------------------------------------------------------------------------- connectivity


def test_connectivity_shares_a_symmetric_colour_scale_per_table(deep_r: Run, made: dict[str, Figure]) -> None:
    fig = made["connectivity.png"]
    for name, start, final in (
        ("in", deep_r.start.tin, deep_r.final.tin),
        ("rec", deep_r.start.trec, deep_r.final.trec),
    ):
        (first,) = by_gid(fig, AxesImage, f"mask_{name}_start")
        (last,) = by_gid(fig, AxesImage, f"mask_{name}_end")
        assert first.get_clim() == last.get_clim()
        lo, hi = first.get_clim()
        assert lo == -hi
        biggest = max(float(np.abs(v.coo()[2]).max()) for v in (start, final))
        assert hi == pytest.approx(biggest)  # no weight clipped, no range wasted
        for image, view in ((first, start), (last, final)):
            data = image.get_array()
            assert data.shape == (view.n_pre, view.n_post)
            np.testing.assert_array_equal(~np.ma.getmaskarray(data), view.mask())  # absent pairs blank
    # the start's weights differ from the end's, so one scale really serves two different images
    assert not np.array_equal(deep_r.start.tin.matrix(), deep_r.final.tin.matrix())


def test_connectivity_marks_the_last_batchs_rewiring_on_the_end_masks(
    deep_r: Run, made: dict[str, Figure]
) -> None:
    events = deep_r.events
    assert len(events) > 0
    last = events[events["step"] == events["step"].max()]
    fig = made["connectivity.png"]
    for gid, kind in (("regrown_marks", FORMED), ("pruned_marks", REMOVED)):
        marked = np.concatenate(
            [np.asarray(c.get_offsets()) for c in by_gid(fig, PathCollection, gid)] or [np.zeros((0, 2))]
        )
        mine = last[last["kind"] == kind]
        assert sorted(map(tuple, marked.astype(int).tolist())) == sorted(
            zip(mine["post"], mine["pre"], strict=True)
        )
    assert "regrown (" in texts(fig) and "pruned (" in texts(fig)
    # no events given: no marks, no legend
    fig = report.make_figures(deep_r.metrics, deep_r.start, deep_r.final, deep_r.config)[2]
    assert not by_gid(fig, PathCollection, "regrown_marks") and "pruned (" not in texts(fig)


def test_dense_masks_are_full_but_for_the_diagonal(dense: Run) -> None:
    # the recurrent matrix's diagonal is held at zero weight: not a synapse anywhere it is counted
    n_rec = N_HIDDEN * (N_HIDDEN - 1)
    assert dense.final.trec.n_synapses == dense.final.trec.pairs == n_rec
    assert dense.final.trec.coo()[0].size == n_rec
    np.testing.assert_array_equal(dense.metrics["synapses_rec"], n_rec)
    np.testing.assert_array_equal(dense.metrics["synapses_in"], dense.final.tin.n_pre * N_HIDDEN)
    fig = figures(dense)["connectivity.png"]
    assert f"hidden \u2192 hidden, {n_rec} synapses" in texts(fig)
    (image_in,) = by_gid(fig, AxesImage, "mask_in_end")
    (image_rec,) = by_gid(fig, AxesImage, "mask_rec_end")
    assert not np.ma.getmaskarray(image_in.get_array()).any()
    np.testing.assert_array_equal(np.ma.getmaskarray(image_rec.get_array()), np.eye(N_HIDDEN, dtype=bool))
    weights = figures(dense)["weights.png"]
    heights = sum(
        p.get_height() for g in ("hist_negative", "hist_positive") for p in by_gid(weights, Rectangle, g)
    )
    assert heights == dense.final.tin.n_synapses + N_HIDDEN * (N_HIDDEN - 1)


# --------------------------------------------------------------------------- weights, activity


def test_weight_and_degree_histograms_count_every_synapse_and_neuron(
    deep_r: Run, made: dict[str, Figure]
) -> None:
    fig = made["weights.png"]
    negative = by_gid(fig, Rectangle, "hist_negative")
    positive = by_gid(fig, Rectangle, "hist_positive")
    total = sum(p.get_height() for p in negative + positive)
    assert total == deep_r.final.tin.n_synapses + deep_r.final.trec.n_synapses
    filled = [[p for p in bars if p.get_height() > 0] for bars in (negative, positive)]
    assert max(p.get_x() + p.get_width() for p in filled[0]) <= 0.0 <= min(p.get_x() for p in filled[1])
    for gid, count in (("degrees_in", 2 * N_HIDDEN), ("degrees_out", N_HIDDEN)):
        assert sum(p.get_height() for p in by_gid(fig, Rectangle, gid)) == count


def test_activity_shows_the_example_and_says_when_there_is_none(deep_r: Run, made: dict[str, Figure]) -> None:
    fig = made["activity.png"]
    label, prediction = int(deep_r.final.shown_info[1]), int(deep_r.final.shown_info[2])
    assert f"predicted {prediction}" in texts(fig)
    (trace,) = by_gid(fig, Line2D, "label_trace")
    np.testing.assert_allclose(trace.get_ydata(), deep_r.final.shown_y[:, label])
    (raster,) = by_gid(fig, PathCollection, "raster")
    assert len(raster.get_offsets()) == int(deep_r.final.shown_z.sum())


def test_a_run_shorter_than_one_batch_gets_its_figures_with_notes(deep_r: Run, tmp_path: Path) -> None:
    empty = {c: np.zeros(0) for c in METRIC_COLUMNS}
    start = deep_r.start
    paths = report.write_figures(
        tmp_path, empty, start, start, deep_r.config, np.zeros(0, deep_r.events.dtype)
    )
    assert [p.name for p in paths] == list(report.FIGURE_FILES) and all(p.stat().st_size > 0 for p in paths)
    shown = dict(
        zip(report.FIGURE_FILES, report.make_figures(empty, start, start, deep_r.config), strict=True)
    )
    assert texts(shown["learning.png"]).count("no batch completed") == 2
    assert texts(shown["rewiring.png"]).count("no batch completed") == 2
    assert "no trial completed yet" in texts(shown["activity.png"])
