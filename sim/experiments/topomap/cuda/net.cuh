// The network as the kernels see it: every device array, reached through one table of pointers.
//
// The host writes the address of each array into a device array of 64-bit words in the order of
// `Slot`, generated from sim/experiments/topomap/cuda/layout.py.
// Kernels take that table and nothing else that changes, so a captured CUDA graph stays valid
// while the step counter, the spike counts and the live parameters move in device memory.
#pragma once

#include "philox4x32.cuh"

// The numbers of the kernel interface (enums FParam, IParam, IState, TableDim, TableStat, Purpose,
// Scheme, EventColumn and Slot) are declared once in Python and generated as C++ by
// sim/experiments/topomap/cuda/interface.py; the generated text comes before the kernel sources in every
// compiled module (sim/experiments/topomap/cuda/backend.py module_source).
#ifndef RL_INTERFACE_GENERATED
#error "compile through module_source(): the generated kernel interface must come first"
#endif

#define POISSON_BLOCK 32
#define TINY 1e-30f

struct Table {
    int* row_len;
    int* post;
    float* weight;
    int* col_pos;
    int* col_len;
    int* col_syn;
    long long n_pre, n_post, row_cap, col_cap;
    long long* stats;
};

struct Net {
    const double* fp;
    const long long* ip;
    long long* istate;
    float *v, *g_ex, *g_inh;
    int* refrac;
    float *pend_ex, *pend_inh, *x_src, *x_tgt, *y_tgt, *p_src;
    int *spk_src, *spk_tgt;
    long long *count_src, *count_tgt;
    unsigned char* fired;
    float* cdf_src;
    Table ff, lat;
    const float* stim_table;
    const double* form_table;  // (2, form_width): formation probability by squared distance
    long long form_width;
    unsigned int *src_mask, *tgt_mask;
    long long* ev;             // (ev_cap, EV_COLS)
    unsigned long long* ev_count;
    long long ev_cap;
    long long* pair_keys;      // scratch of the pair scheme (max attempts each)
    float* pair_accept;
    long long* pair_hash;      // (hash size) open-addressing set of drawn pairs
    long long* pair_tmp_keys;
    float* pair_tmp_accept;
    // Scratch of the parallel pair scheme, each as long as the sort (a power of two >= max attempts).
    unsigned long long* rw_keys;  // attempts sorted by (pre, post), when too many for shared memory
    unsigned long long* rw_cols;  // changes sorted by (post, pre)
    int* rw_op;                   // per sorted attempt: RW_NONE, RW_REMOVE or RW_ADD
    int* rw_arg;                  // per sorted attempt: the synapse to remove, or the change's index
    int* rw_pos;                  // per change: the column position of a new synapse
    int* rw_ops;                  // change index -> sorted attempt
    int* rw_pre;                  // slot scheme, per attempt: the presynaptic neuron of its change
    int* rw_kill;                 // slot scheme, per attempt: the attempt removing its new synapse, or -1
    long long* rw_paths;          // (RW_N_PATHS,) how each projection's calls ran
    long long n;
};

template <typename T>
__device__ __forceinline__ T* rl_slot(const unsigned long long* ptrs, int slot)
{
    return reinterpret_cast<T*>(ptrs[slot]);
}

__device__ __forceinline__ Table rl_table(const unsigned long long* p, int first)
{
    Table t;
    t.row_len = rl_slot<int>(p, first);
    t.post = rl_slot<int>(p, first + 1);
    t.weight = rl_slot<float>(p, first + 2);
    t.col_pos = rl_slot<int>(p, first + 3);
    t.col_len = rl_slot<int>(p, first + 4);
    t.col_syn = rl_slot<int>(p, first + 5);
    const long long* dims = rl_slot<long long>(p, first + 6);
    t.n_pre = dims[D_N_PRE];
    t.n_post = dims[D_N_POST];
    t.row_cap = dims[D_ROW_CAP];
    t.col_cap = dims[D_COL_CAP];
    t.stats = rl_slot<long long>(p, first + 7);
    return t;
}

