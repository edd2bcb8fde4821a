// Neuron phases of a step, written for a team of threads (tid, nthr): the whole grid when a
// kernel runs one phase, one block when run_steps runs every phase of many steps.
#pragma once

#include "block.cuh"
#include "net.cuh"

// The stimulus of this step: its location, and whether the spike probabilities must be refreshed.
// Every thread computes it from the counters alone; finish_spikes commits it to istate.
struct Stimulus {
    long long x, y;
    bool due, dirty;
};

__device__ __forceinline__ Stimulus rl_stimulus(const Net& net, long long step)
{
    Stimulus s;
    s.due = step >= net.istate[S_STIM_NEXT];
    s.x = net.istate[S_STIM_X];
    s.y = net.istate[S_STIM_Y];
    if (s.due) {
        const long long idx = net.istate[S_STIM_INDEX];
        const rl_uint4x32 r = rl_philox4x32(
            rl_uint4x32{static_cast<unsigned int>(idx), rl_counter_word1(PURPOSE_STIMULUS, idx), 0u, 0u},
            static_cast<unsigned int>(net.ip[I_KEY0]), static_cast<unsigned int>(net.ip[I_KEY1]));
        const unsigned int tile = static_cast<unsigned int>(net.ip[I_TILE]);
        s.x = rl_below(r.x, tile);
        s.y = rl_below(r.y, tile);
    }
    s.dirty = s.due || net.istate[S_STIM_DIRTY] != 0;
    return s;
}

// update_stimulus (CPU twin): spike probabilities of the source neurons of Poisson block b.
__device__ __forceinline__ void rl_stimulus_block(const Net& net, const Stimulus& s, long long b)
{
    const long long side = net.ip[I_SIDE];
    const long long tile = net.ip[I_TILE];
    const long long width = tile / 2 + 1;
    double none = 1.0;
    for (long long i = b * POISSON_BLOCK; i < (b + 1) * POISSON_BLOCK; ++i) {
        long long dx = (i % side) % tile - s.x;
        long long dy = (i / side) % tile - s.y;
        dx = dx < 0 ? -dx : dx;
        dy = dy < 0 ? -dy : dy;
        dx = min(dx, tile - dx);
        dy = min(dy, tile - dy);
        const float p = net.stim_table[dy * width + dx];
        net.p_src[i] = p;
        none *= 1.0 - static_cast<double>(p);
        net.cdf_src[i] = static_cast<float>(1.0 - none);
    }
}

// source_spikes (CPU twin): exact block sampling of Poisson block b into its spike-mask word.
__device__ __forceinline__ void rl_source_block(const Net& net, long long step, long long b)
{
    const unsigned int k0 = static_cast<unsigned int>(net.ip[I_KEY0]);
    const unsigned int k1 = static_cast<unsigned int>(net.ip[I_KEY1]);
    const unsigned int c0 = static_cast<unsigned int>(step);
    const long long base = b * POISSON_BLOCK;
    const rl_uint4x32 words =
        rl_philox4x32(rl_uint4x32{c0, rl_counter_word1(PURPOSE_POISSON, step), static_cast<unsigned int>(b >> 2), 0u},
                      k0, k1);
    const unsigned int lanes[4] = {words.x, words.y, words.z, words.w};
    const float u = rl_uniform(lanes[b & 3]);
    unsigned int mask = 0u;
    if (u < net.cdf_src[base + POISSON_BLOCK - 1]) {
        long long first = base;
        while (u >= net.cdf_src[first]) ++first;
        mask |= 1u << (first - base);
        long long k = first + 1 - base;
        const unsigned int c1_rest = rl_counter_word1(PURPOSE_POISSON_REST, step);
        while (k < POISSON_BLOCK) {
            const rl_uint4x32 r = rl_philox4x32(
                rl_uint4x32{c0, c1_rest, static_cast<unsigned int>(b), static_cast<unsigned int>(k >> 2)}, k0, k1);
            const unsigned int rw[4] = {r.x, r.y, r.z, r.w};
            for (long long w = k & 3; w < 4; ++w) {
                const long long i = base + (k & ~3LL) + w;
                if (rl_uniform(rw[w]) < net.p_src[i]) mask |= 1u << (i - base);
            }
            k = (k & ~3LL) + 4;
        }
    }
    net.src_mask[b] = mask;
    for (unsigned int m = mask; m; m &= m - 1) net.count_src[base + __ffs(m) - 1] += 1;
}

// Stimulus and Poisson spikes of every block this thread owns.
__device__ void rl_sources(const Net& net, long long tid, long long nthr)
{
    const long long step = net.istate[S_STEP];
    const Stimulus s = rl_stimulus(net, step);
    for (long long b = tid; b < net.n / POISSON_BLOCK; b += nthr) {
        if (s.dirty) rl_stimulus_block(net, s, b);
        rl_source_block(net, step, b);
    }
}

