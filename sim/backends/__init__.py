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


_REASONS: dict[str, Callable[[], str | None]] = {"cpu": _cpu_reason, "cuda": _cuda_reason}


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run on this machine, or None when it can."""
    if name not in _REASONS:
        raise BackendUnavailableError(f"unknown backend '{name}' (choose from {', '.join(BACKEND_CHOICES)})")
    return _REASONS[name]()


def available_backends() -> dict[str, str | None]:
    """Every backend with None when available, else the reason it is not."""
    return {name: unavailable_reason(name) for name in BACKEND_NAMES}


def resolve_backend_name(name: str) -> str:
    """Turn ``auto`` into the best available backend; check an explicit one is usable."""
    if name == "auto":
        for candidate in BACKEND_NAMES:
            if unavailable_reason(candidate) is None:
                return candidate
        raise BackendUnavailableError("no backend is available")  # pragma: no cover - the CPU always is
    reason = unavailable_reason(name)
    if reason is not None:
        raise BackendUnavailableError(f"backend '{name}' is unavailable: {reason}")
    return name


def create_backend(name: str = "auto") -> Backend:
    """A new backend instance (``auto`` picks the best available)."""
    resolved = resolve_backend_name(name)
    if resolved == "cpu":
        from sim.backends.cpu import CpuBackend

        return CpuBackend()
    from sim.backends import cuda

    return cuda.create()  # pragma: no cover - needs a GPU