__device__ __forceinline__ Net rl_net(const unsigned long long* p)
{
    Net net;
    net.fp = rl_slot<const double>(p, P_FP);
    net.ip = rl_slot<const long long>(p, P_IP);
    net.istate = rl_slot<long long>(p, P_ISTATE);
    net.v = rl_slot<float>(p, P_V);
    net.g_ex = rl_slot<float>(p, P_G_EX);
    net.g_inh = rl_slot<float>(p, P_G_INH);
    net.refrac = rl_slot<int>(p, P_REFRAC);
    net.pend_ex = rl_slot<float>(p, P_PEND_EX);
    net.pend_inh = rl_slot<float>(p, P_PEND_INH);
    net.x_src = rl_slot<float>(p, P_X_SRC);
    net.x_tgt = rl_slot<float>(p, P_X_TGT);
    net.y_tgt = rl_slot<float>(p, P_Y_TGT);
    net.p_src = rl_slot<float>(p, P_P_SRC);
    net.spk_src = rl_slot<int>(p, P_SPK_SRC);
    net.spk_tgt = rl_slot<int>(p, P_SPK_TGT);
    net.count_src = rl_slot<long long>(p, P_COUNT_SRC);
    net.count_tgt = rl_slot<long long>(p, P_COUNT_TGT);
    net.fired = rl_slot<unsigned char>(p, P_FIRED);
    net.cdf_src = rl_slot<float>(p, P_CDF_SRC);
    net.ff = rl_table(p, P_FF_ROW_LEN);
    net.lat = rl_table(p, P_LAT_ROW_LEN);
    net.stim_table = rl_slot<const float>(p, P_STIM_TABLE);
    net.form_table = rl_slot<const double>(p, P_FORM_TABLE);
    net.src_mask = rl_slot<unsigned int>(p, P_SRC_MASK);
    net.tgt_mask = rl_slot<unsigned int>(p, P_TGT_MASK);
    net.ev = rl_slot<long long>(p, P_EV);
    net.ev_count = rl_slot<unsigned long long>(p, P_EV_COUNT);
    net.ev_cap = *rl_slot<long long>(p, P_EV_CAP);
    net.pair_keys = rl_slot<long long>(p, P_PAIR_KEYS);
    net.pair_accept = rl_slot<float>(p, P_PAIR_ACCEPT);
    net.pair_hash = rl_slot<long long>(p, P_PAIR_HASH);
    net.pair_tmp_keys = rl_slot<long long>(p, P_PAIR_TMP_KEYS);
    net.pair_tmp_accept = rl_slot<float>(p, P_PAIR_TMP_ACCEPT);
    net.rw_keys = rl_slot<unsigned long long>(p, P_RW_KEYS);
    net.rw_cols = rl_slot<unsigned long long>(p, P_RW_COLS);
    net.rw_op = rl_slot<int>(p, P_RW_OP);
    net.rw_arg = rl_slot<int>(p, P_RW_ARG);
    net.rw_pos = rl_slot<int>(p, P_RW_POS);
    net.rw_ops = rl_slot<int>(p, P_RW_OPS);
    net.rw_pre = rl_slot<int>(p, P_RW_PRE);
    net.rw_kill = rl_slot<int>(p, P_RW_KILL);
    net.rw_paths = rl_slot<long long>(p, P_RW_PATHS);
    net.n = net.ip[I_N];
    const long long half = net.ip[I_SIDE] / 2;
    net.form_width = 2 * half * half + 1;
    return net;
}

// ---- small helpers shared by the kernels --------------------------------------------------------

// Squared periodic distance between neuron ids a and b on a side x side torus (sim/experiments/topomap/build.py).
__device__ __forceinline__ long long rl_torus_d2(long long a, long long b, long long side)
{
    long long dx = a % side - b % side;
    long long dy = a / side - b / side;
    dx = dx < 0 ? -dx : dx;
    dy = dy < 0 ? -dy : dy;
    dx = min(dx, side - dx);
    dy = min(dy, side - dy);
    return dx * dx + dy * dy;
}

