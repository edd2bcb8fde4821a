"""Switching the window between the topographic map and the toy experiment, and back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from sim.experiment import unregister_experiment
from tests.gui.conftest import TIMEOUT_MS, settle
from tests.support import toy

PRESET = toy.PRESETS_DIR / "toy" / "toy_small.yaml"


@pytest.fixture(autouse=True)
def toy_known() -> Iterator[None]:
    """The toy registered on every layer for one test."""
    toy.register_app()
    yield
    unregister_experiment(toy.KEY)


def _step_texts(window: MainWindow) -> list[str]:
    return [a.text() for a in window.run_controls.step_actions.values()]


def test_opening_a_toy_preset_switches_every_part_and_back(window: MainWindow, qtbot: QtBot) -> None:
    """Views, parameter groups, step units and menus follow the experiment; both keep running."""
    topomap_views = list(window.views)
    assert "&Lesion" in [a.text() for a in window.menuBar().actions()]  # type: ignore[union-attr]
    assert _step_texts(window) == ["Step", "Step stimulus", "Step rewiring"]

    assert window.open_preset(str(PRESET))
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.experiment == "toy", timeout=TIMEOUT_MS
    )
    settle(window, qtbot)
    assert list(window.views) == ["toy_synapses", "toy_degree"]
    assert "&Lesion" not in [a.text() for a in window.menuBar().actions()]  # type: ignore[union-attr]
    assert _step_texts(window) == ["Step", "Step ten"]
    panel = window.parameter_panel
    assert panel is not None and "rewiring.swaps" in panel._rows and "stdp.a_plus" not in panel._rows
    before = window.latest.snapshot.step  # type: ignore[union-attr]
    window.run_controls.step_actions["ten"].trigger()
    settle(window, qtbot)
    assert window.latest.snapshot.step == before + 10  # type: ignore[union-attr]
    assert window.latest_frame is not None and window.latest_frame.history.table()["synapses"][0] > 0

    assert window.open_preset("demo")
    qtbot.waitUntil(
        lambda: window.latest is not None and window.latest.config.experiment == "topomap", timeout=TIMEOUT_MS
    )
    settle(window, qtbot)
    assert list(window.views) == topomap_views
    assert _step_texts(window) == ["Step", "Step stimulus", "Step rewiring"]
    window.run_controls.step_actions["stimulus"].trigger()
    settle(window, qtbot)
    assert window.latest is not None and window.latest.snapshot.step > 0
