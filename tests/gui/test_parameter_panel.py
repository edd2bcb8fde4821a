"""The parameter panel: generated editors, validation, refresh without echo, pending structural edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget
from pytestqt.qtbot import QtBot

import gui  # noqa: F401  (binds the plotting libraries to PyQt6 first)
import gui.widgets.parameter_panel as panel_module
from gui.experiments.topomap.experiment import TOPOGRAPHIC_MAP
from gui.widgets.parameter_editors import declared_types, format_value
from gui.widgets.parameter_panel import (
    LIVE_TEXT,
    OTHER_TITLE,
    STRUCTURAL_MARK,
    STRUCTURAL_TEXT,
    ParameterPanel,
    readable_label,
)
from sim.experiments.topomap.config import ModelConfig, iter_params, param_spec

#: The parameter groups of the topographic-map experiment (the window's panel).
GROUPS = TOPOGRAPHIC_MAP.parameter_groups

ALL_PATHS = [path for path, _, _ in iter_params()]


@pytest.fixture
def panel(qtbot: QtBot) -> ParameterPanel:
    """A shown panel with the topographic experiment's groups."""
    p = ParameterPanel(GROUPS, ModelConfig())
    qtbot.addWidget(p)
    p.resize(330, 800)
    p.show()
    return p


