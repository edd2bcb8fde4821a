"""The sparse classifier on the window: its views draw the run, live changes apply, switching back works.

The window starts on the topographic map (the ``window`` fixture), opens a
tiny classifier preset written here, runs two epochs by the Step epoch
action, checks what every view drew against the snapshot and the history,
changes the learning rate through the parameter panel, checks that every
view fits its area at common screen sizes, and goes back to the map.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QCheckBox, QLineEdit
from pytestqt.qtbot import QtBot

from app.experiment import register_app_experiment
from app.experiments.classifier.experiment import APP_EXPERIMENT
from app.experiments.classifier.frame import Frame
from gui.experiments.classifier.views.activity_view import ActivityView, example_caption
from gui.experiments.classifier.views.common import signed_ticks, symmetric_limit, training_progress
from gui.experiments.classifier.views.images import strongest_per_block
from gui.experiments.classifier.views.learning_view import ACCURACY_REFERENCES, LearningView, chance_level
from gui.experiments.classifier.views.masks_view import MasksView, last_update_step
from gui.experiments.classifier.views.rewiring_view import RewiringView
from gui.experiments.classifier.views.weights_view import WeightsView, signed_histogram
from gui.main_window import MainWindow
from sim.events import FORMED, REMOVED
from sim.experiment import register_experiment, unregister_experiment
from sim.experiments.classifier.experiment import EXPERIMENT
from tests.gui.conftest import TIMEOUT_MS, settle
from tests.gui.test_layout import _check_plots, _check_widgets

#: The tiny network: 64 inputs (8 x 8 digits), 24 hidden, 10 classes; 8 training and 2 test batches
#: of 10 steps per epoch.
TINY = """\
experiment: classifier
name: classifier_tiny
description: "A tiny digits classifier for the window's tests"
network:
  n_hidden: 24
connectivity:
  p_in: 0.2
  p_rec: 0.2
learning:
  lr: 0.003
rewiring:
  l1: 0.0001
data:
  name: digits
  n_steps: 10
  batch_size: 8
  n_train: 64
  n_test: 16
run:
  record_interval: 0.05
