"""The receptive field of one target neuron: its feed-forward and lateral in-stars as grid images."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PyQt6.QtWidgets import QComboBox, QLabel, QWidget

from app.experiments.topomap.frame import Frame
from gui.context import ViewContext
from gui.views._plots import (
    COLOURS,
    Cell,
    ColourRange,
    GridImagePlot,
    ResponsiveGrid,
    controls_row,
    set_title,
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.experiments.topomap.analysis.receptive_fields import in_star, receptive_fields
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.snapshot import Synapses

__all__ = ["NeuronField", "ReceptiveFieldView", "centre_neuron", "neuron_field", "pair_colour_range"]

_MEASURES = ("Synapse counts", "Summed weights")
#: Top of the colour scale of synapse counts per neuron pair where one pair can hold several synapses.
MULTI_SYNAPSE_TOP = 4


@dataclass(frozen=True)
class NeuronField:
    """The feed-forward receptive field of one target neuron.

    Attributes
    ----------
    image : ndarray of float64, shape (n, n)
        Synapse count (or summed weight) from every source neuron, ``image[row, col]``.
    centre : tuple of float
        Receptive-field centre ``(x, y)`` on the source grid, in grid units.
    sigma_aff : float
        Spread of the receptive field (grid units; 0 without input).
    ad : float
        Distance of the centre from the neuron's own position (grid units; 0 without input).
    has_input : bool
        Whether the neuron has any feed-forward input.
    """

    image: NDArray[np.float64]
    centre: tuple[float, float]
    sigma_aff: float
    ad: float
    has_input: bool


def pair_colour_range(config: ModelConfig, weighted: bool) -> ColourRange:
    """The fixed colour range of an in-star image: synapses (or summed weight) per neuron pair.

    Pair rewiring over pairwise-Bernoulli wiring never puts two synapses
    between one pair, so the range is 0 to 1 synapse (0 to g_max) and
    nothing clips. Otherwise (slot rewiring, fixed fan-in wiring) a pair can
    hold several; the range is 0 to :data:`MULTI_SYNAPSE_TOP` synapses (times
    g_max), which rarely clips (about 1 % of connected pairs hold 3 or more).
    """
    g_max = float(config.stdp.g_max)
    single = config.rewiring.scheme == "pair" and config.connectivity.wiring == "pairwise_bernoulli"
    top = 1.0 if single else float(MULTI_SYNAPSE_TOP)
    return ColourRange(top * g_max if weighted else top, 0.0, clips=not single)


def centre_neuron(side: int) -> int:
    """Id of the neuron at the centre ``(side // 2, side // 2)`` of a ``side x side`` grid."""
    return (side // 2) * side + side // 2


def neuron_field(ff: Synapses, side: int, neuron: int, weighted: bool) -> NeuronField:
    """Measure the feed-forward receptive field of one target neuron.

    Only the neuron's own synapses are analysed, so the cost is that of one
    neuron, and the result equals that neuron's entry of
    :func:`sim.experiments.topomap.analysis.receptive_fields.receptive_fields` on all synapses.

    Parameters
    ----------
    ff : Synapses
        The feed-forward synapses of a snapshot.
    side : int
        Grid side n.
    neuron : int
        Target neuron id.
    weighted : bool
        Sum weights instead of counting synapses.
    """
    mask = ff.post == neuron
    pre, post = ff.pre[mask], ff.post[mask]
    weights = ff.weight[mask].astype(np.float64) if weighted else None
    image = in_star(pre, post, side, neuron, weights=weights)
    fields = receptive_fields(pre, post, side, weights=weights)
    x, y = fields.centre[neuron]
    return NeuronField(
        image=image,
        centre=(float(x), float(y)),
        sigma_aff=float(fields.sigma_aff[neuron]),
        ad=float(fields.ad[neuron]),
        has_input=bool(fields.has_input[neuron]),
    )


class ReceptiveFieldView(View[Frame]):
    """The selected target neuron's feed-forward in-star on the source grid and lateral in-star.

    Parameters
    ----------
    context : ViewContext
        Shared view state; the view follows ``context.selected``.
    parent : QWidget, optional
        Parent widget.
    """

    key = "receptive_field"
    title = "Receptive field"
    tooltip = (
        "Where the selected target neuron gets its input from (the centre neuron while none is "
        "selected). FF: the source neurons that synapse onto it (its receptive field). LAT: the target "
        "neurons that synapse onto it. Click a neuron in the LAT image (or in the map view) to select it."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.measure_box = QComboBox()
        self.measure_box.setObjectName("rf_measure")
        self.measure_box.addItems(_MEASURES)
        self.measure_box.setToolTip(
            "Synapse counts: how many synapses come from each neuron (several synapses between one pair "
            "are possible). Summed weights: the total weight of those synapses, which STDP changes."
        )
        self.measure_box.currentIndexChanged.connect(self._on_measure_changed)

        self.graphics = pg.GraphicsLayoutWidget()
        ff_plot = self.graphics.addPlot(row=0, col=0)
        lat_plot = self.graphics.addPlot(row=0, col=1)
        setup_axes(
            ff_plot,
            "FF in-star",
            "source x (grid units)",
            "source y",
            "Feed-forward synapses onto the selected neuron, drawn on the source grid. The red cross is "
            "the receptive-field centre; the white ring is the position of the selected neuron itself. "
            "As the map forms, the synapses gather around the ring.",
        )
        setup_axes(
            lat_plot,
            "LAT in-star",
            "target x (grid units)",
            "target y",
            "Lateral synapses onto the selected neuron, drawn on the target grid: which target neurons "
            "excite (or inhibit) it. The white ring is the selected neuron; click another neuron to "
            "select it.",
        )
        self.ff_image = GridImagePlot(ff_plot, "synapses")
        self.lat_image = GridImagePlot(lat_plot, "synapses")
        self.ff_image.link_user_range(self.lat_image)
        # side by side in a wide view, one above the other in a tall one
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [ff_plot, lat_plot],
            [1.15, 1.15],
            [(Cell(0, 0), Cell(0, 1)), (Cell(0, 0), Cell(1, 0))],
        )
        self.centre_marker = pg.ScatterPlotItem(
            size=16, symbol="+", pen=pg.mkPen(COLOURS["marker"], width=2.5), brush=None
        )
        ff_plot.addItem(self.centre_marker)
        self.own_markers: list[pg.ScatterPlotItem] = []
        for plot in (ff_plot, lat_plot):
            marker = pg.ScatterPlotItem(
                size=14, symbol="o", pen=pg.mkPen(COLOURS["own"], width=2), brush=None
            )
            plot.addItem(marker)
            self.own_markers.append(marker)
        #: The neuron shown (the selection, or the centre neuron when none is selected).
        self.neuron = -1
        #: The receptive field measured at the last draw.
        self.field: NeuronField | None = None
        view_layout(self, self.graphics, controls_row(QLabel("Measure:"), self.measure_box))
        context.selection_changed.connect(self._on_selection_changed)
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)

    @property
    def weighted(self) -> bool:
        """Whether images show summed weights rather than synapse counts."""
        return self.measure_box.currentIndex() == 1

    def export_widget(self) -> QWidget:
        """The plots without the options row: what an export shows."""
        return self.graphics

    def reset(self, config: ModelConfig) -> None:
        """Resize the images to the new grid and take the colour ranges of the new configuration."""
        super().reset(config)
        self._resize(config)

    def _resize(self, config: ModelConfig) -> None:
        side = config.side
        self.ff_image.set_side(side)
        self.lat_image.set_side(side)
        self.field = None
        for item in (self.centre_marker, *self.own_markers):
            item.setData(pos=np.zeros((0, 2)))

    def draw_frame(self, frame: Frame) -> None:
        """Show the in-stars of the selected neuron (or the centre neuron when none is selected)."""
        snap, side = frame.snapshot, frame.side
        if side != self.ff_image.side:
            self._resize(frame.config)
        selected = self.context.selected
        has_selection = 0 <= selected < side * side
        neuron = selected if has_selection else centre_neuron(side)
        weighted = self.weighted
        self.neuron = neuron

        field = neuron_field(snap.ff, side, neuron, weighted)
        self.field = field
        lat_mask = snap.lat.post == neuron
        lat_weights = snap.lat.weight[lat_mask].astype(np.float64) if weighted else None
        lat = in_star(snap.lat.pre[lat_mask], snap.lat.post[lat_mask], side, neuron, weights=lat_weights)
        self._show_images(field.image, lat, frame.config, weighted)

        x, y = neuron % side, neuron // side
        self._set_markers(self.own_markers, (float(x), float(y)))
        self._set_markers([self.centre_marker], field.centre if field.has_input else None)

        who = f"{'' if has_selection else 'centre '}neuron {neuron} ({x}, {y})"
        stats = (
            f"&sigma;<sub>aff</sub> {field.sigma_aff:.2f}, AD {field.ad:.2f} grid units"
            if field.has_input
            else "no FF input"
        )
        set_title(self.ff_image.plot, f"FF in-star of {who}<br>{stats}")
        set_title(self.lat_image.plot, f"LAT in-star of {who}<br>{int(lat_mask.sum())} lateral synapses")

    @staticmethod
    def _set_markers(markers: list[pg.ScatterPlotItem], position: tuple[float, float] | None) -> None:
        pos = np.zeros((0, 2)) if position is None else np.array([position], np.float64)
        for marker in markers:
            x, y = marker.getData()
            if len(x) != len(pos) or (len(pos) and (x[0], y[0]) != position):
                marker.setData(pos=pos)

    def _show_images(
        self, ff: NDArray[np.float64], lat: NDArray[np.float64], config: ModelConfig, weighted: bool
    ) -> None:
        colours = pair_colour_range(config, weighted)
        label = f"summed weight (g_max {config.stdp.g_max:g})" if weighted else "synapses"
        for image, values in ((self.ff_image, ff), (self.lat_image, lat)):
            image.set_values(values)
            image.set_default_range(colours)
            image.set_colour_label(label)

    def neuron_at(self, x: float, y: float) -> int:
        """Id of the target neuron whose pixel holds the point ``(x, y)`` of the target grid, or -1."""
        side = self.lat_image.side
        col, row = round(x), round(y)
        return row * side + col if 0 <= col < side and 0 <= row < side else -1

    def _on_scene_clicked(self, event: Any) -> None:
        plot = self.lat_image.plot
        scene_pos = event.scenePos()
        if not plot.vb.sceneBoundingRect().contains(scene_pos):
            return
        point = plot.vb.mapSceneToView(scene_pos)
        neuron = self.neuron_at(point.x(), point.y())
        if neuron >= 0:
            self.context.select(neuron)

    def _on_selection_changed(self, neuron: int) -> None:
        self.redraw()

    def _on_measure_changed(self, index: int) -> None:
        self.redraw()

    def shutdown(self) -> None:
        """Stop following the selection."""
        with contextlib.suppress(TypeError):
            self.context.selection_changed.disconnect(self._on_selection_changed)
