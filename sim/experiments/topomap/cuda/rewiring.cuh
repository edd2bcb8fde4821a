// Rewiring calls (CPU twins: rewire_slot, rewire_pair), run by one thread block.
//
// Both schemes run in parallel over their attempts and end in exactly the state, counters and
// events of the CPU's serial loop (see rl_pair_parallel and rl_slot_parallel). When that cannot be
// guaranteed cheaply (a pair drawn twice, a row or column that could fill, a multapse among the
// attempted pairs) the call runs the serial loop on one thread instead, before changing anything
// (rl_batch_settle). Either way the work is proportional to the attempts: no scan over all rows
// or columns. The pair scheme's changes are a sorted batch of table operations, applied by the
// shared rl_batch_apply (sim/backends/cuda/batch.cuh).
#pragma once

#include "batch.cuh"
#include "block.cuh"
#include "net.cuh"

// How a projection's rewiring call ran (net.rw_paths; sim/experiments/topomap/cuda/backend.py REWIRING_PATHS).
enum {
    RW_PATH_PARALLEL, RW_PATH_REPEAT, RW_PATH_CAPACITY, RW_PATH_MULTAPSE, RW_PATH_LARGE, RW_N_PATHS
};

#ifndef RL_SORT_SHARED
#define RL_SORT_SHARED 4096            // sort in shared memory up to this many attempts
#endif
#define RL_U_BITS 24                   // an attempt's sort word: key (pre * n + post) above its uniform
#define RL_U_MASK 0xFFFFFFULL
#define RL_MAX_PARALLEL_N (1LL << 20)  // keys below 2^40
#define RL_MAX_PARALLEL_SIZE (1LL << RL_U_BITS)

// Shared memory of the block running a rewiring call.
struct RewireShared {
    unsigned long long* sort;  // RL_SORT_SHARED words
    int* scan;                 // blockDim.x + 1 ints
    int* flag;                 // one int
};

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

// One attempt of Bamford's scheme as drawn: a target, one of its slots, the partner a formation
// would take (if any) and the acceptance uniform (CPU: rewire_slot's loop body).
struct SlotDraw {
    long long j, slot, pre, proj;
    bool partner;  // a formation attempt here would have a partner (not an excluded autapse)
    float u;
};

__device__ __forceinline__ SlotDraw rl_slot_draw(const Net& net, long long step, long long a)
{
    const rl_uint4x32 r = rl_philox4x32(
        rl_uint4x32{static_cast<unsigned int>(step), rl_counter_word1(PURPOSE_SLOT, step), static_cast<unsigned int>(a),
                    0u},
        static_cast<unsigned int>(net.ip[I_KEY0]), static_cast<unsigned int>(net.ip[I_KEY1]));
    SlotDraw d;
    d.j = rl_below(r.x, static_cast<unsigned int>(net.n));
    d.slot = rl_below(r.y, static_cast<unsigned int>(net.ip[I_S_MAX]));
    d.u = rl_uniform(r.w);
    d.partner = true;
    if (net.ip[I_PARTNER_LAST] != 0) {
        const long long ns = net.istate[S_N_SPK_SRC];
        const long long total = ns + net.istate[S_N_SPK_TGT];
        d.partner = total > 0;
        const long long pick = total > 0 ? rl_below(r.z, static_cast<unsigned int>(total)) : 0;
        d.proj = pick < ns ? 0 : 1;
        d.pre = total == 0 ? 0 : pick < ns ? net.spk_src[pick] : net.spk_tgt[pick - ns];
    } else {
        const long long pick = rl_below(r.z, static_cast<unsigned int>(2 * net.n));
        d.proj = pick < net.n ? 0 : 1;
        d.pre = pick < net.n ? pick : pick - net.n;
    }
    if (d.proj == 1 && net.ip[I_AUTAPSES] == 0 && d.pre == d.j) d.partner = false;
    return d;
}

