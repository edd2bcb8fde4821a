"""The two layers in 3-D with every synapse drawn, coloured by weight.

The source layer lies below, the target layer above; every feed-forward
synapse is a line between them and every lateral synapse an arc over the
target plane. Clicking a target neuron selects it (for every view) and
highlights its in-star (incoming FF synapses) and its LAT out-star; clicking
a source neuron highlights its FF out-star. The rest fades.

Per frame only the synapse tables are uploaded (see
:class:`~gui.visuals.layers.SynapseLinesVisual`); neuron positions are fixed
per grid size. Drawing tens of thousands of lines costs software OpenGL
about 0.1 s, so a :class:`~gui.views.gl.RedrawBudget` measures every
upload and paint and spaces out frames so that the view takes at most half
of the GUI thread; with a GPU the budget never holds a frame back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PyQt6.QtWidgets import QCheckBox, QLabel, QSizePolicy, QWidget
from vispy import scene
from vispy.visuals.transforms import STTransform

from app.experiments.topomap.frame import Frame
from gui.context import ViewContext
from gui.experiments.topomap.views.adapters import nearest_point, star_mask, synapse_vertices
from gui.views.canvas_view import CanvasView
from gui.views.flow_layout import FlowLayout, widget_group
from gui.views.gl import RedrawBudget, colour_bar_pixmap, gl_renderer, is_software_renderer
from gui.visuals.layers import LayerPlanes, RasterSynapseLayer, SynapseLines, colormap_lut
from sim.experiments.topomap.config import ModelConfig

__all__ = ["ConnectivityView"]

#: Colormap of the synapse weights.
COLORMAP = "viridis"
#: Highlight colours by weight (low to high): FF in-star or out-star, and LAT out-star.
FF_STAR_COLOURS = ((0.75, 0.12, 0.08, 1.0), (1.0, 0.62, 0.12, 1.0))
LAT_STAR_COLOURS = ((0.10, 0.40, 0.90, 1.0), (0.35, 0.95, 1.0, 1.0))
#: Rings round a picked source and the selected target neuron.
SOURCE_RING = (1.0, 0.62, 0.12, 1.0)
TARGET_RING = (1.0, 1.0, 1.0, 1.0)
#: Opacity of all synapses against the background, and of those not highlighted while a neuron is picked.
SYNAPSE_ALPHA = 0.85
FADED_ALPHA = 0.15
#: Height of the target plane over the source plane, as a fraction of the grid side.
GAP_FRACTION = 0.3
#: Line segments per LAT arc, and arc height relative to the arc's length.
ARC_SEGMENTS = 4
ARC_HEIGHT = 0.35
#: LAT synapses are shown by default up to this grid side (above it they cost too much to draw).
LAT_DEFAULT_MAX_SIDE = 32
#: A click this close (pixels) to a neuron's marker picks it.
PICK_RADIUS_PX = 10.0
#: A press and release closer than this (pixels) is a click, not a rotation.
CLICK_TOLERANCE_PX = 4.0
#: Fixed starting view of the turntable camera (degrees).
ELEVATION = 28.0
AZIMUTH = -30.0
FOV = 30.0
#: Camera scale factor (visible extent) relative to the grid side.
ZOOM_OUT = 1.45
#: Canvas colour (RGB); faded synapses are mixed towards it.
BACKGROUND = (0.08, 0.08, 0.11)
#: Colour and size (points) of the layer names in the scene.
LABEL_COLOUR = (1.0, 1.0, 1.0, 1.0)
LABEL_FONT_SIZE = 11
#: The longest text of the pick label (it is at least this wide).
PICK_TEXT_EXAMPLE = "target 4095 (63, 63)"


class ConnectivityView(CanvasView[Frame]):
    """Source and target layers as planes with their FF synapses as lines and LAT synapses as arcs.

    Parameters
    ----------
    context : ViewContext
        The shared selection (a click on a target neuron selects it).
    parent : QWidget, optional
        Parent widget.
    budget : RedrawBudget, optional
        Spacing of redraws; by default at most half of wall time.
    cpu_lines : bool, optional
        Rasterise the synapse tables on the CPU (see :mod:`gui.visuals.raster`)
        instead of drawing them as OpenGL lines. By default this is done
        where OpenGL itself runs on the CPU, where it is several times faster.
    """

    key = "connectivity"
    title = "Connectivity"
    tooltip = (
        "Source layer (below) and target layer (above) with every FF synapse as a line and LAT synapses "
        "as arcs, coloured by weight. Click a neuron to highlight its synapses; drag to rotate."
    )

    def __init__(
        self,
        context: ViewContext,
        parent: QWidget | None = None,
        *,
        budget: RedrawBudget | None = None,
        cpu_lines: bool | None = None,
    ) -> None:
        super().__init__(context, parent, budget if budget is not None else RedrawBudget(0.5))
        self._source = -1
        self._lat_choice: bool | None = None
        self._lat_stale = True
        self._press_pos: tuple[float, float] | None = None
        if not self._build(self._make_toolbar(), BACKGROUND):
            return
        self._view.camera = scene.TurntableCamera(elevation=ELEVATION, azimuth=AZIMUTH, fov=FOV)
        # y is flipped (y = n - 1 - row) so that row 0 lies at the back of the planes, drawn at the top.
        self._root = scene.Node(parent=self._view.scene)
        renderer = gl_renderer()
        #: Whether the synapse tables are rasterised on the CPU.
        self.cpu_lines = is_software_renderer(renderer) if cpu_lines is None else bool(cpu_lines)
        style: dict[str, Any] = {"colormap": COLORMAP, "alpha": SYNAPSE_ALPHA, "background": BACKGROUND}
        self._ff: Any
        self._lat: Any
        if self.cpu_lines:
            self._ff = RasterSynapseLayer(self._root, **style)
            self._lat = RasterSynapseLayer(self._root, **style)
            self._canvas.add_underlay(self._ff)
            self._canvas.add_underlay(self._lat)
        else:
            self._ff = SynapseLines(parent=self._root, **style)
            self._lat = SynapseLines(parent=self._root, **style)
        drawn_by = "the CPU rasteriser" if self.cpu_lines else "OpenGL"
        self.setToolTip(f"{self.tooltip}\nSynapses drawn by {drawn_by} (OpenGL renderer: {renderer}).")
        self._planes = LayerPlanes(parent=self._root)
        # the layers' names, beside the front corner of each plane (placed in _set_side)
        self.layer_labels = {
            name: scene.visuals.Text(
                name,
                color=LABEL_COLOUR,
                font_size=LABEL_FONT_SIZE,
                bold=True,
                anchor_x="right",
                anchor_y="center",
                parent=self._root,
            )
            for name in ("source", "target")
        }
        for label in self.layer_labels.values():
            label.set_gl_state("translucent", depth_test=False)  # over the synapses and markers
        self._ff_star = SynapseLines(colormap=FF_STAR_COLOURS, width=2.0, depth_test=False, parent=self._root)
        self._lat_star = SynapseLines(
            colormap=LAT_STAR_COLOURS, width=2.0, depth_test=False, parent=self._root
        )
        nodes = [self._planes, self._ff_star, self._lat_star, *self.layer_labels.values()]
        if not self.cpu_lines:  # CPU-rasterised layers lie beneath the scene anyway
            nodes = [self._ff, self._lat, *nodes]
        for order, node in enumerate(nodes):
            node.order = order

        self._canvas.events.mouse_press.connect(self._on_mouse_press)
        self._canvas.events.mouse_release.connect(self._on_mouse_release)
        self._connect_context(context.selection_changed, self._on_selection_changed)
        self._set_side(16)

    def _make_toolbar(self) -> FlowLayout:
        bar = FlowLayout()
        self.lat_box = QCheckBox("LAT synapses")
        self.lat_box.setToolTip(
            "Draw the lateral synapses as arcs over the target plane "
            f"(off by default above a {LAT_DEFAULT_MAX_SIDE} x {LAT_DEFAULT_MAX_SIDE} grid)"
        )
        self.lat_box.toggled.connect(self._on_show_lat_changed)
        self.pick_label = QLabel()
        # its text changes with the pick: a fixed width, enough for the longest, never widens the row
        self.pick_label.setFixedWidth(self.pick_label.fontMetrics().horizontalAdvance(PICK_TEXT_EXAMPLE) + 8)
        self.pick_label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.weight_range = QLabel()
        weights = QLabel()
        weights.setPixmap(colour_bar_pixmap(colormap_lut(COLORMAP), width=80))
        ff_star = QLabel()
        ff_star.setPixmap(colour_bar_pixmap(colormap_lut(FF_STAR_COLOURS), width=24))
        lat_star = QLabel()
        lat_star.setPixmap(colour_bar_pixmap(colormap_lut(LAT_STAR_COLOURS), width=24))
        weight_legend = widget_group(QLabel("weight 0"), weights, self.weight_range)
        weight_legend.setToolTip(
            "Synapse colour by weight, from 0 to g_max (STDP keeps weights within this range)"
        )
        for widget in (
            self.lat_box,
            self.pick_label,
            weight_legend,
            widget_group(QLabel("FF star"), ff_star),
            widget_group(QLabel("LAT out"), lat_star),
        ):
            bar.addWidget(widget)
        self.weight_range.setText("g_max")
        return bar

    # -- state ------------------------------------------------------------------------------------
    @property
    def picked_source(self) -> int:
        """The picked source neuron (its FF out-star is highlighted), or -1."""
        return self._source

    @property
    def lat_visible(self) -> bool:
        """Whether LAT synapses are drawn."""
        return self.lat_box.isChecked()

    def highlighted_counts(self) -> tuple[int, int]:
        """Numbers of highlighted FF and LAT synapses."""
        if self._canvas is None:
            return (0, 0)
        return (self._ff_star.count // 2, self._lat_star.count // (2 * ARC_SEGMENTS))

    # -- frames -----------------------------------------------------------------------------------
    def _upload(self, frame: Frame) -> None:
        snap = frame.snapshot
        clim = (0.0, float(frame.config.stdp.g_max))
        for lines in (self._ff, self._lat, self._ff_star, self._lat_star):
            lines.clim = clim
        self.weight_range.setText(f"{clim[1]:g} (g_max)")
        self._ff.set_data(synapse_vertices(snap.ff.pre, snap.ff.post, snap.ff.weight))
        self._lat_stale = True
        self._upload_lat(frame)
        self._update_highlight(frame)

    def _upload_lat(self, frame: Frame) -> None:
        if self.lat_visible and self._lat_stale:
            lat = frame.snapshot.lat
            self._lat.set_data(synapse_vertices(lat.pre, lat.post, lat.weight, ARC_SEGMENTS))
            self._lat_stale = False

    def _update_highlight(self, frame: Frame | None) -> None:
        n = self._side * self._side
        target = self.context.selected if self._source < 0 and 0 <= self.context.selected < n else -1
        source = self._source if 0 <= self._source < n else -1
        active = target >= 0 or source >= 0
        for lines in (self._ff, self._lat):
            lines.alpha = FADED_ALPHA if active else SYNAPSE_ALPHA
        rings = [i for i in (source, n + target if target >= 0 else -1) if i >= 0]
        self._planes.set_picked(rings, [SOURCE_RING if i < n else TARGET_RING for i in rings])
        self.pick_label.setText(self._pick_text(source, target))
        self.pick_label.setToolTip(
            "Highlighted: the FF out-star of the source neuron"
            if source >= 0
            else "Highlighted: the FF in-star and LAT out-star of the target neuron"
            if target >= 0
            else "Click a neuron to highlight its synapses"
        )
        ff_data = lat_data = np.zeros((0, 4), np.float32)
        if frame is not None and active:
            ff, lat = frame.snapshot.ff, frame.snapshot.lat
            m = star_mask(ff.pre, ff.post, source=source, target=target)
            ff_data = synapse_vertices(ff.pre[m], ff.post[m], ff.weight[m])
            if target >= 0:
                m = star_mask(lat.pre, lat.post, source=target)
                lat_data = synapse_vertices(lat.pre[m], lat.post[m], lat.weight[m], ARC_SEGMENTS)
        self._ff_star.set_data(ff_data)
        self._lat_star.set_data(lat_data)

    def _pick_text(self, source: int, target: int) -> str:
        n = self._side
        if source >= 0:
            return f"source {source} ({source % n}, {source // n})"
        if target >= 0:
            return f"target {target} ({target % n}, {target // n})"
        return "click a neuron"

    def reset(self, config: ModelConfig) -> None:
        """Forget the synapses drawn; resize to the new grid."""
        self._source = -1
        super().reset(config)

    def _set_side(self, side: int) -> None:
        self._side = side
        self._drawn = None
        gap = GAP_FRACTION * side
        self._root.transform = STTransform(scale=(1.0, -1.0, 1.0), translate=(0.0, side - 1.0, 0.0))
        self._planes.set_layout(side, 0.0, gap)
        # left of the front-left corner of each plane (y is flipped by the root transform)
        for name, z in (("source", 0.0), ("target", gap)):
            self.layer_labels[name].pos = (-1.0 - 0.04 * side, side - 0.5, z)
        empty = np.zeros((0, 4), np.float32)
        for lines, layers in (
            (self._ff, (0.0, gap, 0.0)),
            (self._ff_star, (0.0, gap, 0.0)),
            (self._lat, (gap, gap, ARC_HEIGHT)),
            (self._lat_star, (gap, gap, ARC_HEIGHT)),
        ):
            lines.side = side
            lines.set_layers(*layers)
            lines.set_data(empty)
        self._lat_stale = True
        self.lat_box.blockSignals(True)
        self.lat_box.setChecked(
            self._lat_choice if self._lat_choice is not None else side <= LAT_DEFAULT_MAX_SIDE
        )
        self.lat_box.blockSignals(False)
        self._lat.visible = self.lat_box.isChecked()
        self._update_highlight(None)
        camera = self._view.camera
        camera.center = ((side - 1) / 2.0, (side - 1) / 2.0, gap / 2.0)
        camera.scale_factor = ZOOM_OUT * side
        camera.elevation, camera.azimuth = ELEVATION, AZIMUTH

    def _on_show_lat_changed(self, shown: bool) -> None:
        self._lat_choice = shown
        if self._canvas is None:
            return
        self._lat.visible = shown
        if self.frame is not None and self.isVisible():
            self._upload_lat(self.frame)
        self._canvas.update()

    # -- picking ----------------------------------------------------------------------------------
    def marker_screen_positions(self) -> np.ndarray:
        """Canvas pixel positions ``(2 N, 2)`` of the neuron markers: source layer, then target layer."""
        tr = self._planes.get_transform("visual", "canvas")
        p = tr.map(self._planes.positions.astype(np.float64))
        return np.asarray(p[:, :2] / p[:, 3:4])

    def pick_at(self, pos: tuple[float, float]) -> int:
        """Pick the neuron whose marker is within 10 px of canvas pixel ``pos``.

        A target neuron is selected through the context (every view follows);
        a source neuron has its FF out-star highlighted here. Nothing near
        clears both. Returns the marker index (source ``i``, target ``N + j``) or -1.
        """
        index = nearest_point(self.marker_screen_positions(), pos, PICK_RADIUS_PX)
        n = self._side * self._side
        if 0 <= index < n:
            self._source = index
            self._update_highlight(self.frame)
            self._canvas.update()
        else:
            self._source = -1
            target = index - n if index >= n else -1
            if target == self.context.selected:
                self._update_highlight(self.frame)
                self._canvas.update()
            self.context.select(target)
        return index

    def _on_selection_changed(self, _neuron: int) -> None:
        if self._canvas is not None:
            self._source = -1
            self._update_highlight(self.frame)
            self._canvas.update()

    def _on_mouse_press(self, event: Any) -> None:
        if event.button == 1:
            self._press_pos = (float(event.pos[0]), float(event.pos[1]))

    def _on_mouse_release(self, event: Any) -> None:
        press, self._press_pos = self._press_pos, None
        if event.button != 1 or press is None:
            return
        pos = (float(event.pos[0]), float(event.pos[1]))
        if math.hypot(pos[0] - press[0], pos[1] - press[1]) <= CLICK_TOLERANCE_PX:
            self.pick_at(pos)
