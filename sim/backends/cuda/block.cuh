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

// The compare-exchange network of an ascending bitonic sort of [0, size), size a power of two, run
// by the whole block: order(i, j, ascending) puts elements i < j in ascending order when `ascending`,
// else in descending order. Ends with a barrier.
template <class Order>
__device__ void rl_block_bitonic(long long size, Order order)
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
                order(i, i + j, (i & k) == 0);
            }
            __syncthreads();
        }
    }
}

// Ascending bitonic sort of v[0, size), size a power of two (pad with ~0ULL). v may be shared or
// global memory. Ends with a barrier.
__device__ void rl_block_sort(unsigned long long* v, long long size)
{
    rl_block_bitonic(size, [v](long long i, long long j, bool ascending) {
        const unsigned long long a = v[i];
        const unsigned long long b = v[j];
        if ((a > b) == ascending) {
            v[i] = b;
            v[j] = a;
        }
    });
}

// (key, index) pairs of v and idx [0, size) sorted ascending by key, then index, size a power of two:
// with distinct indices, a stable order of the keys. Ends with a barrier.
__device__ void rl_block_sort_pairs(unsigned long long* v, int* idx, long long size)
{
    rl_block_bitonic(size, [v, idx](long long i, long long j, bool ascending) {
        const unsigned long long a = v[i], b = v[j];
        const int ia = idx[i], ib = idx[j];
        const bool greater = a > b || (a == b && ia > ib);
        if (greater == ascending) {
            v[i] = b;
            v[j] = a;
            idx[i] = ib;
            idx[j] = ia;
        }
    });
}

// The chunk [*lo, *hi) of [0, count) that this thread owns when work must stay in order.
__device__ __forceinline__ void rl_block_chunk(long long count, long long* lo, long long* hi)
{
    const long long per = (count + blockDim.x - 1) / blockDim.x;
    *lo = min(count, static_cast<long long>(threadIdx.x) * per);
    *hi = min(count, *lo + per);
}