def type_into(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Replace the text of a line edit or spin box by typing ``text`` and pressing Return."""
    if isinstance(widget, QLineEdit):
        widget.clear()
    elif isinstance(widget, QSpinBox):
        widget.selectAll()
    widget.setFocus()
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def line_edit(panel: ParameterPanel, path: str) -> QLineEdit:
    widget = panel.editor(path)
    assert isinstance(widget, QLineEdit)
    return widget


def has_error_style(widget: QWidget) -> bool:
    return "border" in widget.styleSheet()


def has_pending_style(widget: QWidget) -> bool:
    return "background" in widget.styleSheet()


# -- layout ------------------------------------------------------------------------------------------


def test_every_parameter_appears_exactly_once(panel: ParameterPanel) -> None:
    by_group = panel.parameters_by_group()
    shown = [path for paths in by_group.values() for path in paths]
    assert sorted(shown) == sorted(ALL_PATHS)
    assert len(shown) == len(set(shown))
    assert list(by_group) == [g.title for g in GROUPS]  # every parameter is covered: no "Other"
    assert "rewiring.ff.p_form" in by_group["Rewiring FF"]
    assert not any(p.startswith(("rewiring.ff.", "rewiring.lat.")) for p in by_group["Rewiring"])
    for path in ALL_PATHS:
        assert panel.editor(path).isVisibleTo(panel)


def test_parameters_outside_every_group_go_to_other(qtbot: QtBot) -> None:
    p = ParameterPanel(GROUPS[:2], ModelConfig())
    qtbot.addWidget(p)
    by_group = p.parameters_by_group()
    assert list(by_group) == ["Stimulus", "Neurons", OTHER_TITLE]
    expected = [path for path in ALL_PATHS if not path.startswith(("stimulus.", "neuron."))]
    assert list(by_group[OTHER_TITLE]) == expected


def test_editor_widget_suits_the_declared_type(panel: ParameterPanel) -> None:
    types = declared_types(ModelConfig())
    assert set(types) == set(ALL_PATHS)
    for path, spec, value in iter_params():
        widget = panel.editor(path)
        kind = types[path]
        if kind == "bool":
            assert isinstance(widget, QCheckBox) and widget.isChecked() == value
        elif kind == "str":
            assert isinstance(widget, QComboBox) and widget.currentText() == value
            assert [widget.itemText(i) for i in range(widget.count())] == list(spec.choices or ())
        elif kind == "int" and spec.hi is not None and spec.hi < 2**31:
            assert isinstance(widget, QSpinBox) and widget.value() == value
            assert (widget.minimum(), widget.maximum()) == (spec.lo, spec.hi)
        else:
            assert isinstance(widget, QLineEdit) and widget.text() == format_value(value)
    assert isinstance(panel.editor("run.seed"), QLineEdit)  # 64-bit range: no spin box


def test_labels_tooltips_and_structural_marks(panel: ParameterPanel) -> None:
    for path, spec, _ in iter_params():
        label = panel.label(path)
        assert readable_label(path.rsplit(".", 1)[-1]) in label.text()
        tooltip = panel.editor(path).toolTip()
        assert path in tooltip and spec.doc in tooltip
        if spec.unit:
            assert spec.unit in tooltip
        if spec.live:
            assert LIVE_TEXT in tooltip and STRUCTURAL_MARK not in label.text()
            assert not label.font().italic()
        else:
            assert STRUCTURAL_TEXT in tooltip and label.text().endswith(STRUCTURAL_MARK)
            assert label.font().italic()
    assert "[0, 1]" in panel.editor("rewiring.ff.p_form").toolTip()
    assert STRUCTURAL_MARK in panel.legend_label.text()


# -- edits ---------------------------------------------------------------------------------------------


def test_valid_float_is_emitted_as_a_float(qtbot: QtBot, panel: ParameterPanel) -> None:
    path = "stimulus.f_peak"
    assert param_spec(path).live
    with qtbot.waitSignal(panel.parameter_edited) as blocker, qtbot.assertNotEmitted(panel.error_shown):
        type_into(qtbot, panel.editor(path), "1.25e2")
    assert blocker.args == [path, 125.0]
    assert isinstance(blocker.args[1], float)
    assert line_edit(panel, path).text() == "125"
    assert panel.pending_values() == {}


def test_unchanged_text_emits_nothing(qtbot: QtBot, panel: ParameterPanel) -> None:
    widget = panel.editor("stimulus.sigma")
    with qtbot.assertNotEmitted(panel.parameter_edited), qtbot.assertNotEmitted(panel.error_shown):
        type_into(qtbot, widget, "2.0")
    assert line_edit(panel, "stimulus.sigma").text() == "2"


def test_out_of_range_value_is_refused_with_a_message(qtbot: QtBot, panel: ParameterPanel) -> None:
    path = "rewiring.ff.p_form"
    widget = line_edit(panel, path)
    with qtbot.waitSignal(panel.error_shown) as blocker, qtbot.assertNotEmitted(panel.parameter_edited):
        type_into(qtbot, widget, "1.6")
    message = blocker.args[0]
    assert path in message and "[0, 1]" in message and "1.6" in message
    assert message in panel.message()
    assert panel.message_label.isVisible()
    assert has_error_style(widget) and widget.text() == "1.6"
    # Escape restores the applied value and clears the error.
    qtbot.keyClick(widget, Qt.Key.Key_Escape)
    assert widget.text() == format_value(ModelConfig().rewiring.ff.p_form)
    assert not has_error_style(widget)
    assert panel.message() == ""


def test_text_that_is_not_a_number_is_refused(qtbot: QtBot, panel: ParameterPanel) -> None:
    path = "neuron.tau_m"
    with qtbot.waitSignal(panel.error_shown) as blocker, qtbot.assertNotEmitted(panel.parameter_edited):
        type_into(qtbot, panel.editor(path), "abc")
    assert path in blocker.args[0] and "'abc'" in blocker.args[0]
    assert has_error_style(panel.editor(path))


def test_cross_field_rule_is_checked(qtbot: QtBot, panel: ParameterPanel) -> None:
    with qtbot.waitSignal(panel.error_shown) as blocker, qtbot.assertNotEmitted(panel.parameter_edited):
        type_into(qtbot, panel.editor("neuron.v_thresh"), "-75")
    message = blocker.args[0]
    assert message.startswith("neuron.v_thresh:") and "neuron.v_reset" in message


def test_refresh_restores_a_refused_editor(qtbot: QtBot, panel: ParameterPanel) -> None:
    widget = line_edit(panel, "stdp.a_plus")
    type_into(qtbot, widget, "-1")
    assert has_error_style(widget)
    with qtbot.assertNotEmitted(panel.parameter_edited), qtbot.assertNotEmitted(panel.error_shown):
        panel.set_config(ModelConfig())
    assert widget.text() == format_value(ModelConfig().stdp.a_plus)
    assert not has_error_style(widget)


def test_bool_and_choice_editors_emit_their_values(qtbot: QtBot, panel: ParameterPanel) -> None:
    check = panel.editor("stdp.enabled")
    assert isinstance(check, QCheckBox) and check.isChecked()
    with qtbot.waitSignal(panel.parameter_edited) as blocker:
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert blocker.args == ["stdp.enabled", False]

    combo = panel.editor("stimulus.input")
    assert isinstance(combo, QComboBox)
    with qtbot.waitSignal(panel.parameter_edited) as blocker:
        combo.setCurrentIndex(combo.findText("uncorrelated"))
    assert blocker.args == ["stimulus.input", "uncorrelated"]


def test_choice_that_breaks_a_cross_field_rule_is_refused(qtbot: QtBot, panel: ParameterPanel) -> None:
    combo = panel.editor("connectivity.wiring")
    assert isinstance(combo, QComboBox)
    with qtbot.waitSignal(panel.error_shown) as blocker, qtbot.assertNotEmitted(panel.parameter_edited):
        combo.setCurrentIndex(combo.findText("pairwise_bernoulli"))
    assert "connectivity.wiring" in blocker.args[0] and "slot" in blocker.args[0]
    assert has_error_style(combo)
    assert panel.pending_values() == {}
    qtbot.keyClick(combo, Qt.Key.Key_Escape)
    assert combo.currentText() == ModelConfig().connectivity.wiring
    assert not has_error_style(combo)


def test_spin_box_and_seed_editors(qtbot: QtBot, panel: ParameterPanel) -> None:
    spin = panel.editor("rewiring.s_max")
    assert isinstance(spin, QSpinBox)
    with qtbot.waitSignal(panel.error_shown) as err, qtbot.assertNotEmitted(panel.parameter_edited):
        type_into(qtbot, spin, "20")  # below the initial fan-in (16 + 16)
    assert "rewiring.s_max" in err.args[0] and has_error_style(spin)
    qtbot.keyClick(spin, Qt.Key.Key_Escape)
    assert spin.value() == ModelConfig().rewiring.s_max and not has_error_style(spin)
    with qtbot.waitSignal(panel.parameter_edited) as blocker:
        type_into(qtbot, panel.editor("rewiring.s_max"), "40")
    assert blocker.args == ["rewiring.s_max", 40]
    big = 2**40 + 3
    with qtbot.waitSignal(panel.parameter_edited) as blocker:
        type_into(qtbot, panel.editor("run.seed"), str(big))
    assert blocker.args == ["run.seed", big] and isinstance(blocker.args[1], int)
    with qtbot.waitSignal(panel.error_shown) as err, qtbot.assertNotEmitted(panel.parameter_edited):
        type_into(qtbot, panel.editor("run.seed"), "1.5")
    assert "run.seed" in err.args[0] and "whole number" in err.args[0]


# -- refresh and pending structural edits --------------------------------------------------------------


def test_set_config_updates_editors_without_emitting(
    qtbot: QtBot, panel: ParameterPanel, make_config: Callable[..., ModelConfig]
) -> None:
    changes: dict[str, Any] = {
        "stimulus.f_peak": 80.5,
        "stdp.enabled": False,
        "stimulus.input": "uncorrelated",
        "connectivity.ff_fan_in": 8,
        "run.seed": 99,
    }
    cfg = make_config(changes)
    with qtbot.assertNotEmitted(panel.parameter_edited), qtbot.assertNotEmitted(panel.error_shown):
        panel.set_config(cfg)
    assert line_edit(panel, "stimulus.f_peak").text() == "80.5"
    assert line_edit(panel, "run.seed").text() == "99"
    check, combo, spin = (
        panel.editor(p) for p in ("stdp.enabled", "stimulus.input", "connectivity.ff_fan_in")
    )
    assert isinstance(check, QCheckBox) and not check.isChecked()
    assert isinstance(combo, QComboBox) and combo.currentText() == "uncorrelated"
    assert isinstance(spin, QSpinBox) and spin.value() == 8


def test_set_config_keeps_text_being_typed_elsewhere(
    qtbot: QtBot, panel: ParameterPanel, make_config: Callable[..., ModelConfig]
) -> None:
    typing = line_edit(panel, "stimulus.sigma")
    typing.setFocus()
    typing.end(False)
    qtbot.keyClicks(typing, "5")
    panel.set_config(make_config({"stimulus.f_base": 3.0}))
    assert typing.text() == "25"
    assert line_edit(panel, "stimulus.f_base").text() == "3"


def test_structural_edit_stays_pending_across_refreshes(
    qtbot: QtBot, panel: ParameterPanel, make_config: Callable[..., ModelConfig]
) -> None:
    path = "network.dt"
    assert not param_spec(path).live
    widget = line_edit(panel, path)
    with qtbot.waitSignal(panel.parameter_edited) as blocker:
        type_into(qtbot, widget, "0.05")
    assert blocker.args == [path, 0.05]
    assert panel.pending_values() == {path: 0.05}
    assert has_pending_style(widget) and "Pending" in widget.toolTip()

    with qtbot.assertNotEmitted(panel.parameter_edited):
        panel.set_config(ModelConfig())
        panel.set_config(make_config({"stimulus.f_peak": 90.0}))
    assert widget.text() == "0.05" and has_pending_style(widget)
    assert line_edit(panel, "stimulus.f_peak").text() == "90"

    panel.clear_pending()
    assert panel.pending_values() == {}
    assert widget.text() == format_value(ModelConfig().network.dt)
    assert not has_pending_style(widget)


def test_pending_edit_back_to_the_applied_value_is_no_longer_pending(
    qtbot: QtBot, panel: ParameterPanel
) -> None:
    spin = panel.editor("network.scale")
    type_into(qtbot, spin, "2")
    assert panel.pending_values() == {"network.scale": 2}
    with qtbot.waitSignal(panel.parameter_edited) as blocker:
        type_into(qtbot, spin, "1")
    assert blocker.args == ["network.scale", 1]
    assert panel.pending_values() == {}
    assert not has_pending_style(spin)


def test_pending_paths_from_the_window_are_highlighted(panel: ParameterPanel) -> None:
    panel.set_config(ModelConfig(), pending=["network.scale"])
    assert has_pending_style(panel.editor("network.scale"))
    assert not has_pending_style(panel.editor("network.dt"))
    panel.set_config(ModelConfig())
    assert not has_pending_style(panel.editor("network.scale"))


def test_pending_values_take_part_in_validation(qtbot: QtBot, panel: ParameterPanel) -> None:
    # With s_max = 48 pending, a column capacity of 40 breaks the slot scheme's rule;
    # against the applied s_max (32) it would pass.
    assert ModelConfig().replace("connectivity.col_capacity", 40).connectivity.col_capacity == 40
    type_into(qtbot, panel.editor("rewiring.s_max"), "48")
    assert panel.pending_values() == {"rewiring.s_max": 48}
    with qtbot.waitSignal(panel.error_shown) as blocker, qtbot.assertNotEmitted(panel.parameter_edited):
        type_into(qtbot, panel.editor("connectivity.col_capacity"), "40")
    assert "connectivity.col_capacity" in blocker.args[0] and "48" in blocker.args[0]


def test_mark_applied_shows_a_tick_briefly(
    qtbot: QtBot, panel: ParameterPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(panel_module, "APPLIED_MS", 50)
    assert not panel.shows_applied("stimulus.f_base")
    panel.mark_applied("stimulus.f_base")
    assert panel.shows_applied("stimulus.f_base")
    assert not panel.shows_applied("stimulus.f_peak")
    qtbot.waitUntil(lambda: not panel.shows_applied("stimulus.f_base"), timeout=2000)


# -- filter ----------------------------------------------------------------------------------------------


def visible_paths(panel: ParameterPanel) -> set[str]:
    return {path for path in ALL_PATHS if panel.editor(path).isVisibleTo(panel)}


def test_filter_hides_rows_that_do_not_match(qtbot: QtBot, panel: ParameterPanel) -> None:
    qtbot.keyClicks(panel.filter_edit, "elim")
    expected = {path for path in ALL_PATHS if "elim" in path}
    assert expected and visible_paths(panel) == expected

    # Descriptions match too: "reversal" is in no key path.
    panel.set_filter("Reversal")
    expected = {path for path, spec, _ in iter_params() if "reversal" in spec.doc.lower()}
    assert expected and visible_paths(panel) == expected
    assert not any("reversal" in path for path in expected)

    panel.set_filter("no such parameter anywhere")
    assert visible_paths(panel) == set()
    panel.set_filter("")
    assert visible_paths(panel) == set(ALL_PATHS)


def test_filter_opens_collapsed_sections_and_restores_them(panel: ParameterPanel) -> None:
    panel.set_filter("")
    panel.set_expanded("Rewiring FF", False)
    assert not panel.editor("rewiring.ff.p_form").isVisibleTo(panel)
    panel.set_filter("p_form")
    assert panel.editor("rewiring.ff.p_form").isVisibleTo(panel)
    panel.set_filter("")
    assert not panel.editor("rewiring.ff.p_form").isVisibleTo(panel)
