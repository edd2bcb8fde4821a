"""The main window: views in three tab areas, the parameter panel, the run toolbar and the menus.

The window owns a :class:`~app.controller.SimController`. A frame clock
(QTimer at the redraw rate) takes the newest update from the controller's
mailbox, turns it into a :class:`~app.frame.Frame`, records it in the run's
:class:`~app.frame.History` and hands it to every view; views that are not
visible keep it for later and cost nothing. Widgets only send commands.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from PyQt6.QtCore import QEvent, QObject, Qt, QTimer
from PyQt6.QtGui import QAction, QActionGroup, QCloseEvent, QKeyEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.commands import (
    Command,
    LoadCheckpoint,
    Pause,
    Reset,
    Run,
    SaveCheckpoint,
    SetParameter,
    SetPublishRate,
    SetSpeed,
    Step,
)
from app.controller import EXPECTED_ERRORS, Report, SimController, Update
from app.experiment import app_experiment_of
from app.frame import Frame, History, SimState
from app.presets import list_presets, load_preset
from gui.context import ViewContext
from gui.experiment import AREAS, Experiment, experiment_for
from gui.export import ExportSizeMenu, FrameRecorder, save_image
from gui.views.base import View
from gui.widgets.message_bar import MessageBar
from gui.widgets.network_box import NetworkBox
from gui.widgets.parameter_panel import TYPES_SPACES, ParameterPanel
from gui.widgets.run_controls import RunControls
from sim.config import config_type
from sim.errors import RewireLabError
from sim.experiment import experiment_of, experiment_title, get_experiment
from sim.files import write_atomic
from sim.parameters import ConfigRoot

_T = TypeVar("_T")


def _required(obj: _T | None) -> _T:
    """``obj``, which Qt declares optional but always returns here."""
    assert obj is not None
    return obj


def _submenu(parent: QMenu | QMenuBar, title: str) -> QMenu:
    return _required(parent.addMenu(title))


#: Errors a user action can cause by its input; shown in the message bar.
USER_ERRORS = EXPECTED_ERRORS


class MainWindow(QMainWindow):
    """The Rewire Lab window on one configuration.

    Parameters
    ----------
    config : ConfigRoot
        The network to build and show.
    backend : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    seed : int, optional
        Seed of the first build (default: the configuration's).
    redraw_hz : float
        Frames per second of the views while running.
    """

    def __init__(
        self,
        config: ConfigRoot,
        *,
        backend: str = "auto",
        seed: int | None = None,
        redraw_hz: float = 60.0,
    ) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.setWindowTitle(f"Rewire Lab: {config.name}")
        available = _required(self.screen()).availableGeometry()  # open at a size that fits the screen
        self.resize(round(0.9 * available.width()), round(0.9 * available.height()))
        self.controller = SimController(config, backend, seed, publish_hz=redraw_hz)
        self.context = ViewContext(self)
        self.experiment: Experiment | None = None
        self.views: dict[str, View] = {}
        self.history: History | None = None
        self.latest: Update | None = None
        self.latest_frame: Frame | None = None
        self._generation = -1
        self._previous_snapshot: Any = None
        self._panel_config: ConfigRoot | None = None
        self._awaiting: dict[int, str] = {}
        self._backend_choice = backend
        self._recorder: tuple[FrameRecorder, str] | None = None
        self._frame_times: collections.deque[float] = collections.deque(maxlen=120)
        #: Frames handed to the views since the window opened.
        self.frames_shown = 0
        self._closed = False
        self._building_message = False
        self._present_area = "left"
        self._dock_was_visible = True
        self._restored_history: Mapping[str, NDArray[np.float64]] | None = None

        self.message_bar = MessageBar(self)
        self.areas: dict[str, QTabWidget] = {}
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        for area in AREAS:
            tabs = QTabWidget(self.splitter)
            tabs.setObjectName(f"area_{area}")
            tabs.setDocumentMode(True)
            self.areas[area] = tabs
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.run_controls = RunControls(self)
        self.run_controls.show_redraw_rate(redraw_hz)
        self.addToolBar(self.run_controls)
        self._connect_run_controls()

        self.network_box = NetworkBox(self)
        self.network_box.rebuild_requested.connect(self._on_rebuild_requested)
        self.network_box.error_shown.connect(lambda msg: self.show_message("error", msg))
        self.parameter_dock = QDockWidget("Parameters", self)
        self.parameter_dock.setObjectName("parameter_dock")
        self.parameter_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.parameter_dock)
        self.parameter_panel: ParameterPanel | None = None

        self.state_label = QLabel(self)
        self.backend_label = QLabel(self)
        self.fps_label = QLabel(self)
        for label in (self.state_label, self.backend_label, self.fps_label):
            _required(self.statusBar()).addPermanentWidget(label)

        self.context.region_selected.connect(self._on_region_selected)
        self.context.command_requested.connect(self.send)
        self._install_experiment(experiment_for(config))
        self._build_menus()

        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # Space runs and pauses wherever the focus is
        self.frame_clock = QTimer(self)
        self.frame_clock.setObjectName("frame_clock")
        self.frame_clock.setInterval(self._poll_interval_ms(redraw_hz))
        self.frame_clock.timeout.connect(self.poll)
        self.frame_clock.start()
        self.show_message("info", f"Building '{config.name}'…")
        self._building_message = True

    # -- layout -----------------------------------------------------------------------------------
    def _install_experiment(self, experiment: Experiment) -> None:
        """Create the views and parameter groups of ``experiment`` (replacing those of another one)."""
        if experiment is self.experiment:
            return
        for view in self.views.values():
            view.shutdown()
            view.deleteLater()
        self.views = {}
        for tabs in self.areas.values():
            tabs.clear()
        self.experiment = experiment
        for spec in experiment.views:
            view = spec.view(self.context)
            self.views[view.key] = view
            tabs = self.areas[spec.area]
            i = tabs.addTab(view, view.title)
            tabs.setTabToolTip(i, view.tooltip)
        for area, tabs in self.areas.items():
            tabs.setProperty("area", area)
        if hasattr(self, "present_action"):
            self._show_areas()
        else:
            for tabs in self.areas.values():
                tabs.setVisible(tabs.count() > 0)
        area_width = round(0.77 * self.width())  # the width left of the dock: shares for map, 3-D, time plots
        self.splitter.resize(area_width, self.height())
        self.splitter.setSizes([round(share * area_width) for share in (0.36, 0.34, 0.30)])
        panel = ParameterPanel(experiment.parameter_groups, config_type(experiment.key)())
        panel.parameter_edited.connect(self._on_parameter_edited)
        panel.error_shown.connect(lambda msg: self.show_message("error", msg))
        panel.error_cleared.connect(self._on_error_cleared)
        holder = QWidget()
        box = QVBoxLayout(holder)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.network_box)
        box.addWidget(panel, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        scroll.setMinimumWidth(300)  # the parameter rows with their units
        self.parameter_dock.setWidget(scroll)
        dock_width = min(340, max(300, round(0.22 * self.width())))  # about a fifth of the window
        self.resizeDocks([self.parameter_dock], [dock_width], Qt.Orientation.Horizontal)
        self.parameter_panel = panel
        self._panel_config = None
        self.context.set_lesion_tool("")  # a tool belongs to the experiment before
        if hasattr(self, "_experiment_actions"):  # the menus exist: rebuild the experiment's entries
            self._build_experiment_menus()

    def _connect_run_controls(self) -> None:
        rc = self.run_controls
        rc.run_toggled.connect(lambda run: self.send(Run() if run else Pause()))
        rc.step_requested.connect(lambda unit: self.send(Step(1, unit)))
        rc.run_for_requested.connect(lambda s: self.send(Run(duration=s)))
        rc.reset_requested.connect(lambda: self.send(Reset()))
        rc.speed_changed.connect(lambda speed: self.send(SetSpeed(speed)))
        rc.redraw_rate_changed.connect(self.set_redraw_rate)

    def _build_menus(self) -> None:
        bar = _required(self.menuBar())
        file_menu = _submenu(bar, "&File")
        presets = _submenu(file_menu, "Open &preset")
        experiment = None
        for info in list_presets():
            if info.experiment != experiment:
                experiment = info.experiment
                presets.addSection(experiment_title(experiment).split(":")[0].capitalize())
            action = _required(presets.addAction(info.name))
            action.setStatusTip(info.description)
            action.setToolTip(info.description)
            action.triggered.connect(lambda _c=False, name=info.name: self.open_preset(name))
        presets.setToolTipsVisible(True)
        self._add(
            file_menu,
            "&Load preset file…",
            self._on_load_preset_file,
            "Ctrl+O",
            "Open a YAML preset file and build its network",
        )
        self._add(
            file_menu,
            "&Save parameters as YAML…",
            self._on_save_parameters,
            "Ctrl+S",
            "Write the current parameters (with changes not yet applied) to a preset file",
        )
        file_menu.addSeparator()
        self._add(
            file_menu,
            "Save &checkpoint…",
            self._on_save_checkpoint,
            "Ctrl+Shift+S",
            "Save the whole network state to continue later exactly where it is",
        )
        self._add(
            file_menu,
            "L&oad checkpoint…",
            self._on_load_checkpoint,
            "Ctrl+Shift+O",
            "Continue from a checkpoint of this configuration",
        )
        file_menu.addSeparator()
        export = _submenu(file_menu, "&Export")
        export.setToolTipsVisible(True)
        self._export_menu = export
        #: Where the experiment's per-view export actions go (before it).
        self._export_anchor = _required(export.addSeparator())
        self.record_action = self._add(
            export,
            "&Record frames of the current view…",
            self._on_record_toggled,
            tip="Save every frame of the current left view as numbered PNGs at the export size",
        )
        self.record_action.setCheckable(True)
        self._add(
            export,
            "&Metrics as CSV…",
            self._on_export_metrics,
            tip="Save the time series of the run (counts, rates, sigma_aff, AD) as CSV",
        )
        export.addSeparator()
        #: The size of exported images and recorded frames (remembered between sessions).
        self.export_size_menu = ExportSizeMenu(parent=self)
        self.export_size_menu.error_shown.connect(lambda msg: self.show_message("error", msg))
        export.addMenu(self.export_size_menu)
        file_menu.addSeparator()
        self._add(file_menu, "&Quit", self.close, "Ctrl+Q")

        sim_menu = _submenu(bar, "&Simulation")
        self._sim_menu = sim_menu
        sim_menu.addAction(self.run_controls.run_action)
        self._run_for_anchor = self._add(
            sim_menu, "Run &for…", self._on_run_for_dialog, "Ctrl+F", "Run for a number of model seconds"
        )
        sim_menu.addAction(self.run_controls.reset_action)
        speed = _submenu(sim_menu, "&Speed")
        group = QActionGroup(self)
        for i in range(self.run_controls.speed_box.count()):
            action = _required(speed.addAction(self.run_controls.speed_box.itemText(i)))
            action.setCheckable(True)
            action.setChecked(i == 0)
            group.addAction(action)
            action.triggered.connect(lambda _c=False, i=i: self.run_controls.speed_box.setCurrentIndex(i))

        view_menu = _submenu(bar, "&View")
        self._view_menu = view_menu
        #: Where the experiment's "Show view" actions go (before it).
        self._view_anchor = _required(view_menu.addSeparator())
        self.present_action = self._add(
            view_menu,
            "&Presentation mode",
            self._on_present_toggled,
            "F11",
            "Full screen with only the current map area: for a projector",
        )
        self.present_action.setCheckable(True)
        view_menu.addAction(self.parameter_dock.toggleViewAction())

        help_menu = _submenu(bar, "&Help")
        self._add(help_menu, "&Keyboard shortcuts", self._on_shortcuts)
        self._add(help_menu, "&About Rewire Lab", self._on_about)
        self._experiment_actions: list[QAction] = []
        self._experiment_menus: list[QMenu] = []
        self._build_experiment_menus()

    def _build_experiment_menus(self) -> None:
        """The menu entries of the experiment shown: its views' exports and shortcuts, its own menus.

        Called again whenever another experiment is installed, so no entry ever
        points at a view or tool of the experiment before.
        """
        for menu in (self._export_menu, self._view_menu):
            for action in self._experiment_actions:
                menu.removeAction(action)
        for action in self._experiment_actions:
            action.deleteLater()
        bar = _required(self.menuBar())
        for menu in self._experiment_menus:
            bar.removeAction(menu.menuAction())
            menu.deleteLater()
        self._experiment_actions, self._experiment_menus = [], []
        for i, (key, view) in enumerate(self.views.items(), start=1):
            export = self._make_action(
                f"{view.title} as PNG…",
                lambda _c=False, k=key: self._on_export_view(k),
                tip=f"Save the {view.title} view, without its options, as an image at the export size",
            )
            self._export_menu.insertAction(self._export_anchor, export)
            show = self._make_action(
                f"Show {view.title}", lambda _c=False, k=key: self.show_view(k), f"Ctrl+{i}", view.tooltip
            )
            self._view_menu.insertAction(self._view_anchor, show)
            self._experiment_actions += [export, show]
        assert self.experiment is not None
        for menu in self.experiment.menus(self):
            bar.insertMenu(self._view_menu.menuAction(), menu)
            self._experiment_menus.append(menu)
        for action in self.run_controls.step_actions.values():
            self._sim_menu.removeAction(action)
        self.run_controls.set_step_actions(self.experiment.step_actions)
        self.run_controls.set_time_unit(get_experiment(self.experiment.key).time_unit or "s")
        for action in self.run_controls.step_actions.values():
            self._sim_menu.insertAction(self._run_for_anchor, action)

    def _add(
        self, menu: object, text: str, slot: object, shortcut: str | None = None, tip: str = ""
    ) -> QAction:
        action = self._make_action(text, slot, shortcut, tip)
        menu.addAction(action)  # type: ignore[attr-defined]
        return action

    def _make_action(self, text: str, slot: object, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)  # type: ignore[arg-type]
        return action

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        """Let Space run and pause while a field or button of this window has the focus.

        Fields would otherwise take the key (a space typed into a number, a box
        toggled): the key's shortcut override is declined for every focused widget
        of this window except text fields marked with :data:`TYPES_SPACES`.
        """
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.ShortcutOverride
            and event.key() == Qt.Key.Key_Space
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and isinstance(watched, QWidget)
            and watched is QApplication.focusWidget()
            and watched.window() is self
            and not watched.property(TYPES_SPACES)
        ):
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    # -- commands ---------------------------------------------------------------------------------
    def send(self, command: Command) -> int | None:
        """Submit ``command`` to the simulation thread; a failure is shown, not raised."""
        try:
            return self.controller.submit(command)
        except RuntimeError as exc:
            self.show_message("error", str(exc))
            return None

    def _make_and_send(self, factory: Callable[..., Command], *args: object, **kwargs: object) -> int | None:
        try:
            command = factory(*args, **kwargs)
        except USER_ERRORS as exc:
            self.show_message("error", str(exc))
            return None
        return self.send(command)

    def set_redraw_rate(self, hz: float) -> None:
        """Redraw the views ``hz`` times per second while running."""
        self.frame_clock.setInterval(self._poll_interval_ms(hz))
        self.send(SetPublishRate(hz))

    @staticmethod
    def _poll_interval_ms(hz: float) -> int:
        """Poll twice per frame period, so an update waits at most half a period to be shown."""
        return max(1, round(500.0 / hz))

    def open_preset(self, name_or_file: str) -> bool:
        """Build a preset's network (a name or a YAML file); an invalid one is reported, nothing changes."""
        try:
            config = load_preset(name_or_file)
        except USER_ERRORS as exc:
            self.show_message("error", str(exc))
            return False
        self._install_experiment(experiment_for(config))
        self.setWindowTitle(f"Rewire Lab: {config.name}")
        self.send(Reset(config=config))
        self.show_message("info", f"Building '{config.name}'…")
        self._building_message = True
        return True

    def _config_type(self) -> type[ConfigRoot]:
        """The configuration type of the experiment shown."""
        assert self.experiment is not None
        return config_type(self.experiment.key)

    def _on_parameter_edited(self, path: str, value: object) -> None:
        cmd_id = self._make_and_send(SetParameter, path, value, self._config_type())
        if cmd_id is not None and self._config_type().param_spec(path).live:
            self._awaiting[cmd_id] = path

    def _on_rebuild_requested(self, backend: str, seed: int) -> None:
        self._backend_choice = backend
        self._make_and_send(Reset, backend=backend, seed=seed)

    def _on_region_selected(self, x0: float, y0: float, x1: float, y1: float) -> None:
        tool = self.context.lesion_tool
        make = self.experiment.region_command if self.experiment is not None else None
        if tool and make is not None:
            self._make_and_send(make, tool, x0, y0, x1, y1)

    # -- the frame clock --------------------------------------------------------------------------
    def poll(self) -> bool:
        """Show the reports and the newest update of the simulation thread; True if a frame was shown."""
        for report in self.controller.take_reports():
            self._show_report(report)
        update = self.controller.take_update()
        if update is None:
            if not self.controller.alive and not self._closed:
                self.state_label.setText("Simulation thread ended")
            return False
        self._show_update(update)
        return True

    def _show_update(self, update: Update) -> None:
        # The window's views are the topographic map's so far: its configuration and snapshot.
        snap, status = update.snapshot, update.status
        config: Any = update.config
        if status.generation != self._generation:
            self._generation = status.generation
            self.history = app_experiment_of(config).history(config, snap)
            if self._restored_history is not None:
                self.history.restore(self._restored_history, snap.t)
                self._restored_history = None
            self._previous_snapshot = None
            for view in self.views.values():
                view.reset(config)
            if self.parameter_panel is not None:
                self.parameter_panel.clear_pending()
            self._panel_config = None
            if self.context.selected >= getattr(snap, "n_neurons", 0):  # no neuron to select: none
                self.context.select(-1)
            if self._building_message:
                self.message_bar.hide()
                self._building_message = False
        assert self.history is not None
        frame = app_experiment_of(config).frame(snap, config, status, self.history, self._previous_snapshot)
        self.history.add(frame)
        for view in self.views.values():
            view.set_frame(frame)
        self._previous_snapshot = snap
        self.latest, self.latest_frame = update, frame
        self.frames_shown += 1
        now = time.perf_counter()
        self._frame_times.append(now)
        if self._recorder is not None:
            self._record_frame()
        self._refresh_controls(update)

    def _refresh_controls(self, update: Update) -> None:
        status = update.status
        config: Any = update.config
        exp = experiment_of(config)
        unit = exp.time_unit or "s"
        if unit == "s":
            self.run_controls.set_status(status, update.snapshot.t, config.network.dt)
        else:
            self.run_controls.set_status(
                status, update.snapshot.t, unit=unit, step=exp.model_seconds(config, 1)
            )
        self.state_label.setText(f"{status.state.value.capitalize()} · seed {status.seed}")
        unavailable = {name: why for name, why in self.network_box.reasons.items() if why is not None}
        reasons = "\n".join(f"{name} unavailable: {why}" for name, why in unavailable.items())
        names = ", ".join(unavailable)
        self.backend_label.setText(
            f"Backend: {status.backend}" + (f" ({names} unavailable)" if names else "")
        )
        self.backend_label.setToolTip(reasons or "every backend is available")
        self.fps_label.setText(f"{self.fps():.0f} frames/s")
        self.network_box.set_current(self._backend_choice, status.seed)
        panel = self.parameter_panel
        pending: Any = update.pending_config
        if panel is not None and pending is not self._panel_config:
            panel.set_config(pending, status.pending)
            self._panel_config = pending
        for cmd_id, path in list(self._awaiting.items()):
            if status.last_command >= cmd_id:
                del self._awaiting[cmd_id]
                if panel is not None:
                    panel.mark_applied(path)

    def fps(self) -> float:
        """Frames shown per second over the last second."""
        times = self._frame_times
        now = time.perf_counter()
        recent = [t for t in times if now - t <= 1.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    # -- messages ---------------------------------------------------------------------------------
    def show_message(self, level: str, message: str, detail: str = "") -> None:
        """Show a message in the bar above the views."""
        self.message_bar.show_message(level, message, detail)
        self._building_message = False

    def _on_error_cleared(self, message: str) -> None:
        """Hide the message bar when it still shows a refusal the panel no longer stands by."""
        if self.message_bar.level == "error" and self.message_bar.message == message:
            self.message_bar.hide()

    def _show_report(self, report: Report) -> None:
        if report.history is not None:
            self._restored_history = report.history  # for the plots of the loaded state
        if report.command is not None:
            self._awaiting.pop(report.command, None)
        if report.level == "error":
            self._panel_config = None  # show the applied values again
        self.show_message(report.level, report.message, report.detail)

    # -- views ------------------------------------------------------------------------------------
    def show_view(self, key: str) -> View:
        """Bring view ``key`` to the front of its area and return it.

        In presentation mode its area becomes the one area shown.
        """
        view = self.views[key]
        for area, tabs in self.areas.items():
            i = tabs.indexOf(view)
            if i >= 0:
                tabs.setCurrentIndex(i)
                if self.presenting:
                    self._present_area = area
                self._show_areas()
        return view

    @property
    def presenting(self) -> bool:
        """Whether the window is in presentation mode (full screen, one view area)."""
        return self.present_action.isChecked()

    def _show_areas(self) -> None:
        """Show the areas that have views; in presentation mode only the presented one."""
        for area, tabs in self.areas.items():
            used = tabs.count() > 0
            tabs.setVisible(used and (not self.presenting or area == self._present_area))

    def _on_present_toggled(self, on: bool) -> None:
        if on:
            self._dock_was_visible = self.parameter_dock.isVisible()
            self._present_area = "left"
        self._show_areas()
        self.parameter_dock.setVisible(not on and self._dock_was_visible)
        if on:
            self.showFullScreen()
        else:
            self.showNormal()

    def export_geometry(
        self, key: str, size: tuple[int, int] | str | None = None
    ) -> tuple[int, int, float | None]:
        """Pixel size and scale of an export of view ``key``: ``(width, height, scale)``.

        ``size`` is ``(width, height)``, ``"screen"`` (the size the picture has on
        screen, at the screen's pixel ratio) or None (the size chosen in
        File > Export > Export size). ``scale`` is None for the automatic one.
        """
        chosen = self.export_size_menu.chosen if size is None else size
        if isinstance(chosen, tuple):
            return int(chosen[0]), int(chosen[1]), None
        view = self.views[key]
        widget = view.export_widget()
        # a view never shown has not laid out its picture yet: take the size of its page
        logical = widget.size() if view.isVisible() else view.size()
        ratio = widget.devicePixelRatioF()
        width = max(1, round(logical.width() * ratio))
        height = max(1, round(logical.height() * ratio))
        return width, height, ratio

    def export_view(self, key: str, path: str | Path, size: tuple[int, int] | str | None = None) -> Path:
        """Save view ``key``'s picture (without its options row) as PNG or JPEG, by the suffix of ``path``.

        The picture is laid out and drawn afresh at the export size (see
        :meth:`export_geometry`), also when the view is in a hidden tab.
        """
        width, height, scale = self.export_geometry(key, size)
        return save_image(self.views[key].export_image(width, height, scale=scale), path)

    def _on_export_view(self, key: str) -> None:
        if key not in self.views:
            self.show_message("error", f"there is no view '{key}' in this experiment")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export view", f"{key}.png", "PNG images (*.png);;JPEG images (*.jpg *.jpeg)"
        )
        if path:
            if not Path(path).suffix:
                path += ".png"
            try:
                written = self.export_view(key, path)
            except USER_ERRORS as exc:
                self.show_message("error", str(exc))
            else:
                self.show_message("info", f"saved {written} ({self.export_size_menu.describe()})")

    def start_recording(
        self, folder: str | Path, key: str | None = None, size: tuple[int, int] | str | None = None
    ) -> None:
        """Save every frame of view ``key`` (default: the current left view) into ``folder`` as PNGs.

        The frames have the export size (see :meth:`export_geometry`); the
        view's picture stays in a hidden window of that size until
        :meth:`stop_recording`, and the view shows a note meanwhile.
        """
        self.stop_recording()
        view = self.show_view(key) if key else self.areas["left"].currentWidget()
        assert isinstance(view, View)
        width, height, scale = self.export_geometry(view.key, size)
        recorder = FrameRecorder(folder)
        recorder.source = view.export_session(
            width, height, scale=scale, message=f"Recording at {width} x {height} …"
        )
        self._recorder = (recorder, view.key)
        self.record_action.setChecked(True)

    def stop_recording(self) -> int:
        """Stop saving frames and put the view's picture back; returns how many frames were saved.

        Waits until the frames handed over are written.
        """
        current, self._recorder = self._recorder, None
        self.record_action.setChecked(False)
        if current is None:
            return 0
        recorder = current[0]
        try:
            recorder.close()
        except USER_ERRORS as exc:
            self.show_message("error", f"recording stopped: {exc}")
        return recorder.written

    def _record_frame(self) -> None:
        assert self._recorder is not None
        recorder, key = self._recorder
        source = recorder.source
        if getattr(source, "view", None) is not self.views.get(key):
            self.stop_recording()
            self.show_message("error", "recording stopped: the recorded view was replaced")
            return
        try:
            recorder.record()
        except USER_ERRORS as exc:
            self.stop_recording()
            self.show_message("error", f"recording stopped: {exc}")

    def _on_record_toggled(self, on: bool) -> None:
        if not on:
            n = self.stop_recording()
            self.show_message("info", f"recording stopped after {n} frames")
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for the frames")
        if not folder:
            self.record_action.setChecked(False)
            return
        try:
            self.start_recording(folder)
        except USER_ERRORS as exc:
            self.record_action.setChecked(False)
            self.show_message("error", str(exc))
        else:
            self.show_message("info", f"recording frames at {self.export_size_menu.describe()} into {folder}")

    def export_metrics(self, path: str | Path) -> None:
        """Write the run's metrics table as CSV (atomically)."""
        if self.history is None:
            raise RewireLabError("nothing recorded yet")
        self.history.write_csv(path)

    def _on_export_metrics(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics", "metrics.csv", "CSV files (*.csv)")
        if path:
            try:
                self.export_metrics(path)
            except USER_ERRORS as exc:
                self.show_message("error", str(exc))
            else:
                self.show_message("info", f"saved {path}")

    # -- files ------------------------------------------------------------------------------------
    def save_parameters(self, path: str | Path) -> None:
        """Write the current parameters (pending structural changes included) as a YAML preset."""
        if self.latest is None:
            raise RewireLabError("the network is not built yet")
        text = self.latest.pending_config.to_yaml().encode()
        write_atomic(Path(path), lambda fh: fh.write(text))

    def _on_load_preset_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset", "", "YAML presets (*.yaml *.yml)")
        if path:
            self.open_preset(path)

    def _on_save_parameters(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save parameters", "parameters.yaml", "YAML (*.yaml)")
        if path:
            try:
                self.save_parameters(path)
            except USER_ERRORS as exc:
                self.show_message("error", str(exc))
            else:
                self.show_message("info", f"saved {path}")

    def save_checkpoint(self, path: str | Path) -> int | None:
        """Ask the simulation thread to save the whole state to ``path``; returns the command id.

        The time series the window recorded goes with it, so loading the
        checkpoint later continues the plots instead of starting them empty.
        """
        history = None if self.history is None else {k: v.copy() for k, v in self.history.table().items()}
        return self._make_and_send(SaveCheckpoint, Path(path), history)

    def load_checkpoint(self, path: str | Path, *, rebuild: bool = False) -> int | None:
        """Continue from checkpoint ``path`` (of this configuration unless ``rebuild``); returns the id."""
        return self._make_and_send(LoadCheckpoint, Path(path), rebuild)

    def _on_save_checkpoint(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save checkpoint", "checkpoint.npz", "Checkpoints (*.npz)"
        )
        if path:
            self.save_checkpoint(path)

    def _on_load_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", "", "Checkpoints (*.npz)")
        if path:
            self.load_checkpoint(path)

    def _on_run_for_dialog(self) -> None:
        unit = self.run_controls.run_for_box.suffix().strip()
        seconds, ok = QInputDialog.getDouble(
            self,
            "Run for",
            "Model seconds:" if unit == "s" else f"{unit.capitalize()}:",
            self.run_controls.run_for_box.value(),
            0.001,
            1e6,
            3,
        )
        if ok:
            self.run_controls.run_for_box.setValue(seconds)
            self._make_and_send(Run, duration=seconds)

    def _on_shortcuts(self) -> None:
        assert self.experiment is not None
        steps = " · ".join(f"{a.shortcut}: {a.text.lower()}" for a in self.experiment.step_actions)
        views = len(self.experiment.views)
        lines = [
            "Space: run / pause",
            steps,
            "Ctrl+F: run for… · Ctrl+R: reset (applies structural parameters)",
            f"Ctrl+1 … Ctrl+{views}: show a view · F11: presentation mode",
            "Ctrl+O: load preset file · Ctrl+S: save parameters · Ctrl+Shift+S / O: save / load checkpoint",
        ]
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join(lines))

    def _on_about(self) -> None:
        QMessageBox.about(
            self,
            "About Rewire Lab",
            "Rewire Lab: structural plasticity in spiking neural networks.\n\n"
            "Synapses form and disappear while the network runs; watch a topographic map form "
            "(Bamford et al. 2010), measure it (sigma_aff, AD) and change the rules as it runs, "
            "or watch DEEP R rewire a spiking classifier while e-prop trains it.",
        )

    # -- closing ----------------------------------------------------------------------------------
    def shutdown(self) -> bool:
        """Stop the frame clock and the simulation thread and release the views; True when all ended."""
        if self._closed:
            return not self.controller.alive
        self._closed = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.frame_clock.stop()
        self._recorder = None
        ended = self.controller.shutdown()
        for view in self.views.values():
            view.shutdown()
        return ended

    def closeEvent(self, event: QCloseEvent | None) -> None:
        """Shut the simulation down before the window goes."""
        self.shutdown()
        super().closeEvent(event)

    @property
    def state(self) -> SimState:
        """The simulation thread's state."""
        return self.controller.state
