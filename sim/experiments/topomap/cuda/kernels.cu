// The kernels of the CUDA backend, named like their CPU twins in sim/experiments/topomap/cpu/kernels.py.
//
// A step on a large network is seven launches, each one phase over the whole grid:
//   source_spikes, neuron_update, compact_spikes, propagate_stdp, potentiate, update_traces, rewire.
// A small network runs many whole steps in one launch of run_steps, one block with barriers
// between the phases. Every kernel takes the pointer table (net.cuh) and reads counts, the step
// and the parameters from device memory, so launch shapes never change and nothing synchronises.
#include "net.cuh"
#include "neurons.cuh"
#include "rewiring.cuh"
#include "synapses.cuh"

// Kernels run by one block of up to RL_MAX_BLOCK threads (the compiler keeps their registers low
// enough for that many).
#define RL_MAX_BLOCK 1024
// Shared memory of a block that runs rewiring calls: `scan` (also usable by the caller) and `sh`.
#define RL_REWIRE_SHARED(sh, scan)                          \
    __shared__ unsigned long long sh##_sort[RL_SORT_SHARED]; \
    __shared__ int scan[RL_MAX_BLOCK + 1];                   \
    __shared__ int sh##_flag;                                \
    const RewireShared sh{sh##_sort, scan, &sh##_flag}
#define RL_GRID_TID (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x)
#define RL_GRID_NTHR (static_cast<long long>(gridDim.x) * blockDim.x)

// Stimulus (update_stimulus) and Poisson spikes of the source layer: one thread per block of 32.
extern "C" __global__ void source_spikes(const unsigned long long* ptrs)
{
    const Net net = rl_net(ptrs);
    rl_sources(net, RL_GRID_TID, RL_GRID_NTHR);
}

// Trace decay and LIF update of every target neuron: one thread per neuron.
extern "C" __global__ void neuron_update(const unsigned long long* ptrs)
{
    const Net net = rl_net(ptrs);
    rl_neurons(net, RL_GRID_TID, RL_GRID_NTHR);
}

// Spike masks to ordered spike lists; commits the stimulus and the counts. One block.
extern "C" __global__ void __launch_bounds__(RL_MAX_BLOCK) compact_spikes(const unsigned long long* ptrs)
{
    __shared__ int scan[RL_MAX_BLOCK + 1];
    const Net net = rl_net(ptrs);
    const long long words = net.n / 32;
    const int ns = rl_compact(net.src_mask, words, net.spk_src, scan);
    const int nt = rl_compact(net.tgt_mask, words, net.spk_tgt, scan);
    if (threadIdx.x == 0) rl_commit_spikes(net, ns, nt);
}

// Spikes along their rows into next step's input, with depression: one warp per spike.
extern "C" __global__ void propagate_stdp(const unsigned long long* ptrs)
{
    const Net net = rl_net(ptrs);
    rl_propagate(net, RL_GRID_TID, RL_GRID_NTHR);
}

// Potentiation through the column index: one warp per spiking target and projection.
extern "C" __global__ void potentiate(const unsigned long long* ptrs)
{
    const Net net = rl_net(ptrs);
    rl_potentiate(net, RL_GRID_TID, RL_GRID_NTHR);
}

// The traces take this step's spikes: one thread per spike.
extern "C" __global__ void update_traces(const unsigned long long* ptrs)
{
    const Net net = rl_net(ptrs);
    rl_traces(net, RL_GRID_TID, RL_GRID_NTHR);
}

// The rewiring call when one is due, then the step counter moves on. One block.
extern "C" __global__ void __launch_bounds__(RL_MAX_BLOCK) rewire(const unsigned long long* ptrs)
{
    RL_REWIRE_SHARED(sh, scan);
    Net net = rl_net(ptrs);
    const long long step = net.istate[S_STEP];
    if (rl_rewire_due(net, step)) rl_rewire(net, step, sh);
    __syncthreads();
    if (threadIdx.x == 0) net.istate[S_STEP] = step + 1;
}

// Just the rewiring calls that n_steps steps would make (timing their share). One block.
extern "C" __global__ void __launch_bounds__(RL_MAX_BLOCK) rewire_only(const unsigned long long* ptrs, long long n_steps)
{
    RL_REWIRE_SHARED(sh, scan);
    Net net = rl_net(ptrs);
    for (long long k = 0; k < n_steps; ++k) {
        const long long step = net.istate[S_STEP];
        if (rl_rewire_due(net, step)) {
            if (threadIdx.x == 0) *net.ev_count = 0ULL;
            __syncthreads();
            rl_rewire(net, step, sh);
        }
        __syncthreads();
        if (threadIdx.x == 0) net.istate[S_STEP] = step + 1;
        __syncthreads();
    }
}

// Up to n_steps whole steps in one block (small networks). Stops early, at a step boundary, when
// the event buffer has fewer than ev_reserve free rows; the number of steps done goes to *done.
extern "C" __global__ void __launch_bounds__(RL_MAX_BLOCK) run_steps(const unsigned long long* ptrs, long long n_steps,
                                                                    long long ev_reserve, long long* done)
{
    RL_REWIRE_SHARED(sh, scan);
    __shared__ int go;
    Net net = rl_net(ptrs);
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    const long long words = net.n / 32;
    long long k = 0;
    for (; k < n_steps; ++k) {
        if (tid == 0) go = static_cast<long long>(*net.ev_count) + ev_reserve <= net.ev_cap;
        __syncthreads();
        if (!go) break;
        rl_sources(net, tid, nthr);
        rl_neurons(net, tid, nthr);
        __syncthreads();
        const int ns = rl_compact(net.src_mask, words, net.spk_src, scan);
        const int nt = rl_compact(net.tgt_mask, words, net.spk_tgt, scan);
        if (tid == 0) rl_commit_spikes(net, ns, nt);
        __syncthreads();
        rl_propagate(net, tid, nthr);
        __syncthreads();
        rl_potentiate(net, tid, nthr);
        __syncthreads();
        rl_traces(net, tid, nthr);
        __syncthreads();
        const long long step = net.istate[S_STEP];
        if (rl_rewire_due(net, step)) rl_rewire(net, step, sh);
        __syncthreads();
        if (tid == 0) net.istate[S_STEP] = step + 1;
        __syncthreads();
    }
    if (tid == 0) *done = k;
}
