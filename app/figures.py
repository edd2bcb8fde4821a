"""What every experiment's report figures share: off-screen figures, notes, atomic PNG files.

Matplotlib is used only through :class:`matplotlib.figure.Figure` and the Agg
canvas: no pyplot, so no global figure state, no GUI backend, and reports are
safe to render from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sim.files import write_atomic

#: Resolution of every report figure.
DPI = 150
#: Font size of axis labels and notes.
LABEL_SIZE = 11


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with constrained (tight) layout, not tied to pyplot."""
    return Figure(figsize=(width, height), dpi=DPI, layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (temporary file in the same folder, then rename)."""
    FigureCanvasAgg(fig)
    return write_atomic(
        path,
        lambda fh: fig.savefig(fh, format="png", dpi=DPI, facecolor="white", metadata={"Title": path.stem}),
    )


def save_figures(figures: Sequence[Figure], out_dir: Path, names: Sequence[str]) -> list[Path]:
    """Write ``figures`` as ``out_dir/<name>`` (the folder made if needed), atomically, in order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [save_figure(fig, out / name) for fig, name in zip(figures, names, strict=True)]


def note(ax: Axes, text: str, *, y: float = 0.5) -> None:
    """Write a boxed italic note across ``ax`` at height ``y`` (where there is nothing to plot)."""
    box = {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "#BBBBBB", "alpha": 0.95}
    ax.text(
        0.5,
        y,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=LABEL_SIZE,
        color="#555555",
        style="italic",
        zorder=10,
        bbox=box,
        gid="note",
    )
