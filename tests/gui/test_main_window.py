"""The main window: controls reach the simulation, bad input is shown, nothing leaks."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QLineEdit, QMenu, QWidget
from pytestqt.qtbot import QtBot

from app.commands import Pause, Run, Step
from app.frame import SimState
from app.presets import DEFAULT_PRESET, load_preset
from gui.main_window import MainWindow
from sim.engine import Engine
from sim.experiments.topomap.lesion import region_mask
from sim.files import current_umask
from tests.gui.conftest import TIMEOUT_MS, settle

REPO = Path(__file__).resolve().parents[2]


def non_blank(image: QImage) -> int:
    """Number of distinct colours in ``image``."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = img.constBits()
    assert ptr is not None
    ptr.setsize(img.sizeInBytes())
    arr = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, : img.width() * 4]
    return len(np.unique(arr.reshape(-1, 4).view(np.uint32)))


def test_window_opens_on_the_default_preset(window: MainWindow) -> None:
    assert window.latest is not None
    assert window.latest.config.name == DEFAULT_PRESET
    assert DEFAULT_PRESET in window.windowTitle()
    assert window.parameter_dock.isVisible()
    assert {"map", "connectivity", "receptive_field", "synapses", "map_quality", "activity", "events"} <= set(
        window.views
    )
    assert window.state is SimState.IDLE
    # the toolbar shows the rate the window redraws at
    import inspect

    default_rate = inspect.signature(MainWindow).parameters["redraw_hz"].default
    assert window.run_controls.redraw_box.value() == round(default_rate)


def test_run_pause_and_step_change_model_time(window: MainWindow, qtbot: QtBot) -> None:
    dt = window.latest.config.network.dt * 1e-3  # type: ignore[union-attr]
    window.run_controls.step_actions[next(iter(window.run_controls.step_actions))].trigger()
    settle(window, qtbot)
    assert window.latest.snapshot.t == pytest.approx(dt)  # type: ignore[union-attr]
    window.run_controls.run_action.trigger()
    qtbot.waitUntil(lambda: window.latest.snapshot.t > 0.2, timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    assert window.state is SimState.RUNNING
    assert window.run_controls.run_action.text() == "Pause"
    window.run_controls.run_action.trigger()
    settle(window, qtbot)
    t = window.latest.snapshot.t  # type: ignore[union-attr]
    assert window.state is SimState.PAUSED
    qtbot.wait(200)
    settle(window, qtbot)
    assert window.latest.snapshot.t == t  # type: ignore[union-attr]
    assert "x real time" not in window.run_controls.rtf_label.text()


def test_space_toggles_run(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    window.run_controls.run_action.setChecked(True)
    qtbot.waitUntil(lambda: window.state is SimState.RUNNING, timeout=TIMEOUT_MS)
    window.run_controls.run_action.setChecked(False)
    qtbot.waitUntil(lambda: window.state is SimState.PAUSED, timeout=TIMEOUT_MS)
    assert window.run_controls.run_action.shortcut().toString() == "Space"


def test_parameter_typed_into_the_panel_reaches_the_simulation(window: MainWindow, qtbot: QtBot) -> None:
    panel = window.parameter_panel
    assert panel is not None
    editor = panel.editor("stimulus.f_peak")
    assert isinstance(editor, QLineEdit)
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "99.5")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: window.latest.config.stimulus.f_peak == 99.5,  # type: ignore[union-attr]
        timeout=TIMEOUT_MS,
    )


def test_value_out_of_range_is_refused_with_a_message(window: MainWindow, qtbot: QtBot) -> None:
    panel = window.parameter_panel
    assert panel is not None
    editor = panel.editor("rewiring.ff.p_form")
    assert isinstance(editor, QLineEdit)
    before = window.latest.config.rewiring.ff.p_form  # type: ignore[union-attr]
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "1.6")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    settle(window, qtbot)
    assert "rewiring.ff.p_form" in window.message_bar.text()
    assert window.latest.config.rewiring.ff.p_form == before  # type: ignore[union-attr]


