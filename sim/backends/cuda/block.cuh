// Collective operations of one thread block: every thread of the block calls them, with the same
// arguments, from uniform control flow (they contain barriers).
#pragma once

// Exclusive prefix of `count` over the threads of the block, in thread order; the sum goes to
// *total on every thread. `scan` is shared memory of blockDim.x + 1 ints.
__device__ int rl_block_prefix(int count, int* scan, int* total)
{
    const int tid = threadIdx.x;
    const int nthr = blockDim.x;
    scan[tid + 1] = count;
    if (tid == 0) scan[0] = 0;
    __syncthreads();
    // Inclusive scan of scan[1..nthr] (Hillis-Steele, two buffers folded into one by a barrier pair).
    for (int offset = 1; offset < nthr; offset <<= 1) {
        const int add = tid + 1 > offset ? scan[tid + 1 - offset] : 0;
        __syncthreads();
        scan[tid + 1] += add;
        __syncthreads();
    }
    const int at = scan[tid];
    *total = scan[nthr];
    __syncthreads();
    return at;
}

// Ascending bitonic sort of v[0, size), size a power of two (pad with ~0ULL). v may be shared or
// global memory. Ends with a barrier.
__device__ void rl_block_sort(unsigned long long* v, long long size)
{
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    __syncthreads();
    for (long long k = 2; k <= size; k <<= 1) {
        for (long long j = k >> 1; j > 0; j >>= 1) {
            for (long long p = tid; p < size / 2; p += nthr) {
                // Pair p compares elements i and i + j, where i has bit j clear.
                const long long low = p & (j - 1);
                const long long i = ((p - low) << 1) + low;
                const unsigned long long a = v[i];
                const unsigned long long b = v[i + j];
                const bool ascending = (i & k) == 0;
                if ((a > b) == ascending) {
                    v[i] = b;
                    v[i + j] = a;
                }
            }
            __syncthreads();
        }
    }
}

// The chunk [*lo, *hi) of [0, count) that this thread owns when work must stay in order.
__device__ __forceinline__ void rl_block_chunk(long long count, long long* lo, long long* hi)
{
    const long long per = (count + blockDim.x - 1) / blockDim.x;
    *lo = min(count, static_cast<long long>(threadIdx.x) * per);
    *hi = min(count, *lo + per);
}
