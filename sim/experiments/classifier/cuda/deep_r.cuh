// DEEP R on one table, by one thread block (CPU twin: _deep_r), ending exactly as the CPU's serial
// loop does: the same table arrays, counters and events in the same order.
//
// Prune. Whether a synapse goes is its own affair (its weight against its pair's sign), and the
// CPU's scan of a row from its end removes exactly the synapses that fail, in descending slot
// order, each hole filled by the row's last synapse (already looked at). So each thread takes a
// run of rows and replays that scan on them with the shared tables.cuh primitive
// (rl_row_fill_hole moves every variable, every lane); in-degrees change by atomic integer
// decrements, and a block prefix over the threads' removal counts, in row order, places each
// row's events where the CPU logs them.
//
// Regrow. Every draw of the CPU's loop depends on the ones before it: a pair drawn earlier may
// have been regrown (so the pair exists) or have filled its row, and the loop stops as soon as
// enough synapses have been regrown. Those dependencies stay within a row, which is what makes
// the loop parallel here. The block draws a window of attempts at once, sorts them by (row,
// attempt) and lets one thread walk each row's attempts in attempt order against the row as it
// stands (the rows are distinct, so the walks are independent): each attempt is decided exactly as
// the serial loop would, given that every earlier attempt of the window ran. A prefix over the
// decisions in attempt order then finds the attempt at which the regrown count reaches the
// removed one; the attempts before it are applied (appended in attempt order within each row, as
// the serial loop appends them) and the rest are dropped, and the next window starts there. The
// per-row appends are those of tables.cuh (rl_vars_init). batch.cuh's sorted batch does not fit
// here: it applies a row's changes in target order, where the CPU appends in attempt order (and
// removes in descending slot order), so the rows would end permuted.
#pragma once

#include "net.cuh"

// The smallest power of two >= n (at least 2).
__device__ __forceinline__ long long cls_pow2_at_least(long long n)
{
    long long size = 2;
    while (size < n) size <<= 1;
    return size;
}

// How one regrowth attempt ends (decided against the earlier attempts of its window).
enum { CLS_RG_EXISTS = 0, CLS_RG_OK = 1, CLS_RG_FULL = 2 };

// Values of every variable of a regrown synapse: the weight, all else zero (in every lane).
struct RegrowInit {
    double weight;
    __device__ __forceinline__ double operator()(long long, int v) const { return v == ET_WEIGHT ? weight : 0.0; }
};

// Remove every synapse of t whose weight left its pair's sign; log the events; return the count.
__device__ long long cls_prune(Net& net, Table& t, int code, long long step, int* scan)
{
    const long long rc = t.row_cap;
    const float* w = t.f32(ET_WEIGHT);
    const bool record = net.ip[I_RECORD_EVENTS] != 0;
    long long lo, hi;
    rl_block_chunk(t.n_pre, &lo, &hi);
    int count = 0;
    for (long long i = lo; i < hi; ++i) {
        const long long base = i * rc;
        for (long long k = 0; k < t.row_len[i]; ++k)
            count += w[base + k] * cls_pair_sign(net, code, i, t.post[base + k]) < 0.0f;
    }
    int total;
    int at = rl_block_prefix(count, scan, &total);
    const long long ev0 = net.counts[COUNT_EVENTS];
    for (long long i = lo; i < hi; ++i) {
        const long long base = i * rc;
        long long len = t.row_len[i];
        for (long long k = len - 1; k >= 0; --k) {
            const int j = t.post[base + k];
            if (!(w[base + k] * cls_pair_sign(net, code, i, j) < 0.0f)) continue;
            --len;
            rl_row_fill_hole(t, base, k, len);
            atomicSub(t.col_len + j, 1);
            if (record) cls_event(net, ev0 + at, step, i, j, code, KIND_REMOVED);
            ++at;
        }
        t.row_len[i] = static_cast<int>(len);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        t.stats[ST_REMOVED] += total;
        if (record) net.counts[COUNT_EVENTS] = ev0 + total;
    }
    __syncthreads();
    return total;
}

// Shared words of a regrowth window.
struct RegrowShared {
    unsigned long long used;    // attempts of the window that run
    unsigned long long formed;  // of those, synapses regrown
    unsigned long long full;    // of those, refused by a full row
};

