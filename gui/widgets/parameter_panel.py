"""The parameter panel: every model parameter, grouped, with an editor that suits its type.

The panel is generated from the parameter declarations of
:mod:`sim.parameters`
(:func:`~sim.parameters.iter_params`) of the experiment's configuration, so a new parameter
appears in it without any GUI change. The experiment's
:class:`~gui.experiment.ParameterGroup` list decides the sections;
parameters no group covers go to a last "Other" section, so none is ever
hidden.

Edits travel one way: a committed, validated edit is emitted as
:attr:`ParameterPanel.parameter_edited`; the window sends the command and
later calls :meth:`ParameterPanel.set_config` with the configuration in
effect, which refreshes the editors with their signals blocked. Live
parameters apply at once; structural ones (grid size, time step,
capacities, seed...) are marked with :data:`STRUCTURAL_MARK` and an italic
label, and an edited structural value stays highlighted as *pending* until
the network is rebuilt.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.experiment import ParameterGroup
from gui.widgets.parameter_editors import ParameterEditor, declared_types, make_editor
from sim.errors import ConfigError
from sim.parameters import ConfigRoot, ParamSpec, iter_params

#: Mark of a structural parameter (one that applies when the network is rebuilt).
STRUCTURAL_MARK = "⟲"
#: Tooltip line of a live parameter.
LIVE_TEXT = "Live: applies at once"
#: Tooltip line of a structural parameter.
STRUCTURAL_TEXT = "Structural: applies when the network is rebuilt (Reset)"
#: Tooltip line added while a structural edit waits for the next reset.
PENDING_TEXT = "Pending: applies on Reset"
#: Title of the section of parameters that no group covers.
OTHER_TITLE = "Other"
#: How long the "applied" tick stays next to an editor, in milliseconds.
APPLIED_MS = 1500
#: The tick shown next to an editor whose live change reached the simulation.
APPLIED_MARK = "✓"


#: Key words written in capitals in row labels.
_ACRONYMS = {"ff": "FF", "lat": "LAT", "sd": "SD", "stdp": "STDP"}


#: Widget property of text fields where Space types a space instead of running or pausing.
TYPES_SPACES = "types_spaces"


def readable_label(relative_path: str) -> str:
    """A row label from a key path relative to its group: ``"p_elim_dep"`` -> ``"P elim dep"``.

    Components above the last one are kept as a short prefix
    (``"ff.p_form"`` -> ``"FF · P form"``) so two rows of one section never
    share a label.
    """
    *parents, last = relative_path.split(".")
    words = [_ACRONYMS.get(w, w) for w in last.split("_")]
    name = " ".join(words)
    name = name[:1].upper() + name[1:]
    return " · ".join([*(_ACRONYMS.get(p, p) for p in parents), name])


def parameter_tooltip(path: str, spec: ParamSpec, type_name: str) -> str:
    """The tooltip of a parameter: path, description, unit, range and when it applies."""
    lines = [path, spec.doc]
    details = []
    if spec.unit:
        details.append(f"unit: {spec.unit}")
    if type_name != "bool":
        details.append(f"range: {spec.range_text()}" if spec.choices is None else spec.range_text())
    if details:
        text = "; ".join(details)
        lines.append(text[:1].upper() + text[1:])
    lines.append(LIVE_TEXT if spec.live else STRUCTURAL_TEXT)
    return "\n".join(lines)


def in_group(path: str, group: ParameterGroup) -> bool:
    """Whether ``path`` lies under ``group.prefix`` and under none of its ``exclude`` prefixes."""
    if group.prefix and not path.startswith(group.prefix + "."):
        return False
    return not any(path == ex or path.startswith(ex + ".") for ex in group.exclude)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@dataclass
class _Row:
    """The widgets of one parameter."""

    path: str
    editor: ParameterEditor
    label: QLabel
    tick: QLabel
    section: _Section
    index: int
    tooltip: str
    search_text: str
    timer: QTimer | None = field(default=None)


class _Section(QWidget):
    """A collapsible section: a header button over a two-column form."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.header = QToolButton(self)
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setChecked(True)
        self.header.setAutoRaise(True)
        self.header.setArrowType(Qt.ArrowType.DownArrow)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        self.header.toggled.connect(self._on_header_toggled)

        self.body = QWidget(self)
        self.form = QFormLayout(self.body)
        self.form.setContentsMargins(14, 0, 2, 4)
        self.form.setHorizontalSpacing(6)
        self.form.setVerticalSpacing(3)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.body)

    def _on_header_toggled(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)


