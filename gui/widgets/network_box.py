"""Backend and seed selection, with the reason a backend cannot run here."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QStandardItemModel
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLineEdit, QPushButton, QWidget

from sim.backends import BACKEND_CHOICES, available_backends


class NetworkBox(QGroupBox):
    """Pick the backend and the seed and rebuild the network with them.

    Backends that cannot run on this machine are listed but disabled; their
    tooltip says why.

    Signals
    -------
    rebuild_requested(str, int)
        Backend name and seed to rebuild with.
    error_shown(str)
        The seed typed is not a valid seed.
    """

    rebuild_requested = pyqtSignal(str, int)
    error_shown = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Network", parent)
        self.setObjectName("network_box")
        form = QFormLayout(self)
        self.backend_box = QComboBox(self)
        self.backend_box.setObjectName("backend")
        self.reasons = {"auto": None, **available_backends()}
        model = self.backend_box.model()
        for name in BACKEND_CHOICES:
            reason = self.reasons.get(name)
            self.backend_box.addItem(name if reason is None else f"{name} (unavailable)", name)
            index = self.backend_box.count() - 1
            tip = (
                "the fastest backend available" if name == "auto" else reason or f"run on the {name} backend"
            )
            self.backend_box.setItemData(index, tip, role=3)  # Qt.ItemDataRole.ToolTipRole
            if reason is not None and isinstance(model, QStandardItemModel):
                item = model.item(index)
                if item is not None:
                    item.setEnabled(False)
        self.backend_box.setToolTip(
            "Where the simulation runs; unavailable backends say why in their tooltip"
        )
        form.addRow("Backend", self.backend_box)
        self.seed_edit = QLineEdit(self)
        self.seed_edit.setObjectName("seed")
        self.seed_edit.setToolTip("Seed of the random number generator: the same seed gives the same run")
        form.addRow("Seed", self.seed_edit)
        self.rebuild_button = QPushButton("Rebuild network", self)
        self.rebuild_button.setToolTip("Build the network anew on this backend with this seed (like Reset)")
        self.rebuild_button.clicked.connect(self._on_rebuild_clicked)
        form.addRow(self.rebuild_button)

    def set_current(self, backend_choice: str, seed: int) -> None:
        """Show the backend choice and seed in use (signals blocked)."""
        for widget in (self.backend_box, self.seed_edit):
            widget.blockSignals(True)
        i = self.backend_box.findData(backend_choice)
        if i >= 0:
            self.backend_box.setCurrentIndex(i)
        if not self.seed_edit.hasFocus():
            self.seed_edit.setText(str(seed))
        for widget in (self.backend_box, self.seed_edit):
            widget.blockSignals(False)

    def _on_rebuild_clicked(self) -> None:
        text = self.seed_edit.text().strip()
        try:
            seed = int(text)
            if not 0 <= seed < 2**64:
                raise ValueError
        except ValueError:
            self.error_shown.emit(f"seed: must be a whole number in [0, 2**64), got {text!r}")
            return
        self.rebuild_requested.emit(str(self.backend_box.currentData()), seed)
