// The kernels of the classifier's CUDA backend (CPU twins: run_lanes, finish_segment and its parts
// in sim/experiments/classifier/cpu/kernels.py).
//
// A segment of a trial (never crossing a batch's end) is
//   cls_run_lanes     one block per batch lane, all of the segment's steps in one launch;
//   cls_finish_trial  one block: the clock; at the trial's end the lanes' scores and the shown
//                     example, and for a training batch Adam's step count and bias corrections.
// and when the trial has ended, the end of the batch:
//   cls_learn         (training batches) one thread per synapse, readout weight and bias;
//   cls_deep_r        (training batches with DEEP R) one block: prune and regrow both tables;
//   cls_end_batch     one block: the batch row, the clock, the epoch's end (test row, next
//                     order), the next batch's examples;
//   cls_start_batch   one thread per element: the lanes' trial state and traces cleared.
// Every kernel takes the pointer table and reads the clock and the parameters from device memory.
#include "deep_r.cuh"
#include "learn.cuh"
#include "lanes.cuh"
#include "net.cuh"

#define CLS_GRID_TID (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x)
#define CLS_GRID_NTHR (static_cast<long long>(gridDim.x) * blockDim.x)

// n steps of the current trial for every lane (block = lane). With use_shared, the lane's scratch
// lives in the launch's dynamic shared memory: 5 n_hid + n_out words.
extern "C" __global__ void __launch_bounds__(CLS_MAX_BLOCK) cls_run_lanes(const unsigned long long* ptrs, long long n,
                                                                         int use_shared)
{
    extern __shared__ float cls_dynamic[];
    __shared__ int scan[CLS_MAX_BLOCK + 1];
    __shared__ long long range[2];
    Net net = cls_net(ptrs);
    const long long lane = blockIdx.x;
    if (n <= 0 || lane >= net.lanes || net.lane_example[lane] < 0) return;
    const bool training = cls_training(net);
    const long long n_hid = net.n_hid, n_out = net.n_out;
    LaneScratch s;
    if (use_shared) {
        s.cur = cls_dynamic;
        s.psi = s.cur + n_hid;
        s.lsig = s.psi + n_hid;
        s.reg = s.lsig + n_hid;
        s.err = s.reg + n_hid;
        s.spk = reinterpret_cast<int*>(s.err + n_out);
    } else {
        s.cur = net.cur + lane * n_hid;
        s.psi = net.psi + lane * n_hid;
        s.lsig = net.lsig + lane * n_hid;
        s.reg = net.reg + lane * n_hid;
        s.err = net.err + lane * n_out;
        s.spk = net.spk + lane * n_hid;
    }
    cls_lane_steps(net, lane, net.clock[C_T], n, training, training ? net.train : net.test, s, scan, range);
}

// The clock moves on by n steps; at the trial's end the lanes are scored in lane order (one
// thread: the accumulators are sums in that order), lane 0's trial becomes the shown one, and a
// training batch counts its update and computes Adam's bias corrections.
extern "C" __global__ void __launch_bounds__(CLS_MAX_BLOCK) cls_finish_trial(const unsigned long long* ptrs, long long n)
{
    Net net = cls_net(ptrs);
    const long long tid = threadIdx.x;
    const long long trial = net.ip[I_TRIAL_STEPS];
    const bool training = cls_training(net);
    const long long t = net.clock[C_T] + n;
    __syncthreads();
    if (tid == 0) {
        net.clock[C_T] = t;
        net.clock[C_STEP] += n;
    }
    if (t < trial) return;
    const Split data = training ? net.train : net.test;
    const long long n_out = net.n_out;
    if (tid == 0) {
        const int base = training ? A_TRAIN_LOSS : A_TEST_LOSS;
        for (long long lane = 0; lane < net.lanes; ++lane) {
            const int ex = net.lane_example[lane];
            if (ex < 0) continue;
            const int label = data.labels[ex];
            int prediction;
            const double loss = cls_score(net.y_sum + lane * n_out, n_out, label, &prediction);
            net.acc[base] += loss;
            net.acc[base + 1] += prediction == label ? 1.0 : 0.0;
            net.acc[base + 2] += 1.0;
            if (lane == 0) {
                long long* info = net.shown_info;
                info[SH_EXAMPLE] = ex;
                info[SH_LABEL] = label;
                info[SH_PREDICTION] = prediction;
                info[SH_EPOCH] = net.clock[C_EPOCH];
                info[SH_BATCH] = net.clock[C_BATCH];
                info[SH_TRAINING] = training ? 1 : 0;
            }
        }
        if (training) {
            const long long u = net.clock[C_UPDATES] + 1;
            net.clock[C_UPDATES] = u;
            net.bc[0] = 1.0 - cls_int_power(net.fp[F_ADAM_B1], u);
            net.bc[1] = 1.0 - cls_int_power(net.fp[F_ADAM_B2], u);
            for (int q = A_REMOVED_IN; q <= A_REFUSED_REC; ++q) net.acc[q] = 0.0;
        }
    }
    if (net.lane_example[0] >= 0) {
        const long long nz = trial * net.n_hid, ny = trial * n_out;
        for (long long q = tid; q < nz; q += blockDim.x) net.shown_z[q] = net.trace_z[q];
        for (long long q = tid; q < ny; q += blockDim.x) net.shown_y[q] = net.trace_y[q];
    }
}

