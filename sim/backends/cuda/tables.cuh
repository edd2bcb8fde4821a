// Ragged synapse tables on the device: the twin of sim/synapses.py, operation for operation.
//
// A table type is RlTable<NVars, Floats, PerLane, ColumnIndex>, the numbers of its Python
// declaration (sim.synapses.TableSpec): how many variables it declares, the bit masks of the float
// ones and of the per-lane ones, and whether it keeps a column index. The generated enums of a
// declaration (sim.backends.cuda.codegen.table_enums) give these numbers and each variable's index,
// so a table type reads, for a declaration with prefix PT:
//
//     using Table = RlTable<PT_N_VARS, PT_FLOATS, PT_PER_LANE, PT_COLUMN_INDEX != 0>;
//
// Synapse k of row i lives in slot s = i * row_cap + k. A declared variable is an array of float or
// int; one with a value per batch lane holds lane l of slot s at l * slots + s. Removing a synapse
// moves the row's last one, every variable of it, into the hole and clears the vacated slot; a new
// synapse takes the initial values of its variables from an Init functor,
// `double init(long long op, int v)`: the value of variable v of the synapse added by operation op
// of a batch (0 for a single add), converted to the variable's type (exact for float and int).
//
// The operations here are for one thread owning the rows and columns it changes; batch.cuh applies
// many changes with a whole block. The generated enums TableDim (D_*) and TableStat (ST_*) of
// sim/synapses.py must come before this header (sim.backends.cuda.codegen.table_interface_enums).
#pragma once

// The lanes of a table's per-lane variables, `slots` words apart; nothing for a table without them.
template <bool HasLanes>
struct RlTableLanes {
    long long lanes;
    long long slots;  // n_pre * row_cap: one lane of a variable
    __device__ __forceinline__ long long lane_count() const { return lanes; }
    __device__ __forceinline__ long long lane_stride() const { return slots; }
    __device__ __forceinline__ void set_lanes(long long count, long long stride)
    {
        lanes = count;
        slots = stride;
    }
};

template <>
struct RlTableLanes<false> {
    __device__ __forceinline__ long long lane_count() const { return 1; }
    __device__ __forceinline__ long long lane_stride() const { return 0; }
    __device__ __forceinline__ void set_lanes(long long, long long) {}
};

template <int NVars, unsigned int Floats, unsigned int PerLane, bool ColumnIndex>
struct RlTable : RlTableLanes<PerLane != 0> {
    static constexpr int n_vars = NVars;
    static constexpr bool column_index = ColumnIndex;
    // Position of each array in the table's run of pointer-table slots: the order of the Python
    // declaration's fields (sim.synapses.TableSpec.fields).
    static constexpr int field_row_len = 0;
    static constexpr int field_post = 1;
    static constexpr int field_vars = 2;
    static constexpr int field_col_pos = ColumnIndex ? 2 + NVars : -1;
    static constexpr int field_col_len = 2 + NVars + (ColumnIndex ? 1 : 0);
    static constexpr int field_col_syn = ColumnIndex ? field_col_len + 1 : -1;
    static constexpr int field_dims = field_col_len + (ColumnIndex ? 2 : 1);
    static constexpr int field_stats = field_dims + 1;
    static constexpr int n_fields = field_stats + 1;

    int* row_len;  // (n_pre)
    int* post;     // (slots)
    int* col_pos;  // (slots); null without a column index
    int* col_len;  // (n_post) the in-degree
    int* col_syn;  // (n_post * col_cap); null without a column index
    long long n_pre, n_post, row_cap, col_cap;
    long long* stats;  // (N_STATS) cumulative counters
    void* var[NVars > 0 ? NVars : 1];

    __host__ __device__ static constexpr bool is_float(int v) { return ((Floats >> v) & 1u) != 0; }
    __host__ __device__ static constexpr bool is_per_lane(int v) { return ((PerLane >> v) & 1u) != 0; }
    __device__ __forceinline__ float* f32(int v) const { return static_cast<float*>(var[v]); }
    __device__ __forceinline__ int* i32(int v) const { return static_cast<int*>(var[v]); }
    __device__ __forceinline__ long long var_lanes(int v) const { return is_per_lane(v) ? this->lane_count() : 1; }
};

// The table whose arrays sit in pointer-table slots first + Table::field_*, with `lanes` batch
// lanes in its per-lane variables.
template <class Table>
__device__ __forceinline__ Table rl_table_view(const unsigned long long* p, int first, long long lanes)
{
    Table t;
    t.row_len = reinterpret_cast<int*>(p[first + Table::field_row_len]);
    t.post = reinterpret_cast<int*>(p[first + Table::field_post]);
    for (int v = 0; v < Table::n_vars; ++v) t.var[v] = reinterpret_cast<void*>(p[first + Table::field_vars + v]);
    t.col_pos = Table::column_index ? reinterpret_cast<int*>(p[first + Table::field_col_pos]) : nullptr;
    t.col_len = reinterpret_cast<int*>(p[first + Table::field_col_len]);
    t.col_syn = Table::column_index ? reinterpret_cast<int*>(p[first + Table::field_col_syn]) : nullptr;
    const long long* dims = reinterpret_cast<const long long*>(p[first + Table::field_dims]);
    t.n_pre = dims[D_N_PRE];
    t.n_post = dims[D_N_POST];
    t.row_cap = dims[D_ROW_CAP];
    t.col_cap = dims[D_COL_CAP];
    t.stats = reinterpret_cast<long long*>(p[first + Table::field_stats]);
    t.set_lanes(lanes, t.n_pre * t.row_cap);
    return t;
}

