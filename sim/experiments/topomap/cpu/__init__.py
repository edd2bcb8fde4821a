"""The CPU backend: Numba-compiled kernels, many steps per call."""

from sim.experiments.topomap.cpu.backend import CpuBackend

__all__ = ["CpuBackend"]