// Adam on every synapse of both tables, then the readout (training batches).
extern "C" __global__ void cls_learn(const unsigned long long* ptrs)
{
    const Net net = cls_net(ptrs);
    const long long u = net.clock[C_UPDATES];
    const double bc1 = net.bc[0], bc2 = net.bc[1];
    const long long slots_in = net.tin.n_pre * net.tin.row_cap;
    const long long slots_rec = net.trec.n_pre * net.trec.row_cap;
    const long long n_readout = net.n_hid * net.n_out + net.n_out;
    const long long total = slots_in + slots_rec + n_readout;
    for (long long e = CLS_GRID_TID; e < total; e += CLS_GRID_NTHR) {
        if (e < slots_in)
            cls_learn_slot(net, net.tin, TABLE_IN, e, u, bc1, bc2);
        else if (e < slots_in + slots_rec)
            cls_learn_slot(net, net.trec, TABLE_REC, e - slots_in, u, bc1, bc2);
        else
            cls_learn_readout(net, e - slots_in - slots_rec, bc1, bc2);
    }
}

// DEEP R on the input table, then the recurrent one (training batches). `cap`: attempts a
// regrowth window can hold (the rg_* scratch).
extern "C" __global__ void __launch_bounds__(CLS_MAX_BLOCK) cls_deep_r(const unsigned long long* ptrs, long long cap)
{
    __shared__ int scan[CLS_MAX_BLOCK + 1];
    __shared__ RegrowShared rg;
    Net net = cls_net(ptrs);
    if (net.ip[I_DEEP_R] == 0) return;
    const long long updates = net.clock[C_UPDATES];
    const long long step = net.clock[C_STEP];
    for (int code = TABLE_IN; code <= TABLE_REC; ++code) {
        Table& t = code == TABLE_IN ? net.tin : net.trec;
        const long long removed = cls_prune(net, t, code, step, scan);
        long long regrown, refused;
        cls_regrow(net, t, code, updates, step, removed, cap, scan, &rg, &regrown, &refused);
        if (threadIdx.x == 0) {
            net.acc[A_REMOVED_IN + 3 * code] = static_cast<double>(removed);
            net.acc[A_REGROWN_IN + 3 * code] = static_cast<double>(regrown);
            net.acc[A_REFUSED_IN + 3 * code] = static_cast<double>(refused);
        }
        __syncthreads();
    }
}

// Sum of a table's row lengths (the block's threads in any order: an integer sum).
__device__ long long cls_synapses(const Table& t, unsigned long long* total)
{
    unsigned long long part = 0;
    for (long long i = threadIdx.x; i < t.n_pre; i += blockDim.x) part += static_cast<unsigned long long>(t.row_len[i]);
    if (threadIdx.x == 0) *total = 0;
    __syncthreads();
    atomicAdd(total, part);
    __syncthreads();
    const long long out = static_cast<long long>(*total);
    __syncthreads();
    return out;
}

