"""A message line above the views: errors and faults stay visible until dismissed."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

_STYLES = {
    "info": "background: #e8f1fb; color: #0b3d6b;",
    "error": "background: #fdecea; color: #8a1c12;",
    "fault": "background: #8a1c12; color: white;",
    "internal": "background: #8a1c12; color: white;",
}


class MessageBar(QWidget):
    """Shows the latest message with its level; ``Details`` opens the traceback of a fault."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message_bar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 8, 3)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.details_button = QPushButton("Details…", self)
        self.details_button.clicked.connect(self._on_details_clicked)
        layout.addWidget(self.details_button)
        close = QPushButton("Dismiss", self)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout.addWidget(close)
        self._detail = ""
        self.level = ""
        #: The last message, without its level's prefix.
        self.message = ""
        self.hide()

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""

    def show_message(self, level: str, message: str, detail: str = "") -> None:
        """Show ``message`` at ``level``.

        ``"info"``; ``"error"`` (a refused input); ``"fault"`` (the simulation thread
        stopped on an unexpected error; its network is kept); ``"internal"`` (an
        unexpected error in the window itself, such as its analysis or drawing; the
        simulation is not affected).
        """
        self.level = level
        self.message = message
        self._detail = detail
        prefix = {
            "error": "Error: ",
            "fault": "Simulation stopped: ",
            "internal": "Error in the window (the simulation is unaffected): ",
        }.get(level, "")
        self.label.setText(prefix + message)
        self.setStyleSheet(_STYLES.get(level, _STYLES["info"]))
        self.details_button.setVisible(bool(detail))
        self.show()

    def _on_details_clicked(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, "Details", self.label.text(), parent=self)
        box.setDetailedText(self._detail)
        box.open()