// Input rounded to the delivery grid (sim/experiments/topomap/params.py delivery_quantum): sums are exact in any order.
__device__ __forceinline__ float rl_quantise(float w, float q, float inv_q)
{
    return rintf(w * inv_q) * q;
}

// exp(x) for x in [-87, 0] as mantissa * 2^n, the twin of exp_poly in the CPU kernels.
// Compiled with --fmad=false, every operation rounds as NumPy/Numba's float32 arithmetic does.
__device__ __forceinline__ float rl_exp_poly(float x)
{
    x = fmaxf(x, -87.0f);
    const float t = x * 1.44269504088896341f + 128.5f;
    const int ni = static_cast<int>(t);
    const float nf = static_cast<float>(ni) - 128.0f;
    const float r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
    const float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
                      + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    const float mant = (p * r * r + r) + 1.0f;
    return mant * __int_as_float((ni - 1) << 23);
}

// Append one rewiring event (sim/events.py); never writes past the buffer.
__device__ __forceinline__ void rl_record(const Net& net, long long step, long long pre, long long post,
                                          long long proj, long long kind)
{
    const unsigned long long c = atomicAdd(net.ev_count, 1ULL);
    if (static_cast<long long>(c) >= net.ev_cap) return;
    long long* row = net.ev + c * EV_COLS;
    row[EV_STEP] = step;
    row[EV_PRE] = pre;
    row[EV_POST] = post;
    row[EV_PROJ] = proj;
    row[EV_KIND] = kind;
}

// ---- ragged synapse tables (sim/synapses.py), for one thread owning the table ------------------

// Row `row` (its first flat index) of length len + 1 loses slot k: its last synapse fills the hole
// and the vacated slot is cleared (the row half of rl_remove_synapse).
__device__ __forceinline__ void rl_row_fill_hole(Table& t, long long row, long long k, long long len)
{
    const long long last = row + len;
    if (row + k != last) {
        t.post[row + k] = t.post[last];
        t.weight[row + k] = t.weight[last];
        t.col_pos[row + k] = t.col_pos[last];
    }
    t.post[last] = 0;
    t.weight[last] = 0.0f;
    t.col_pos[last] = 0;
}

__device__ bool rl_add_synapse(Table& t, long long pre, long long post, float weight)
{
    const int k = t.row_len[pre];
    if (k >= t.row_cap) {
        t.stats[ST_REFUSED_ROW] += 1;
        return false;
    }
    const int c = t.col_len[post];
    if (c >= t.col_cap) {
        t.stats[ST_REFUSED_COL] += 1;
        return false;
    }
    const long long s = pre * t.row_cap + k;
    t.post[s] = static_cast<int>(post);
    t.weight[s] = weight;
    t.col_pos[s] = c;
    t.col_syn[post * t.col_cap + c] = static_cast<int>(s);
    t.row_len[pre] = k + 1;
    t.col_len[post] = c + 1;
    t.stats[ST_FORMED] += 1;
    return true;
}

__device__ void rl_remove_synapse(Table& t, long long pre, long long k)
{
    const long long s = pre * t.row_cap + k;
    const long long j = t.post[s];
    const int c = t.col_pos[s];
    const int cl = t.col_len[j] - 1;
    const int moved = t.col_syn[j * t.col_cap + cl];
    t.col_syn[j * t.col_cap + c] = moved;
    t.col_pos[moved] = c;
    t.col_syn[j * t.col_cap + cl] = 0;
    t.col_len[j] = cl;
    const long long last = t.row_len[pre] - 1;
    rl_row_fill_hole(t, pre * t.row_cap, k, last);
    if (k != last)
        t.col_syn[static_cast<long long>(t.post[s]) * t.col_cap + t.col_pos[s]] = static_cast<int>(s);
    t.row_len[pre] = static_cast<int>(last);
    t.stats[ST_REMOVED] += 1;
}

__device__ long long rl_find_synapse(const Table& t, long long pre, long long post)
{
    const long long base = pre * t.row_cap;
    const int len = t.row_len[pre];
    for (int k = 0; k < len; ++k)
        if (t.post[base + k] == post) return k;
    return -1;
}