// The row of the training batch that just ended (_batch_row), its test fields NaN.
__device__ void cls_batch_row(const Net& net, double* row, long long syn_in, long long syn_rec)
{
    const double* acc = net.acc;
    row[R_HELD] = 1.0;
    row[R_EPOCH] = static_cast<double>(net.clock[C_EPOCH]);
    row[R_BATCH] = static_cast<double>(net.clock[C_BATCH]);
    row[R_STEP] = static_cast<double>(net.clock[C_STEP]);
    const double n = acc[A_TRAIN_N] > 1.0 ? acc[A_TRAIN_N] : 1.0;
    row[R_TRAIN_LOSS] = acc[A_TRAIN_LOSS] / n;
    row[R_TRAIN_ACCURACY] = acc[A_TRAIN_CORRECT] / n;
    row[R_TEST_LOSS] = __longlong_as_double(0x7ff8000000000000LL);
    row[R_TEST_ACCURACY] = __longlong_as_double(0x7ff8000000000000LL);
    row[R_SYNAPSES_IN] = static_cast<double>(syn_in);
    row[R_REMOVED_IN] = acc[A_REMOVED_IN];
    row[R_REGROWN_IN] = acc[A_REGROWN_IN];
    row[R_REFUSED_IN] = acc[A_REFUSED_IN];
    row[R_SYNAPSES_REC] = static_cast<double>(syn_rec);
    row[R_REMOVED_REC] = acc[A_REMOVED_REC];
    row[R_REGROWN_REC] = acc[A_REGROWN_REC];
    row[R_REFUSED_REC] = acc[A_REFUSED_REC];
}

// The training order of `epoch` into net.order (training_order): examples sorted by a counter-based
// key each, ties by index (the CPU's stable argsort). `size`: a power of two >= n_train.
__device__ void cls_training_order(const Net& net, long long epoch, long long size)
{
    const long long n_train = net.ip[I_N_TRAIN];
    for (long long i = threadIdx.x; i < size; i += blockDim.x) {
        if (i < n_train) {
            const rl_uint4x32 r = cls_words(net, i, PURPOSE_ORDER, epoch, 0);
            net.sort_keys[i] = (static_cast<unsigned long long>(r.x) << 32) | r.y;
            net.sort_idx[i] = static_cast<int>(i);
        } else {
            net.sort_keys[i] = ~0ULL;
            net.sort_idx[i] = 0x7fffffff;
        }
    }
    rl_block_sort_pairs(net.sort_keys, net.sort_idx, size);
    for (long long i = threadIdx.x; i < n_train; i += blockDim.x) net.order[i] = net.sort_idx[i];
    __syncthreads();
}

