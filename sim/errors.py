"""The exception tree of the simulator.

Every class also subclasses the matching built-in, so callers may catch
``ValueError`` or ``RuntimeError`` as usual, or ``RewireLabError`` for all.
"""

from __future__ import annotations

import reprlib
from itertools import islice
from typing import Any


class RewireLabError(Exception):
    """Base class of every error raised on purpose by Rewire Lab."""


class ConfigError(RewireLabError, ValueError):
    """A configuration value, key or file is invalid.

    The message names the file (when there is one) and the key path, e.g.
    ``presets/x.yaml: rewiring.ff.p_form: must be in [0, 1], got 1.6``.
    """

    def __init__(self, message: str, *, source: str | None = None, path: str | None = None) -> None:
        source = None if source is None else one_line(str(source))
        path = None if path is None else one_line(str(path))
        message = one_line(str(message))
        self.source = source
        self.path = path
        self.reason = message
        parts = [p for p in (source, path) if p]
        super().__init__(": ".join([*parts, message]))


class BackendUnavailableError(RewireLabError, RuntimeError):
    """The requested backend cannot run on this machine; the message says why."""


class CheckpointError(RewireLabError, ValueError):
    """A checkpoint file is missing, corrupt or belongs to another configuration."""


class EngineClosedError(RewireLabError, RuntimeError):
    """The engine was used after it was closed."""


class OutputError(RewireLabError, OSError):
    """An output folder or file cannot be created or written."""


# --------------------------------------------------------------------------- short texts of user values

#: Integers longer than this many bits are described, not printed (printing is quadratic in length).
_MAX_INT_BITS = 4000


class _ShortRepr(reprlib.Repr):
    """A :class:`reprlib.Repr` that never builds the full text of a large container or string.

    Strings show their beginning, subclasses of the built-in containers are
    shown like their base class (``reprlib`` would call their own, unbounded
    ``repr``), mappings keep their own order, and very long integers are
    described by their number of digits.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxarray = self.maxdeque = 4
        self.maxset = self.maxfrozenset = self.maxdict = 4
        self.maxstring = limit
        self.maxlong = limit
        self.maxother = limit

    def repr1(self, x: Any, level: int) -> str:
        for base in (str, bytes, dict, list, tuple, set, frozenset):
            if isinstance(x, base) and type(x) is not base:
                return str(getattr(self, "repr_" + base.__name__)(x, level))
        return super().repr1(x, level)

    def repr_str(self, x: Any, level: int) -> str:
        text = repr(str(x[: self.maxstring + 1]))
        return text if len(x) <= self.maxstring else text[:-1] + "..."

    def repr_bytes(self, x: Any, level: int) -> str:
        text = repr(bytes(x[: self.maxstring + 1]))
        return text if len(x) <= self.maxstring else text[:-1] + "..."

    def repr_dict(self, x: Any, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in islice(x.items(), self.maxdict)
        ]
        if len(x) > self.maxdict:
            pieces.append("...")
        return "{" + ", ".join(pieces) + "}"

    def repr_int(self, x: Any, level: int) -> str:
        bits = x.bit_length()
        if bits > _MAX_INT_BITS:
            return f"<integer of about {int(bits * 0.30103) + 1} digits>"
        return str(super().repr_int(x, level))


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` as one printable line, cut to ``limit`` characters (with ``...``).

    Line breaks become spaces; other control characters are escaped (``\\x07``).

    Parameters
    ----------
    text
        Any text, e.g. a message of a library's exception.
    limit
        The most characters to return; ``None`` keeps the whole text.
    """
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    if any(ch in text for ch in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
        text = " ".join(text.splitlines())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
        if limit is not None and len(text) > limit:
            text = text[: max(limit - 3, 0)] + "..."
    return text


def short_repr(value: Any, limit: int = 60) -> str:
    """A one-line ``repr`` of ``value`` of at most ``limit`` characters, for error messages.

    Containers show their first few items and nest at most three levels, long
    strings and numbers are shortened, and the result is cut to ``limit``
    characters ending in ``...``. Time and memory stay small whatever the size
    of ``value`` (a YAML alias bomb, a megabyte string).

    Parameters
    ----------
    value
        Any object, typically a value read from a user's file.
    limit
        The most characters of the result (at least 4).

    Returns
    -------
    str
        For short values the plain ``repr`` (``1.6``, ``'slot'``, ``[1, 2]``).
    """
    limit = max(int(limit), 4)
    return one_line(_ShortRepr(limit).repr(value), limit)
