// Rewiring calls (CPU twins: rewire_slot, rewire_pair). One thread processes the attempts of a
// call in the CPU's order, so connectivity, counters and events match the CPU backend exactly;
// the work is proportional to the attempts (no scan over rows or columns).
#pragma once

#include "net.cuh"

__device__ __forceinline__ bool rl_rewire_due(const Net& net, long long step)
{
    return net.ip[I_REWIRE] != 0 && (step + 1) % net.ip[I_REWIRE_EVERY] == 0;
}

// Attempts this call: the integer part of the expectation plus one with its fractional probability.
__device__ long long rl_n_attempts(const Net& net, long long step, long long proj)
{
    const double expected = net.fp[F_ATTEMPTS];
    long long whole = static_cast<long long>(floor(expected));
    const double frac = expected - static_cast<double>(whole);
    if (frac > 0.0) {
        const rl_uint4x32 r = rl_philox4x32(
            rl_uint4x32{static_cast<unsigned int>(step), rl_counter_word1(PURPOSE_ATTEMPTS, step),
                        static_cast<unsigned int>(proj), 0u},
            static_cast<unsigned int>(net.ip[I_KEY0]), static_cast<unsigned int>(net.ip[I_KEY1]));
        if (static_cast<double>(rl_uniform(r.x)) < frac) whole += 1;
    }
    return min(whole, net.ip[I_MAX_ATTEMPTS]);
}

__device__ __forceinline__ double rl_p_elim(const Net& net, int base, float w)
{
    return static_cast<double>(w) < net.fp[F_THETA] ? net.fp[base + 2] : net.fp[base + 3];
}

__device__ __forceinline__ double rl_p_form(const Net& net, long long proj, long long pre, long long post)
{
    return net.form_table[proj * net.form_width + rl_torus_d2(pre, post, net.ip[I_SIDE])];
}

// Bamford's scheme: each attempt picks a target neuron and one of its s_max slots.
__device__ void rl_rewire_slot(Net& net, long long step)
{
    const long long n = net.n;
    const long long s_max = net.ip[I_S_MAX];
    const unsigned int k0 = static_cast<unsigned int>(net.ip[I_KEY0]);
    const unsigned int k1 = static_cast<unsigned int>(net.ip[I_KEY1]);
    const bool record = net.ip[I_RECORD_EVENTS] != 0;
    const bool last_spike = net.ip[I_PARTNER_LAST] != 0;
    const bool autapses = net.ip[I_AUTAPSES] != 0;
    const float g_max = static_cast<float>(net.fp[F_G_MAX]);
    const long long ns = net.istate[S_N_SPK_SRC];
    const long long nt = net.istate[S_N_SPK_TGT];
    const long long attempts = rl_n_attempts(net, step, 0);
    net.istate[S_ATTEMPTS_FF] += attempts;
    const unsigned int c0 = static_cast<unsigned int>(step);
    const unsigned int c1 = rl_counter_word1(PURPOSE_SLOT, step);
    for (long long a = 0; a < attempts; ++a) {
        const rl_uint4x32 r = rl_philox4x32(rl_uint4x32{c0, c1, static_cast<unsigned int>(a), 0u}, k0, k1);
        const long long j = rl_below(r.x, static_cast<unsigned int>(n));
        const long long slot = rl_below(r.y, static_cast<unsigned int>(s_max));
        const long long d_ff = net.ff.col_len[j];
        const long long d_lat = net.lat.col_len[j];
        if (slot < d_ff + d_lat) {
            const bool ff = slot < d_ff;
            Table& t = ff ? net.ff : net.lat;
            const long long c = ff ? slot : slot - d_ff;
            const long long s = t.col_syn[j * t.col_cap + c];
            if (static_cast<double>(rl_uniform(r.w)) < rl_p_elim(net, ff ? F_FF_P_FORM : F_LAT_P_FORM, t.weight[s])) {
                const long long pre = s / t.row_cap;
                rl_remove_synapse(t, pre, s - pre * t.row_cap);
                if (record) rl_record(net, step, pre, j, ff ? 0 : 1, 0);
            }
            continue;
        }
        long long pre, proj;
        if (last_spike) {
            const long long total = ns + nt;
            if (total == 0) continue;
            const long long pick = rl_below(r.z, static_cast<unsigned int>(total));
            if (pick < ns) {
                pre = net.spk_src[pick];
                proj = 0;
            } else {
                pre = net.spk_tgt[pick - ns];
                proj = 1;
            }
        } else {
            const long long pick = rl_below(r.z, static_cast<unsigned int>(2 * n));
            proj = pick < n ? 0 : 1;
            pre = pick < n ? pick : pick - n;
        }
        if (proj == 1 && !autapses && pre == j) continue;
        if (static_cast<double>(rl_uniform(r.w)) < rl_p_form(net, proj, pre, j)) {
            Table& t = proj == 0 ? net.ff : net.lat;
            if (rl_add_synapse(t, pre, j, g_max) && record) rl_record(net, step, pre, j, proj, 1);
        }
    }
}

