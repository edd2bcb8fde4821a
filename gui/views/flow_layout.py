"""A layout that places its widgets in a row and wraps them onto further rows when the row is full.

The option rows of the views use it, so a narrow view shows its controls on
two or three lines instead of growing wider than its area (a row of widgets
in a ``QHBoxLayout`` can never be narrower than all of them side by side).
"""

from __future__ import annotations

from PyQt6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PyQt6.QtWidgets import QHBoxLayout, QLayout, QLayoutItem, QWidget

__all__ = ["FlowLayout", "widget_group"]


class FlowLayout(QLayout):
    """Widgets left to right, wrapped onto a new row where the next one would not fit.

    Its minimum width is that of its widest widget; its height follows the
    width it gets (``heightForWidth``), so the layout above it makes room
    for the rows it needs.

    Parameters
    ----------
    parent : QWidget, optional
        Widget to lay out.
    margins : tuple of int
        Left, top, right and bottom margins in pixels.
    spacing : int
        Horizontal space between widgets in a row.
    row_spacing : int
        Vertical space between rows.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        margins: tuple[int, int, int, int] = (4, 2, 4, 0),
        spacing: int = 6,
        row_spacing: int = 2,
    ) -> None:
        super().__init__(parent)
        self.setContentsMargins(*margins)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._row_spacing = row_spacing

    # -- QLayout interface ------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem | None) -> None:
        """Append ``item`` (Qt calls this from ``addWidget``)."""
        if item is not None:
            self._items.append(item)

    def add_spacing(self, width: int) -> None:
        """Leave ``width`` pixels before the next widget (dropped at the start of a row)."""
        self.addItem(_Spacer(width))

    def count(self) -> int:
        """Number of items."""
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        """The item at ``index``, or None."""
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        """Remove and return the item at ``index`` (None if there is none)."""
        if 0 <= index < len(self._items):
            return self._items.pop(index)
        return None

    def expandingDirections(self) -> Qt.Orientation:
        """The layout does not ask for more room than its rows need."""
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        """The height depends on the width (more rows when narrower)."""
        return True

    def heightForWidth(self, width: int) -> int:
        """Height of the rows needed at ``width``."""
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        """Place the widgets in ``rect``."""
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        """Every widget in one row."""
        m = self.contentsMargins()
        width = sum(item.sizeHint().width() for item in self._visible()) + self._spacing * max(
            0, len(self._visible()) - 1
        )
        height = max((item.sizeHint().height() for item in self._visible()), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:
        """The widest widget (every widget on a row of its own)."""
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        m: QMargins = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    # -- placing ----------------------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty() or isinstance(item, _Spacer)]

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, row_height = area.x(), area.y(), 0
        rows: list[list[tuple[QLayoutItem, QPoint, QSize]]] = [[]]
        for item in self._visible():
            if isinstance(item, _Spacer):
                if rows[-1]:
                    x += item.width
                continue
            hint = item.sizeHint().expandedTo(item.minimumSize())
            width = min(hint.width(), area.width()) if area.width() > 0 else hint.width()
            if rows[-1] and x + width > area.right() + 1:
                x, y = area.x(), y + row_height + self._row_spacing
                row_height = 0
                rows.append([])
            rows[-1].append((item, QPoint(x, y), QSize(width, hint.height())))
            x += width + self._spacing
            row_height = max(row_height, hint.height())
        if apply:
            for row in rows:
                height = max((size.height() for _item, _pos, size in row), default=0)
                for item, pos, size in row:
                    # centre each widget vertically in its row
                    offset = (height - size.height()) // 2
                    item.setGeometry(QRect(QPoint(pos.x(), pos.y() + offset), size))
        return y + row_height - rect.y() + m.bottom()


class _Spacer(QLayoutItem):
    """Fixed horizontal space between two widgets of a row."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width

    def sizeHint(self) -> QSize:
        return QSize(self.width, 0)

    def minimumSize(self) -> QSize:
        return QSize(0, 0)

    def maximumSize(self) -> QSize:
        return QSize(self.width, 0)

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def isEmpty(self) -> bool:
        return True

    def geometry(self) -> QRect:
        return QRect()

    def setGeometry(self, rect: QRect) -> None:
        pass


def widget_group(*widgets: QWidget) -> QWidget:
    """Widgets side by side (a label and its control, say) that a :class:`FlowLayout` keeps on one row."""
    group = QWidget()
    row = QHBoxLayout(group)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for widget in widgets:
        row.addWidget(widget)
    return group
