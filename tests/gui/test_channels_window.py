"""Channel pruning (SCA) on the window: its views draw the run, compaction and live changes work.

The window opens on a tiny channel network written here (two conv blocks of
4 and 8 channels, 8 x 8 shapes, a mask update every 4 batches), steps by
batch and by epoch, checks what every view drew against the snapshot and
the run's records, compacts the network from the Compaction view, changes
the channel sparsity through the parameter panel, checks that every view
fits its area at common screen sizes, and switches to the classifier and
back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from app.experiment import register_app_experiment
from app.experiments.channels.experiment import APP_EXPERIMENT as CHANNELS_APP
from app.experiments.channels.frame import Frame
from app.experiments.classifier.experiment import APP_EXPERIMENT as CLASSIFIER_APP
from app.presets import load_preset
from gui.experiments.channels.views.common import compact_layer_string, predict_update, si
from gui.experiments.channels.views.compaction_view import (
    BAD_COLOUR,
    WARN_COLOUR,
    CompactionView,
    logits_verdict,
)
from gui.experiments.channels.views.cost_view import CostView
from gui.experiments.channels.views.importance_view import ImportanceView, log_histogram
from gui.experiments.channels.views.kept_view import KeptView
from gui.experiments.channels.views.learning_view import LearningView
from gui.experiments.channels.views.masks_view import (
    ChannelMasksView,
    GridLayout,
    choose_layout,
    colour_top,
)
from gui.main_window import MainWindow
from sim.experiment import register_experiment, unregister_experiment
from sim.experiments.channels.experiment import EXPERIMENT as CHANNELS
from sim.experiments.classifier.experiment import EXPERIMENT as CLASSIFIER
from tests.gui.conftest import TIMEOUT_MS, settle
from tests.gui.test_layout import _check_plots, _check_widgets

#: Two conv blocks (4 and 8 channels) on 8 x 8 shapes of 4 classes; 8 training batches per epoch,
#: a mask update every 4 batches, a quarter of the kept channels swapped at each.
TINY = """\
experiment: channels
name: channels_tiny
description: "A tiny channel network for the window's tests"
network:
  layers: 4C3-AP2-8C3-AP2-4FC
pruning:
  mode: sca
  sparsity: 0.5
  fraction: 0.25
  interval: 4
data:
  name: shapes
  size: 8
  classes: 4
  n_train: 64
  n_test: 16
  batch_size: 8
"""
SIZES_TINY = (4, 8)
BATCHES = 8
VIEWS = ["channel_masks", "kept", "importance", "learning", "cost", "compaction"]
#: A tiny classifier to switch to and back from.
CLASSIFIER_TINY = """\
experiment: classifier
name: classifier_tiny
network:
  n_hidden: 16
data:
  name: digits
  n_steps: 5
  batch_size: 8
  n_train: 16
  n_test: 8
