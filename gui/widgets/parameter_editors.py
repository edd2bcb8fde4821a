"""One input widget per model parameter, chosen by the parameter's declared type.

An editor wraps the Qt input widget of one parameter (a line edit for floats
and for integers whose range does not fit a spin box, a spin box for other
integers, a check box for booleans, a combo box for strings with choices) and
gives the parameter panel a uniform interface: it shows a value without
echoing it (:meth:`ParameterEditor.set_value`), reports a committed edit as
a parsed value (:attr:`ParameterEditor.committed`) or a text it cannot parse
(:attr:`ParameterEditor.parse_failed`), and shows the error and pending
states. Range and cross-field checks belong to the configuration, not to the
editors: the panel validates every committed value with
:meth:`sim.parameters.ConfigRoot.replace`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeyEvent, QWheelEvent
from PyQt6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from sim.errors import ConfigError
from sim.parameters import ParamSpec

#: Integer ranges a :class:`QSpinBox` can hold (a C ``int``).
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

#: Style of an editor whose last edit was refused.
ERROR_STYLE = "border: 2px solid #c62828;"
#: Style of an editor holding a structural value that applies on the next reset.
PENDING_STYLE = "background-color: #ffe08a;"


def declared_types(config: Any, prefix: str = "") -> dict[str, str]:
    """Map every parameter path to its declared Python type name.

    Parameters
    ----------
    config
        A configuration (any experiment's :class:`~sim.parameters.ConfigRoot`) or section.
    prefix
        Key path of ``config`` inside the whole configuration.

    Returns
    -------
    dict of str to str
        ``{"rewiring.ff.p_form": "float", "run.seed": "int", ...}``: one of
        ``"bool"``, ``"int"``, ``"float"`` or ``"str"`` for every parameter
        that :func:`sim.parameters.iter_params` lists.
    """
    obj = config
    out: dict[str, str] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value):
            out.update(declared_types(value, path))
        elif "spec" in f.metadata:
            out[path] = f.type if isinstance(f.type, str) else f.type.__name__
    return out


def format_value(value: Any) -> str:
    """Text of a value as an editor shows it (floats short but exact: ``0.00013611``, ``1e+07``)."""
    if isinstance(value, float):
        text = format(value, ".12g")
        return text if float(text) == value else repr(value)
    return str(value)


def _parse_error(path: str, text: str) -> str:
    return str(ConfigError(f"must be a number, got {text.strip()!r}", path=path))


class ParameterEditor(QObject):
    """The input widget of one parameter and its displayed ("accepted") value.

    Parameters
    ----------
    path
        Dotted key path of the parameter.
    spec
        Its declaration.
    widget
        The Qt input widget; the editor owns its signals and state styles.
    """

    #: A committed edit: the parsed value (not yet checked against the configuration).
    committed = pyqtSignal(object)
    #: A committed text that is not a value of the parameter's type: the message.
    parse_failed = pyqtSignal(str)
    #: Escape was pressed in the widget.
    escape_pressed = pyqtSignal()
    #: The widget shows the accepted value again after a refused one: True when it was typed
    #: again, False when focus left the widget.
    restored = pyqtSignal(bool)

    def __init__(self, path: str, spec: ParamSpec, widget: QWidget) -> None:
        super().__init__(widget)
        self.path = path
        self.spec = spec
        self.widget = widget
        self._value: Any = None
        self._error = False
        self._pending = False
        widget.installEventFilter(self)
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- value ---------------------------------------------------------------------------------
    @property
    def value(self) -> Any:
        """The accepted value (the last one set or committed and validated)."""
        return self._value

    def set_value(self, value: Any) -> None:
        """Show ``value`` as the accepted value, without emitting any signal, and clear the error."""
        self._value = value
        blocked = self.widget.blockSignals(True)
        try:
            self._show(value)
        finally:
            self.widget.blockSignals(blocked)
        self.set_error(False)

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _commit(self, value: Any) -> None:
        if value == self._value and type(value) is type(self._value):
            refused = self._error
            self.set_value(self._value)
            if refused:
                self.restored.emit(True)
            return
        self.committed.emit(value)

    def _restore_if_refused(self) -> None:
        """Show the accepted value again when focus has left a widget that shows a refused one."""
        if self._error and not self.widget.hasFocus():
            self.set_value(self._value)
            self.restored.emit(False)

    # -- state ---------------------------------------------------------------------------------
    @property
    def has_error(self) -> bool:
        """Whether the widget shows a refused value."""
        return self._error

    @property
    def is_pending(self) -> bool:
        """Whether the widget is highlighted as a structural value waiting for a reset."""
        return self._pending

    def set_error(self, error: bool) -> None:
        """Show (or clear) the red border of a refused value."""
        if error != self._error:
            self._error = error
            self._restyle()

    def set_pending(self, pending: bool) -> None:
        """Show (or clear) the highlight of a value that applies on the next reset."""
        if pending != self._pending:
            self._pending = pending
            self._restyle()

    def _restyle(self) -> None:
        rules = (ERROR_STYLE if self._error else "") + (PENDING_STYLE if self._pending else "")
        self.widget.setStyleSheet(f"{self._selector()} {{ {rules} }}" if rules else "")

    def _selector(self) -> str:
        """The style-sheet type selector that matches the widget but none of its children."""
        for cls in (QCheckBox, QComboBox, QSpinBox, QLineEdit):
            if isinstance(self.widget, cls):
                return cls.__name__
        return "QWidget"

    # -- events --------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        """Report Escape pressed in the widget (and keep it from closing a dialog).

        When focus leaves the widget, a refused text gives way to the accepted
        value (the panel's message keeps what was refused and why); the check
        waits until the widget has handled the focus change, which is when a
        line edit commits its text.
        """
        if watched is self.widget and event is not None and event.type() == QEvent.Type.FocusOut:
            QTimer.singleShot(0, self._restore_if_refused)
            return False
        if (
            watched is self.widget
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Escape
        ):
            self.escape_pressed.emit()
            return True
        return False


class _FocusWheelSpinBox(QSpinBox):
    """A spin box that leaves the mouse wheel to the scrolling panel unless it has the focus."""

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        elif event is not None:
            event.ignore()


class _FocusWheelComboBox(QComboBox):
    """A combo box that leaves the mouse wheel to the scrolling panel unless it has the focus."""

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        elif event is not None:
            event.ignore()


class FloatEditor(ParameterEditor):
    """A free-text line edit for a float (``1e-3``, ``0.001`` and ``.001`` all parse)."""

    def __init__(self, path: str, spec: ParamSpec, parent: QWidget | None = None) -> None:
        self.line_edit = QLineEdit(parent)
        super().__init__(path, spec, self.line_edit)
        self.line_edit.editingFinished.connect(self._on_editing_finished)

    def _show(self, value: Any) -> None:
        self.line_edit.setText(format_value(value))
        self.line_edit.setCursorPosition(0)

    def _parse(self, text: str) -> Any:
        return float(text)

    def _on_editing_finished(self) -> None:
        text = self.line_edit.text()
        if not self._error and text == format_value(self._value):
            return
        try:
            value = self._parse(text.strip())
        except ValueError:
            self.parse_failed.emit(_parse_error(self.path, text))
            return
        self._commit(value)


class IntTextEditor(FloatEditor):
    """A line edit for an integer whose range does not fit a spin box (the seed)."""

    def _parse(self, text: str) -> Any:
        try:
            return int(text)
        except ValueError:
            # Let the configuration say "must be a whole number" for 1.5 and accept 1e3.
            value = float(text)
            return int(value) if value.is_integer() else value


class IntSpinEditor(ParameterEditor):
    """A spin box for an integer with a range that fits it; commits on Enter, arrows or focus loss."""

    def __init__(self, path: str, spec: ParamSpec, parent: QWidget | None = None) -> None:
        self.spin_box = _FocusWheelSpinBox(parent)
        super().__init__(path, spec, self.spin_box)
        lo = INT32_MIN if spec.lo is None else int(spec.lo) + int(spec.lo_open)
        hi = INT32_MAX if spec.hi is None else int(spec.hi) - int(spec.hi_open)
        self.spin_box.setRange(lo, hi)
        self.spin_box.setKeyboardTracking(False)
        self.spin_box.setAccelerated(True)
        self.spin_box.valueChanged.connect(self._commit)

    def _show(self, value: Any) -> None:
        self.spin_box.setValue(int(value))


class BoolEditor(ParameterEditor):
    """A check box for a boolean; commits on every toggle."""

    def __init__(self, path: str, spec: ParamSpec, parent: QWidget | None = None) -> None:
        self.check_box = QCheckBox(parent)
        super().__init__(path, spec, self.check_box)
        self.check_box.toggled.connect(self._commit)

    def _show(self, value: Any) -> None:
        self.check_box.setChecked(bool(value))


class ChoiceEditor(ParameterEditor):
    """A combo box for a string with declared choices; commits on every selection."""

    def __init__(self, path: str, spec: ParamSpec, parent: QWidget | None = None) -> None:
        self.combo_box = _FocusWheelComboBox(parent)
        super().__init__(path, spec, self.combo_box)
        self.combo_box.addItems(list(spec.choices or ()))
        self.combo_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo_box.setMinimumContentsLength(6)
        self.combo_box.currentTextChanged.connect(self._commit)

    def _show(self, value: Any) -> None:
        self.combo_box.setCurrentText(str(value))


class TextEditor(FloatEditor):
    """A line edit for a free string parameter."""

    def _parse(self, text: str) -> Any:
        return text


def make_editor(path: str, spec: ParamSpec, type_name: str, parent: QWidget | None = None) -> ParameterEditor:
    """The editor that suits a parameter of declared type ``type_name``.

    Parameters
    ----------
    path
        Dotted key path of the parameter.
    spec
        Its declaration (range, choices).
    type_name
        ``"bool"``, ``"int"``, ``"float"`` or ``"str"`` (see :func:`declared_types`).
    parent
        Parent of the input widget.

    Returns
    -------
    ParameterEditor
        A :class:`BoolEditor`, :class:`IntSpinEditor`, :class:`IntTextEditor`
        (integer ranges beyond 32 bits), :class:`FloatEditor`,
        :class:`ChoiceEditor` or :class:`TextEditor`.
    """
    if type_name == "bool":
        return BoolEditor(path, spec, parent)
    if type_name == "int":
        fits = (spec.lo is not None and spec.lo >= INT32_MIN) and (
            spec.hi is not None and spec.hi <= INT32_MAX
        )
        return IntSpinEditor(path, spec, parent) if fits else IntTextEditor(path, spec, parent)
    if type_name == "str":
        return ChoiceEditor(path, spec, parent) if spec.choices else TextEditor(path, spec, parent)
    return FloatEditor(path, spec, parent)
