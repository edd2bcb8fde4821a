// Synaptic phases of a step (CPU twin: propagate_stdp), one warp per spike, lanes along the row
// or column. Input is rounded to the delivery grid before its atomic addition, so the sum is
// exact and independent of the order the additions land in.
#pragma once

#include "net.cuh"

// Spikes travel along their rows into next step's input; depression of every synapse they cross.
__device__ void rl_propagate(const Net& net, long long tid, long long nthr)
{
    const long long lane = tid & 31;
    const long long warp = tid >> 5;
    const long long n_warps = (nthr + 31) >> 5;
    const long long ns = net.istate[S_N_SPK_SRC];
    const long long nt = net.istate[S_N_SPK_TGT];
    const bool stdp = net.ip[I_STDP] != 0;
    const float a_minus = static_cast<float>(net.fp[F_A_MINUS]);
    const float q = static_cast<float>(net.fp[F_QUANTUM]);
    const float inv_q = static_cast<float>(net.fp[F_INV_QUANTUM]);
    float* lat_pend = net.ip[I_LAT_INH] != 0 ? net.pend_inh : net.pend_ex;
    for (long long a = warp; a < ns + nt; a += n_warps) {
        const bool is_ff = a < ns;
        const Table& t = is_ff ? net.ff : net.lat;
        const long long i = is_ff ? net.spk_src[a] : net.spk_tgt[a - ns];
        float* pend = is_ff ? net.pend_ex : lat_pend;
        float* weight = rl_weight(t);
        const long long base = i * t.row_cap;
        const long long len = t.row_len[i];
        for (long long s = base + lane; s < base + len; s += 32) {
            const int j = t.post[s];
            float w = weight[s];
            atomicAdd(pend + j, rl_quantise(w, q, inv_q));
            if (stdp) {
                w -= a_minus * net.y_tgt[j];
                // Clipped below once all of this step's changes are in (CPU docstring).
                weight[s] = (w > 0.0f || net.fired[j]) ? w : 0.0f;
            }
        }
    }
}

// Target spikes as postsynaptic: potentiation through the column index, clipped to [0, g_max].
__device__ void rl_potentiate(const Net& net, long long tid, long long nthr)
{
    if (net.ip[I_STDP] == 0) return;
    const long long lane = tid & 31;
    const long long warp = tid >> 5;
    const long long n_warps = (nthr + 31) >> 5;
    const long long nt = net.istate[S_N_SPK_TGT];
    const float a_plus = static_cast<float>(net.fp[F_A_PLUS]);
    const float g_max = static_cast<float>(net.fp[F_G_MAX]);
    for (long long a = warp; a < 2 * nt; a += n_warps) {
        const bool is_ff = a < nt;
        const Table& t = is_ff ? net.ff : net.lat;
        const float* x = is_ff ? net.x_src : net.x_tgt;
        float* weight = rl_weight(t);
        const long long j = net.spk_tgt[is_ff ? a : a - nt];
        const long long base = j * t.col_cap;
        const long long len = t.col_len[j];
        for (long long c = base + lane; c < base + len; c += 32) {
            const long long s = t.col_syn[c];
            const float w = weight[s] + a_plus * x[s / t.row_cap];
            weight[s] = fminf(fmaxf(w, 0.0f), g_max);
        }
    }
}
