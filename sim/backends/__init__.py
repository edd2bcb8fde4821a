"""Backend registry: which backends run an experiment, which can run here, and why not.

Each experiment declares its backends (:meth:`sim.experiment.Experiment.backends`)
in the order ``auto`` prefers them; test doubles and plug-ins add more with
:func:`register_backend`. Every function takes the experiment's key and
defaults to the topographic map's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sim.errors import BackendUnavailableError
from sim.experiment import DEFAULT_EXPERIMENT, BackendEntry, get_experiment

#: The kinds of backend ``--backend`` offers, in order of preference for ``auto``.
BACKEND_NAMES: tuple[str, ...] = ("cuda", "cpu")
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKEND_NAMES)

_lock = threading.Lock()
_extra: dict[str, dict[str, BackendEntry]] = {}


def register_backend(
    name: str,
    factory: Callable[[], Any],
    reason: Callable[[], str | None],
    experiment: str = DEFAULT_EXPERIMENT,
) -> None:
    """Make ``name`` usable in :func:`create_backend` for ``experiment`` (test doubles, plug-ins).

    Registered backends are never chosen by ``auto``.
    """
    with _lock:
        _extra.setdefault(experiment, {})[name] = BackendEntry(factory, reason)


def unregister_backend(name: str, experiment: str = DEFAULT_EXPERIMENT) -> None:
    """Forget a backend added with :func:`register_backend` (nothing happens when there is none)."""
    with _lock:
        _extra.get(experiment, {}).pop(name, None)


def _entries(experiment: str) -> tuple[dict[str, BackendEntry], dict[str, BackendEntry]]:
    """The experiment's own backends (in ``auto``'s order) and those registered for it."""
    own = dict(get_experiment(experiment).backends())
    with _lock:
        extra = dict(_extra.get(experiment, {}))
    return own, extra


def _entry(name: str, experiment: str) -> BackendEntry:
    own, extra = _entries(experiment)
    entry = extra.get(name) or own.get(name)
    if entry is None:
        choices = ", ".join(("auto", *own, *(n for n in extra if n not in own)))
        if name in BACKEND_NAMES:
            raise BackendUnavailableError(
                f"experiment '{experiment}' has no '{name}' backend (choose from {choices})"
            )
        raise BackendUnavailableError(f"unknown backend '{name}' (choose from {choices})")
    return entry


def unavailable_reason(name: str, experiment: str = DEFAULT_EXPERIMENT) -> str | None:
    """Why backend ``name`` cannot run ``experiment`` on this machine, or None when it can."""
    return _entry(name, experiment).unavailable_reason()


def available_backends(experiment: str = DEFAULT_EXPERIMENT) -> dict[str, str | None]:
    """Every backend of ``experiment`` with None when available, else the reason it is not."""
    own, _extra_entries = _entries(experiment)
    return {name: entry.unavailable_reason() for name, entry in own.items()}


def auto_choice(experiment: str = DEFAULT_EXPERIMENT) -> tuple[str, str]:
    """The backend ``auto`` picks, and a sentence saying why (naming what ruled out a better one)."""
    skipped: list[str] = []
    own, _extra_entries = _entries(experiment)
    for candidate, entry in own.items():
        reason = entry.unavailable_reason()
        if reason is None:
            why = f"auto picked '{candidate}'"
            if skipped:
                why += " because " + "; ".join(skipped)
            return candidate, why
        skipped.append(f"'{candidate}' is unavailable: {reason}")
    raise BackendUnavailableError("no backend is available: " + "; ".join(skipped))


def resolve_backend_name(name: str, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Turn ``auto`` into the best available backend; check an explicit one is usable."""
    if name == "auto":
        return auto_choice(experiment)[0]
    reason = unavailable_reason(name, experiment)
    if reason is not None:
        raise BackendUnavailableError(f"backend '{name}' is unavailable: {reason}")
    return name


def create_backend(name: str = "auto", experiment: str = DEFAULT_EXPERIMENT) -> Any:
    """A new backend instance of ``experiment`` (``auto`` picks the best available)."""
    resolved = resolve_backend_name(name, experiment)
    return _entry(resolved, experiment).create()