// Every new synapse gets the same value of each variable: value[v].
template <int NVars>
struct RlInitAll {
    double value[NVars > 0 ? NVars : 1];
    __device__ __forceinline__ double operator()(long long, int v) const { return value[v]; }
};

// Every variable of slot `to` takes the value of slot `from`, in every lane.
template <class Table>
__device__ __forceinline__ void rl_vars_move(const Table& t, long long to, long long from)
{
    for (int v = 0; v < Table::n_vars; ++v) {
        for (long long l = 0; l < t.var_lanes(v); ++l) {
            const long long o = l * t.lane_stride();
            if (Table::is_float(v))
                t.f32(v)[o + to] = t.f32(v)[o + from];
            else
                t.i32(v)[o + to] = t.i32(v)[o + from];
        }
    }
}

// Every variable of slot s cleared, in every lane.
template <class Table>
__device__ __forceinline__ void rl_vars_clear(const Table& t, long long s)
{
    for (int v = 0; v < Table::n_vars; ++v) {
        for (long long l = 0; l < t.var_lanes(v); ++l) {
            if (Table::is_float(v))
                t.f32(v)[l * t.lane_stride() + s] = 0.0f;
            else
                t.i32(v)[l * t.lane_stride() + s] = 0;
        }
    }
}

// The initial values of the synapse that operation op adds in slot s, in every lane.
template <class Table, class Init>
__device__ __forceinline__ void rl_vars_init(const Table& t, long long s, const Init& init, long long op)
{
    for (int v = 0; v < Table::n_vars; ++v) {
        const double value = init(op, v);
        for (long long l = 0; l < t.var_lanes(v); ++l) {
            if (Table::is_float(v))
                t.f32(v)[l * t.lane_stride() + s] = static_cast<float>(value);
            else
                t.i32(v)[l * t.lane_stride() + s] = static_cast<int>(value);
        }
    }
}

// Row `row` (its first slot) of length len + 1 loses synapse k: its last synapse fills the hole
// and the vacated slot is cleared (the row half of rl_table_remove).
template <class Table>
__device__ __forceinline__ void rl_row_fill_hole(const Table& t, long long row, long long k, long long len)
{
    const long long last = row + len;
    if (row + k != last) {
        t.post[row + k] = t.post[last];
        rl_vars_move(t, row + k, last);
        if (Table::column_index) t.col_pos[row + k] = t.col_pos[last];
    }
    t.post[last] = 0;
    rl_vars_clear(t, last);
    if (Table::column_index) t.col_pos[last] = 0;
}

// Every synapse of a row of length len writes its slot into its column entry.
template <class Table>
__device__ __forceinline__ void rl_row_to_columns(const Table& t, long long row, long long len)
{
    if (!Table::column_index) return;
    for (long long s = row; s < row + len; ++s)
        t.col_syn[static_cast<long long>(t.post[s]) * t.col_cap + t.col_pos[s]] = static_cast<int>(s);
}

// Append synapse pre -> post with the initial values init(0, v); refuse (and count) if its row, or
// its column, is full (CPU: add_synapse).
template <class Table, class Init>
__device__ bool rl_table_add(Table& t, long long pre, long long post, const Init& init)
{
    const int k = t.row_len[pre];
    if (k >= t.row_cap) {
        t.stats[ST_REFUSED_ROW] += 1;
        return false;
    }
    const int c = t.col_len[post];
    if (Table::column_index && c >= t.col_cap) {
        t.stats[ST_REFUSED_COL] += 1;
        return false;
    }
    const long long s = pre * t.row_cap + k;
    t.post[s] = static_cast<int>(post);
    rl_vars_init(t, s, init, 0);
    if (Table::column_index) {
        t.col_pos[s] = c;
        t.col_syn[post * t.col_cap + c] = static_cast<int>(s);
    }
    t.row_len[pre] = k + 1;
    t.col_len[post] = c + 1;
    t.stats[ST_FORMED] += 1;
    return true;
}

// Remove synapse k of row pre: the row's last synapse, every variable of it, fills the hole
// (CPU: remove_synapse).
template <class Table>
__device__ void rl_table_remove(Table& t, long long pre, long long k)
{
    const long long s = pre * t.row_cap + k;
    const long long j = t.post[s];
    if (Table::column_index) {
        const int c = t.col_pos[s];
        const int cl = t.col_len[j] - 1;
        const int moved = t.col_syn[j * t.col_cap + cl];
        t.col_syn[j * t.col_cap + c] = moved;
        t.col_pos[moved] = c;
        t.col_syn[j * t.col_cap + cl] = 0;
    }
    t.col_len[j] -= 1;
    const long long last = t.row_len[pre] - 1;
    rl_row_fill_hole(t, pre * t.row_cap, k, last);
    if (Table::column_index && k != last)
        t.col_syn[static_cast<long long>(t.post[s]) * t.col_cap + t.col_pos[s]] = static_cast<int>(s);
    t.row_len[pre] = static_cast<int>(last);
    t.stats[ST_REMOVED] += 1;
}

// Position k in row pre of the first synapse onto post, or -1 (CPU: find_synapse).
template <class Table>
__device__ long long rl_table_find(const Table& t, long long pre, long long post)
{
    const long long base = pre * t.row_cap;
    const int len = t.row_len[pre];
    for (int k = 0; k < len; ++k)
        if (t.post[base + k] == post) return k;
    return -1;
}
