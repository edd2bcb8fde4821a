// Known-answer check of the CUDA Philox: writes the outputs for the Random123 test vectors.
#include "philox4x32.cuh"

extern "C" __global__ void philox_kat(const unsigned int* counters, const unsigned int* keys, unsigned int* out, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const rl_uint4x32 c{counters[4 * i], counters[4 * i + 1], counters[4 * i + 2], counters[4 * i + 3]};
    const rl_uint4x32 r = rl_philox4x32(c, keys[2 * i], keys[2 * i + 1]);
    out[4 * i] = r.x;
    out[4 * i + 1] = r.y;
    out[4 * i + 2] = r.z;
    out[4 * i + 3] = r.w;
}