"""
#: Window sizes at which every view must fit its area.
SIZES = [(1152, 720), (1920, 1080)]


@pytest.fixture(autouse=True)
def experiments_known() -> Iterator[None]:
    """The channel network and the classifier known to the core and the application layer."""
    for experiment in (CHANNELS, CLASSIFIER):
        register_experiment(experiment)
    for app_experiment in (CHANNELS_APP, CLASSIFIER_APP):
        register_app_experiment(app_experiment)
    yield
    for experiment in (CHANNELS, CLASSIFIER):
        unregister_experiment(experiment.key)


@pytest.fixture
def channels_window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """The window on the tiny channel network (CPU), shown, its network built."""
    preset = tmp_path / "channels_tiny.yaml"
    preset.write_text(TINY)
    win = MainWindow(load_preset(str(preset)), backend="cpu")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.latest is not None, timeout=TIMEOUT_MS)
    settle(win, qtbot)
    yield win
    assert win.shutdown()


def _show(window: MainWindow, key: str) -> None:
    window.show_view(key)
    for _ in range(3):
        QApplication.processEvents()


def _frame(window: MainWindow) -> Frame:
    frame = window.latest_frame
    assert isinstance(frame, Frame)
    return frame


def _step(window: MainWindow, qtbot: QtBot, unit: str, times: int = 1) -> None:
    for _ in range(times):
        window.run_controls.step_actions[unit].trigger()
    settle(window, qtbot)


def test_channel_views_draw_the_run_and_the_window_switches(
    channels_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    window = channels_window
    assert list(window.views) == VIEWS
    assert [a.text() for a in window.run_controls.step_actions.values()] == ["Step batch", "Step epoch"]
    assert window.run_controls.step_actions["batch"].shortcut().toString() == "Right"
    panel = window.parameter_panel
    assert panel is not None
    for path in ("pruning.sparsity", "pruning.fraction", "pruning.interval", "learning.lr", "network.layers"):
        assert path in panel._rows, path

    _step(window, qtbot, "batch")
    assert _frame(window).snapshot.step == 1
    _step(window, qtbot, "epoch", 2)
    frame = _frame(window)
    snap, records = frame.snapshot, frame.history.records
    assert snap.step == 1 + 2 * BATCHES and snap.epoch == 2
    assert snap.sizes == SIZES_TINY and snap.n_updates >= 3
    for key in VIEWS:
        _show(window, key)
        assert window.views[key].frames_drawn > 0, key
        assert window.views[key].frame is frame, key

    # the grid: a row per block, a cell per channel, kept ones coloured, the newest update marked
    masks = window.views["channel_masks"]
    assert isinstance(masks, ChannelMasksView)
    layout = masks.layout_
    assert layout is not None and layout.sizes == SIZES_TINY
    lookup = layout.lookup()
    np.testing.assert_array_equal(np.sort(lookup[lookup >= 0]), np.arange(sum(SIZES_TINY)))
    assert masks.cells_shown == sum(SIZES_TINY)
    assert [label.split()[0] for label in masks.row_labels] == ["1:", "2:"]  # one label per block
    assert masks.row_labels[1].endswith(f"{snap.kept[1]}/8")
    image = masks.image_values()
    assert image.shape == (layout.lines, layout.width)
    line, col = layout.cells()
    kept = snap.mask
    coloured = kept.copy()
    coloured[frame.last_regrown] = False
    assert int(np.isfinite(image).sum()) == int(coloured.sum())
    np.testing.assert_allclose(
        image[line[coloured], col[coloured]], frame.grid_importance[coloured], rtol=1e-6
    )
    background = masks.background.image
    assert background is not None
    assert int((background[..., 3] > 0).sum()) == int((~kept).sum()) + len(frame.last_regrown)
    assert len(frame.last_pruned) > 0 and len(frame.last_pruned) == len(frame.last_regrown)
    assert not kept[frame.last_pruned].any() and kept[frame.last_regrown].all()
    colours = {tuple(c) for c in background[line[frame.last_pruned], col[frame.last_pruned], :3]}
    assert colours == {(0xD6, 0x27, 0x28)}  # the newest update's pruned channels red
    colours = {tuple(c) for c in background[line[frame.last_regrown], col[frame.last_regrown], :3]}
    assert colours == {(0x2C, 0xA0, 0x2C)}  # and its regrown ones green
    assert np.isnan(image[line[frame.last_regrown], col[frame.last_regrown]]).all()
    title = masks.plot.titleLabel.text
    assert f"{int(kept.sum())} of {kept.size} kept" in title and f"update {snap.n_updates}" in title
    channel = int(frame.last_regrown[0])
    text = masks.describe(channel)
    block = int(np.searchsorted(snap.offsets, channel, side="right") - 1)
    assert snap.labels[block] in text and "regrown at the last update" in text and "\u03b3" in text
    assert masks.channel_at(col[channel] + 0.5, line[channel] + 0.5) == channel
    view_box = masks.plot.getViewBox()
    masks.plot.scene().sigMouseMoved.emit(
        view_box.mapViewToScene(QPointF(col[channel] + 0.5, line[channel] + 0.5))
    )
    assert masks.hover_label.text() == text

    kept_view = window.views["kept"]
    assert isinstance(kept_view, KeptView)
    assert len(kept_view.curves) == len(SIZES_TINY)
    updates = records.updates.array()
    for b, curve in enumerate(kept_view.curves):
        x, y = curve.getData()
        np.testing.assert_allclose(x, np.arange(len(updates) + 1))
        assert y[0] == 100.0 and y[-1] == pytest.approx(100.0 * snap.kept[b] / snap.sizes[b])
    _, pruned = kept_view.pruned.getData()
    np.testing.assert_array_equal(pruned, updates["pruned"])
    assert kept_view.overall.value == pytest.approx(50.0)

    importance = window.views["importance"]
    assert isinstance(importance, ImportanceView)
    assert importance.kept_histogram.getData()[1].sum() == kept.sum()
    assert importance.masked_grads.getData()[1].sum() == (~kept).sum()
    assert importance.kept_grads.getData()[1].sum() == kept.sum()

    learning = window.views["learning"]
    assert isinstance(learning, LearningView)
    x, loss = learning.batch_loss.getData()
    assert len(x) == len(records.batches) == snap.step
    np.testing.assert_allclose(x[-1], snap.step / BATCHES)
    np.testing.assert_allclose(loss, records.batches.array()["loss"])
    t_test, test = learning.test_accuracy.getData()
    np.testing.assert_allclose(t_test, [1.0, 2.0])
    np.testing.assert_allclose(test, 100.0 * records.epochs.array()["test_accuracy"])
    assert learning.chance.value == pytest.approx(25.0)

    cost = window.views["cost"]
    assert isinstance(cost, CostView)
    t, params = cost.params.getData()
    np.testing.assert_allclose(t, [1.0, 2.0])
    np.testing.assert_array_equal(params, frame.history.table()["params"])
    assert cost.dense.value == snap.params_dense and cost.now.getData()[1][0] == snap.params

    # compaction from the view's button: the command goes to the thread, the result comes back
    compaction = window.views["compaction"]
    assert isinstance(compaction, CompactionView)
    _show(window, "compaction")
    layers = compact_layer_string(frame.config.network.layers, snap.kept)
    assert layers in compaction.now_label.text()
    qtbot.mouseClick(compaction.compact_button, Qt.MouseButton.LeftButton)
    assert compaction.waiting and not compaction.compact_button.isEnabled()
    qtbot.waitUntil(lambda: not compaction.waiting, timeout=TIMEOUT_MS)
    result = compaction.result
    assert result is not None, compaction.status.text()
    assert compaction.compact_button.isEnabled() and compaction.status.text().startswith("Compacted")
    assert result.layers == layers and result.params_compact == snap.params
    assert result.kept == snap.kept and result.params_dense == snap.params_dense
    shown = compaction.result_label.text()
    assert layers in shown and f"{result.params_compact:,}" in shown and "equal" in shown
    assert compaction.graphics.isVisible()
    # the verdicts on the logits: float32 rounding that changed a class, and a compaction not exact
    flipped = dataclasses.replace(
        result,
        logits_equal=False,
        logits_max_difference=0.09,
        predictions_equal=False,
        predictions_differing=1,
        float64_logits_max_difference=1e-15,
        float64_predictions_equal=True,
    )
    colour, text = logits_verdict(flipped)
    assert colour == WARN_COLOUR and f"1 of {result.test_images} test images" in text and "exact" in text
    wrong = dataclasses.replace(flipped, float64_logits_max_difference=0.3)
    colour, text = logits_verdict(wrong)
    assert colour == BAD_COLOUR and "not exact" in text
    # a compaction written to a folder
    out = tmp_path / "compact"
    compaction.compact(str(out))
    qtbot.waitUntil(lambda: not compaction.waiting, timeout=TIMEOUT_MS)
    assert {p.name for p in out.iterdir()} >= {"mask.npz", "compact_model.npz", "compaction.json"}

    # the channel sparsity typed into the panel reaches the run; the next update meets it
    editor = panel.editor("pruning.sparsity")
    assert isinstance(editor, QLineEdit)
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "0.25")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.latest.config.pruning.sparsity == 0.25, timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    before = _frame(window).snapshot.n_updates
    _step(window, qtbot, "batch", 5)  # an update falls due every 4 batches
    frame = _frame(window)
    assert frame.snapshot.n_updates > before
    assert frame.snapshot.channel_sparsity == pytest.approx(3 / 12)  # round(0.25 * 12) masked
    _show(window, "channel_masks")
    assert "sparsity 0.25" in masks.plot.titleLabel.text

    # every view fits its area, nothing clipped, no legend over data
    problems = []
    for width, height in SIZES:
        window.resize(width, height)
        for key in VIEWS:
            _show(window, key)
            view = window.views[key]
            problems += [f"{width}x{height} {p}" for p in _check_widgets(view) + _check_plots(view)]
    assert not problems, "\n".join(problems)

    # to the classifier and back
    classifier = tmp_path / "classifier_tiny.yaml"
    classifier.write_text(CLASSIFIER_TINY)
    assert window.open_preset(str(classifier))
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.experiment == "classifier",
        timeout=TIMEOUT_MS,
    )
    settle(window, qtbot)
    assert "channel_masks" not in window.views and "masks" in window.views
    _step(window, qtbot, "batch")
    assert window.latest is not None and window.latest.snapshot.step > 0
    assert window.open_preset(str(tmp_path / "channels_tiny.yaml"))
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.experiment == "channels",
        timeout=TIMEOUT_MS,
    )
    settle(window, qtbot)
    assert list(window.views) == VIEWS
    _step(window, qtbot, "batch")
    frame = _frame(window)
    assert frame.snapshot.step == 1 and frame.snapshot.n_updates == 0
    for key in VIEWS:
        _show(window, key)
        assert window.views[key].frame is frame, key
    masks = window.views["channel_masks"]
    assert isinstance(masks, ChannelMasksView) and masks.cells_shown == sum(SIZES_TINY)
    assert "no mask update yet" in masks.plot.titleLabel.text
    fresh = window.views["compaction"]
    assert isinstance(fresh, CompactionView) and fresh.result is None


def test_grid_layout_wraps_long_blocks_and_keeps_cells_readable() -> None:
    vgg = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
    small = choose_layout((16, 32, 32), 600.0, 400.0)
    assert small.width == 32 and not small.wraps and small.lines == 3
    layout = choose_layout(vgg, 500.0, 600.0)
    assert layout.wraps and layout.width < 512 and layout.gap == 1
    side = min(500.0 / layout.width, 600.0 / layout.lines)
    assert side >= 5.0  # cells a few pixels wide, not a fraction of one
    lookup = layout.lookup()
    np.testing.assert_array_equal(np.sort(lookup[lookup >= 0]), np.arange(sum(vgg)))
    # a block starts on a fresh line, its channels left-aligned, one empty line between blocks
    grid = GridLayout((3, 5), 2)
    assert grid.block_lines == (2, 3) and grid.first_lines == (0, 3) and grid.lines == 6
    np.testing.assert_array_equal(grid.lookup(), [[0, 1], [2, -1], [-1, -1], [3, 4], [5, 6], [7, -1]])


def test_colour_scale_follows_the_largest_importance_steadily() -> None:
    assert colour_top(0.0, 0.55) == pytest.approx(0.6)
    assert colour_top(0.6, 0.5) == 0.6  # within 70 % to 100 %: unchanged
    assert colour_top(0.6, 0.3) == pytest.approx(0.3) and colour_top(0.6, 0.61) == pytest.approx(0.8)
    assert colour_top(0.6, 0.0) == 0.6


@pytest.mark.parametrize(
    "extra", [{}, {"pruning.anneal": True, "pruning.grace": 1, "pruning.normalise": True}]
)
def test_the_predicted_update_is_the_engines_next_update(extra: dict[str, object]) -> None:
    import yaml

    from sim.config import config_from_dict
    from sim.engine import Engine
    from sim.events import FORMED, REMOVED

    config = config_from_dict(yaml.safe_load(TINY), source="test").replace_all(
        {"pruning.fraction": 0.5, "run.duration": 6.0, **extra}, source="test"
    )
    checked = 0
    with Engine.build(config, backend="cpu", seed=3) as eng:
        for i in range(10):  # an update falls due after every 4th batch: predict it, then make it
            eng.step(4 if i == 0 else 3)
            eng.take_events()
            snap = eng.snapshot()
            pruned, regrown = predict_update(snap, config)
            eng.step(1)
            events = eng.take_events()
            offsets = np.concatenate([[0], np.cumsum(snap.sizes)])
            flat = offsets[events["projection"].astype(int)] + events["pre"]
            assert sorted(flat[events["kind"] == REMOVED]) == np.flatnonzero(pruned).tolist()
            assert sorted(flat[events["kind"] == FORMED]) == np.flatnonzero(regrown).tolist()
            checked += int(pruned.any() or regrown.any())
    assert checked >= 5  # the updates changed the mask


def test_small_helpers() -> None:
    assert si(14902) == "14.9k" and si(3.2e8) == "320M" and si(12) == "12"
    assert compact_layer_string("16C3-AP2-32C3-AP2-6FC", (5, 17)) == "5C3-AP2-17C3-AP2-6FC"
    edges, counts = log_histogram(np.array([0.0, 1e-3, 5e-3, 1.0]), -4, -1, per_decade=1)
    np.testing.assert_allclose(edges, [1e-4, 1e-3, 1e-2, 1e-1])
    assert counts.tolist() == [1.0, 2.0, 1.0]  # zero in the first bin, 1.0 in the last


def test_views_export_without_a_frame(qtbot: QtBot) -> None:
    from gui.context import ViewContext

    context = ViewContext()
    for cls in (ChannelMasksView, KeptView, ImportanceView, LearningView, CostView, CompactionView):
        view = cls(context)
        qtbot.addWidget(view)
        image = view.export_image(320, 200)
        assert (image.width(), image.height()) == (320, 200)
