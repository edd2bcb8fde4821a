// The classifier as its kernels see it: every device array, reached through one table of pointers,
// and the small helpers every kernel file shares (random draws, events).
//
// The host writes the address of each array into a device array of 64-bit words in the order of
// `Slot`, generated from sim/experiments/classifier/cuda/interface.py (SLOTS). The numbers of the
// kernel interface (FParam, IParam, Clock, Acc, Shown, TableCode, BatchField, TableDim,
// TableStat, EpropTableVar, EpropTableLayout, Purpose, EventColumn, EventKind, Count, Slot) are
// generated from the Python declarations and come before these sources in every compiled module
// (sim/experiments/classifier/cuda/backend.py module_source).
#pragma once

#include "block.cuh"
#include "philox4x32.cuh"
#include "tables.cuh"

#ifndef RL_INTERFACE_GENERATED
#error "compile through module_source(): the generated kernel interface must come first"
#endif

// The most threads of a block the kernels are compiled for.
#define CLS_MAX_BLOCK 1024

// The e-prop synapse table (sim/experiments/classifier/state.py EpropTable): weight, Adam moments,
// and per batch lane the gradient and the two eligibility traces; no column index.
using Table = RlTable<ET_N_VARS, ET_FLOATS, ET_PER_LANE, ET_COLUMN_INDEX != 0>;
static_assert(Table::n_fields == ET_N_FIELDS, "the table type does not have the declared number of arrays");
static_assert(!Table::column_index, "the e-prop tables keep no column index");
// Each table's arrays sit in the pointer table in the order the RlTable view reads them.
#define CLS_TABLE_SLOT(table, field, offset)                                                 \
    static_assert(P_##table##_##field - P_##table##_ROW_LEN == (offset),                      \
                  "the " #table " table's " #field " is not where the RlTable view reads it")
CLS_TABLE_SLOT(IN, POST, Table::field_post);
CLS_TABLE_SLOT(IN, WEIGHT, Table::field_vars + ET_WEIGHT);
CLS_TABLE_SLOT(IN, ELIG_A, Table::field_vars + ET_ELIG_A);
CLS_TABLE_SLOT(IN, COL_LEN, Table::field_col_len);
CLS_TABLE_SLOT(IN, DIMS, Table::field_dims);
CLS_TABLE_SLOT(IN, STATS, Table::field_stats);
CLS_TABLE_SLOT(REC, WEIGHT, Table::field_vars + ET_WEIGHT);
CLS_TABLE_SLOT(REC, STATS, Table::field_stats);
#undef CLS_TABLE_SLOT

// One split of the data set (sim.data.SpikeData): example i's spikes are offsets[i]..offsets[i+1],
// sorted by step, then unit.
struct Split {
    const long long* offsets;
    const int* steps;
    const int* units;
    const int* labels;
};

struct Net {
    const double* fp;
    const long long* ip;
    long long* clock;    // (N_CLOCK)
    double* acc;         // (N_ACC)
    double* pending;     // (N_BATCH_FIELDS) the epoch's last training row, held
    long long* shown_info;
    Table tin, trec;
    float *w_out, *b_out, *m_out, *v_out, *m_b, *v_b;  // (n_hid, n_out), (n_out)
    float *grad_out, *grad_b;                           // (lanes, n_hid, n_out), (lanes, n_out)
    const float* feedback;
    float *v, *a, *z;  // (lanes, n_hid)
    int* refrac;
    float *f_avg, *zbar_in, *zbar_rec, *zout, *y, *y_sum;
    int* lane_example;
    long long* lane_ptr;
    int* order;
    unsigned char* trace_z;
    float* trace_y;
    unsigned char* shown_z;
    float* shown_y;
    Split train, test;
    // Scratch of the lanes (used when the block's shared memory is too small): (lanes, n_hid) each.
    float *cur, *psi, *lsig, *reg;
    int* spk;
    float* err;  // (lanes, n_out)
    double* bc;  // Adam's bias corrections of the current update
    long long* ev;      // (event capacity, EV_COLS)
    long long* counts;  // (N_COUNTS) events and rows written, and the buffers' capacities
    double* rows;       // (row capacity, N_BATCH_FIELDS) batch rows completed
    double* row_out;    // (N_BATCH_FIELDS) the row of the batch that just ended
    unsigned long long* rg_keys;  // regrowth window: (pre << 32) | attempt, sorted
    int *rg_post, *rg_ok, *rg_pos;
    unsigned long long* sort_keys;  // the epoch's order: (key, example) pairs sorted
    int* sort_idx;
    long long n_in, n_hid, n_out, lanes;
    unsigned int key0, key1;
};

template <typename T>
__device__ __forceinline__ T* cls_slot(const unsigned long long* ptrs, int slot)
{
    return reinterpret_cast<T*>(ptrs[slot]);
}

__device__ __forceinline__ Split cls_split(const unsigned long long* p, int first)
{
    Split s;
    s.offsets = cls_slot<const long long>(p, first);
    s.steps = cls_slot<const int>(p, first + 1);
    s.units = cls_slot<const int>(p, first + 2);
    s.labels = cls_slot<const int>(p, first + 3);
    return s;
}

__device__ __forceinline__ Net cls_net(const unsigned long long* p)
{
    static_assert(P_TRAIN_STEPS == P_TRAIN_OFFSETS + 1 && P_TRAIN_LABELS == P_TRAIN_OFFSETS + 3, "split slots");
    static_assert(P_TEST_STEPS == P_TEST_OFFSETS + 1 && P_TEST_LABELS == P_TEST_OFFSETS + 3, "split slots");
    Net net;
    net.fp = cls_slot<const double>(p, P_FP);
    net.ip = cls_slot<const long long>(p, P_IP);
    net.clock = cls_slot<long long>(p, P_CLOCK);
    net.acc = cls_slot<double>(p, P_ACC);
    net.pending = cls_slot<double>(p, P_PENDING);
    net.shown_info = cls_slot<long long>(p, P_SHOWN_INFO);
    const long long lanes = net.ip[I_LANES];
    net.tin = rl_table_view<Table>(p, P_IN_ROW_LEN, lanes);
    net.trec = rl_table_view<Table>(p, P_REC_ROW_LEN, lanes);
    net.w_out = cls_slot<float>(p, P_W_OUT);
    net.b_out = cls_slot<float>(p, P_B_OUT);
    net.m_out = cls_slot<float>(p, P_M_OUT);
    net.v_out = cls_slot<float>(p, P_V_OUT);
    net.m_b = cls_slot<float>(p, P_M_B);
    net.v_b = cls_slot<float>(p, P_V_B);
    net.grad_out = cls_slot<float>(p, P_GRAD_OUT);
    net.grad_b = cls_slot<float>(p, P_GRAD_B);
    net.feedback = cls_slot<const float>(p, P_FEEDBACK);
    net.v = cls_slot<float>(p, P_V);
    net.a = cls_slot<float>(p, P_A);
    net.z = cls_slot<float>(p, P_Z);
    net.refrac = cls_slot<int>(p, P_REFRAC);
    net.f_avg = cls_slot<float>(p, P_F_AVG);
    net.zbar_in = cls_slot<float>(p, P_ZBAR_IN);
    net.zbar_rec = cls_slot<float>(p, P_ZBAR_REC);
    net.zout = cls_slot<float>(p, P_ZOUT);
    net.y = cls_slot<float>(p, P_Y);
    net.y_sum = cls_slot<float>(p, P_Y_SUM);
    net.lane_example = cls_slot<int>(p, P_LANE_EXAMPLE);
    net.lane_ptr = cls_slot<long long>(p, P_LANE_PTR);
    net.order = cls_slot<int>(p, P_ORDER);
    net.trace_z = cls_slot<unsigned char>(p, P_TRACE_Z);
    net.trace_y = cls_slot<float>(p, P_TRACE_Y);
    net.shown_z = cls_slot<unsigned char>(p, P_SHOWN_Z);
    net.shown_y = cls_slot<float>(p, P_SHOWN_Y);
    net.train = cls_split(p, P_TRAIN_OFFSETS);
    net.test = cls_split(p, P_TEST_OFFSETS);
    net.cur = cls_slot<float>(p, P_CUR);
    net.psi = cls_slot<float>(p, P_PSI);
    net.lsig = cls_slot<float>(p, P_LSIG);
    net.reg = cls_slot<float>(p, P_REG);
    net.spk = cls_slot<int>(p, P_SPK);
    net.err = cls_slot<float>(p, P_ERR);
    net.bc = cls_slot<double>(p, P_BC);
    net.ev = cls_slot<long long>(p, P_EV);
    net.counts = cls_slot<long long>(p, P_COUNTS);
    net.rows = cls_slot<double>(p, P_ROWS);
    net.row_out = cls_slot<double>(p, P_ROW_OUT);
    net.rg_keys = cls_slot<unsigned long long>(p, P_RG_KEYS);
    net.rg_post = cls_slot<int>(p, P_RG_POST);
    net.rg_ok = cls_slot<int>(p, P_RG_OK);
    net.rg_pos = cls_slot<int>(p, P_RG_POS);
    net.sort_keys = cls_slot<unsigned long long>(p, P_SORT_KEYS);
    net.sort_idx = cls_slot<int>(p, P_SORT_IDX);
    net.n_in = net.ip[I_N_IN];
    net.n_hid = net.ip[I_N_HID];
    net.n_out = net.ip[I_N_OUT];
    net.lanes = lanes;
    net.key0 = static_cast<unsigned int>(net.ip[I_KEY0]);
    net.key1 = static_cast<unsigned int>(net.ip[I_KEY1]);
    return net;
}

__device__ __forceinline__ bool cls_training(const Net& net)
{
    return net.clock[C_BATCH] < net.ip[I_TRAIN_BATCHES];
}

// ---- random draws (CPU twins in sim/experiments/classifier/cpu/kernels.py) ----------------------

// philox4x32((c0, counter_word1(purpose, 0), c2, c3), key): the CPU's _words. Every counter word
// the model uses is below 2^32 (steps, epochs and updates are checked to be, neuron and slot ids
// are int32), the range in which the CPU's 64-bit-held words and these 32-bit ones agree.
__device__ __forceinline__ rl_uint4x32 cls_words(const Net& net, unsigned long long c0, unsigned int purpose,
                                                 unsigned long long c2, unsigned long long c3)
{
    return rl_philox4x32(rl_uint4x32{static_cast<unsigned int>(c0), rl_counter_word1(purpose, 0ULL),
                                     static_cast<unsigned int>(c2), static_cast<unsigned int>(c3)},
                         net.key0, net.key1);
}

// The fixed sign of pair (pre, post) of table `code` (pair_sign).
__device__ __forceinline__ float cls_pair_sign(const Net& net, int code, long long pre, long long post)
{
    const rl_uint4x32 r = cls_words(net, pre, PURPOSE_SIGN, code, post);
    return (r.x & 1u) ? 1.0f : -1.0f;
}

// Box-Muller on two words, in double (_normal). log, sqrt and cos are the device's own; see the
// backend's docstring for what that means for agreement on a GPU.
__device__ __forceinline__ double cls_normal(unsigned int w0, unsigned int w1)
{
    const double u1 = 1.0 - static_cast<double>(rl_uniform(w0));
    const double u2 = static_cast<double>(rl_uniform(w1));
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// ---- events ---------------------------------------------------------------------------------------

// Write event row `at` of the buffer (the caller has reserved it); never writes past the buffer.
__device__ __forceinline__ void cls_event(const Net& net, long long at, long long step, long long pre, long long post,
                                          long long code, long long kind)
{
    if (at >= net.counts[COUNT_EVENT_CAP]) return;
    long long* row = net.ev + at * EV_COLS;
    row[EV_STEP] = step;
    row[EV_PRE] = pre;
    row[EV_POST] = post;
    row[EV_PROJ] = code;
    row[EV_KIND] = kind;
}

// Indices of the nonzero entries of x[0, n) in order into out; returns their count on every
// thread. Called by the whole block; `scan` is shared memory of blockDim.x + 1 ints. Ends with a
// barrier, so out is complete everywhere.
__device__ int cls_compact(const float* x, long long n, int* out, int* scan)
{
    long long lo, hi;
    rl_block_chunk(n, &lo, &hi);
    int count = 0;
    for (long long i = lo; i < hi; ++i) count += x[i] != 0.0f;
    int total;
    int at = rl_block_prefix(count, scan, &total);
    for (long long i = lo; i < hi; ++i)
        if (x[i] != 0.0f) out[at++] = static_cast<int>(i);
    __syncthreads();
    return total;
}