// Regrow up to `removed` synapses at random free pairs of t (the attempts' counters:
// (updates, PURPOSE_REGROW, code, attempt)). `cap` is the scratch's capacity in attempts (a power of
// two). Every thread returns the same regrown and refused counts.
__device__ void cls_regrow(Net& net, Table& t, int code, long long updates, long long step, long long removed,
                           long long cap, int* scan, RegrowShared* sh, long long* regrown_out, long long* refused_out)
{
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    const long long rc = t.row_cap;
    const long long n_pre = t.n_pre, n_post = t.n_post;
    const bool recurrent = code == TABLE_REC;
    const bool record = net.ip[I_RECORD_EVENTS] != 0;
    const float w_new = static_cast<float>(net.fp[F_REGROW_W]);
    const long long limit = removed * net.ip[I_MAX_REDRAWS];
    unsigned long long* keys = net.rg_keys;
    long long regrown = 0, refused = 0, attempt = 0;
    while (regrown < removed && attempt < limit) {
        const long long need = removed - regrown;
        long long width = 2 * need < 64 ? 64 : 2 * need;
        width = min(width, min(cap, limit - attempt));
        const long long size = cls_pow2_at_least(width);
        // Draw the window's attempts; key (pre, attempt in window).
        for (long long a = tid; a < size; a += nthr) {
            if (a >= width) {
                keys[a] = ~0ULL;
                continue;
            }
            const rl_uint4x32 r = cls_words(net, updates, PURPOSE_REGROW, code, attempt + a);
            const long long pre = rl_below(r.x, static_cast<unsigned int>(n_pre));
            long long post;
            if (recurrent) {
                post = rl_below(r.y, static_cast<unsigned int>(n_post - 1));
                if (post >= pre) post += 1;
            } else {
                post = rl_below(r.y, static_cast<unsigned int>(n_post));
            }
            net.rg_post[a] = static_cast<int>(post);
            keys[a] = (static_cast<unsigned long long>(pre) << 32) | static_cast<unsigned long long>(a);
        }
        rl_block_sort(keys, size);
        // Each row's attempts in attempt order, on one thread, against the row as it stands.
        for (long long e = tid; e < width; e += nthr) {
            const long long pre = static_cast<long long>(keys[e] >> 32);
            if (e > 0 && static_cast<long long>(keys[e - 1] >> 32) == pre) continue;
            const long long base = pre * rc;
            const long long len = t.row_len[pre];
            long long added = 0;
            for (long long m = e; m < width && static_cast<long long>(keys[m] >> 32) == pre; ++m) {
                const long long a = static_cast<long long>(keys[m] & 0xffffffffULL);
                const int post = net.rg_post[a];
                bool exists = false;
                for (long long k = 0; k < len && !exists; ++k) exists = t.post[base + k] == post;
                for (long long q = e; q < m && !exists; ++q) {
                    const long long b = static_cast<long long>(keys[q] & 0xffffffffULL);
                    exists = net.rg_ok[b] == CLS_RG_OK && net.rg_post[b] == post;
                }
                if (exists) {
                    net.rg_ok[a] = CLS_RG_EXISTS;
                } else if (len + added >= rc) {
                    net.rg_ok[a] = CLS_RG_FULL;
                } else {
                    net.rg_ok[a] = CLS_RG_OK;
                    ++added;
                }
            }
        }
        if (tid == 0) {
            sh->used = static_cast<unsigned long long>(width);
            sh->formed = 0;
            sh->full = 0;
        }
        __syncthreads();
        // Where the regrown count reaches `removed`: the window's attempts after it do not run.
        long long lo, hi;
        rl_block_chunk(width, &lo, &hi);
        int count = 0;
        for (long long a = lo; a < hi; ++a) count += net.rg_ok[a] == CLS_RG_OK;
        int total;
        int at = rl_block_prefix(count, scan, &total);
        for (long long a = lo; a < hi; ++a) {
            if (net.rg_ok[a] != CLS_RG_OK) continue;
            net.rg_pos[a] = at;
            if (regrown + at + 1 == removed) sh->used = static_cast<unsigned long long>(a + 1);
            ++at;
        }
        __syncthreads();
        const long long used = static_cast<long long>(sh->used);
        // Apply them: each row's new synapses appended in attempt order.
        const long long ev0 = net.counts[COUNT_EVENTS];
        unsigned long long formed = 0, full = 0;
        for (long long e = tid; e < width; e += nthr) {
            const long long pre = static_cast<long long>(keys[e] >> 32);
            if (e > 0 && static_cast<long long>(keys[e - 1] >> 32) == pre) continue;
            const long long base = pre * rc;
            long long len = t.row_len[pre];
            for (long long m = e; m < width && static_cast<long long>(keys[m] >> 32) == pre; ++m) {
                const long long a = static_cast<long long>(keys[m] & 0xffffffffULL);
                if (a >= used) break;  // attempts ascend within a row
                if (net.rg_ok[a] == CLS_RG_FULL) ++full;
                if (net.rg_ok[a] != CLS_RG_OK) continue;
                const int post = net.rg_post[a];
                const long long s = base + len;
                t.post[s] = post;
                rl_vars_init(t, s, RegrowInit{static_cast<double>(w_new * cls_pair_sign(net, code, pre, post))}, 0);
                ++len;
                atomicAdd(t.col_len + post, 1);
                ++formed;
                if (record) cls_event(net, ev0 + net.rg_pos[a], step, pre, post, code, KIND_FORMED);
            }
            t.row_len[pre] = static_cast<int>(len);
        }
        if (formed) atomicAdd(&sh->formed, formed);
        if (full) atomicAdd(&sh->full, full);
        __syncthreads();
        const long long n_formed = static_cast<long long>(sh->formed);
        if (tid == 0) {
            t.stats[ST_FORMED] += n_formed;
            t.stats[ST_REFUSED_ROW] += static_cast<long long>(sh->full);
            if (record) net.counts[COUNT_EVENTS] = ev0 + n_formed;
        }
        regrown += n_formed;
        refused += used - n_formed;
        attempt += used;
        __syncthreads();
    }
    *regrown_out = regrown;
    *refused_out = refused;
}
