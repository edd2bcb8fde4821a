"""Compaction: remove the masked channels of the running network physically, and see what it gains.

"Compact now" sends :class:`app.experiments.channels.commands.Compact` to the
simulation thread, which compacts a copy of the network between two batches
(training goes on) and leaves the result in the command's slot; the view
polls the slot and shows the compact network's layers, parameters, SynOps,
test accuracy and inference time against the masked network's, and whether
their logits are equal. "Compact and save…" also writes the mask and the
compact model into a folder. Before any compaction the view shows what the
network would become now.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.experiments.channels.frame import Frame
from gui.context import ViewContext
from gui.experiments.channels.views.common import compact_layer_string, mode_text, si
from gui.views._plots import set_title, setup_axes, span_title
from gui.views.base import View
from sim.experiments.channels.config import ChannelsConfig

if TYPE_CHECKING:
    from app.experiments.channels.commands import Compact
    from sim.experiments.channels.nn.compaction import CompactionResult

__all__ = ["CompactionView", "result_table"]

#: How often the view looks for the result while waiting (ms).
POLL_MS = 200
#: Seconds after which the buttons work again although no result came (the command may have been
#: refused: no network built, say); a late result is still shown.
GIVE_UP_S = 60.0
#: Colours of the logits' verdict: exact, exact but float32 rounding changed a class, not exact.
GOOD_COLOUR = "#1a9641"
WARN_COLOUR = "#d95f02"
BAD_COLOUR = "#e41a1c"
#: Colours of the bars: the masked network (100 %) and the compact one.
BEFORE_COLOUR = "#bdbdbd"
AFTER_COLOUR = "#2171b5"


#: The colour of every :attr:`CompactionResult.verdict`.
VERDICT_COLOURS = {
    "equal": GOOD_COLOUR,
    "rounding": GOOD_COLOUR,
    "class_changed": WARN_COLOUR,
    "not_exact": BAD_COLOUR,
}


def logits_verdict(result: CompactionResult) -> tuple[str, str]:
    """The colour and words of how the compact network's logits compare with the masked one's."""
    return VERDICT_COLOURS[result.verdict], result.verdict_words()


def _change(before: float, after: float) -> str:
    if before <= 0:
        return ""
    return f"{after / before:.0%}"


def _speed(speedup: float) -> str:
    if speedup <= 0:
        return ""
    return f"{speedup:.2f}x faster" if speedup >= 1.0 else f"{1.0 / speedup:.2f}x slower"


def result_table(result: CompactionResult) -> str:
    """The numbers of ``result`` as an HTML table: masked network, compact network, compact / masked."""
    speedup = (
        result.inference_ms_dense / result.inference_ms_compact if result.inference_ms_compact > 0 else 0.0
    )
    rows = [
        (
            "parameters",
            f"{result.params_dense:,}",
            f"{result.params_compact:,}",
            _change(result.params_dense, result.params_compact),
        ),
        (
            "SynOps per sample",
            si(result.synops_dense),
            si(result.synops_compact),
            _change(result.synops_dense, result.synops_compact),
        ),
        (
            "test accuracy",
            f"{100 * result.test_accuracy:.2f}%",
            f"{100 * result.compact_test_accuracy:.2f}%",
            f"{100 * (result.compact_test_accuracy - result.test_accuracy):+.2f} pt",
        ),
        (
            f"inference, {result.inference_batch} images ({result.device})",
            f"{result.inference_ms_dense:.1f} ms",
            f"{result.inference_ms_compact:.1f} ms",
            _speed(speedup),
        ),
    ]
    cells = "".join(
        f"<tr><td>{html.escape(name)}</td><td align='right'>{a}</td><td align='right'>{b}</td>"
        f"<td align='right'>{c}</td></tr>"
        for name, a, b, c in rows
    )
    colour, text = logits_verdict(result)
    logits = f"<span style='color:{colour}'>{html.escape(text)}</span>"
    return (
        f"<b>Compact network:</b> {html.escape(result.layers)}<br>"
        "<table cellspacing='0' cellpadding='3'>"
        "<tr><th align='left'></th><th align='right'>masked</th><th align='right'>compact</th>"
        f"<th align='right'>compact / masked</th></tr>{cells}</table>{logits}"
    )


class CompactionView(View[Frame]):
    """Buttons that compact the running network, and the compact network's numbers.

    Parameters
    ----------
    context : ViewContext
        Shared view state (its ``command_requested`` signal carries the command to the window).
    parent : QWidget, optional
        Parent widget.
    """

    key = "compaction"
    title = "Compaction"
    tooltip = (
        "Remove the masked channels physically (conv output channels, their BatchNorm entries, the next "
        "layer's inputs) from a copy of the network as it is now, check that its logits equal the masked "
        "network's, and compare parameters, SynOps, test accuracy and inference time. Training goes on."
    )

    def __init__(self, context: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.compact_button = QPushButton("Compact now")
        self.compact_button.setObjectName("compact_now")
        self.compact_button.setToolTip("Compact the network as it is now and measure it before and after")
        self.compact_button.clicked.connect(lambda: self.compact())
        self.save_button = QPushButton("Compact and save…")
        self.save_button.setObjectName("compact_save")
        self.save_button.setToolTip(
            "Compact, and write mask.npz, compact_model.npz and compaction.json into a folder"
        )
        self.save_button.clicked.connect(self._on_save)
        self.status = QLabel("Not compacted yet.")
        self.status.setObjectName("compaction_status")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.now_label = QLabel()
        self.now_label.setObjectName("compaction_now")
        self.now_label.setWordWrap(True)
        self.now_label.setTextFormat(Qt.TextFormat.RichText)
        self.now_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.result_label = QLabel()
        self.result_label.setObjectName("compaction_result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.result_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.graphics = pg.GraphicsLayoutWidget()
        plot = self.graphics.addPlot(row=0, col=0)
        setup_axes(
            plot,
            "Compact / masked",
            "compact / masked (%)",
            "",
            "Parameters, SynOps per sample and inference time of the compact network, as a share of the "
            "masked network's (grey: 100 %).",
        )
        span_title(plot)  # the title takes the axis's width too: the page may be narrow
        plot.showGrid(x=True, y=False, alpha=0.2)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.disableAutoRange()
        plot.invertY(True)
        plot.setRange(xRange=(0.0, 110.0), yRange=(-0.6, 2.6), padding=0.0)
        plot.getAxis("left").setTicks([[(0, "parameters"), (1, "SynOps"), (2, "inference")], []])
        self.before_bars = pg.BarGraphItem(
            x0=0, y=[0, 1, 2], height=0.6, width=[100, 100, 100], brush=BEFORE_COLOUR, pen=None
        )
        self.after_bars = pg.BarGraphItem(
            x0=0, y=[0, 1, 2], height=0.36, width=[0, 0, 0], brush=AFTER_COLOUR, pen=None
        )
        plot.addItem(self.before_bars)
        plot.addItem(self.after_bars)
        self.bars_plot = plot
        self.graphics.setVisible(False)
        self.graphics.setMinimumHeight(170)
        self.graphics.setMaximumHeight(240)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.compact_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        self.page = QWidget()
        self.page.setObjectName("compaction_page")
        box = QVBoxLayout(self.page)
        box.setContentsMargins(8, 8, 8, 8)
        box.setSpacing(8)
        box.addLayout(buttons)
        box.addWidget(self.status)
        box.addWidget(self.now_label)
        box.addWidget(self.result_label)
        box.addWidget(self.graphics)
        box.addStretch(1)
        # in a short window the numbers and the verdict scroll rather than being cut off
        scroll = QScrollArea()
        scroll.setObjectName("compaction_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(scroll)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        #: The command sent last, whose result is awaited (None when not waiting).
        self.pending: Compact | None = None
        #: The last result shown.
        self.result: CompactionResult | None = None
        self._sent_at = 0.0

    def export_widget(self) -> QWidget:
        """The page with the numbers and the bars: what an export shows."""
        return self.page

    # -- commands ---------------------------------------------------------------------------------
    @property
    def waiting(self) -> bool:
        """Whether a compaction was sent and its result has not come yet."""
        return self.pending is not None

    def compact(self, out_dir: str | None = None) -> None:
        """Send a compaction of the network as it is now (written to ``out_dir`` if given)."""
        from app.experiments.channels.commands import Compact

        command = Compact(out_dir=out_dir)
        self.pending = command
        self._sent_at = time.monotonic()
        self._set_buttons(False)
        where = f" and writing it to {out_dir}" if out_dir else ""
        self.status.setText(f"Compacting the network as it is now{where}… (training goes on)")
        self.timer.start()
        self.context.command_requested.emit(command)

    def _on_save(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the compact network")
        if folder:
            self.compact(folder)

    def poll(self) -> None:
        """Look for the result of the command sent; show it when it came."""
        command = self.pending
        if command is None:
            self.timer.stop()
            return
        serial, result, error = command.slot.get()
        waited = time.monotonic() - self._sent_at
        if serial == 0:
            if waited > GIVE_UP_S:
                self._set_buttons(True)
                self.status.setText(f"No answer after {waited:.0f} s (still waiting; you can try again).")
            else:
                self.status.setText(f"Compacting the network as it is now… {waited:.0f} s (training goes on)")
            return
        self.pending = None
        self.timer.stop()
        self._set_buttons(True)
        if error is not None or result is None:
            self.status.setText(f"Compaction failed: {error or 'no result'}")
            return
        saved = f"; written to {command.out_dir}" if command.out_dir else ""
        self.status.setText(f"Compacted in {waited:.1f} s{saved}.")
        self.show_result(result)

    def show_result(self, result: CompactionResult) -> None:
        """Show the numbers of ``result`` and its bars."""
        self.result = result
        self.result_label.setText(result_table(result))
        widths = [
            100.0 * result.params_compact / max(result.params_dense, 1),
            100.0 * result.synops_compact / result.synops_dense if result.synops_dense > 0 else 0.0,
            100.0 * result.inference_ms_compact / result.inference_ms_dense
            if result.inference_ms_dense > 0
            else 0.0,
        ]
        self.after_bars.setOpts(width=widths)
        top = max(110.0, 1.05 * max(widths))
        self.bars_plot.setRange(xRange=(0.0, top), yRange=(-0.6, 2.6), padding=0.0)
        set_title(
            self.bars_plot,
            f"Compact / masked<br>parameters {widths[0]:.0f}%, SynOps {widths[1]:.0f}%<br>"
            f"time {widths[2]:.0f}%",
        )
        self.graphics.setVisible(True)

    def _set_buttons(self, enabled: bool) -> None:
        self.compact_button.setEnabled(enabled)
        self.save_button.setEnabled(enabled)

    # -- frames -----------------------------------------------------------------------------------
    def reset(self, config: ChannelsConfig) -> None:
        """A new network: forget the result and stop waiting (a late answer would be of the old one)."""
        super().reset(config)
        self.pending = None
        self.timer.stop()
        self._set_buttons(True)
        self.result = None
        self.result_label.setText("")
        self.graphics.setVisible(False)
        self.graphics.setMinimumHeight(170)
        self.graphics.setMaximumHeight(240)
        self.status.setText("Not compacted yet.")
        self.now_label.setText("")

    def draw_frame(self, frame: Frame) -> None:
        """Show what the network would become if compacted now."""
        snap = frame.snapshot
        kept = snap.kept
        layers = compact_layer_string(frame.config.network.layers, kept)
        share = snap.params / snap.params_dense if snap.params_dense else float("nan")
        total = int(np.sum(snap.mask))
        self.now_label.setText(
            f"<b>Now</b> ({mode_text(snap.mode)}, epoch {snap.epoch + 1}, batch {snap.batch}): "
            f"{total:,} of {len(snap.mask):,} channels kept \u2192 {html.escape(layers)}, "
            f"{si(snap.params)} of {si(snap.params_dense)} parameters ({share:.0%})."
        )
