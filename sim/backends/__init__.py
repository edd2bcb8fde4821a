"""Backend registry: which backends exist, which can run here, and why not."""

from __future__ import annotations

from collections.abc import Callable

from sim.backends.base import Backend
from sim.errors import BackendUnavailableError

#: Backends in order of preference for ``auto``.
BACKEND_NAMES: tuple[str, ...] = ("cuda", "cpu")
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKEND_NAMES)


def _cpu_reason() -> str | None:
    return None


def _cuda_reason() -> str | None:
    from sim.backends import cuda

    return cuda.unavailable_reason()


def _cpu_create() -> Backend:
    from sim.backends.cpu import CpuBackend

    return CpuBackend()


def _cuda_create() -> Backend:
    from sim.backends import cuda

    return cuda.create()


_REASONS: dict[str, Callable[[], str | None]] = {"cpu": _cpu_reason, "cuda": _cuda_reason}
_FACTORIES: dict[str, Callable[[], Backend]] = {"cpu": _cpu_create, "cuda": _cuda_create}


def register_backend(name: str, factory: Callable[[], Backend], reason: Callable[[], str | None]) -> None:
    """Make ``name`` usable in :func:`create_backend` (extra backends: test doubles, plug-ins).

    Registered backends are never chosen by ``auto``.
    """
    _REASONS[name] = reason
    _FACTORIES[name] = factory


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run on this machine, or None when it can."""
    if name not in _REASONS:
        raise BackendUnavailableError(f"unknown backend '{name}' (choose from {', '.join(BACKEND_CHOICES)})")
    return _REASONS[name]()


def available_backends() -> dict[str, str | None]:
    """Every built-in backend with None when available, else the reason it is not."""
    return {name: unavailable_reason(name) for name in BACKEND_NAMES}


def auto_choice() -> tuple[str, str]:
    """The backend ``auto`` picks, and a sentence saying why (naming what ruled out a better one)."""
    skipped: list[str] = []
    for candidate in BACKEND_NAMES:
        reason = unavailable_reason(candidate)
        if reason is None:
            why = f"auto picked '{candidate}'"
            if skipped:
                why += " because " + "; ".join(skipped)
            return candidate, why
        skipped.append(f"'{candidate}' is unavailable: {reason}")
    raise BackendUnavailableError("no backend is available: " + "; ".join(skipped))  # pragma: no cover


def resolve_backend_name(name: str) -> str:
    """Turn ``auto`` into the best available backend; check an explicit one is usable."""
    if name == "auto":
        return auto_choice()[0]
    reason = unavailable_reason(name)
    if reason is not None:
        raise BackendUnavailableError(f"backend '{name}' is unavailable: {reason}")
    return name


def create_backend(name: str = "auto") -> Backend:
    """A new backend instance (``auto`` picks the best available)."""
    return _FACTORIES[resolve_backend_name(name)]()