// neuron_update (CPU twin): trace decay, exponential-Euler LIF, threshold, for target neuron j.
__device__ __forceinline__ void rl_neuron(const Net& net, long long j)
{
    const double* fp = net.fp;
    const float pre_decay = static_cast<float>(fp[F_PRE_DECAY]);
    const float post_decay = static_cast<float>(fp[F_POST_DECAY]);
    float a = net.x_src[j] * pre_decay;
    net.x_src[j] = a > TINY ? a : 0.0f;
    a = net.x_tgt[j] * pre_decay;
    net.x_tgt[j] = a > TINY ? a : 0.0f;
    a = net.y_tgt[j] * post_decay;
    net.y_tgt[j] = a > TINY ? a : 0.0f;

    const float v_rest = static_cast<float>(fp[F_V_REST]);
    const float v_reset = static_cast<float>(fp[F_V_RESET]);
    const float e_ex = static_cast<float>(fp[F_E_EX]);
    const float e_inh = static_cast<float>(fp[F_E_INH]);
    const float k_m = static_cast<float>(fp[F_DT_OVER_TAU_M]);
    const float syn_decay = static_cast<float>(fp[F_SYN_DECAY]);
    float ge = net.g_ex[j] + net.pend_ex[j];
    float gi = net.g_inh[j] + net.pend_inh[j];
    net.pend_ex[j] = 0.0f;
    net.pend_inh[j] = 0.0f;
    const float decay = rl_exp_poly(-k_m * (1.0f + ge + gi));
    const float v_inf = (v_rest + ge * e_ex + gi * e_inh) / (1.0f + ge + gi);
    float v = v_inf + (net.v[j] - v_inf) * decay;
    const int r = net.refrac[j];
    v = r == 0 ? v : v_reset;
    net.refrac[j] = r > 0 ? r - 1 : 0;
    ge *= syn_decay;
    gi *= syn_decay;
    net.g_ex[j] = ge > TINY ? ge : 0.0f;
    net.g_inh[j] = gi > TINY ? gi : 0.0f;
    if (v >= static_cast<float>(fp[F_V_THRESH])) {
        v = v_reset;
        net.refrac[j] = static_cast<int>(net.ip[I_REF_STEPS]);
        net.fired[j] = 1;
        net.count_tgt[j] += 1;
        atomicOr(net.tgt_mask + (j >> 5), 1u << (j & 31));
    }
    net.v[j] = v;
}

__device__ void rl_neurons(const Net& net, long long tid, long long nthr)
{
    for (long long j = tid; j < net.n; j += nthr) rl_neuron(net, j);
}

// Ordered stream compaction of a spike mask by one block: ids ascend, as the CPU lists them.
// `scan` is shared memory of blockDim.x + 1 ints. Clears the mask. Returns the count (all threads).
__device__ int rl_compact(unsigned int* mask, long long n_words, int* out, int* scan)
{
    long long lo, hi;
    rl_block_chunk(n_words, &lo, &hi);
    int count = 0;
    for (long long w = lo; w < hi; ++w) count += __popc(mask[w]);
    int total;
    int at = rl_block_prefix(count, scan, &total);
    for (long long w = lo; w < hi; ++w) {
        for (unsigned int m = mask[w]; m; m &= m - 1) out[at++] = static_cast<int>(w * 32 + __ffs(m) - 1);
        mask[w] = 0u;
    }
    return total;
}

// After compaction: spike counts and this step's stimulus into istate (one thread).
__device__ __forceinline__ void rl_commit_spikes(const Net& net, int ns, int nt)
{
    const long long step = net.istate[S_STEP];
    const Stimulus s = rl_stimulus(net, step);
    if (s.due) {
        net.istate[S_STIM_X] = s.x;
        net.istate[S_STIM_Y] = s.y;
        net.istate[S_STIM_INDEX] += 1;
        net.istate[S_STIM_NEXT] = step + net.ip[I_STIM_EVERY];
    }
    net.istate[S_STIM_DIRTY] = 0;
    net.istate[S_N_SPK_SRC] = ns;
    net.istate[S_N_SPK_TGT] = nt;
}

// The traces take this step's spikes; the spiked-this-step flags are cleared (CPU: end of
// propagate_stdp and clear_fired).
__device__ void rl_traces(const Net& net, long long tid, long long nthr)
{
    const long long ns = net.istate[S_N_SPK_SRC];
    const long long nt = net.istate[S_N_SPK_TGT];
    const bool nearest = net.ip[I_NEAREST] != 0;
    for (long long a = tid; a < ns + nt; a += nthr) {
        if (a < ns) {
            const int i = net.spk_src[a];
            net.x_src[i] = nearest ? 1.0f : net.x_src[i] + 1.0f;
        } else {
            const int j = net.spk_tgt[a - ns];
            net.x_tgt[j] = nearest ? 1.0f : net.x_tgt[j] + 1.0f;
            net.y_tgt[j] = nearest ? 1.0f : net.y_tgt[j] + 1.0f;
            net.fired[j] = 0;
        }
    }
}
