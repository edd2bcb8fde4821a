// The toy experiment's kernel: the CUDA twin of tests/support/toy/cpu.py (run_steps).
//
// One block runs whole steps. Thread 0 does the rewiring of a step (the swaps in order, exactly
// as the CPU kernel), then every thread updates the leaky counts of its neurons; barriers
// separate the phases. The table operations are those of sim/synapses.py, line for line, so a
// table ends in the same bytes on both backends. Needs philox4x32.cuh (sim/backends/cuda).
#include "philox4x32.cuh"

#define TOY_PURPOSE_REWIRE 3u
#define TOY_FF 0
#define TOY_REMOVED 0
#define TOY_FORMED 1
#define TOY_EV_COLS 5

struct ToyTable {
    int* row_len;
    int* post;
    float* weight;
    int* col_pos;
    int* col_len;
    int* col_syn;
    long long row_cap;
    long long col_cap;
    long long* stats;  // formed, removed, refused (row full), refused (column full)
};

// Position in row `pre` of its synapse onto `post`, or -1 (find_synapse).
__device__ long long toy_find(const ToyTable& t, long long pre, long long post)
{
    const long long base = pre * t.row_cap;
    for (long long k = 0; k < t.row_len[pre]; ++k)
        if (t.post[base + k] == post) return k;
    return -1;
}

// Append pre -> post; refuse (and count) when its row or column is full (add_synapse).
__device__ bool toy_add(const ToyTable& t, long long pre, long long post, float weight)
{
    const long long k = t.row_len[pre];
    if (k >= t.row_cap) {
        t.stats[2] += 1;
        return false;
    }
    const long long c = t.col_len[post];
    if (c >= t.col_cap) {
        t.stats[3] += 1;
        return false;
    }
    const long long s = pre * t.row_cap + k;
    t.post[s] = static_cast<int>(post);
    t.weight[s] = weight;
    t.col_pos[s] = static_cast<int>(c);
    t.col_syn[post * t.col_cap + c] = static_cast<int>(s);
    t.row_len[pre] = static_cast<int>(k + 1);
    t.col_len[post] = static_cast<int>(c + 1);
    t.stats[0] += 1;
    return true;
}

// Remove synapse k of row pre: the row's and the column's last entries fill the holes (remove_synapse).
__device__ void toy_remove(const ToyTable& t, long long pre, long long k)
{
    const long long s = pre * t.row_cap + k;
    const long long j = t.post[s];
    const long long c = t.col_pos[s];
    const long long cl = t.col_len[j] - 1;
    const int moved = t.col_syn[j * t.col_cap + cl];
    t.col_syn[j * t.col_cap + c] = moved;
    t.col_pos[moved] = static_cast<int>(c);
    t.col_syn[j * t.col_cap + cl] = 0;
    t.col_len[j] = static_cast<int>(cl);
    const long long last = t.row_len[pre] - 1;
    const long long sl = pre * t.row_cap + last;
    if (k != last) {
        t.post[s] = t.post[sl];
        t.weight[s] = t.weight[sl];
        t.col_pos[s] = t.col_pos[sl];
        t.col_syn[static_cast<long long>(t.post[s]) * t.col_cap + t.col_pos[s]] = static_cast<int>(s);
    }
    t.post[sl] = 0;
    t.weight[sl] = 0.0f;
    t.col_pos[sl] = 0;
    t.row_len[pre] = static_cast<int>(last);
    t.stats[1] += 1;
}

__device__ void toy_record(long long* events, long long* n_events, long long step, long long pre,
                           long long post, long long kind)
{
    long long* row = events + n_events[0] * TOY_EV_COLS;
    row[0] = step;
    row[1] = pre;
    row[2] = post;
    row[3] = TOY_FF;
    row[4] = kind;
    n_events[0] += 1;
}

// The swaps of one step (thread 0 only).
__device__ void toy_rewire(const ToyTable& t, long long n, long long step, unsigned int key0,
                           unsigned int key1, int swaps, float weight, int record, long long* events,
                           long long* n_events)
{
    for (int a = 0; a < swaps; ++a) {
        const rl_uint4x32 c = {static_cast<unsigned int>(step), rl_counter_word1(TOY_PURPOSE_REWIRE, step),
                               static_cast<unsigned int>(a), 0u};
        const rl_uint4x32 w = rl_philox4x32(c, key0, key1);
        const long long pre = rl_below(w.y, static_cast<unsigned int>(n));
        const long long post = rl_below(w.z, static_cast<unsigned int>(n));
        // No multapses; a swap whose formation is refused removes nothing.
        if (toy_find(t, pre, post) >= 0 || !toy_add(t, pre, post, weight)) continue;
        if (record) toy_record(events, n_events, step, pre, post, TOY_FORMED);
        long long total = 0;
        for (long long i = 0; i < n; ++i) total += t.row_len[i];
        long long r = rl_below(w.x, static_cast<unsigned int>(total));
        long long i = 0;
        while (r >= t.row_len[i]) {
            r -= t.row_len[i];
            ++i;
        }
        const long long j = t.post[i * t.row_cap + r];
        toy_remove(t, i, r);
        if (record) toy_record(events, n_events, step, i, j, TOY_REMOVED);
    }
}

// Advance n_steps steps from step clock[0]; events are appended to `events` (n_events rows so far).
extern "C" __global__ void toy_run_steps(int* row_len, int* post, float* weight, int* col_pos, int* col_len,
                                         int* col_syn, const long long* dims, long long* stats, int* count,
                                         long long* clock, long long n_steps, unsigned int key0,
                                         unsigned int key1, int swaps, int enabled, int leak_shift,
                                         float new_weight, int record, long long* events,
                                         long long* n_events)
{
    const ToyTable t = {row_len, post, weight, col_pos, col_len, col_syn, dims[2], dims[3], stats};
    const long long n = dims[0];
    const long long step0 = clock[0];
    for (long long s = 0; s < n_steps; ++s) {
        const long long step = step0 + s;
        if (threadIdx.x == 0 && enabled)
            toy_rewire(t, n, step, key0, key1, swaps, new_weight, record, events, n_events);
        __syncthreads();
        for (long long j = threadIdx.x; j < n; j += blockDim.x)
            count[j] = count[j] - (count[j] >> leak_shift) + col_len[j];
        __syncthreads();
    }
    if (threadIdx.x == 0) clock[0] = step0 + n_steps;
}
