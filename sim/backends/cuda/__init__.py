"""What every CUDA backend shares: the device layer and the headers beside this file.

Only :mod:`sim.backends.cuda.device` imports cupy, and only when a device is
created, so a machine without a GPU or without CuPy imports everything else
cleanly. The headers here are on the include path of every experiment's
kernels (:data:`HEADER_DIR`): ``philox4x32.cuh`` (random numbers),
``block.cuh`` (collectives of one thread block), ``tables.cuh`` (the synapse
tables of :mod:`sim.synapses` on the device) and ``batch.cuh`` (a sorted batch
of table changes applied by a block, or the serial loop instead).
"""

from __future__ import annotations

from pathlib import Path

from sim.backends.cuda.device import cuda_unavailable_reason

#: Folder of the shared CUDA headers.
HEADER_DIR = Path(__file__).resolve().parent


def unavailable_reason() -> str | None:
    """Why CUDA backends cannot run here, or None when they can."""
    return cuda_unavailable_reason()
