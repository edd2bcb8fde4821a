"""Rewiring per batch: synapses pruned, regrown and refused in each table, and each table's synapse count."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

from app.experiments.classifier.frame import Frame
from gui.context import ViewContext
from gui.experiments.classifier.views.common import (
    EPOCH_LABEL,
    TABLE_COLOURS,
    TABLES,
    TURNOVER_COLOURS,
    training_progress,
)
from gui.views._plots import (
    Cell,
    HistoryWatch,
    ResponsiveGrid,
    SteadyExtent,
    add_legend,
    finite_max,
    make_curve,
    nice_ceiling,
    set_title,
    setup_axes,
    view_layout,
)
from gui.views.base import View
from sim.experiments.classifier.config import ClassifierConfig

__all__ = ["RewiringView"]

#: Epochs the time axes span before there are data.
EMPTY_EPOCHS = 1.0
#: Top of the per-batch axes before there are data (synapses).
TURNOVER_AXIS_START = 10.0
#: Lowest top of the per-batch axes (synapses).
TURNOVER_AXIS_MIN = 5.0
#: (history column prefix, legend name) of the curves of each table's plot, drawn in this order.
_TURNOVER: tuple[tuple[str, str], ...] = (
    ("removed", "pruned"),
    ("regrown", "regrown"),
    ("refused", "refused"),
)


class RewiringView(View[Frame]):
    """DEEP R's work per training batch in each table, and the synapse counts it keeps.

    Parameters
    ----------
    context : ViewContext
        Shared view state.
    parent : QWidget, optional
        Parent widget.
    """

    key = "rewiring"
    title = "Rewiring"
    tooltip = (
        "How many synapses DEEP R prunes (their weight changed sign) and regrows (at random free pairs) "
        "at the end of every training batch, per table. A random draw that hits a pair already connected "
        "or a full row is refused and drawn again, so pruned and regrown stay equal and each table keeps "
        "its synapse count (unless the redraws run out)."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.extents: dict[str, SteadyExtent] = {}
        for row, table in enumerate(TABLES):
            plot = self.graphics.addPlot(row=row, col=0)
            setup_axes(
                plot,
                f"{table.title} rewiring",
                EPOCH_LABEL,
                "synapses per batch",
                f"Synapses of the {table.title.lower()} table pruned and regrown at the end of each "
                "training batch, and the regrowth draws refused (a pair already connected, or a full row).",
            )
            add_legend(plot)
            for column, name in _TURNOVER:
                curve = make_curve(plot, name, TURNOVER_COLOURS[_colour(column)])
                if column == "removed":  # wider, under the regrown curve: both show where they are equal
                    curve.setPen(pg.mkPen(TURNOVER_COLOURS["pruned"], width=4))
                self.curves[f"{column}_{table.name}"] = curve
            self.plots[table.name] = plot
            self.extents[table.name] = SteadyExtent(plot, EMPTY_EPOCHS, TURNOVER_AXIS_START)
        counts = self.graphics.addPlot(row=len(TABLES), col=0)
        setup_axes(
            counts,
            "Synapses per table",
            EPOCH_LABEL,
            "synapses",
            "Synapses in each table after every training batch: DEEP R keeps each count constant.",
        )
        add_legend(counts)
        for table in TABLES:
            self.curves[f"synapses_{table.name}"] = make_curve(counts, table.title, TABLE_COLOURS[table.name])
        self.plots["synapses"] = counts
        self.extents["synapses"] = SteadyExtent(counts, EMPTY_EPOCHS, 1.0)
        self._rows = HistoryWatch()
        self.arrangement = ResponsiveGrid(
            self.graphics,
            [self.plots["in"], self.plots["rec"], counts],
            [1.8, 1.8, 1.8],
            # the counts, flat lines under DEEP R, take less height than the turnover
            [
                (Cell(0, 0), Cell(1, 0), Cell(2, 0, weight=0.8)),
                (Cell(0, 0), Cell(0, 1), Cell(1, 0, 1, 2, weight=0.7)),
                (Cell(0, 0), Cell(0, 1), Cell(0, 2)),
            ],
        )
        view_layout(self, self.graphics)

    def export_widget(self) -> QWidget:
        """The plots, without margins: what an export shows."""
        return self.graphics

    def reset(self, config: ClassifierConfig) -> None:
        """Clear the curves."""
        super().reset(config)
        self._rows.forget()
        for curve in self.curves.values():
            curve.setData(np.zeros(0), np.zeros(0))
        for name, extent in self.extents.items():
            extent.set_empty(EMPTY_EPOCHS, 1.0 if name == "synapses" else TURNOVER_AXIS_START)
        for table in TABLES:
            set_title(self.plots[table.name], f"{table.title} rewiring")
        set_title(self.plots["synapses"], "Synapses per table")

    def draw_frame(self, frame: Frame) -> None:
        """Update the curves when the history has new rows."""
        history = frame.history
        if not self._rows.news(history):
            return
        table = history.table()
        t = training_progress(table, frame.snapshot.train_batches)
        deep_r = frame.config.rewiring.enabled and not frame.config.dense
        for tab in TABLES:
            values = [table[f"{column}_{tab.name}"] for column, _name in _TURNOVER]
            for (column, _name), v in zip(_TURNOVER, values, strict=True):
                self.curves[f"{column}_{tab.name}"].setData(t, v)
            # (at least a few synapses high: no axis of thousandths while nothing is rewired)
            extent = self.extents[tab.name]
            extent.follow(finite_max(t), extent.HEADROOM * finite_max(*values), minimum=TURNOVER_AXIS_MIN)
            if len(t):
                pruned, regrown = int(values[0][-1]), int(values[1][-1])
                state = f"last batch: {pruned:,} pruned, {regrown:,} regrown" if deep_r else "DEEP R off"
                set_title(self.plots[tab.name], f"{tab.title} rewiring<br>{state}")
        counts = [table[f"synapses_{tab.name}"] for tab in TABLES]
        for tab, v in zip(TABLES, counts, strict=True):
            self.curves[f"synapses_{tab.name}"].setData(t, v)
        top = max((float(v.max()) for v in counts if v.size), default=1.0)
        self.extents["synapses"].follow(float(t.max()) if t.size else 0.0, nice_ceiling(1.1 * top))
        if len(t):
            now = " \u00b7 ".join(f"{tab.name} {int(v[-1]):,}" for tab, v in zip(TABLES, counts, strict=True))
            set_title(self.plots["synapses"], f"Synapses: {now}")


def _colour(column: str) -> str:
    """The turnover colour of a history column prefix."""
    return {"removed": "pruned", "regrown": "regrown", "refused": "refused"}[column]