// Bottom-up merge sort of keys (distinct) with their acceptance uniforms, ascending.
__device__ void rl_sort_pairs(long long* keys, float* accept, long long* tmp_keys, float* tmp_accept, long long n)
{
    long long* src_k = keys;
    float* src_a = accept;
    long long* dst_k = tmp_keys;
    float* dst_a = tmp_accept;
    for (long long width = 1; width < n; width *= 2) {
        for (long long lo = 0; lo < n; lo += 2 * width) {
            const long long mid = min(lo + width, n);
            const long long hi = min(lo + 2 * width, n);
            long long i = lo, k = mid, o = lo;
            while (i < mid && k < hi) {
                if (src_k[k] < src_k[i]) {
                    dst_k[o] = src_k[k];
                    dst_a[o++] = src_a[k++];
                } else {
                    dst_k[o] = src_k[i];
                    dst_a[o++] = src_a[i++];
                }
            }
            while (i < mid) {
                dst_k[o] = src_k[i];
                dst_a[o++] = src_a[i++];
            }
            while (k < hi) {
                dst_k[o] = src_k[k];
                dst_a[o++] = src_a[k++];
            }
        }
        long long* tk = src_k;
        src_k = dst_k;
        dst_k = tk;
        float* ta = src_a;
        src_a = dst_a;
        dst_a = ta;
    }
    if (src_k != keys) {
        for (long long i = 0; i < n; ++i) {
            keys[i] = src_k[i];
            accept[i] = src_a[i];
        }
    }
}

// Draw `attempts` distinct (pre, post) pairs as sorted keys pre * n + post (CPU: _draw_pairs).
__device__ void rl_draw_pairs(Net& net, long long step, long long proj, long long attempts, bool autapses)
{
    const long long n = net.n;
    const unsigned int k0 = static_cast<unsigned int>(net.ip[I_KEY0]);
    const unsigned int k1 = static_cast<unsigned int>(net.ip[I_KEY1]);
    const unsigned int c0 = static_cast<unsigned int>(step);
    const unsigned int c1 = rl_counter_word1(PURPOSE_PAIR_FF + proj, step);
    long long size = 16;
    while (size < 2 * attempts) size *= 2;
    const unsigned long long mask = static_cast<unsigned long long>(size - 1);
    long long* table = net.pair_hash;
    for (long long i = 0; i < size; ++i) table[i] = -1;
    for (long long a = 0; a < attempts; ++a) {
        unsigned int redraw = 0;
        while (true) {
            const rl_uint4x32 r = rl_philox4x32(rl_uint4x32{c0, c1, static_cast<unsigned int>(a), redraw}, k0, k1);
            ++redraw;
            const long long pre = rl_below(r.x, static_cast<unsigned int>(n));
            const long long post = rl_below(r.y, static_cast<unsigned int>(n));
            if (!autapses && pre == post) continue;
            const long long key = pre * n + post;
            unsigned long long pos =
                ((static_cast<unsigned long long>(key) * 0x5851F42D4C957F2DULL) >> 29) & mask;
            bool dup = false;
            while (table[pos] != -1) {
                if (table[pos] == key) {
                    dup = true;
                    break;
                }
                pos = (pos + 1) & mask;
            }
            if (dup) continue;
            table[pos] = key;
            net.pair_keys[a] = key;
            net.pair_accept[a] = rl_uniform(r.z);
            break;
        }
    }
    rl_sort_pairs(net.pair_keys, net.pair_accept, net.pair_tmp_keys, net.pair_tmp_accept, attempts);
}

// GeNN-study scheme: per projection, distinct random (pre, post) pairs, processed in key order.
__device__ void rl_rewire_pair(Net& net, long long step)
{
    const long long n = net.n;
    const bool record = net.ip[I_RECORD_EVENTS] != 0;
    const float g_max = static_cast<float>(net.fp[F_G_MAX]);
    for (long long proj = 0; proj < 2; ++proj) {
        Table& t = proj == 0 ? net.ff : net.lat;
        const int base = proj == 0 ? F_FF_P_FORM : F_LAT_P_FORM;
        const bool autapses = proj == 0 || net.ip[I_AUTAPSES] != 0;
        const long long attempts = min(rl_n_attempts(net, step, proj), autapses ? n * n : n * n - n);
        net.istate[S_ATTEMPTS_FF + proj] += attempts;
        rl_draw_pairs(net, step, proj, attempts, autapses);
        for (long long a = 0; a < attempts; ++a) {
            const long long pre = net.pair_keys[a] / n;
            const long long post = net.pair_keys[a] - pre * n;
            const long long k = rl_find_synapse(t, pre, post);
            const float u = net.pair_accept[a];
            if (k >= 0) {
                if (static_cast<double>(u) < rl_p_elim(net, base, t.weight[pre * t.row_cap + k])) {
                    rl_remove_synapse(t, pre, k);
                    if (record) rl_record(net, step, pre, post, proj, 0);
                }
            } else if (static_cast<double>(u) < rl_p_form(net, proj, pre, post) && rl_add_synapse(t, pre, post, g_max)
                       && record) {
                rl_record(net, step, pre, post, proj, 1);
            }
        }
    }
}

__device__ __forceinline__ void rl_rewire(Net& net, long long step)
{
    if (net.ip[I_SCHEME] == SCHEME_SLOT)
        rl_rewire_slot(net, step);
    else
        rl_rewire_pair(net, step);
}
