"""Bounded, strict reading of YAML configuration text.

A configuration is a few kilobytes with a few hundred nodes nested three
levels deep. Text that could only be hostile (an alias "billion laughs" bomb,
ten thousand nested brackets, a megabyte list) is refused before it is built
into Python objects, in time and memory proportional to the (bounded) text:

1. the text may be at most :data:`MAX_BYTES` long;
2. its parse events are walked once, iteratively, counting the nesting depth,
   the items of each collection and the number of nodes the document expands
   to once every alias is replaced by the node it names;
3. only then is it loaded, by a safe loader that also refuses duplicate
   mapping keys (YAML would silently keep the last one).

Every refusal is a :class:`~sim.errors.ConfigError` of one short line naming
the source and, where there is one, the line and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

from sim.errors import ConfigError, one_line, short_repr

try:  # libyaml is about twenty times faster; PyYAML may be built without it.
    from yaml import CSafeLoader as _SafeLoaderBase
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _SafeLoaderBase  # type: ignore[assignment]

#: Longest configuration text accepted, in bytes (characters for :func:`parse_yaml_text`).
MAX_BYTES = 1 << 20
#: Deepest nesting of lists and mappings accepted (a configuration nests three levels).
MAX_DEPTH = 64
#: Most nodes a document may expand to, counting every alias as a full copy of what it names.
MAX_NODES = 20_000
#: Most items of one list, or entries of one mapping.
MAX_ITEMS = 5_000

_TOO_LARGE = "more than 1 MiB; a configuration is a few kilobytes"
#: Longest piece of a library's message quoted in ours.
_PROBLEM_CHARS = 120
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice (raised inside the loader, reported as a ConfigError)."""

    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"line {line}: duplicate key {short_repr(key)}")
        self.message = str(self)


class _StrictSafeLoader(_SafeLoaderBase):
    """The safe loader, refusing duplicate keys in a mapping (merge keys ``<<`` may still be overridden)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: MappingNode) -> None:
        # The loader calls this on every mapping before merging ``<<`` keys into it (which
        # rewrites ``node.value``), so the first call sees the mapping's own keys.
        if id(node) not in self._checked:
            self._checked.add(id(node))
            seen: set[Any] = set()
            for key_node, _value in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                # A plain ``=`` key is YAML's "value" key, which the loader reads as the string "=".
                key = "=" if key_node.tag == _VALUE_TAG else self.construct_object(key_node)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable: the loader itself refuses it
                    continue
                if duplicate:
                    raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
        super().flatten_mapping(node)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _check_shape(text: str, source: str | None) -> None:
    """Walk the parse events of ``text`` once, refusing it past the depth, item and node limits.

    The walk keeps one small record per open collection and one number per
    anchor, never the document itself. A syntax error is left to the loader,
    which reports it with its position.
    """

    def refuse(mark: Any, problem: str) -> ConfigError:
        return ConfigError(f"{_where(mark)}{problem}", source=source)

    anchors: dict[str, int] = {}  # anchor -> expanded size of the node it names
    # One [anchor, total before it, items so far, is a mapping] per open collection.
    stack: list[list[Any]] = []
    total = 0
    loader = _SafeLoaderBase(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                anchors.clear()
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, before, _items, _mapping = stack.pop()
                if anchor is not None:
                    anchors[anchor] = total - before
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            if stack:
                parent = stack[-1]
                parent[2] += 1
                if parent[2] > MAX_ITEMS * (2 if parent[3] else 1):
                    kind = "mapping of more than" if parent[3] else "list of more than"
                    raise refuse(event.start_mark, f"a {kind} {MAX_ITEMS} items")
            if isinstance(event, yaml.AliasEvent):
                name = event.anchor or ""
                if any(frame[0] == name for frame in stack):
                    raise refuse(
                        event.start_mark,
                        f"alias *{one_line(str(name), 40)} is inside the node it names "
                        "(recursive structures are not allowed)",
                    )
                total += anchors.get(name, 1)  # an unknown anchor is the loader's error
            else:
                total += 1
                if isinstance(event, yaml.CollectionStartEvent):
                    stack.append([event.anchor, total - 1, 0, isinstance(event, yaml.MappingStartEvent)])
                    if len(stack) > MAX_DEPTH:
                        raise refuse(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
                elif event.anchor is not None:
                    anchors[event.anchor] = 1
            if total > MAX_NODES:
                raise refuse(
                    event.start_mark,
                    f"expands to more than {MAX_NODES} values (through aliases or sheer size); "
                    "a configuration has a few hundred",
                )
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", None) or exc):
            # libyaml 0.2.5 and newer stop at 1,000 levels while scanning ahead, before the
            # events reach the count above: the same refusal, in the same words.
            raise refuse(
                getattr(exc, "problem_mark", None), f"nested more than {MAX_DEPTH} levels deep"
            ) from None
        return  # malformed: the loader reports it
    finally:
        loader.dispose()


def parse_yaml_text(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse configuration text into a mapping, bounded in time and memory and refusing duplicate keys.

    Parameters
    ----------
    text
        YAML text, at most :data:`MAX_BYTES` characters.
    source
        What the text is (a file name, ``"x.npz (embedded configuration)"``), named in messages.

    Returns
    -------
    dict
        The top-level mapping; ``{}`` for an empty document.

    Raises
    ------
    ConfigError
        One line naming ``source``: text too long or not encodable as UTF-8,
        nested too deep, a collection too long, expanding to too many values,
        malformed, a duplicate key, a value that cannot be built (an invalid
        date), or a top level that is not a mapping.
    """
    if len(text) > MAX_BYTES:
        raise ConfigError(f"text too large ({_TOO_LARGE})", source=source)
    try:
        text.encode("utf-8")  # the C parser works on UTF-8; a lone surrogate cannot be encoded
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (a lone surrogate at character {exc.start})", source=source
        ) from None
    _check_shape(text, source)
    loader = _StrictSafeLoader(text)
    try:
        data = loader.get_single_data()
    except _DuplicateKeyError as exc:
        raise ConfigError(exc.message, source=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0]
        problem = one_line(str(problem), _PROBLEM_CHARS)
        raise ConfigError(f"malformed YAML: {_where(mark)}{problem}", source=source) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # Values that match a YAML type but cannot be built: 2020-13-45, a 5,000-digit integer.
        problem = one_line(str(exc), _PROBLEM_CHARS)
        raise ConfigError(f"malformed YAML: a value cannot be read ({problem})", source=source) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"must contain a mapping of keys to values, got {type(data).__name__}", source=source
        )
    return data


def read_yaml_text(path: Path) -> str:
    """The text of a configuration file: at most :data:`MAX_BYTES` bytes of UTF-8.

    Raises
    ------
    ConfigError
        Naming the file: not found, unreadable, too large or not UTF-8 text.
    """
    source = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror or exc})", source=source) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"file too large ({_TOO_LARGE})", source=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text (byte {exc.start}, line {line})", source=source) from None
