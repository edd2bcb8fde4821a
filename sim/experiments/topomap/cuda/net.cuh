// The network as the kernels see it: every device array, reached through one table of pointers.
//
// The host writes the address of each array into a device array of 64-bit words in the order of
// `Slot`, generated from sim/experiments/topomap/cuda/layout.py.
// Kernels take that table and nothing else that changes, so a captured CUDA graph stays valid
// while the step counter, the spike counts and the live parameters move in device memory.
#pragma once

#include "philox4x32.cuh"
#include "tables.cuh"

// The numbers of the kernel interface (enums FParam, IParam, IState, TableDim, TableStat,
// ProjectionTableVar, ProjectionTableLayout, Purpose, Scheme, EventColumn and Slot) are declared
// once in Python and generated as C++ by
// sim/experiments/topomap/cuda/interface.py; the generated text comes before the kernel sources in every
// compiled module (sim/experiments/topomap/cuda/backend.py module_source).
#ifndef RL_INTERFACE_GENERATED
#error "compile through module_source(): the generated kernel interface must come first"
#endif

#define POISSON_BLOCK 32
#define TINY 1e-30f

// The synapse table of each projection (sim/experiments/topomap/state.py ProjectionTable): one
// float weight per synapse and a column index (sim/backends/cuda/tables.cuh).
using Table = RlTable<PT_N_VARS, PT_FLOATS, PT_PER_LANE, PT_COLUMN_INDEX != 0>;
// Its arrays sit in the pointer table in the order the view reads them (layout.py SLOTS).
#define RL_TABLE_SLOT(table, field, offset)                                                  \
    static_assert(P_##table##_##field - P_##table##_ROW_LEN == (offset),                      \
                  "the " #table " table's " #field " is not where the RlTable view reads it")
RL_TABLE_SLOT(FF, POST, Table::field_post);
RL_TABLE_SLOT(FF, WEIGHT, Table::field_vars + PT_WEIGHT);
RL_TABLE_SLOT(FF, COL_POS, Table::field_col_pos);
RL_TABLE_SLOT(FF, COL_LEN, Table::field_col_len);
RL_TABLE_SLOT(FF, COL_SYN, Table::field_col_syn);
RL_TABLE_SLOT(FF, DIMS, Table::field_dims);
RL_TABLE_SLOT(FF, STATS, Table::field_stats);
RL_TABLE_SLOT(LAT, WEIGHT, Table::field_vars + PT_WEIGHT);
RL_TABLE_SLOT(LAT, STATS, Table::field_stats);
static_assert(Table::n_fields == PT_N_FIELDS, "the table type does not have the declared number of arrays");
#undef RL_TABLE_SLOT

// The weights of a table's synapses, by slot.
__device__ __forceinline__ float* rl_weight(const Table& t)
{
    return t.f32(PT_WEIGHT);
}

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
    int* rw_op;                   // per sorted attempt: RL_OP_NONE, RL_OP_REMOVE or RL_OP_ADD
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
    net.ff = rl_table_view<Table>(p, P_FF_ROW_LEN, 1);
    net.lat = rl_table_view<Table>(p, P_LAT_ROW_LEN, 1);
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
