"""The sparse classifier's CUDA backend: CuPy RawKernels over the same state arrays as the CPU's."""
