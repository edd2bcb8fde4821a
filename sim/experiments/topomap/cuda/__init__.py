"""The topographic map's CUDA backend: CuPy RawKernels over the ragged tables."""
