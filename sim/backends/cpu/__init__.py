"""The CPU backend: Numba-compiled kernels, many steps per call."""

from sim.backends.cpu.backend import CpuBackend

__all__ = ["CpuBackend"]
