// A sorted batch of add/remove operations applied to a synapse table by a whole thread block, or
// the serial loop instead.
//
// A batch is a list of operations on distinct (pre, post) pairs, sorted by pair, each decided
// against the table as it was before the batch: RL_OP_ADD appends the synapse pre -> post,
// RL_OP_REMOVE removes the one synapse pre -> post, RL_OP_NONE does nothing. rl_batch_apply makes
// the changes with the block and leaves the table exactly as the serial loop, applying them one by
// one in pair order with rl_table_add and rl_table_remove, would (every array, the counters):
// columns change column by column in pre order and rows row by row in post order, the order in
// which the serial loop meets each column and row, and every changed row rewrites its column
// entries. Vacated slots are cleared on both paths, so the arrays end equal, not just the synapses.
//
// When that cannot be guaranteed cheaply -- a formation would find its row or column full, and the
// serial loop would refuse it -- rl_batch_apply changes nothing and says so; so does it when the
// caller has already found a reason (a pair drawn twice, say). The caller then runs its own serial
// loop, through rl_batch_settle. Work is proportional to the operations: no scan over all rows or
// columns. Every function here is called by every thread of the block, from uniform control flow.
#pragma once

#include "block.cuh"
#include "tables.cuh"

// What one operation of a batch does.
enum { RL_OP_NONE, RL_OP_REMOVE, RL_OP_ADD };

// A batch of n operations and the scratch it needs (global memory).
struct RlBatch {
    const unsigned long long* keys;  // (n) ascending; bits key_shift and up: pre * n_post + post
    int key_shift;                   // low bits of a key, ignored here; n < 2^key_shift
    long long n;
    int* op;                   // (n) RL_OP_* of each operation
    int* arg;                  // (n) the slot of the synapse a RL_OP_REMOVE removes; scratch otherwise
    unsigned long long* cols;  // scratch: a power of two >= n words
    int* pos;                  // scratch: n ints
    int* order;                // (n) out: change e -> its operation, the changes in pair order
};

__device__ __forceinline__ long long rl_pow2_at_least(long long n)
{
    long long size = 2;
    while (size < n) size <<= 1;
    return size;
}

