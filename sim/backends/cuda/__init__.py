"""What every CUDA backend shares: the device layer and the headers beside this file.

Only :mod:`sim.backends.cuda.device` imports cupy, and only when a device is
created, so a machine without a GPU or without CuPy imports everything else
cleanly. The headers here (``philox4x32.cuh``, ``block.cuh``) are on the
include path of every experiment's kernels (:data:`HEADER_DIR`).
"""

from __future__ import annotations

from pathlib import Path

from sim.backends.cuda.device import cuda_unavailable_reason

#: Folder of the shared CUDA headers.
HEADER_DIR = Path(__file__).resolve().parent


def unavailable_reason() -> str | None:
    """Why CUDA backends cannot run here, or None when they can."""
    return cuda_unavailable_reason()
