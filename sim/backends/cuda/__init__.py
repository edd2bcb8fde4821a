"""The CUDA backend (CuPy RawKernels).

This package is the only place that imports cupy, and only lazily, so that a
machine without a GPU imports everything else cleanly.
"""

from __future__ import annotations

import importlib.util

from sim.backends.base import Backend
from sim.errors import BackendUnavailableError


def unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here, or None when it can."""
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install 'rewire-lab[cuda]')"
    try:
        import cupy

        if not cupy.is_available():
            return "CuPy sees no usable CUDA device"
    except Exception as exc:  # CuPy raises many kinds of errors when the driver is missing
        return f"CuPy cannot reach a CUDA device ({type(exc).__name__}: {exc})"
    return "the CUDA kernels are not part of this release yet"


def create() -> Backend:
    """A CUDA backend instance."""
    reason = unavailable_reason()
    raise BackendUnavailableError(f"backend 'cuda' is unavailable: {reason}")
