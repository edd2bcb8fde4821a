"""The topographic grid plot: receptive-field centres as a net in input space.

Every target neuron's receptive-field centre is drawn at its position on the
source grid and joined to its right and lower neighbours: a crumpled net that
unfolds into a regular grid as the map forms. Markers are coloured by each
neuron's sigma_aff or AD on a fixed scale (0 to 4 grid units, or a range
set from the legend's context menu), so a colour means the same value in
every frame; the ideal grid is drawn faintly behind, and axes give the
input-space coordinates in grid units.

The receptive-field analysis grows with the grid (about 3 ms at n = 16, 140
ms at n = 64), so the view spaces out its redraws with a :class:`~gui.views.gl.RedrawBudget`
and never spends more than about 30 % of the GUI thread on them.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtWidgets import QComboBox, QInputDialog, QLabel, QMenu, QWidget
from vispy import scene

from app.experiments.topomap.frame import Frame
from gui.context import ViewContext
from gui.experiments.topomap.views.adapters import (
    NO_INPUT_COLOUR,
    CentresFrom,
    ColourBy,
    MapData,
    grid_neuron_at,
    map_data,
    nearest_point,
    normalised_rect,
)
from gui.views.canvas_view import CanvasView
from gui.views.flow_layout import FlowLayout, widget_group
from gui.views.gl import RedrawBudget, colour_bar_pixmap
from gui.visuals.grid_net import GridNet, Region
from gui.visuals.layers import colormap_lut
from sim.experiments.topomap.config import ModelConfig

__all__ = ["MapView"]

#: Colormap of the marker colours.
COLORMAP = "viridis"
#: A press and release closer than this (pixels) is a click, not a drag.
CLICK_TOLERANCE_PX = 4.0
#: A click this close (pixels) to a marker selects that marker's neuron.
PICK_RADIUS_PX = 10.0
#: Fill colours of the lesion rectangle by tool.
REGION_COLOURS = {"cut": (0.9, 0.1, 0.1, 0.25), "silence": (0.1, 0.3, 0.95, 0.25)}
#: Value (grid units) of the top marker colour by quantity. The map is drawn on a grid of unit
#: spacing: a formed map has sigma_aff of about 2 and AD below 1, a random one both above 3, so
#: 0 to 4 shows the map forming in the lower colours and a tangle at the top. Larger values clip.
COLOUR_TOPS: dict[str, float] = {"sigma_aff": 4.0, "ad": 4.0}

_COLOUR_BY: tuple[tuple[str, ColourBy, str], ...] = (
    ("\u03c3_aff", "sigma_aff", "receptive-field spread sigma_aff"),
    ("AD", "ad", "absolute deviation of the centre from the neuron's own position"),
)
_CENTRES_FROM: tuple[tuple[str, CentresFrom, str], ...] = (
    ("counts", "counts", "receptive fields from FF synapse counts"),
    ("weights", "weights", "receptive fields from FF synapse weights"),
)


class MapView(CanvasView[Frame]):
    """The topographic grid plot of receptive-field centres (VisPy).

    Parameters
    ----------
    context : ViewContext
        Selection and lesion tool shared with the other views.
    parent : QWidget, optional
        Parent widget.
    budget : RedrawBudget, optional
        Spacing of redraws; by default at most 30 % of wall time.
    """

    key = "map"
    title = "Map"
    tooltip = (
        "Topographic map: each target neuron's receptive-field centre in input space, joined to its "
        "grid neighbours. Click a neuron to select it; with a lesion tool, drag a rectangle."
    )

    def __init__(
        self, context: ViewContext, parent: QWidget | None = None, *, budget: RedrawBudget | None = None
    ) -> None:
        super().__init__(context, parent, budget if budget is not None else RedrawBudget(0.35))
        self._data: MapData | None = None
        self._press_pos: tuple[float, float] | None = None
        self._drag_start: tuple[float, float] | None = None
        self._user_tops: dict[str, float] = {}
        axes = ("source x (grid units)", "source y")
        if not self._build(self._make_toolbar(), "white", axes=axes, square=True):
            return
        self._view.camera = scene.PanZoomCamera(aspect=1.0, flip=(False, True, False))
        # A new size shows the whole grid again (after the scene has laid itself out anew).
        self._view.events.resize.connect(self._on_canvas_resized, position="last")
        self._net = GridNet(parent=self._view.scene)
        self._region = Region(parent=self._view.scene)
        self._region.visible = False
        self._region.order = 10

        self._canvas.events.mouse_press.connect(self._on_mouse_press)
        self._canvas.events.mouse_move.connect(self._on_mouse_move)
        self._canvas.events.mouse_release.connect(self._on_mouse_release)
        self._connect_context(context.selection_changed, self._on_selection_changed)
        self._connect_context(context.lesion_tool_changed, self._on_lesion_tool_changed)
        self._set_side(16)
        self._on_lesion_tool_changed(context.lesion_tool)

    def _make_toolbar(self) -> FlowLayout:
        bar = FlowLayout()
        self.colour_by_box = QComboBox()
        for text, value, tip in _COLOUR_BY:
            self.colour_by_box.addItem(text, value)
            self.colour_by_box.setItemData(self.colour_by_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.colour_by_box.currentIndexChanged.connect(self._on_options_changed)
        self.centres_box = QComboBox()
        for text, source, tip in _CENTRES_FROM:
            self.centres_box.addItem(text, source)
            self.centres_box.setItemData(self.centres_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.centres_box.currentIndexChanged.connect(self._on_options_changed)
        self.legend_label = QLabel()
        self.legend_bar = QLabel()
        self.legend_bar.setPixmap(colour_bar_pixmap(colormap_lut(COLORMAP), width=80))
        self.legend_low = QLabel()
        self.legend_high = QLabel()
        legend = widget_group(self.legend_label, self.legend_low, self.legend_bar, self.legend_high)
        legend.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        legend.customContextMenuRequested.connect(self._on_legend_menu)
        self.colour_legend = legend
        grey = QLabel()
        grey.setPixmap(colour_bar_pixmap([NO_INPUT_COLOUR], width=12))
        no_input = widget_group(grey, QLabel("no input"))
        no_input.setToolTip("Neurons without feed-forward input, drawn at their own position")
        bar.addWidget(widget_group(QLabel("Colour"), self.colour_by_box))
        bar.addWidget(widget_group(QLabel("centres"), self.centres_box))
        bar.add_spacing(8)
        bar.addWidget(legend)
        bar.addWidget(no_input)
        self._update_legend()
        return bar

    # -- options ----------------------------------------------------------------------------------
    @property
    def colour_by(self) -> ColourBy:
        """The quantity the markers are coloured by: ``"sigma_aff"`` or ``"ad"``."""
        return cast(ColourBy, self.colour_by_box.currentData())

    @property
    def centres_from(self) -> CentresFrom:
        """Receptive fields from FF synapse ``"counts"`` or ``"weights"``."""
        return cast(CentresFrom, self.centres_box.currentData())

    @property
    def drawn_map(self) -> MapData | None:
        """What the view draws now (None before the first frame)."""
        return self._data

    @property
    def colour_range(self) -> tuple[float, float]:
        """Values of the two ends of the marker colours for the quantity coloured by (grid units)."""
        by = self.colour_by
        return (0.0, self._user_tops.get(by, COLOUR_TOPS[by]))

    def set_colour_top(self, top: float | None) -> None:
        """Set the value of the top colour for the quantity coloured by (None: the default, 4 grid units)."""
        if top is None:
            self._user_tops.pop(self.colour_by, None)
        elif not (math.isfinite(top) and top > 0.0):
            raise ValueError(f"the top of the colour range must be positive, got {top}")
        else:
            self._user_tops[self.colour_by] = float(top)
        self._update_legend()
        self._on_options_changed(0)

    def _on_legend_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Colour range…", self._ask_colour_top)
        default = menu.addAction(
            f"Default colour range (0 to {COLOUR_TOPS[self.colour_by]:g})", lambda: self.set_colour_top(None)
        )
        assert default is not None
        default.setEnabled(self.colour_by in self._user_tops)
        menu.exec(self.colour_legend.mapToGlobal(pos))

    def _ask_colour_top(self) -> None:
        name = {value: text for text, value, _ in _COLOUR_BY}[self.colour_by]
        top, ok = QInputDialog.getDouble(
            self,
            "Colour range",
            f"{name} of the top colour (grid units); the bottom is 0:",
            self.colour_range[1],
            0.01,
            1e4,
            2,
        )
        if ok:
            self.set_colour_top(top)

    def _on_options_changed(self, _index: int) -> None:
        self._update_legend()
        self.budget.reset()
        self.redraw()

    # -- frames -----------------------------------------------------------------------------------
    def _upload(self, frame: Frame) -> None:
        data = map_data(
            frame, self.colour_by, self.centres_from, colormap=COLORMAP, value_range=self.colour_range
        )
        self._net.set_net(data.positions, data.segments, data.colours)
        self._data = data
        self._update_selection()

    def _update_legend(self) -> None:
        name = {value: text for text, value, _ in _COLOUR_BY}[self.colour_by]
        low, high = self.colour_range
        self.legend_label.setText(name)
        self.legend_low.setText(f"{low:g}")
        # values above the top take the top colour
        self.legend_high.setText(f"\u2265{high:g}")
        self.colour_legend.setToolTip(
            f"Marker colour: {name} in grid units (source-grid cells), from {low:g} to {high:g}; larger "
            "values take the top colour. Right-click to set the range."
        )

    def reset(self, config: ModelConfig) -> None:
        """Forget the map; resize to the new grid."""
        self._data = None
        super().reset(config)

    def _set_side(self, side: int) -> None:
        self._side = side
        self._data = None
        self._drawn = None
        self._net.set_side(side)
        self._region.visible = False
        self._fit_grid()

    def _on_canvas_resized(self, _event: Any = None) -> None:
        # The scene's view learns its size while the canvas draws, when a repaint it asks for is
        # ignored: the picture with the whole grid is drawn once the current one is done.
        self._fit_grid()
        QTimer.singleShot(0, self._repaint)

    def _repaint(self) -> None:
        if self.display is not None:
            self.display.refresh()

    def _fit_grid(self) -> None:
        """Show the whole grid, exactly (the data area is square: see :class:`SquareDataHolder`)."""
        if self._view is not None and self._side > 0:
            side = self._side
            self._view.camera.set_range(x=(-0.5, side - 0.5), y=(-0.5, side - 0.5), margin=0.0)

    # -- selection --------------------------------------------------------------------------------
    def _on_selection_changed(self, _neuron: int) -> None:
        if self._canvas is not None:
            self._update_selection()
            self._canvas.update()

    def _update_selection(self) -> None:
        neuron = self.context.selected
        if self._data is not None and 0 <= neuron < len(self._data.positions):
            self._net.set_selected(tuple(self._data.positions[neuron]))
        else:
            self._net.set_selected(None)

    def canvas_to_grid(self, pos: Any) -> tuple[float, float]:
        """Return the grid coordinates ``(x, y)`` of canvas pixel ``pos``."""
        xy = self._canvas.scene.node_transform(self._view.scene).map(np.asarray(pos[:2], dtype=np.float64))
        return float(xy[0]), float(xy[1])

    def grid_to_canvas(self, points: Any) -> np.ndarray:
        """Return the canvas pixel positions ``(K, 2)`` of grid points ``(K, 2)``."""
        tr = self._view.scene.node_transform(self._canvas.scene)
        return np.asarray(tr.map(np.asarray(points, dtype=np.float64).reshape(-1, 2))[:, :2])

    def select_at(self, pos: tuple[float, float]) -> int:
        """Select the neuron at canvas pixel ``pos``.

        The neuron whose marker lies within 10 px wins; otherwise the neuron
        whose grid position is nearest the point clicked. Returns its id.
        """
        neuron = -1
        if self._data is not None and len(self._data.positions):
            neuron = nearest_point(self.grid_to_canvas(self._data.positions), pos, PICK_RADIUS_PX)
        if neuron < 0:
            neuron = grid_neuron_at(*self.canvas_to_grid(pos), self._side)
        self.context.select(neuron)
        return neuron

    # -- mouse ------------------------------------------------------------------------------------
    def _on_lesion_tool_changed(self, tool: str) -> None:
        self._view.camera.interactive = not tool
        self._drag_start = None
        self._region.visible = False
        self._canvas.update()

    def _on_mouse_press(self, event: Any) -> None:
        if event.button != 1:
            return
        self._press_pos = (float(event.pos[0]), float(event.pos[1]))
        if self.context.lesion_tool in REGION_COLOURS:
            self._drag_start = self.canvas_to_grid(event.pos)
            event.handled = True

    def _on_mouse_move(self, event: Any) -> None:
        if self._drag_start is None or self.context.lesion_tool not in REGION_COLOURS:
            return
        x1, y1 = self.canvas_to_grid(event.pos)
        self._region.set_rect(*self._drag_start, x1, y1, REGION_COLOURS[self.context.lesion_tool])
        self._region.visible = True
        self._canvas.update()
        event.handled = True

    def _on_mouse_release(self, event: Any) -> None:
        if event.button != 1:
            return
        press, self._press_pos = self._press_pos, None
        start, self._drag_start = self._drag_start, None
        pos = (float(event.pos[0]), float(event.pos[1]))
        moved = press is not None and math.hypot(pos[0] - press[0], pos[1] - press[1]) > CLICK_TOLERANCE_PX
        if start is not None:
            self._region.visible = False
            self._canvas.update()
            if moved and self.context.lesion_tool in REGION_COLOURS:
                self.context.region_selected.emit(*normalised_rect(*start, *self.canvas_to_grid(pos)))
                return
        if press is not None and not moved:
            self.select_at(pos)