class ParameterPanel(QWidget):
    """Grouped editors of every model parameter, with a filter, validation and pending marks.

    Parameters
    ----------
    groups
        The sections, in order: each shows every parameter under its
        ``prefix`` except those under an ``exclude`` prefix. A parameter in
        several groups appears in the first; parameters in none appear in a
        last "Other" section.
    parent
        Parent widget.

    Notes
    -----
    The editors show ``config`` (an experiment's configuration; its defaults, usually) until
    :meth:`set_config` is called.
    """

    #: A validated edit committed by the user: (key path, value).
    parameter_edited = pyqtSignal(str, object)
    #: A refused edit: the message naming the parameter and the problem.
    error_shown = pyqtSignal(str)
    #: The message of a refused value no longer applies (a valid value was entered, or the
    #: configuration changed): the text of that message.
    error_cleared = pyqtSignal(str)

    def __init__(
        self, groups: Sequence[ParameterGroup], config: ConfigRoot, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._config = config
        self._pending_values: dict[str, Any] = {}
        self._pending_paths: frozenset[str] = frozenset()
        self._rows: dict[str, _Row] = {}
        self._sections: list[_Section] = []
        self._saved_expansion: dict[str, bool] | None = None
        self._message_path: str | None = None
        self._message = ""

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setProperty(TYPES_SPACES, True)  # words are separated by spaces here
        self.filter_edit.setPlaceholderText("Filter parameters by name or description")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)

        legend = QLabel(
            f"{STRUCTURAL_MARK} <i>italic</i>: structural, applies on Reset "
            "(<span style='background-color:#ffe08a'>&nbsp;amber&nbsp;</span> while pending). "
            "Others apply at once.",
            self,
        )
        legend.setWordWrap(True)
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setToolTip(f"{LIVE_TEXT}.\n{STRUCTURAL_TEXT}.")
        self.legend_label = legend

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(2)
        self._build_sections(groups, content, content_layout)
        self._no_match = QLabel("No parameter matches the filter.", content)
        self._no_match.setEnabled(False)
        self._no_match.hide()
        content_layout.addWidget(self._no_match)
        content_layout.addStretch(1)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        self.scroll_area = scroll

        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("QLabel { color: #c62828; }")
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(legend)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message_label)

    # -- construction --------------------------------------------------------------------------
    def _build_sections(
        self, groups: Sequence[ParameterGroup], content: QWidget, layout: QVBoxLayout
    ) -> None:
        types = declared_types(self._config)
        params = list(iter_params(self._config))
        members: list[list[tuple[str, ParamSpec, Any]]] = [[] for _ in range(len(groups) + 1)]
        for path, spec, value in params:
            index = next((i for i, g in enumerate(groups) if in_group(path, g)), len(groups))
            members[index].append((path, spec, value))
        titles = [g.title for g in groups] + [OTHER_TITLE]
        prefixes = [g.prefix for g in groups] + [""]
        unit_width = max((self.fontMetrics().horizontalAdvance(s.unit) for _, s, _ in params), default=0)
        tick_width = self.fontMetrics().horizontalAdvance(APPLIED_MARK) + 4
        for title, prefix, rows in zip(titles, prefixes, members, strict=True):
            if not rows:
                continue
            section = _Section(title, content)
            self._sections.append(section)
            layout.addWidget(section)
            for path, spec, value in rows:
                relative = path[len(prefix) + 1 :] if prefix else path
                self._add_row(section, path, spec, types[path], value, relative, unit_width, tick_width)
        # One label column width for every section, so the editors line up down the panel.
        label_width = max((row.label.sizeHint().width() for row in self._rows.values()), default=0)
        for row in self._rows.values():
            row.label.setMinimumWidth(label_width)

    def _add_row(
        self,
        section: _Section,
        path: str,
        spec: ParamSpec,
        type_name: str,
        value: Any,
        relative: str,
        unit_width: int,
        tick_width: int,
    ) -> None:
        body = section.body
        editor = make_editor(path, spec, type_name, body)
        editor.set_value(value)
        text = readable_label(relative)
        label = QLabel(text if spec.live else f"{text} {STRUCTURAL_MARK}", body)
        if not spec.live:
            font = label.font()
            font.setItalic(True)
            label.setFont(font)
        label.setBuddy(editor.widget)
        tooltip = parameter_tooltip(path, spec, type_name)
        for widget in (label, editor.widget):
            widget.setToolTip(tooltip)

        field_widget = QWidget(body)
        row_layout = QHBoxLayout(field_widget)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(4)
        if isinstance(editor.widget, QCheckBox):
            row_layout.addWidget(editor.widget)
            row_layout.addStretch(1)
        else:
            row_layout.addWidget(editor.widget, 1)
        unit = QLabel(spec.unit, field_widget)
        unit.setFixedWidth(unit_width)
        unit.setToolTip(tooltip)
        row_layout.addWidget(unit)
        tick = QLabel("", field_widget)
        tick.setFixedWidth(tick_width)
        tick.setStyleSheet("QLabel { color: #2e7d32; font-weight: bold; }")
        row_layout.addWidget(tick)

        index = section.form.rowCount()
        section.form.addRow(label, field_widget)
        search_text = " ".join((path, text, spec.doc)).lower()
        self._rows[path] = _Row(path, editor, label, tick, section, index, tooltip, search_text)
        editor.committed.connect(lambda v, p=path: self._on_editor_committed(p, v))
        editor.parse_failed.connect(lambda msg, p=path: self._refuse(p, msg))
        editor.escape_pressed.connect(lambda p=path: self._on_escape_pressed(p))
        editor.restored.connect(lambda retyped, p=path: self._on_restored(p, retyped))

    # -- public API ----------------------------------------------------------------------------
    def editor(self, path: str) -> QWidget:
        """The input widget of the parameter at ``path`` (a line edit, spin, check or combo box).

        Raises
        ------
        KeyError
            If no parameter has that path.
        """
        return self._rows[path].editor.widget

    def label(self, path: str) -> QLabel:
        """The row label of the parameter at ``path`` (italic and marked when it is structural)."""
        return self._rows[path].label

    def shows_applied(self, path: str) -> bool:
        """Whether the "applied" tick of :meth:`mark_applied` is showing next to ``path``'s editor."""
        return bool(self._rows[path].tick.text())

    def parameters_by_group(self) -> dict[str, tuple[str, ...]]:
        """The key paths shown in each section, by section title, in display order."""
        out: dict[str, tuple[str, ...]] = {s.title: () for s in self._sections}
        for row in self._rows.values():
            out[row.section.title] += (row.path,)
        return out

    def set_expanded(self, title: str, expanded: bool) -> None:
        """Open or collapse the section called ``title``.

        Raises
        ------
        KeyError
            If no section has that title.
        """
        for section in self._sections:
            if section.title == title:
                section.header.setChecked(expanded)
                return
        raise KeyError(title)

    def set_config(self, config: ConfigRoot, pending: Collection[str] = ()) -> None:
        """Show ``config`` (the configuration in effect) in every editor, emitting nothing.

        Only editors whose value differs, or that show a refused value, are
        touched; text being typed in another editor is kept. A structural
        value edited in the panel and not yet applied (see
        :meth:`pending_values`) stays shown instead of the value in
        ``config``; such parameters and those in ``pending`` are highlighted
        as pending.

        Parameters
        ----------
        config
            The configuration in effect.
        pending
            Key paths of structural changes known to wait for the next reset.
        """
        self._config = config
        self._pending_paths = frozenset(pending)
        for path, value in list(self._pending_values.items()):
            if _same(config.get(path), value):
                del self._pending_values[path]
        for path, row in self._rows.items():
            shown = self._pending_values[path] if path in self._pending_values else config.get(path)
            if row.editor.has_error or not _same(row.editor.value, shown):
                row.editor.set_value(shown)
            self._update_pending(row)
        if self._message_path is not None:
            self._clear_message()  # it was about the configuration shown before

    def pending_values(self) -> dict[str, Any]:
        """Structural values edited in the panel and not yet applied, by key path (a copy)."""
        return dict(self._pending_values)

    def clear_pending(self) -> None:
        """Forget the pending structural edits (called once a reset has applied them)."""
        paths = list(self._pending_values)
        self._pending_values.clear()
        for path in paths:
            row = self._rows[path]
            row.editor.set_value(self._config.get(path))
            self._update_pending(row)

    def mark_applied(self, path: str) -> None:
        """Show a brief tick next to the editor of ``path``: its live change reached the simulation."""
        row = self._rows[path]
        if row.timer is None:
            row.timer = QTimer(row.tick)
            row.timer.setSingleShot(True)
            row.timer.setInterval(APPLIED_MS)
            row.timer.timeout.connect(row.tick.clear)
        row.tick.setText(APPLIED_MARK)
        row.tick.setToolTip("Applied to the running simulation")
        row.timer.start()

    def set_filter(self, text: str) -> None:
        """Show only the parameters whose path, label or description contain every word of ``text``."""
        self.filter_edit.setText(text)

    def message(self) -> str:
        """The message line at the bottom of the panel (the last refused edit), or ``""``."""
        return self.message_label.text() if self._message_path is not None else ""

    # -- edits ---------------------------------------------------------------------------------
    def _on_editor_committed(self, path: str, value: Any) -> None:
        row = self._rows[path]
        try:
            checked = self._validation_base(path).replace(path, value)
        except ConfigError as exc:
            self._refuse(path, self._refusal_message(path, exc))
            return
        value = checked.get(path)
        row.editor.set_value(value)
        if not row.editor.spec.live:
            if _same(self._config.get(path), value):
                self._pending_values.pop(path, None)
            else:
                self._pending_values[path] = value
            self._update_pending(row)
        if self._message_path == path:
            self._clear_message()
        self.parameter_edited.emit(path, value)

    def _validation_base(self, path: str) -> ConfigRoot:
        """The configuration in effect with the other pending structural edits applied."""
        others = {p: v for p, v in self._pending_values.items() if p != path}
        if not others:
            return self._config
        data = self._config.to_dict()
        for p, v in others.items():
            *parents, last = p.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[last] = v
        try:
            return type(self._config).from_dict(data)
        except ConfigError:
            return self._config

    @staticmethod
    def _refusal_message(path: str, exc: ConfigError) -> str:
        if exc.path is None:
            return f"{path}: {exc.reason}"
        if exc.path == path:
            return str(exc)
        return f"{path}: conflicts with {exc}"

    def _refuse(self, path: str, message: str) -> None:
        self._rows[path].editor.set_error(True)
        self._message_path = path
        self._message = message
        self.message_label.setText(f"✗ {message}")
        self.message_label.show()
        self.error_shown.emit(message)

    def _on_escape_pressed(self, path: str) -> None:
        editor = self._rows[path].editor
        editor.set_value(editor.value)
        if self._message_path == path:
            self._clear_message()

    def _on_restored(self, path: str, retyped: bool) -> None:
        """The editor of ``path`` shows its accepted value again; a retyped valid value ends the refusal."""
        if retyped and self._message_path == path:
            self._clear_message()

    def _clear_message(self) -> None:
        message = self._message
        self._message_path = None
        self._message = ""
        self.message_label.clear()
        self.message_label.hide()
        if message:
            self.error_cleared.emit(message)

    def _update_pending(self, row: _Row) -> None:
        pending = row.path in self._pending_values or row.path in self._pending_paths
        if pending == row.editor.is_pending:
            return
        row.editor.set_pending(pending)
        tooltip = f"{row.tooltip}\n{PENDING_TEXT}" if pending else row.tooltip
        row.editor.widget.setToolTip(tooltip)
        row.label.setToolTip(tooltip)

    # -- filter --------------------------------------------------------------------------------
    def _on_filter_changed(self, text: str) -> None:
        words = text.lower().split()
        if words and self._saved_expansion is None:
            self._saved_expansion = {s.title: s.header.isChecked() for s in self._sections}
        matches = dict.fromkeys(self._sections, 0)
        for row in self._rows.values():
            visible = all(w in row.search_text for w in words)
            row.section.form.setRowVisible(row.index, visible)
            matches[row.section] += visible
        for section, count in matches.items():
            section.setVisible(count > 0)
            if words and count:
                section.header.setChecked(True)
        if not words and self._saved_expansion is not None:
            for section in self._sections:
                section.header.setChecked(self._saved_expansion.get(section.title, True))
            self._saved_expansion = None
        self._no_match.setVisible(not any(matches.values()))
