"""State shared by the views of one window: the selected neuron and the lesion tool."""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal


class ViewContext(QObject):
    """What views share: which target neuron is selected and what a drag on the map does.

    Views read ``selected`` and connect to ``selection_changed``; the map view
    emits ``region_selected`` when the user drags a rectangle with the lesion
    tool active; the window turns it into a lesion command.

    Signals
    -------
    selection_changed(int)
        The selected target neuron id (-1 for none).
    region_selected(float, float, float, float)
        ``x0, y0, x1, y1`` of a rectangle on the target grid, in grid units
        (neuron ``(x, y)`` sits at the point ``(x, y)``).
    lesion_tool_changed(str)
        ``""`` (no tool), ``"cut"`` or ``"silence"``.
    command_requested(object)
        A view asks the window to send this :class:`app.commands.Command` to the
        simulation thread (a view's own buttons: the channel network's compaction).
    """

    selection_changed = pyqtSignal(int)
    region_selected = pyqtSignal(float, float, float, float)
    lesion_tool_changed = pyqtSignal(str)
    command_requested = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._selected = -1
        self._lesion_tool = ""

    @property
    def selected(self) -> int:
        """The selected target neuron id, or -1."""
        return self._selected

    def select(self, neuron: int) -> None:
        """Select target neuron ``neuron`` (-1 clears the selection)."""
        neuron = int(neuron)
        if neuron != self._selected:
            self._selected = neuron
            self.selection_changed.emit(neuron)

    @property
    def lesion_tool(self) -> str:
        """The active lesion tool: ``""``, ``"cut"`` or ``"silence"``."""
        return self._lesion_tool

    def set_lesion_tool(self, tool: str) -> None:
        """Activate a lesion tool (``"cut"`` or ``"silence"``) or none (``""``)."""
        if tool not in ("", "cut", "silence"):
            raise ValueError(f"unknown lesion tool {tool!r}")
        if tool != self._lesion_tool:
            self._lesion_tool = tool
            self.lesion_tool_changed.emit(tool)
