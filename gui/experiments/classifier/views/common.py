"""What the classifier's views share: colours, the two tables, signed colour scales, histograms.

Weights are drawn on one diverging colour map everywhere (negative blue,
zero light grey, positive red), on a symmetric range that follows the
weights but changes rarely (:func:`symmetric_limit`), and whose colour bar
says when values beyond it take the end colours. Pruned and regrown
synapses have one colour each in every view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike, NDArray
from PyQt6.QtGui import QFont, QFontMetrics

from gui.views._plots import (
    COLOURS,
    FINE_STEPS,
    NICE_STEPS,
    count_ceiling,
    span_title,
    stable_ceiling,
    step_histogram,
)
from sim.experiments.classifier.params import TABLE_IN, TABLE_REC
from sim.experiments.classifier.snapshot import ClassifierSnapshot, TableView

__all__ = [
    "EPOCH_LABEL",
    "SIGN_COLOURS",
    "TABLES",
    "TABLE_COLOURS",
    "TURNOVER_COLOURS",
    "SignedColourBar",
    "Table",
    "coloured",
    "count_ceiling",
    "degree_ceiling",
    "integer_edges",
    "signed_ticks",
    "step_histogram",
    "symmetric_limit",
    "table_of",
    "training_progress",
    "weight_colour_map",
]

#: Label of the time axes of the per-batch plots (see :func:`training_progress`).
EPOCH_LABEL = "training progress (epochs)"

#: Colours of negative and positive weights (the ends of :func:`weight_colour_map`).
SIGN_COLOURS: dict[str, str] = {"negative": "#2166ac", "zero": "#c8c8c8", "positive": "#b2182b"}
#: Colours of the synapses pruned and regrown and of the regrowth draws refused (a pair already
#: connected, or a full row), in every view.
TURNOVER_COLOURS: dict[str, str] = {"pruned": "#000000", "regrown": "#1a9641", "refused": "#ff7f0e"}
#: Colours of the two tables in plots that show both.
TABLE_COLOURS: dict[str, str] = {"in": COLOURS["ff"], "rec": COLOURS["lat"]}


@dataclass(frozen=True)
class Table:
    """One of the two rewired tables: its name in the metrics columns, event code and captions."""

    name: str
    code: int
    title: str
    pre_label: str
    post_label: str


#: Input -> hidden and hidden -> hidden, in the order of the snapshot's events (``projection``).
TABLES: tuple[Table, ...] = (
    Table(
        "in", TABLE_IN, "Input \u2192 hidden", "input neuron (presynaptic)", "hidden neuron (postsynaptic)"
    ),
    Table(
        "rec",
        TABLE_REC,
        "Hidden \u2192 hidden",
        "hidden neuron (presynaptic)",
        "hidden neuron (postsynaptic)",
    ),
)


def training_progress(columns: Mapping[str, NDArray[np.float64]], train_batches: int) -> NDArray[np.float64]:
    """Epochs of training done at the end of each batch row: ``epoch + (batch + 1) / train_batches``.

    Test batches take no training time on this axis, so an epoch's test
    result sits at a whole number, where its last training batch ends.
    """
    epoch, batch = np.asarray(columns["epoch"], np.float64), np.asarray(columns["batch"], np.float64)
    return epoch + (batch + 1.0) / max(int(train_batches), 1)


def coloured(text: str, colour: str) -> str:
    """``text`` in ``colour`` in a plot title (HTML): a title that names its curves, without a legend."""
    return f"<span style='color:{colour}'>{text}</span>"


def table_of(snapshot: ClassifierSnapshot, table: Table) -> TableView:
    """The synapses of ``table`` in ``snapshot``."""
    return snapshot.tin if table.code == TABLE_IN else snapshot.trec


def weight_colour_map() -> pg.ColorMap:
    """The diverging map of signed weights: blue below zero, light grey at zero, red above.

    Zero is a visible grey, not white, so a present synapse of tiny weight (a
    regrown one) is told apart from an absent pair, which the masks leave
    white.
    """
    colours = ["#053061", SIGN_COLOURS["negative"], "#92c5de", SIGN_COLOURS["zero"], "#f4a582"]
    colours += [SIGN_COLOURS["positive"], "#67001f"]
    positions = np.linspace(0.0, 1.0, len(colours))
    return pg.ColorMap(positions, [pg.mkColor(c) for c in colours], name="signed weight")


def symmetric_limit(
    current: float, magnitude: float, minimum: float = 1e-6, steps: tuple[float, ...] = NICE_STEPS
) -> float:
    """The end ``L`` of a signed range ``[-L, L]`` that follows ``magnitude`` but changes rarely.

    ``L`` stays while ``magnitude`` lies between 40 % and 100 % of it and is
    otherwise the next round value above ``magnitude`` (of ``steps`` times a
    power of ten: by default 1, 2 or 5; :func:`gui.views._plots.stable_ceiling`).
    """
    if not math.isfinite(magnitude) or magnitude <= 0.0:
        return current if current > 0.0 else 1.0
    return stable_ceiling(current, magnitude, minimum, steps)


def signed_ticks(limit: float, clips_low: bool, clips_high: bool) -> list[tuple[float, str]]:
    """Colour bar ticks of ``[-limit, limit]``: the ends (with "≤"/"≥" where values clip), halves, zero."""
    half = limit / 2.0
    low = ("\u2264" if clips_low else "") + f"{-limit:.3g}"
    high = ("\u2265" if clips_high else "") + f"{limit:.3g}"
    return [(-limit, low), (-half, f"{-half:.3g}"), (0.0, "0"), (half, f"{half:.3g}"), (limit, high)]


class SignedColourBar:
    """A colour bar for an image of signed values on the symmetric range ``[-limit, limit]``.

    The range follows the values' 99th percentile of magnitude through
    :func:`symmetric_limit`, so it changes rarely; its end labels read
    "≤ -L" and "≥ L" when some values lie beyond it and take the end colours.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot of the image (the bar goes to its right).
    item : pyqtgraph.ImageItem
        The image coloured by the bar.
    label : str
        Label of the bar, with the unit.
    """

    #: The percentile of magnitudes the range follows (the largest few may clip).
    PERCENTILE = 99.0

    def __init__(self, plot: Any, item: Any, label: str) -> None:
        self.bar = pg.ColorBarItem(
            values=(-1.0, 1.0),
            colorMap=weight_colour_map(),
            interactive=False,
            label=label,
            width=12,
            colorMapMenu=False,
        )
        self.bar.setImageItem(item, insert_in=plot)
        span_title(plot)  # over the bar too: the title needs the plot's width, not its data area's
        self.bar.axis.enableAutoSIPrefix(False)
        self.bar.axis.setStyle(hideOverlappingLabels=False)
        self._ticks: list[tuple[float, str]] = []
        self._show(1.0, (False, False))  # until the first values
        #: The end of the range, 0 until values chose it.
        self.limit = 0.0

    @property
    def levels(self) -> tuple[float, float]:
        """The values of the two ends of the colour scale."""
        low, high = self.bar.levels()
        return float(low), float(high)

    @property
    def clips(self) -> tuple[bool, bool]:
        """Whether values lie below ``-limit`` and above ``limit``."""
        return self._clips

    def reset(self) -> None:
        """Forget the range: the next values choose it afresh."""
        self.limit = 0.0

    def follow(self, values: ArrayLike) -> None:
        """Take the range for ``values`` (finite ones; NaN marks no value)."""
        v = np.asarray(values, np.float64).ravel()
        v = v[np.isfinite(v)]
        magnitude = float(np.percentile(np.abs(v), self.PERCENTILE)) if v.size else math.nan
        limit = symmetric_limit(self.limit, magnitude)
        clips = (bool(v.size and v.min() < -limit), bool(v.size and v.max() > limit))
        self._set(limit, clips)

    def _set(self, limit: float, clips: tuple[bool, bool]) -> None:
        if limit != self.limit or clips != self._clips:
            self.limit = limit
            self._show(limit, clips)

    def _show(self, limit: float, clips: tuple[bool, bool]) -> None:
        self._clips = clips
        self.bar.setLevels((-limit, limit))
        ticks = signed_ticks(limit, *clips)
        if ticks != self._ticks:
            self._ticks = ticks
            self.bar.axis.setTicks([ticks, []])
            metrics = QFontMetrics(self.bar.axis.style["tickFont"] or QFont())
            self.bar.axis.setWidth(max(metrics.horizontalAdvance(text) for _pos, text in ticks) + 16)


def integer_edges(top: int) -> NDArray[np.float64]:
    """Bin edges ``-0.5, 0.5, ..., top + 0.5``: one bin per integer 0 to ``top``."""
    return np.arange(int(top) + 2, dtype=np.float64) - 0.5


def degree_ceiling(current: float, value: float) -> float:
    """A steady top of a degree axis: a little above ``value`` (so its bar is off the edge), at least 10."""
    return stable_ceiling(current, 1.05 * float(value), 10.0, FINE_STEPS) if value > 0 else max(current, 10.0)