// The batch has ended (its learning done): its row, the clock, the epoch's end, the next batch's
// examples (finish_segment after the update, and start_batch's examples). One block.
extern "C" __global__ void __launch_bounds__(CLS_MAX_BLOCK) cls_end_batch(const unsigned long long* ptrs,
                                                                         long long sort_size)
{
    __shared__ unsigned long long total;
    __shared__ int epoch_ended;
    Net net = cls_net(ptrs);
    const long long tid = threadIdx.x;
    const long long train_batches = net.ip[I_TRAIN_BATCHES];
    const long long batches = train_batches + net.ip[I_TEST_BATCHES];
    const long long syn_in = cls_synapses(net.tin, &total);
    // The dense recurrent matrix's diagonal, held at zero weight, is not counted among its synapses.
    const long long syn_rec = cls_synapses(net.trec, &total) - (net.ip[I_DENSE] != 0 ? net.trec.n_post : 0);
    if (tid == 0) {
        double* acc = net.acc;
        double* row = net.row_out;
        row[R_HELD] = 0.0;
        const long long batch = net.clock[C_BATCH];
        if (batch < train_batches) {
            const bool last = batch == train_batches - 1;
            cls_batch_row(net, last ? net.pending : row, syn_in, syn_rec);
            if (!last) row[R_HELD] = 1.0;
            acc[A_TRAIN_LOSS] = 0.0;
            acc[A_TRAIN_CORRECT] = 0.0;
            acc[A_TRAIN_N] = 0.0;
        }
        net.clock[C_T] = 0;
        net.clock[C_BATCH] = batch + 1;
        epoch_ended = batch + 1 == batches;
        if (epoch_ended) {
            const double n_test = acc[A_TEST_N] > 1.0 ? acc[A_TEST_N] : 1.0;
            net.pending[R_TEST_LOSS] = acc[A_TEST_LOSS] / n_test;
            net.pending[R_TEST_ACCURACY] = acc[A_TEST_CORRECT] / n_test;
            for (int f = 0; f < N_BATCH_FIELDS; ++f) {
                row[f] = net.pending[f];
                net.pending[f] = 0.0;
            }
            acc[A_TEST_LOSS] = 0.0;
            acc[A_TEST_CORRECT] = 0.0;
            acc[A_TEST_N] = 0.0;
            net.clock[C_BATCH] = 0;
            net.clock[C_EPOCH] += 1;
        }
        if (row[R_HELD] != 0.0) {
            const long long r = net.counts[COUNT_ROWS];
            if (r < net.counts[COUNT_ROW_CAP])
                for (int f = 0; f < N_BATCH_FIELDS; ++f) net.rows[r * N_BATCH_FIELDS + f] = row[f];
            net.counts[COUNT_ROWS] = r + 1;
        }
    }
    __syncthreads();
    if (epoch_ended) cls_training_order(net, net.clock[C_EPOCH], sort_size);
    // Every lane's example of the (new) current batch.
    const long long b = net.clock[C_BATCH];
    for (long long lane = tid; lane < net.lanes; lane += blockDim.x) {
        if (b < train_batches) {
            const int ex = net.order[b * net.lanes + lane];
            net.lane_example[lane] = ex;
            net.lane_ptr[lane] = net.train.offsets[ex];
        } else {
            const long long ex = (b - train_batches) * net.lanes + lane;
            if (ex < net.ip[I_N_TEST]) {
                net.lane_example[lane] = static_cast<int>(ex);
                net.lane_ptr[lane] = net.test.offsets[ex];
            } else {
                net.lane_example[lane] = -1;
                net.lane_ptr[lane] = 0;
            }
        }
    }
}

// The lanes' trial state and both tables' traces cleared for the next batch (start_batch).
extern "C" __global__ void cls_start_batch(const unsigned long long* ptrs)
{
    const Net net = cls_net(ptrs);
    const long long per_hid = net.lanes * net.n_hid;
    const long long per_in = net.lanes * net.n_in;
    const long long per_out = net.lanes * net.n_out;
    const long long slots_in = net.lanes * net.tin.n_pre * net.tin.row_cap;
    const long long slots_rec = net.lanes * net.trec.n_pre * net.trec.row_cap;
    for (long long e = CLS_GRID_TID; e < per_hid; e += CLS_GRID_NTHR) {
        net.v[e] = 0.0f;
        net.a[e] = 0.0f;
        net.z[e] = 0.0f;
        net.refrac[e] = 0;
        net.zbar_rec[e] = 0.0f;
        net.zout[e] = 0.0f;
    }
    for (long long e = CLS_GRID_TID; e < per_in; e += CLS_GRID_NTHR) net.zbar_in[e] = 0.0f;
    for (long long e = CLS_GRID_TID; e < per_out; e += CLS_GRID_NTHR) {
        net.y[e] = 0.0f;
        net.y_sum[e] = 0.0f;
    }
    for (long long e = CLS_GRID_TID; e < slots_in; e += CLS_GRID_NTHR) {
        net.tin.f32(ET_ELIG)[e] = 0.0f;
        net.tin.f32(ET_ELIG_A)[e] = 0.0f;
    }
    for (long long e = CLS_GRID_TID; e < slots_rec; e += CLS_GRID_NTHR) {
        net.trec.f32(ET_ELIG)[e] = 0.0f;
        net.trec.f32(ET_ELIG_A)[e] = 0.0f;
    }
}