def test_bad_preset_shows_an_error_and_keeps_the_state(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    window.send(Step(50))
    settle(window, qtbot)
    step, generation = window.latest.snapshot.step, window.latest.status.generation  # type: ignore[union-attr]
    bad = tmp_path / "broken.yaml"
    bad.write_text("rewiring:\n  ff:\n    p_form: 1.6\n")
    assert not window.open_preset(str(bad))
    text = window.message_bar.text()
    assert "broken.yaml" in text and "rewiring.ff.p_form" in text
    settle(window, qtbot)
    assert window.latest.snapshot.step == step  # type: ignore[union-attr]
    assert window.latest.status.generation == generation  # type: ignore[union-attr]
    bad.write_text("stimulus: [unclosed\n")
    assert not window.open_preset(str(bad))
    assert "broken.yaml" in window.message_bar.text()


def test_lesion_removes_synapses_in_region(window: MainWindow, qtbot: QtBot) -> None:
    before = window.latest.snapshot  # type: ignore[union-attr]
    lesion = window.findChild(QMenu, "lesion_menu")
    assert lesion is not None
    next(a for a in lesion.actions() if a.objectName() == "lesion_tool_cut").trigger()
    assert window.context.lesion_tool == "cut"
    window.context.region_selected.emit(3.0, 3.0, 8.0, 10.0)
    settle(window, qtbot)
    after = window.latest.snapshot  # type: ignore[union-attr]
    mask = region_mask(before.side, 3, 3, 8, 10)
    assert before.ff.in_degree[mask].sum() > 0
    assert after.ff.in_degree[mask].sum() == 0
    assert np.array_equal(after.ff.in_degree[~mask], before.ff.in_degree[~mask])
    assert "cut" in window.message_bar.text()


def test_export_writes_non_blank_png(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    window.send(Run(duration=0.5))
    qtbot.waitUntil(lambda: window.latest.snapshot.t >= 0.5, timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    for key in ("synapses", "activity"):
        path = window.export_view(key, tmp_path / f"{key}.png")
        image = QImage(str(path))
        assert not image.isNull() and image.width() > 100
        assert non_blank(image) > 8
    window.export_metrics(tmp_path / "metrics.csv")
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("t,ff_synapses") and len(lines) >= 2
    mode = 0o666 & ~current_umask()
    for name in ("synapses.png", "activity.png", "metrics.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name  # the umask, not 0600


def test_frame_sequence(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    window.start_recording(tmp_path / "frames", "synapses")
    window.run_controls.speed_box.setCurrentIndex(1)  # 1x real time: many frames a second
    window.send(Run())  # until paused: a loaded machine may draw few frames a second, never none
    qtbot.waitUntil(lambda: len(list((tmp_path / "frames").glob("frame_*.png"))) >= 3, timeout=TIMEOUT_MS)
    window.send(Pause())
    n = window.stop_recording()
    files = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert n == len(files) and files[0].name == "frame_000001.png"


def test_checkpoint_save_and_load_restores_time_and_counts(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    window.send(Run(duration=0.3))
    assert window.controller.sync()
    qtbot.waitUntil(lambda: window.state is SimState.IDLE, timeout=TIMEOUT_MS)
    settle(window, qtbot)
    saved = window.latest.snapshot  # type: ignore[union-attr]
    path = tmp_path / "state.npz"
    window.save_checkpoint(path)
    settle(window, qtbot)
    assert path.exists()
    window.send(Run(duration=0.3))
    qtbot.waitUntil(lambda: window.latest.snapshot.t > saved.t + 0.2, timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    window.send(Pause())
    window.load_checkpoint(path)
    settle(window, qtbot)
    loaded = window.latest.snapshot  # type: ignore[union-attr]
    assert loaded.t == saved.t
    assert (loaded.ff.count, loaded.lat.count) == (saved.ff.count, saved.lat.count)
    assert "loaded checkpoint" in window.message_bar.text()


def test_checkpoint_of_another_configuration_is_refused(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    other = tmp_path / "other.npz"
    cfg = load_preset(DEFAULT_PRESET).replace("network.scale", 2)
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.save_checkpoint(other)
    side = window.latest.snapshot.side  # type: ignore[union-attr]
    window.load_checkpoint(other)
    settle(window, qtbot)
    assert "another configuration" in window.message_bar.text()
    assert window.latest.snapshot.side == side  # type: ignore[union-attr]


def test_exception_in_simulation_thread_is_shown_and_app_stays_up(
    window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Engine.step

    def failing(self: Engine, n: int = 1) -> None:
        raise FloatingPointError("membrane potential is NaN")

    monkeypatch.setattr(Engine, "step", failing)
    window.send(Run())
    qtbot.waitUntil(lambda: window.state is SimState.FAULTED, timeout=TIMEOUT_MS)
    window.poll()
    assert "membrane potential is NaN" in window.message_bar.text()
    assert window.isVisible() and window.controller.alive
    monkeypatch.setattr(Engine, "step", original)
    window.send(Run(duration=0.1))
    assert window.controller.sync()
    qtbot.waitUntil(lambda: window.state is SimState.IDLE, timeout=TIMEOUT_MS)


def test_no_thread_or_widget_leaks_after_close(qtbot: QtBot) -> None:
    threads_before = set(threading.enumerate())
    win = MainWindow(load_preset(DEFAULT_PRESET), backend="cpu")
    win.show()
    qtbot.waitUntil(lambda: win.latest is not None, timeout=TIMEOUT_MS)
    win.send(Run())
    qtbot.wait(200)
    destroyed: list[bool] = []
    win.destroyed.connect(lambda: destroyed.append(True))
    win.close()
    win.deleteLater()
    qtbot.waitUntil(lambda: bool(destroyed), timeout=10_000)
    QApplication.processEvents()
    assert set(threading.enumerate()) <= threads_before
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def _run_main(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )


@pytest.mark.gl
def test_scripted_screenshot_contains_the_vispy_views(require_gl: None, qtbot: QtBot, tmp_path: Path) -> None:
    from gui.app import run_scripted

    shot = tmp_path / "window.png"
    result = run_scripted(load_preset(DEFAULT_PRESET), run_for=2.0, screenshot=shot, backend="cpu")
    assert result.realtime_factor > 0 and result.fps > 0
    image = QImage(str(shot))
    assert not image.isNull()
    for key, (x, y, w, h) in result.gl_regions.items():
        assert w > 50 and h > 50, key
        assert non_blank(image.copy(x, y, w, h)) > 8, f"the {key} view is blank in the screenshot"


@pytest.mark.gl
def test_scripted_mode_command_line(require_gl: None, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    proc = _run_main(["--preset", "demo", "--backend", "cpu", "--run-for", "2", "--screenshot", str(shot)])
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"realtime_factor=[0-9.]+ fps=[0-9.]+", last), last
    assert float(last.split()[0].split("=")[1]) > 0
    assert QImage(str(shot)).width() > 400
    # The map's quality at the start and the end of the run: the demo starts tangled.
    quality = next(line for line in proc.stdout.splitlines() if line.startswith("map "))
    start = re.match(
        r"map t=0\.0 sigma_aff=([0-9.]+) ad=([0-9.]+) -> t=[0-9.]+ sigma_aff=[0-9.]+ ad=[0-9.]+$", quality
    )
    assert start is not None, quality
    assert float(start.group(2)) >= 1.2


def test_window_on_the_offscreen_platform_without_opengl(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    shot = tmp_path / "offscreen.png"
    proc = _run_main(["--backend", "cpu", "--run-for", "1", "--screenshot", str(shot)], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("realtime_factor=")
    assert shot.exists()


def test_dispose_frees_the_window_and_everything_it_made(qtbot: QtBot) -> None:
    """Nothing of a closed window is left for interpreter exit to destroy after the QApplication."""
    import gc
    import weakref

    from gui.app import dispose, exception_hooks

    before = set(map(id, QApplication.topLevelWidgets()))

    def open_and_dispose() -> tuple[weakref.ref[MainWindow], list[weakref.ref[QWidget]]]:
        win = MainWindow(load_preset(DEFAULT_PRESET), backend="cpu")
        win.show()
        qtbot.waitUntil(lambda: win.latest is not None, timeout=TIMEOUT_MS)
        hooks = sys.excepthook, threading.excepthook
        with exception_hooks(win):
            assert sys.excepthook is not hooks[0]
        assert (sys.excepthook, threading.excepthook) == hooks
        made = [w for w in QApplication.topLevelWidgets() if id(w) not in before and w is not win]
        assert made, "the window's plots make menus of their own"
        refs = weakref.ref(win), [weakref.ref(w) for w in made]
        dispose(win)
        return refs

    window_ref, made_refs = open_and_dispose()
    gc.collect()
    assert window_ref() is None
    assert all(r() is None for r in made_refs)
    assert not [w for w in QApplication.topLevelWidgets() if id(w) not in before]


def test_scripted_mode_refuses_bad_arguments(tmp_path: Path) -> None:
    proc = _run_main(["--run-for", "2"])
    assert proc.returncode == 2 and "--screenshot" in proc.stderr
    proc = _run_main(["--preset", "nope", "--run-for", "1", "--screenshot", str(tmp_path / "x.png")])
    assert proc.returncode == 2 and "unknown preset 'nope'" in proc.stderr


def _alias_bomb(path: Path, levels: int = 9) -> Path:
    """A few hundred bytes of YAML whose aliases expand to 9**levels values, as a parameter value."""
    lines = ["stimulus:", "  f_base:", "    - &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        prev = f"*a{i - 1}"
        lines.append(f"    - &a{i} [{', '.join([prev] * 9)}]")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hostile_preset_file_is_refused_while_the_window_stays_responsive(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    """An alias bomb of a few hundred bytes is refused at once, with a short message."""
    bomb = _alias_bomb(tmp_path / "bomb.yaml")
    assert bomb.stat().st_size < 1000
    t0 = time.perf_counter()
    assert not window.open_preset(str(bomb))
    assert time.perf_counter() - t0 < 2.0
    text = window.message_bar.text()
    assert "bomb.yaml" in text and len(text) < 400
    assert window.controller.alive


def test_crafted_checkpoint_is_refused_and_the_app_keeps_running(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    """A checkpoint whose stimulus position lies far outside the grid is refused with a message;
    the network keeps running (before, Load checkpoint then Run killed the process)."""
    from sim.experiments.topomap.state import S_STIM_X

    good = tmp_path / "good.npz"
    with Engine.build(load_preset(DEFAULT_PRESET), backend="cpu", seed=1) as eng:
        eng.run(0.05)
        eng.save_checkpoint(good)
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["state.istate"] = arrays["state.istate"].copy()
    arrays["state.istate"][S_STIM_X] = 10**12
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    t = window.latest.snapshot.t  # type: ignore[union-attr]
    window.load_checkpoint(bad)
    settle(window, qtbot)
    assert "bad.npz" in window.message_bar.text() and "istate" in window.message_bar.text()
    window.send(Run(duration=0.05))
    assert window.controller.sync()
    qtbot.waitUntil(lambda: window.state is SimState.IDLE, timeout=TIMEOUT_MS)
    settle(window, qtbot)
    assert window.latest.snapshot.t > t  # type: ignore[union-attr]
    assert window.controller.alive


def test_an_error_of_the_window_is_not_called_a_simulation_stop(
    window: MainWindow, qtbot: QtBot, capsys: pytest.CaptureFixture[str]
) -> None:
    """An uncaught error in the window's own code (analysis, drawing) is labelled as the window's;
    the simulation keeps running."""
    from gui.app import exception_hooks

    with exception_hooks(window):
        try:
            raise ZeroDivisionError("receptive field of an empty neuron")
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        qtbot.waitUntil(lambda: "receptive field" in window.message_bar.text(), timeout=TIMEOUT_MS)
    text = window.message_bar.text()
    assert text.startswith("Error in the window") and "Simulation stopped" not in text
    assert window.state is not SimState.FAULTED and window.controller.alive
    capsys.readouterr()  # the hook also wrote the traceback to stderr