// Bamford's scheme on one thread: each attempt picks a target neuron and one of its s_max slots.
__device__ void rl_slot_serial(Net& net, long long step, long long attempts)
{
    const bool record = net.ip[I_RECORD_EVENTS] != 0;
    const RlInitAll<PT_N_VARS> init{{net.fp[F_G_MAX]}};
    for (long long a = 0; a < attempts; ++a) {
        const SlotDraw d = rl_slot_draw(net, step, a);
        const long long d_ff = net.ff.col_len[d.j];
        const long long d_lat = net.lat.col_len[d.j];
        if (d.slot < d_ff + d_lat) {
            const bool ff = d.slot < d_ff;
            Table& t = ff ? net.ff : net.lat;
            const long long c = ff ? d.slot : d.slot - d_ff;
            const long long s = t.col_syn[d.j * t.col_cap + c];
            if (static_cast<double>(d.u) < rl_p_elim(net, ff ? F_FF_P_FORM : F_LAT_P_FORM, rl_weight(t)[s])) {
                const long long pre = s / t.row_cap;
                rl_table_remove(t, pre, s - pre * t.row_cap);
                if (record) rl_record(net, step, pre, d.j, ff ? 0 : 1, 0);
            }
        } else if (d.partner && static_cast<double>(d.u) < rl_p_form(net, d.proj, d.pre, d.j)) {
            Table& t = d.proj == 0 ? net.ff : net.lat;
            if (rl_table_add(t, d.pre, d.j, init) && record) rl_record(net, step, d.pre, d.j, d.proj, 1);
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

// GeNN-study scheme, one projection on one thread: distinct random (pre, post) pairs, processed
// in key order (CPU: rewire_pair's loop).
__device__ void rl_pair_serial(Net& net, long long step, long long proj, long long attempts)
{
    const long long n = net.n;
    const bool record = net.ip[I_RECORD_EVENTS] != 0;
    const RlInitAll<PT_N_VARS> init{{net.fp[F_G_MAX]}};
    Table& t = proj == 0 ? net.ff : net.lat;
    const int base = proj == 0 ? F_FF_P_FORM : F_LAT_P_FORM;
    const bool autapses = proj == 0 || net.ip[I_AUTAPSES] != 0;
    rl_draw_pairs(net, step, proj, attempts, autapses);
    for (long long a = 0; a < attempts; ++a) {
        const long long pre = net.pair_keys[a] / n;
        const long long post = net.pair_keys[a] - pre * n;
        const long long k = rl_table_find(t, pre, post);
        const float u = net.pair_accept[a];
        if (k >= 0) {
            if (static_cast<double>(u) < rl_p_elim(net, base, rl_weight(t)[pre * t.row_cap + k])) {
                rl_table_remove(t, pre, k);
                if (record) rl_record(net, step, pre, post, proj, 0);
            }
        } else if (static_cast<double>(u) < rl_p_form(net, proj, pre, post) && rl_table_add(t, pre, post, init)
                   && record) {
            rl_record(net, step, pre, post, proj, 1);
        }
    }
}

// The same call as rl_pair_serial, by the whole block. Returns RW_PATH_PARALLEL when done, or the
// reason the serial loop must run instead, having changed nothing.
//
// Every attempt's first draw is sorted by key; when no pair repeats, these are the serial draw's
// pairs. Whether a synapse exists, and with it every decision, does not depend on the other
// attempts (keys are distinct), so all are taken at once: the sorted attempts are a batch of
// table operations, decided against the state at the start of the call, and rl_batch_apply
// makes them exactly as the serial loop would, or finds that a row or column could fill.
__device__ int rl_pair_parallel(Net& net, long long step, long long proj, long long attempts,
                                const RewireShared& sh)
{
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    const long long n = net.n;
    Table& t = proj == 0 ? net.ff : net.lat;
    const int base = proj == 0 ? F_FF_P_FORM : F_LAT_P_FORM;
    const bool autapses = proj == 0 || net.ip[I_AUTAPSES] != 0;
    const long long size = rl_pow2_at_least(attempts);
    unsigned long long* keys = size <= RL_SORT_SHARED ? sh.sort : net.rw_keys;
    const unsigned int k0 = static_cast<unsigned int>(net.ip[I_KEY0]);
    const unsigned int k1 = static_cast<unsigned int>(net.ip[I_KEY1]);
    const unsigned int c0 = static_cast<unsigned int>(step);
    const unsigned int c1 = rl_counter_word1(PURPOSE_PAIR_FF + proj, step);
    if (tid == 0) *sh.flag = RW_PATH_PARALLEL;
    for (long long a = tid; a < size; a += nthr) {
        unsigned long long word = ~0ULL;
        for (unsigned int redraw = 0; a < attempts; ++redraw) {
            const rl_uint4x32 r = rl_philox4x32(rl_uint4x32{c0, c1, static_cast<unsigned int>(a), redraw}, k0, k1);
            const unsigned long long pre = rl_below(r.x, static_cast<unsigned int>(n));
            const unsigned long long post = rl_below(r.y, static_cast<unsigned int>(n));
            if (!autapses && pre == post) continue;
            word = ((pre * n + post) << RL_U_BITS) | (r.z >> 8);
            break;
        }
        keys[a] = word;
    }
    rl_block_sort(keys, size);
    for (long long a = tid + 1; a < attempts; a += nthr)
        if (keys[a] >> RL_U_BITS == keys[a - 1] >> RL_U_BITS) atomicMax(sh.flag, RW_PATH_REPEAT);

    // Decisions, all against the state at the start of the call.
    for (long long a = tid; a < attempts; a += nthr) {
        const long long key = static_cast<long long>(keys[a] >> RL_U_BITS);
        const long long pre = key / n;
        const long long post = key - pre * n;
        const float u = rl_uniform(static_cast<unsigned int>((keys[a] & RL_U_MASK) << 8));
        const long long row = pre * t.row_cap;
        const int len = t.row_len[pre];
        long long found = -1;
        int copies = 0;
        for (int k = 0; k < len; ++k) {
            if (t.post[row + k] == post) {
                if (copies++ == 0) found = row + k;
            }
        }
        if (copies > 1) atomicMax(sh.flag, RW_PATH_MULTAPSE);
        int op = RL_OP_NONE;
        if (found >= 0) {
            if (static_cast<double>(u) < rl_p_elim(net, base, rl_weight(t)[found])) op = RL_OP_REMOVE;
        } else if (static_cast<double>(u) < rl_p_form(net, proj, pre, post)) {
            op = RL_OP_ADD;
        }
        net.rw_op[a] = op;
        net.rw_arg[a] = static_cast<int>(found);
    }
    // The changes: column by column in pre order, row by row in post order (rl_batch_apply).
    const RlBatch batch{keys, RL_U_BITS, attempts, net.rw_op, net.rw_arg, net.rw_cols, net.rw_pos, net.rw_ops};
    const RlInitAll<PT_N_VARS> init{{net.fp[F_G_MAX]}};
    int changes;
    const int path = rl_batch_apply(t, batch, init, sh.scan, sh.flag, RW_PATH_CAPACITY, &changes);
    if (path != RW_PATH_PARALLEL) return path;
    // Events, in key order (the order of the serial loop's events).
    if (net.ip[I_RECORD_EVENTS] != 0) {
        const unsigned long long first = *net.ev_count;
        for (long long e = tid; e < changes; e += nthr) {
            const unsigned long long c = first + static_cast<unsigned long long>(e);
            if (static_cast<long long>(c) >= net.ev_cap) break;
            const int a = net.rw_ops[e];
            const long long key = static_cast<long long>(keys[a] >> RL_U_BITS);
            long long* ev = net.ev + c * EV_COLS;
            ev[EV_STEP] = step;
            ev[EV_PRE] = key / n;
            ev[EV_POST] = key % n;
            ev[EV_PROJ] = proj;
            ev[EV_KIND] = net.rw_op[a] == RL_OP_ADD ? 1 : 0;
        }
        __syncthreads();
        if (tid == 0) *net.ev_count = first + static_cast<unsigned long long>(changes);
    }
    return RW_PATH_PARALLEL;
}

// GeNN-study scheme, both projections, by the whole block.
__device__ void rl_rewire_pair(Net& net, long long step, const RewireShared& sh)
{
    const long long n = net.n;
    for (long long proj = 0; proj < 2; ++proj) {
        const bool autapses = proj == 0 || net.ip[I_AUTAPSES] != 0;
        // Never ask for more distinct pairs than exist (the draw would not terminate).
        const long long attempts = min(rl_n_attempts(net, step, proj), autapses ? n * n : n * n - n);
        if (threadIdx.x == 0) net.istate[S_ATTEMPTS_FF + proj] += attempts;
        if (attempts == 0) continue;
        const bool large = n > RL_MAX_PARALLEL_N || attempts > RL_MAX_PARALLEL_SIZE;
        const int path = large ? RW_PATH_LARGE : rl_pair_parallel(net, step, proj, attempts, sh);
        rl_batch_settle(path, net.rw_paths, [&] { rl_pair_serial(net, step, proj, attempts); });
    }
}

// The same call as rl_slot_serial, by the whole block. Returns RW_PATH_PARALLEL when done, or the
// reason the serial loop must run instead, having changed nothing.
//
// Attempts on one target depend on each other through its slots, so each target's attempts run in
// order on one thread, which keeps the target's two columns (synapses formed in this call as
// placeholders -(attempt + 1)). Targets are independent but for their partners' rows: the call runs
// serially unless no row could fill even if every formation candidate formed. Removed synapses are
// marked in col_pos with -(attempt + 1); then every touched row replays its changes in attempt
// order, the order of the serial loop, and rewrites its column entries.
__device__ int rl_slot_parallel(Net& net, long long step, long long attempts, const RewireShared& sh)
{
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    const long long n = net.n;
    const long long s_max = net.ip[I_S_MAX];
    const float g_max = static_cast<float>(net.fp[F_G_MAX]);
    const long long size = rl_pow2_at_least(attempts);
    unsigned long long* keys = size <= RL_SORT_SHARED ? sh.sort : net.rw_keys;
    if (tid == 0) {
        *sh.flag = RW_PATH_PARALLEL;
        // Outside what the scheme keeps (columns hold its slots): the serial loop copes.
        if (net.ff.col_cap < s_max || net.lat.col_cap < s_max) *sh.flag = RW_PATH_CAPACITY;
    }
    // Attempts sorted by target; formation candidates sorted by their partner's row.
    for (long long a = tid; a < size; a += nthr) {
        unsigned long long key = ~0ULL, row = ~0ULL;
        if (a < attempts) {
            const SlotDraw d = rl_slot_draw(net, step, a);
            key = (static_cast<unsigned long long>(d.j) << RL_U_BITS) | static_cast<unsigned long long>(a);
            if (d.partner && static_cast<double>(d.u) < rl_p_form(net, d.proj, d.pre, d.j))
                row = (static_cast<unsigned long long>(d.proj * n + d.pre) << RL_U_BITS) | static_cast<unsigned long long>(a);
        }
        keys[a] = key;
        net.rw_cols[a] = row;
    }
    rl_block_sort(keys, size);
    rl_block_sort(net.rw_cols, size);
    for (long long m = tid; m < attempts; m += nthr) {
        const unsigned long long row = net.rw_cols[m] >> RL_U_BITS;
        if (net.rw_cols[m] != ~0ULL && (m == 0 || net.rw_cols[m - 1] >> RL_U_BITS != row)) {
            long long count = 0;
            while (m + count < attempts && net.rw_cols[m + count] != ~0ULL && net.rw_cols[m + count] >> RL_U_BITS == row)
                ++count;
            const Table& t = static_cast<long long>(row) < n ? net.ff : net.lat;
            if (t.row_len[static_cast<long long>(row) % n] + count > t.row_cap) atomicMax(sh.flag, RW_PATH_CAPACITY);
        }
        const long long j = static_cast<long long>(keys[m] >> RL_U_BITS);
        if ((m == 0 || keys[m - 1] >> RL_U_BITS != keys[m] >> RL_U_BITS)
            && net.ff.col_len[j] + net.lat.col_len[j] > s_max)
            atomicMax(sh.flag, RW_PATH_CAPACITY);
    }
    __syncthreads();
    if (*sh.flag != RW_PATH_PARALLEL) return *sh.flag;

    // Targets, each by one thread in attempt order, on their columns.
    for (long long m = tid; m < attempts; m += nthr) {
        const long long j = static_cast<long long>(keys[m] >> RL_U_BITS);
        if (m > 0 && static_cast<long long>(keys[m - 1] >> RL_U_BITS) == j) continue;
        int len[2] = {net.ff.col_len[j], net.lat.col_len[j]};
        for (long long e = m; e < attempts && static_cast<long long>(keys[e] >> RL_U_BITS) == j; ++e) {
            const int a = static_cast<int>(keys[e] & RL_U_MASK);
            const SlotDraw d = rl_slot_draw(net, step, a);
            net.rw_op[a] = RL_OP_NONE;
            net.rw_arg[a] = static_cast<int>(j);  // the target, for the rows and the events
            if (d.slot < len[0] + len[1]) {
                const int proj = d.slot < len[0] ? 0 : 1;
                Table& t = proj == 0 ? net.ff : net.lat;
                int* col = t.col_syn + j * t.col_cap;
                const int c = static_cast<int>(proj == 0 ? d.slot : d.slot - len[0]);
                const int x = col[c];
                const float w = x >= 0 ? rl_weight(t)[x] : g_max;
                if (static_cast<double>(d.u) >= rl_p_elim(net, proj == 0 ? F_FF_P_FORM : F_LAT_P_FORM, w)) continue;
                net.rw_op[a] = RL_OP_REMOVE | proj << 2;
                net.rw_pre[a] = x >= 0 ? static_cast<int>(x / t.row_cap) : net.rw_pre[-x - 1];
                const int moved = col[--len[proj]];
                col[c] = moved;
                if (moved >= 0)
                    t.col_pos[moved] = c;
                else
                    net.rw_pos[-moved - 1] = c;
                col[len[proj]] = 0;
                if (x >= 0)
                    t.col_pos[x] = -(a + 1);
                else
                    net.rw_kill[-x - 1] = a;
            } else if (d.partner && static_cast<double>(d.u) < rl_p_form(net, d.proj, d.pre, d.j)) {
                Table& t = d.proj == 0 ? net.ff : net.lat;
                net.rw_op[a] = RL_OP_ADD | static_cast<int>(d.proj) << 2;
                net.rw_pre[a] = static_cast<int>(d.pre);
                net.rw_kill[a] = -1;
                net.rw_pos[a] = len[d.proj];
                t.col_syn[j * t.col_cap + len[d.proj]++] = -(a + 1);
            }
        }
        net.ff.col_len[j] = len[0];
        net.lat.col_len[j] = len[1];
    }
    __syncthreads();
    // The changes by row (projection, pre), in attempt order.
    for (long long a = tid; a < size; a += nthr) {
        const int op = a < attempts ? net.rw_op[a] : RL_OP_NONE;
        net.rw_cols[a] = op == RL_OP_NONE ? ~0ULL
                                       : (static_cast<unsigned long long>((op >> 2) * n + net.rw_pre[a]) << RL_U_BITS)
                                             | static_cast<unsigned long long>(a);
    }
    rl_block_sort(net.rw_cols, size);
    // Rows, each by one thread: append new synapses, remove the marked ones, rewrite column entries.
    const RlInitAll<PT_N_VARS> init{{net.fp[F_G_MAX]}};
    for (long long m = tid; m < attempts && net.rw_cols[m] != ~0ULL; m += nthr) {
        const long long row_id = static_cast<long long>(net.rw_cols[m] >> RL_U_BITS);
        if (m > 0 && static_cast<long long>(net.rw_cols[m - 1] >> RL_U_BITS) == row_id) continue;
        Table& t = row_id < n ? net.ff : net.lat;
        const long long row = (row_id % n) * t.row_cap;
        int len = t.row_len[row_id % n];
        for (long long e = m; e < attempts && net.rw_cols[e] != ~0ULL
                              && static_cast<long long>(net.rw_cols[e] >> RL_U_BITS) == row_id;
             ++e) {
            const int a = static_cast<int>(net.rw_cols[e] & RL_U_MASK);
            if ((net.rw_op[a] & 3) == RL_OP_ADD) {
                t.post[row + len] = net.rw_arg[a];
                rl_vars_init(t, row + len, init, a);
                t.col_pos[row + len] = net.rw_kill[a] >= 0 ? -(net.rw_kill[a] + 1) : net.rw_pos[a];
                ++len;
                continue;
            }
            int k = 0;
            while (t.col_pos[row + k] != -(a + 1)) ++k;
            rl_row_fill_hole(t, row, k, --len);
        }
        t.row_len[row_id % n] = len;
        rl_row_to_columns(t, row, len);
    }
    // Counters and events, in attempt order.
    long long lo, hi;
    rl_block_chunk(attempts, &lo, &hi);
    int count = 0;
    unsigned long long changes_by[2][2] = {{0, 0}, {0, 0}};  // [proj][removed, formed]
    for (long long a = lo; a < hi; ++a) {
        const int op = net.rw_op[a];
        if (op == RL_OP_NONE) continue;
        ++count;
        changes_by[op >> 2][(op & 3) == RL_OP_ADD] += 1;
    }
    for (int proj = 0; proj < 2; ++proj) {
        long long* stats = proj == 0 ? net.ff.stats : net.lat.stats;
        if (changes_by[proj][0]) atomicAdd(reinterpret_cast<unsigned long long*>(stats + ST_REMOVED), changes_by[proj][0]);
        if (changes_by[proj][1]) atomicAdd(reinterpret_cast<unsigned long long*>(stats + ST_FORMED), changes_by[proj][1]);
    }
    int total;
    int at = rl_block_prefix(count, sh.scan, &total);
    if (net.ip[I_RECORD_EVENTS] != 0) {
        const unsigned long long first = *net.ev_count;
        for (long long a = lo; a < hi; ++a) {
            const int op = net.rw_op[a];
            if (op == RL_OP_NONE) continue;
            const unsigned long long c = first + static_cast<unsigned long long>(at++);
            if (static_cast<long long>(c) >= net.ev_cap) break;
            long long* ev = net.ev + c * EV_COLS;
            ev[EV_STEP] = step;
            ev[EV_PRE] = net.rw_pre[a];
            ev[EV_POST] = net.rw_arg[a];
            ev[EV_PROJ] = op >> 2;
            ev[EV_KIND] = (op & 3) == RL_OP_ADD ? 1 : 0;
        }
        __syncthreads();
        if (tid == 0) *net.ev_count = first + static_cast<unsigned long long>(total);
    }
    return RW_PATH_PARALLEL;
}

// Bamford's scheme, by the whole block.
__device__ void rl_rewire_slot(Net& net, long long step, const RewireShared& sh)
{
    const long long attempts = rl_n_attempts(net, step, 0);
    if (threadIdx.x == 0) net.istate[S_ATTEMPTS_FF] += attempts;
    if (attempts == 0) return;
    const bool large = net.n > RL_MAX_PARALLEL_N || attempts > RL_MAX_PARALLEL_SIZE;
    const int path = large ? RW_PATH_LARGE : rl_slot_parallel(net, step, attempts, sh);
    rl_batch_settle(path, net.rw_paths, [&] { rl_slot_serial(net, step, attempts); });
}

// One rewiring call of the configured scheme, by the whole block (every thread calls it).
__device__ void rl_rewire(Net& net, long long step, const RewireShared& sh)
{
    if (net.ip[I_SCHEME] == SCHEME_SLOT)
        rl_rewire_slot(net, step, sh);
    else
        rl_rewire_pair(net, step, sh);
}
