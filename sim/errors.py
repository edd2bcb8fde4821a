"""The exception tree of the simulator.

Every class also subclasses the matching built-in, so callers may catch
``ValueError`` or ``RuntimeError`` as usual, or ``RewireLabError`` for all.
"""

from __future__ import annotations


class RewireLabError(Exception):
    """Base class of every error raised on purpose by Rewire Lab."""


class ConfigError(RewireLabError, ValueError):
    """A configuration value, key or file is invalid.

    The message names the file (when there is one) and the key path, e.g.
    ``presets/x.yaml: rewiring.ff.p_form: must be in [0, 1], got 1.6``.
    """

    def __init__(self, message: str, *, source: str | None = None, path: str | None = None) -> None:
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