"""
N_IN, N_HIDDEN, N_OUT, TRAIN_BATCHES = 64, 24, 10, 8
EPOCHS = 2
VIEWS = ["masks", "rewiring", "learning", "activity", "weights"]
#: Window sizes at which every classifier view must fit its area (1152 x 720: the window opens at
#: 90 % of a 1280 x 800 screen).
SIZES = [(1152, 720), (1280, 800), (1920, 1080)]


@pytest.fixture(autouse=True)
def classifier_known() -> Iterator[None]:
    """The classifier known to the core and the application layer for one test."""
    register_experiment(EXPERIMENT)
    register_app_experiment(APP_EXPERIMENT)
    yield
    unregister_experiment(EXPERIMENT.key)


def _open_classifier(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    preset = tmp_path / "classifier_tiny.yaml"
    preset.write_text(TINY)
    assert window.open_preset(str(preset))
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.experiment == "classifier",
        timeout=TIMEOUT_MS,
    )
    settle(window, qtbot)


def _show(window: MainWindow, key: str) -> None:
    window.show_view(key)
    for _ in range(3):
        QApplication.processEvents()


def _frame(window: MainWindow) -> Frame:
    frame = window.latest_frame
    assert isinstance(frame, Frame)
    return frame


def test_classifier_views_draw_the_run_and_the_window_switches_back(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ACCURACY_REFERENCES, "digits", {"dense": 0.95})
    _open_classifier(window, qtbot, tmp_path)
    assert list(window.views) == VIEWS
    assert [a.text() for a in window.run_controls.step_actions.values()] == [
        "Step",
        "Step batch",
        "Step epoch",
    ]
    panel = window.parameter_panel
    assert panel is not None and "learning.lr" in panel._rows and "rewiring.temperature" in panel._rows
    assert "stdp.a_plus" not in panel._rows
    controls = window.run_controls
    assert controls.run_for_box.suffix() == " epochs" and not controls.speed_box.isEnabled()

    for _ in range(EPOCHS):
        window.run_controls.step_actions["epoch"].trigger()
        settle(window, qtbot)
    frame = _frame(window)
    snap, history = frame.snapshot, frame.history
    assert snap.epoch == EPOCHS and len(history.rows) == EPOCHS * TRAIN_BATCHES
    for key in VIEWS:
        _show(window, key)
        assert window.views[key].frames_drawn > 0, key
        assert window.views[key].frame is frame, key

    masks = window.views["masks"]
    assert isinstance(masks, MasksView)
    for name, tab in (("in", snap.tin), ("rec", snap.trec)):
        image = masks.images[name]
        assert (
            image.image.shape == (tab.n_pre, tab.n_post) == ((N_IN if name == "in" else N_HIDDEN), N_HIDDEN)
        )
        assert int(np.isfinite(image.image).sum()) == tab.n_synapses
        low, high = image.levels
        assert high > 0 and low == -high
        assert image.colours.limit == high and masks.synapses[name] == tab.n_synapses
        pairs = N_HIDDEN * (N_HIDDEN - 1) if name == "rec" else N_IN * N_HIDDEN  # no self-connections
        assert tab.pairs == pairs
        share = 100.0 * tab.n_synapses / pairs
        assert f"{tab.n_synapses:,} synapses ({share:.1f}%)" in image.plot.titleLabel.text
        assert np.all(history.last_events["step"] == last_update_step(snap))
        mine = history.last_events[history.last_events["projection"] == (0 if name == "in" else 1)]
        assert len(image.pruned.data) == int((mine["kind"] == REMOVED).sum())
        assert len(image.regrown.data) == int((mine["kind"] == FORMED).sum())
        # a regrown synapse is present, and sits where the marker is
        for x, y in zip(*image.regrown.getData(), strict=True):
            assert np.isfinite(image.image[int(y), int(x)])

    rewiring = window.views["rewiring"]
    assert isinstance(rewiring, RewiringView)
    columns = history.table()
    x, pruned = rewiring.curves["removed_rec"].getData()
    assert len(x) == len(history.rows) == len(pruned)
    np.testing.assert_array_equal(pruned, columns["removed_rec"])
    np.testing.assert_allclose(x[-1], EPOCHS)  # the last training batch ends the second epoch
    _, synapses = rewiring.curves["synapses_in"].getData()
    assert np.all(synapses == snap.tin.n_synapses)  # DEEP R keeps the count

    learning = window.views["learning"]
    assert isinstance(learning, LearningView)
    t_test, accuracy = learning.test_accuracy.getData()
    assert len(t_test) == snap.epoch == EPOCHS
    np.testing.assert_allclose(t_test, np.arange(1, EPOCHS + 1))
    tested = columns["test_accuracy"][np.isfinite(columns["test_accuracy"])]
    np.testing.assert_allclose(accuracy, 100.0 * tested)
    assert learning.chance.value == pytest.approx(100.0 / N_OUT)
    assert learning.references[0].value == pytest.approx(95.0) and not learning.references[1].visible
    assert learning.references[0].label == "dense: 95.0%"
    assert len(learning.train_loss.getData()[0]) == len(history.rows)

    activity = window.views["activity"]
    assert isinstance(activity, ActivityView)
    assert snap.has_example
    spikes = activity.raster.values
    assert spikes.shape == (N_HIDDEN, snap.trial_steps)
    assert int(np.isfinite(spikes).sum()) == int(snap.shown_z.sum())
    _, label_trace = activity.label_trace.getData()
    np.testing.assert_allclose(label_trace, snap.shown_y[:, int(snap.shown_info[1])])
    assert example_caption(snap.shown_info)[0] in activity.plots["raster"].titleLabel.text
    _, rate_counts = activity.histogram.getData()
    assert rate_counts.sum() == N_HIDDEN

    weights = window.views["weights"]
    assert isinstance(weights, WeightsView)
    for name, tab in (("in", snap.tin), ("rec", snap.trec)):
        negative = weights.histograms[f"negative_{name}"].getData()[1].sum()
        positive = weights.histograms[f"positive_{name}"].getData()[1].sum()
        assert negative + positive == tab.n_synapses
        assert weights.histograms[f"in_degree_{name}"].getData()[1].sum() == N_HIDDEN
        assert weights.histograms[f"out_degree_{name}"].getData()[1].sum() == tab.n_pre

    # a live parameter typed into the panel reaches the simulation
    editor = panel.editor("learning.lr")
    assert isinstance(editor, QLineEdit)
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "0.01")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.latest.config.learning.lr == 0.01, timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    window.run_controls.step_actions["batch"].trigger()
    settle(window, qtbot)
    assert _frame(window).config.learning.lr == 0.01

    # DEEP R switched off live: the next batch rewires nothing, and the views say so
    switch = panel.editor("rewiring.enabled")
    assert isinstance(switch, QCheckBox) and switch.isChecked()
    switch.click()
    qtbot.waitUntil(lambda: not window.latest.config.rewiring.enabled, timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    window.run_controls.step_actions["batch"].trigger()
    settle(window, qtbot)
    _show(window, "masks")
    for image in masks.images.values():
        assert "DEEP R off" in image.plot.titleLabel.text
        assert len(image.pruned.data) == len(image.regrown.data) == 0
    assert _frame(window).history.rows.row(-1)["removed_rec"] == 0

    # every view fits its area, nothing clipped, no legend over data
    problems = []
    for width, height in SIZES:
        window.resize(width, height)
        for key in VIEWS:
            _show(window, key)
            view = window.views[key]
            problems += [f"{width}x{height} {p}" for p in _check_widgets(view) + _check_plots(view)]
    assert not problems, "\n".join(problems)

    # back to the topographic map, which runs as before
    assert window.open_preset("demo")
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.experiment == "topomap", timeout=TIMEOUT_MS
    )
    settle(window, qtbot)
    assert "masks" not in window.views and "map" in window.views
    assert controls.run_for_box.suffix() == " s" and controls.speed_box.isEnabled()
    assert controls.rtf_label.text().startswith("t = ") and controls.rtf_label.text().split()[3] == "s"
    window.run_controls.step_actions["stimulus"].trigger()
    settle(window, qtbot)
    assert window.latest is not None and window.latest.snapshot.step > 0
    _show(window, "synapses")
    assert window.views["synapses"].frames_drawn > 0


def test_strongest_per_block_keeps_every_synapse_in_sight() -> None:
    image = np.full((7, 5), np.nan, np.float32)
    image[0, 0], image[0, 1], image[6, 4], image[3, 2] = 0.5, -0.9, 2.0, 1e-12
    pooled = strongest_per_block(image, 2, 2)
    assert pooled.shape == (4, 3)
    assert pooled[0, 0] == np.float32(-0.9)  # the larger magnitude wins, sign kept
    assert pooled[3, 2] == 2.0 and pooled[1, 1] == np.float32(1e-12)  # a tiny weight stays a synapse
    assert np.isnan(pooled[2, 0])  # an empty block stays empty
    assert strongest_per_block(image, 1, 1) is image


@pytest.mark.parametrize(
    ("epoch", "step", "expected"),
    [
        (0, 0, None),  # nothing trained yet
        (0, 9, None),  # inside the first trial
        (0, 10, 10),  # the first training batch just ended
        (0, 35, 30),
        (0, 80, 80),  # the last training batch of the epoch
        (0, 95, 80),  # testing: the newest update is still the epoch's last training batch's
        (1, 100, 80),  # the next epoch began: likewise
        (1, 110, 110),
    ],
)
def test_last_update_step_follows_the_epochs_batches(epoch: int, step: int, expected: int | None) -> None:
    """8 training and 2 test batches of 10 steps per epoch: DEEP R runs at each training batch's end."""
    snap = SimpleNamespace(epoch=epoch, step=step, trial_steps=10, train_batches=8, test_batches=2)
    assert last_update_step(snap) == expected  # type: ignore[arg-type]


def test_signed_ranges_and_histograms() -> None:
    assert symmetric_limit(0.0, 0.7) == 1.0 and symmetric_limit(1.0, 0.5) == 1.0  # steady
    assert symmetric_limit(1.0, 1.3) == 2.0 and symmetric_limit(1.0, 0.3) == 0.5
    ticks = signed_ticks(2.0, False, True)
    assert [p for p, _ in ticks] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert ticks[0][1] == "-2" and ticks[-1][1] == "\u22652"
    weights = np.array([-3.0, -0.5, -1e-12, 0.0, 1e-12, 0.4, 0.9], np.float32)
    _, negative, edges, positive = signed_histogram(weights, 1.0, half_bins=4)
    assert negative.sum() == 3 and positive.sum() == 4 and negative[0] == 1  # -3 counts at the end
    assert edges[0] == 0.0 and edges[-1] == 1.0
    columns = {"epoch": np.array([0.0, 0.0, 1.0]), "batch": np.array([0.0, 3.0, 1.0])}
    np.testing.assert_allclose(training_progress(columns, 4), [0.25, 1.0, 1.5])
    assert chance_level(10) == 10.0