// Apply batch b to table t (new synapses take init(op, v)). *flag, in shared memory, holds 0 or a
// reason already found not to apply the batch; a row or column that would fill adds capacity_code
// (atomicMax: the larger reason wins). Returns 0 when the batch is applied, with the number of
// changes in *changes and their operations in b.order; else *flag, having changed nothing.
// `scan` is shared memory of blockDim.x + 1 ints. Starts with a barrier, so the caller's writes
// of b.op and b.arg are seen.
template <class Table, class Init>
__device__ int rl_batch_apply(Table& t, const RlBatch& b, const Init& init, int* scan, int* flag, int capacity_code,
                              int* changes)
{
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    const unsigned long long* keys = b.keys;
    const int shift = b.key_shift;
    const long long n = b.n;
    const long long n_post = t.n_post;
    __syncthreads();
    // Replay each touched row's length: a formation into a full row would be refused.
    for (long long a = tid; a < n; a += nthr) {
        const long long pre = static_cast<long long>(keys[a] >> shift) / n_post;
        if (a > 0 && static_cast<long long>(keys[a - 1] >> shift) / n_post == pre) continue;
        long long len = t.row_len[pre];
        for (long long m = a; m < n && static_cast<long long>(keys[m] >> shift) / n_post == pre; ++m) {
            if (b.op[m] == RL_OP_REMOVE) {
                --len;
            } else if (b.op[m] == RL_OP_ADD) {
                if (len >= t.row_cap) atomicMax(flag, capacity_code);
                ++len;
            }
        }
    }
    // The changes in pair order; by column (post, pre) for the columns.
    long long lo, hi;
    rl_block_chunk(n, &lo, &hi);
    int count = 0;
    for (long long a = lo; a < hi; ++a) count += b.op[a] != RL_OP_NONE;
    int total;
    int at = rl_block_prefix(count, scan, &total);
    if (*flag != 0) return *flag;
    for (long long a = lo; a < hi; ++a) {
        if (b.op[a] == RL_OP_NONE) continue;
        const long long key = static_cast<long long>(keys[a] >> shift);
        const long long pre = key / n_post;
        const long long post = key - pre * n_post;
        b.order[at] = static_cast<int>(a);
        b.cols[at] = (static_cast<unsigned long long>(post * t.n_pre + pre) << shift) | static_cast<unsigned long long>(at);
        if (b.op[a] == RL_OP_ADD) b.arg[a] = at;
        ++at;
    }
    const long long col_size = rl_pow2_at_least(total);
    for (long long e = total + tid; e < col_size; e += nthr) b.cols[e] = ~0ULL;
    rl_block_sort(b.cols, col_size);
    // Replay each touched column's length the same way (no column capacity without a column index).
    for (long long e = tid; Table::column_index && e < total; e += nthr) {
        const long long post = static_cast<long long>(b.cols[e] >> shift) / t.n_pre;
        if (e > 0 && static_cast<long long>(b.cols[e - 1] >> shift) / t.n_pre == post) continue;
        long long len = t.col_len[post];
        for (long long m = e; m < total && static_cast<long long>(b.cols[m] >> shift) / t.n_pre == post; ++m) {
            if (b.op[b.order[b.cols[m] & ((1ULL << shift) - 1)]] == RL_OP_REMOVE) {
                --len;
            } else {
                if (len >= t.col_cap) atomicMax(flag, capacity_code);
                ++len;
            }
        }
    }
    __syncthreads();
    if (*flag != 0) return *flag;

    // Columns, each by one thread in pre order; new synapses enter as placeholders -(change + 1).
    for (long long e = tid; e < total; e += nthr) {
        const long long post = static_cast<long long>(b.cols[e] >> shift) / t.n_pre;
        if (e > 0 && static_cast<long long>(b.cols[e - 1] >> shift) / t.n_pre == post) continue;
        int len = t.col_len[post];
        int* col = Table::column_index ? t.col_syn + post * t.col_cap : nullptr;
        for (long long m = e; m < total && static_cast<long long>(b.cols[m] >> shift) / t.n_pre == post; ++m) {
            const int change = static_cast<int>(b.cols[m] & ((1ULL << shift) - 1));
            const int a = b.order[change];
            if (b.op[a] == RL_OP_ADD) {
                if (Table::column_index) {
                    col[len] = -(change + 1);
                    b.pos[change] = len;
                }
                ++len;
            } else {
                --len;
                if (Table::column_index) {
                    const int c = t.col_pos[b.arg[a]];
                    const int moved = col[len];
                    col[c] = moved;
                    if (moved < 0)
                        b.pos[-moved - 1] = c;
                    else
                        t.col_pos[moved] = c;
                    col[len] = 0;
                }
            }
        }
        t.col_len[post] = len;
    }
    __syncthreads();
    // Rows, each by one thread in post order; then the row's synapses write their column entries.
    for (long long a = tid; a < n; a += nthr) {
        const long long pre = static_cast<long long>(keys[a] >> shift) / n_post;
        if (a > 0 && static_cast<long long>(keys[a - 1] >> shift) / n_post == pre) continue;
        const long long row = pre * t.row_cap;
        int len = t.row_len[pre];
        bool changed = false;
        for (long long m = a; m < n && static_cast<long long>(keys[m] >> shift) / n_post == pre; ++m) {
            const int op = b.op[m];
            if (op == RL_OP_NONE) continue;
            changed = true;
            const int post = static_cast<int>(static_cast<long long>(keys[m] >> shift) - pre * n_post);
            if (op == RL_OP_ADD) {
                t.post[row + len] = post;
                rl_vars_init(t, row + len, init, m);
                if (Table::column_index) t.col_pos[row + len] = b.pos[b.arg[m]];
                ++len;
                continue;
            }
            int k = 0;
            while (t.post[row + k] != post) ++k;
            rl_row_fill_hole(t, row, k, --len);
        }
        if (!changed) continue;
        t.row_len[pre] = len;
        rl_row_to_columns(t, row, len);
    }
    // Counters.
    unsigned long long formed = 0, removed = 0;
    for (long long a = lo; a < hi; ++a) {
        formed += b.op[a] == RL_OP_ADD;
        removed += b.op[a] == RL_OP_REMOVE;
    }
    if (formed) atomicAdd(reinterpret_cast<unsigned long long*>(t.stats + ST_FORMED), formed);
    if (removed) atomicAdd(reinterpret_cast<unsigned long long*>(t.stats + ST_REMOVED), removed);
    *changes = total;
    return 0;
}

// How a call that tried a batch ends: thread 0 counts it in paths[path] and, when the batch was not
// applied (path != 0), runs serial() on the unchanged table. Ends with a barrier.
template <class Serial>
__device__ void rl_batch_settle(int path, long long* paths, const Serial& serial)
{
    if (threadIdx.x == 0) {
        paths[path] += 1;
        if (path != 0) serial();
    }
    __syncthreads();
}
