"""The window's controls as a user meets them: refusals that go away, Space, F11, model time, notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from app.commands import Run
from app.frame import SimState
from gui.main_window import MainWindow
from gui.widgets.run_controls import format_model_time
from tests.gui.conftest import TIMEOUT_MS, settle


def type_and_enter(qtbot: QtBot, editor: QLineEdit, text: str) -> None:
    focus(qtbot, editor)
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def focus(qtbot: QtBot, widget: QWidget) -> None:
    """Give ``widget`` the keyboard focus (its window activated first, as a click would)."""
    widget.window().activateWindow()
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=5000)


def field(window: MainWindow, path: str) -> QLineEdit:
    assert window.parameter_panel is not None
    editor = window.parameter_panel.editor(path)
    assert isinstance(editor, QLineEdit)
    return editor


def test_a_valid_value_after_a_refused_one_clears_the_error(window: MainWindow, qtbot: QtBot) -> None:
    """Typing the applied value again (which changes nothing) still ends the refusal everywhere."""
    panel = window.parameter_panel
    assert panel is not None
    editor = field(window, "rewiring.ff.p_form")
    applied = editor.text()
    type_and_enter(qtbot, editor, "1.6")
    assert "rewiring.ff.p_form" in panel.message()
    assert "rewiring.ff.p_form" in window.message_bar.text()
    type_and_enter(qtbot, editor, applied)
    assert panel.message() == ""
    assert window.message_bar.text() == ""
    assert editor.text() == applied and not editor.styleSheet()


def test_a_refused_value_leaves_its_field_with_the_focus(window: MainWindow, qtbot: QtBot) -> None:
    """The refused text stays while the user can correct it; when focus leaves, the applied value returns
    and the panel still says what was refused."""
    panel = window.parameter_panel
    assert panel is not None
    editor = field(window, "stdp.a_plus")
    applied = editor.text()
    type_and_enter(qtbot, editor, "-1")
    assert editor.text() == "-1" and editor.styleSheet()
    focus(qtbot, field(window, "stdp.a_minus"))
    qtbot.waitUntil(lambda: editor.text() == applied, timeout=5000)
    assert not editor.styleSheet()
    assert "stdp.a_plus" in panel.message()


def test_opening_another_preset_clears_a_refusal(window: MainWindow, qtbot: QtBot) -> None:
    panel = window.parameter_panel
    assert panel is not None
    type_and_enter(qtbot, field(window, "rewiring.ff.p_form"), "1.6")
    assert panel.message()
    assert window.open_preset("bamford2010")
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.name == "bamford2010", timeout=TIMEOUT_MS
    )
    settle(window, qtbot)
    assert panel.message() == ""
    assert not field(window, "rewiring.ff.p_form").styleSheet()


def test_space_runs_and_pauses_while_a_field_has_the_focus(window: MainWindow, qtbot: QtBot) -> None:
    editor = field(window, "stimulus.f_peak")
    focus(qtbot, editor)
    before = editor.text()
    qtbot.keyClick(editor, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.state is SimState.RUNNING, timeout=TIMEOUT_MS)
    qtbot.keyClick(editor, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.state is SimState.PAUSED, timeout=TIMEOUT_MS)
    assert editor.text() == before  # no space typed into the number
    # The parameter search types spaces between its words.
    assert window.parameter_panel is not None
    search = window.parameter_panel.filter_edit
    focus(qtbot, search)
    qtbot.keyClicks(search, "rate form")
    assert search.text() == "rate form"
    assert window.state is SimState.PAUSED


def test_presentation_mode_keeps_one_area(window: MainWindow, qtbot: QtBot) -> None:
    shown = [a for a, tabs in window.areas.items() if tabs.isVisible()]
    assert len(shown) > 1
    window.present_action.trigger()
    try:
        assert window.presenting
        assert [a for a, tabs in window.areas.items() if tabs.isVisible()] == ["left"]
        assert not window.parameter_dock.isVisible()
        # Bringing a view of another area forward presents that area instead, still alone.
        other = next(
            key
            for key, view in window.views.items()
            if window.areas["left"].indexOf(view) < 0 and window.areas["centre"].indexOf(view) >= 0
        )
        window.show_view(other)
        assert [a for a, tabs in window.areas.items() if tabs.isVisible()] == ["centre"]
        # Opening a preset keeps presenting one area.
        assert window.open_preset("bamford2010")
        assert sum(tabs.isVisible() for tabs in window.areas.values()) == 1
    finally:
        window.present_action.trigger()
    assert not window.presenting
    assert [a for a, tabs in window.areas.items() if tabs.isVisible()] == shown
    assert window.parameter_dock.isVisible()


def test_one_time_step_changes_the_model_time_shown(window: MainWindow, qtbot: QtBot) -> None:
    label = window.run_controls.rtf_label
    before = label.text()
    window.run_controls.step_actions[next(iter(window.run_controls.step_actions))].trigger()
    settle(window, qtbot)
    assert label.text() != before
    assert label.text().startswith("t = 0.0001 s")


@pytest.mark.parametrize(
    ("t", "dt_ms", "text"),
    [(0.0001, 0.1, "t = 0.0001 s"), (12.3, 1.0, "t = 12.300 s"), (1234.5, 0.25, "t = 1,234.50000 s")],
)
def test_model_time_has_the_decimals_of_a_step(t: float, dt_ms: float, text: str) -> None:
    assert format_model_time(t, dt_ms) == text


def test_status_bar_labels_leave_room_for_messages(window: MainWindow, qtbot: QtBot) -> None:
    """The permanent labels are short (reasons go to the tooltip); messages go to the message bar."""
    window.resize(1366, 740)
    settle(window, qtbot)
    bar = window.statusBar()
    assert bar is not None
    labels = (window.state_label, window.backend_label, window.fps_label)
    assert sum(label.sizeHint().width() for label in labels) < bar.width() // 2
    assert bar.currentMessage() == ""
    window.show_message("info", "a message for the bar above the views")
    assert bar.currentMessage() == ""
    assert "a message for the bar" in window.message_bar.text()


def test_loading_a_checkpoint_continues_the_time_plots(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    window.send(Run(duration=12.0))
    qtbot.waitUntil(
        lambda: window.state is SimState.IDLE and window.latest.snapshot.t >= 12.0, timeout=TIMEOUT_MS
    )  # type: ignore[union-attr]
    settle(window, qtbot)
    assert window.history is not None
    saved_t = window.history.table()["t"].copy()
    assert len(saved_t) >= 3
    path = tmp_path / "c.npz"
    window.save_checkpoint(path)
    settle(window, qtbot)
    window.send(Run(duration=10.0))
    qtbot.waitUntil(
        lambda: window.state is SimState.IDLE and window.latest.snapshot.t >= 22.0, timeout=TIMEOUT_MS
    )  # type: ignore[union-attr]
    window.load_checkpoint(path)
    settle(window, qtbot)
    assert "loaded checkpoint" in window.message_bar.text()
    assert window.history is not None
    np.testing.assert_array_equal(window.history.table()["t"][: len(saved_t)], saved_t)
    assert window.history.table()["t"][-1] <= 12.0 + 1e-9


def test_installing_another_experiment_rebuilds_its_menus(
    window: MainWindow, qtbot: QtBot, request: pytest.FixtureRequest
) -> None:
    """View, Export and the experiment's own menus follow the experiment shown: none points at a view
    or tool of the experiment before (a stale entry would raise KeyError)."""
    from gui.experiment import Experiment, ParameterGroup, ViewSpec
    from gui.experiments.topomap.experiment import TOPOGRAPHIC_MAP
    from gui.experiments.topomap.views.map_quality_view import MapQualityView
    from gui.experiments.topomap.views.synapses_view import SynapsesView
    from sim.experiment import unregister_experiment
    from tests.support import toy as toy_experiment

    toy_experiment.register()
    request.addfinalizer(lambda: unregister_experiment(toy_experiment.KEY))
    toy = Experiment(
        "toy",
        "Toy",
        (ViewSpec(MapQualityView, "left"), ViewSpec(SynapsesView, "right")),
        (ParameterGroup("Rewiring", "rewiring"), ParameterGroup("Neuron", "neuron")),
    )
    bar = window.menuBar()
    assert bar is not None

    def menu_titles() -> list[str]:
        return [a.text() for a in bar.actions()]

    def entries(menu: Any, prefix: str = "", suffix: str = "") -> list[tuple[str, str]]:
        return [
            (a.text(), a.shortcut().toString())
            for a in menu.actions()
            if a.text().startswith(prefix) and a.text().endswith(suffix) and a.text()
        ]

    topomap_menus = menu_titles()
    assert "&Lesion" in topomap_menus
    assert len(entries(window._view_menu, "Show ")) == 7
    window.context.set_lesion_tool("cut")
    window._install_experiment(toy)
    assert menu_titles() == [t for t in topomap_menus if t != "&Lesion"]
    assert window.context.lesion_tool == ""
    assert entries(window._view_menu, "Show ") == [
        ("Show Map quality", "Ctrl+1"),
        ("Show Synapses", "Ctrl+2"),
    ]
    assert [t for t, _ in entries(window._export_menu, suffix="as PNG…")] == [
        "Map quality as PNG…",
        "Synapses as PNG…",
    ]
    show_second = next(a for a in window._view_menu.actions() if a.text() == "Show Synapses")
    show_second.trigger()  # reaches a view of this experiment
    assert window.areas["right"].currentWidget() is window.views["synapses"]
    window._install_experiment(TOPOGRAPHIC_MAP)
    assert menu_titles() == topomap_menus
    assert [s for _, s in entries(window._view_menu, "Show ")] == [f"Ctrl+{i}" for i in range(1, 8)]
    settle(window, qtbot)
    assert window.latest is not None
