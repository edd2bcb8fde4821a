"""The CUDA backend (CuPy RawKernels over GeNN-style ragged connectivity).

Only :mod:`sim.backends.cuda.device` imports cupy, and only when a device is
created, so a machine without a GPU or without CuPy imports everything else
cleanly.
"""

from __future__ import annotations

from sim.backends.base import Backend
from sim.backends.cuda.device import cuda_unavailable_reason


def unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here, or None when it can."""
    return cuda_unavailable_reason()


def create() -> Backend:
    """A CUDA backend on the first GPU (raises BackendUnavailableError when there is none)."""
    from sim.backends.cuda.backend import CudaBackend
    from sim.backends.cuda.device import CupyDevice

    return CudaBackend(CupyDevice())
