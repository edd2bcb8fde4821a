// One batch lane's time steps, run by one thread block (CPU twin: _lane_steps).
//
// Every float operation is the CPU's, in the CPU's order, so each lane matches the CPU bit for
// bit:
// * the input current of hidden neuron j is a sum in the order of the spikes (this step's input
//   spikes in the data's order, then last step's hidden spikes by neuron id). On the dense kernel
//   thread j gathers it in that order. On the ragged tables the block takes the spiking rows one
//   after another, a thread per synapse of the row, with a barrier between rows: a row has no two
//   synapses onto one target (checked for every state), so no two threads add to one target at
//   once and no atomics are needed.
// * the softmax's sums run on one thread, in output order, with the CPU's expf (expf.cuh);
// * everything else is per neuron or per synapse: one thread each, the CPU's expression.
#pragma once

#include "expf.cuh"
#include "net.cuh"

// The per-neuron scratch of one lane: in dynamic shared memory when it fits, else in global memory.
struct LaneScratch {
    float *cur, *psi, *lsig, *reg, *err;
    int* spk;
};

// Add row i's weights to their targets' current: one thread per synapse (distinct targets).
__device__ __forceinline__ void cls_scatter_row(const Table& t, long long i, float* cur)
{
    const long long base = i * t.row_cap;
    const long long len = t.row_len[i];
    const float* w = t.f32(ET_WEIGHT);
    for (long long k = threadIdx.x; k < len; k += blockDim.x) cur[t.post[base + k]] += w[base + k];
}

// e-prop of every synapse of table t for one lane (_eprop_row, _eprop_row_alif): zb[i] is row i's
// filtered presynaptic spike train.
__device__ void cls_eprop_table(const Table& t, long long lane, const float* zb, const LaneScratch& s, float kappa,
                                bool alif, float beta, float rho)
{
    const long long rc = t.row_cap;
    const long long slots = t.n_pre * rc;
    const long long o = lane * slots;
    float* el = t.f32(ET_ELIG) + o;
    float* ea = t.f32(ET_ELIG_A) + o;
    float* g = t.f32(ET_GRAD) + o;
    for (long long q = threadIdx.x; q < slots; q += blockDim.x) {
        const long long i = q / rc;
        if (q - i * rc >= t.row_len[i]) continue;
        const int j = t.post[q];
        const float p = s.psi[j];
        const float z = zb[i];
        if (alif) {
            const float e = p * (z - beta * ea[q]);
            ea[q] = p * z + (rho - p * beta) * ea[q];
            const float f = kappa * el[q] + e;
            el[q] = f;
            g[q] += f * s.lsig[j] + s.reg[j] * e;
        } else {
            const float e = p * z;
            const float f = kappa * el[q] + e;
            el[q] = f;
            g[q] += f * s.lsig[j] + s.reg[j] * e;
        }
    }
}

// Advance lane `lane` by n steps of its example from trial step t0. Called by the whole block
// (uniform control flow); `scan` is shared memory of blockDim.x + 1 ints, `range` two shared words.
__device__ void cls_lane_steps(Net& net, long long lane, long long t0, long long n, bool learn, const Split& data,
                               const LaneScratch& s, int* scan, long long* range)
{
    const long long tid = threadIdx.x;
    const long long nthr = blockDim.x;
    const long long n_in = net.n_in, n_hid = net.n_hid, n_out = net.n_out;
    const double* fp = net.fp;
    const float alpha = static_cast<float>(fp[F_ALPHA]);
    const float kappa = static_cast<float>(fp[F_KAPPA]);
    const float rho = static_cast<float>(fp[F_RHO]);
    const float v_th = static_cast<float>(fp[F_V_TH]);
    const float beta = static_cast<float>(fp[F_BETA]);
    const float psi_scale = static_cast<float>(fp[F_PSI_SCALE]);
    const float reg_decay = static_cast<float>(fp[F_REG_DECAY]);
    const float reg_gain = 1.0f - reg_decay;
    const float f_target = static_cast<float>(fp[F_F_TARGET]);
    const float c_reg = static_cast<float>(fp[F_C_REG]);
    const int ref_steps = static_cast<int>(net.ip[I_REF_STEPS]);
    const bool alif = net.ip[I_ALIF] != 0;
    const bool dense = net.ip[I_DENSE] != 0;
    const float* fb = net.ip[I_RANDOM_FEEDBACK] != 0 ? net.feedback : net.w_out;
    const int ex = net.lane_example[lane];
    const int label = data.labels[ex];
    const long long end = data.offsets[ex + 1];
    float* v = net.v + lane * n_hid;
    float* a = net.a + lane * n_hid;
    float* z = net.z + lane * n_hid;
    int* refrac = net.refrac + lane * n_hid;
    float* f_avg = net.f_avg + lane * n_hid;
    float* zi = net.zbar_in + lane * n_in;
    float* zr = net.zbar_rec + lane * n_hid;
    float* zo = net.zout + lane * n_hid;
    float* y = net.y + lane * n_out;
    float* ys = net.y_sum + lane * n_out;
    float* gout = net.grad_out + lane * n_hid * n_out;
    float* gb = net.grad_b + lane * n_out;
    const float* w_in = net.tin.f32(ET_WEIGHT);
    const float* w_rec = net.trec.f32(ET_WEIGHT);
    const long long rc_in = net.tin.row_cap, rc_rec = net.trec.row_cap;

    // Last step's hidden spikes, in neuron order.
    int ns = cls_compact(z, n_hid, s.spk, scan);
    for (long long t = t0; t < t0 + n; ++t) {
        // The traces decay and take the spikes; this step's input spikes are found.
        for (long long j = tid; j < n_hid; j += nthr) {
            s.cur[j] = 0.0f;
            float r = zr[j] * alpha;
            if (z[j] != 0.0f) r += 1.0f;
            zr[j] = r;
        }
        for (long long u = tid; u < n_in; u += nthr) zi[u] *= alpha;
        if (tid == 0) {
            long long p = net.lane_ptr[lane];
            range[0] = p;
            while (p < end && data.steps[p] == t) ++p;
            range[1] = p;
            net.lane_ptr[lane] = p;
        }
        __syncthreads();
        const long long p0 = range[0], p1 = range[1];
        for (long long q = p0 + tid; q < p1; q += nthr) zi[data.units[q]] += 1.0f;  // distinct units
        // The spikes' rows into the current, in the CPU's order of additions.
        if (dense) {
            for (long long j = tid; j < n_hid; j += nthr) {
                float c = s.cur[j];
                for (long long q = p0; q < p1; ++q) {
                    const long long i = data.units[q];
                    if (j < net.tin.row_len[i]) c += w_in[i * rc_in + j];
                }
                for (int m = 0; m < ns; ++m) {
                    const long long i = s.spk[m];
                    if (j < net.trec.row_len[i]) c += w_rec[i * rc_rec + j];
                }
                s.cur[j] = c;
            }
        } else {
            for (long long q = p0; q < p1; ++q) {
                cls_scatter_row(net.tin, data.units[q], s.cur);
                __syncthreads();
            }
            for (int m = 0; m < ns; ++m) {
                cls_scatter_row(net.trec, s.spk[m], s.cur);
                __syncthreads();
            }
        }
        __syncthreads();
        // The hidden neurons.
        for (long long j = tid; j < n_hid; j += nthr) {
            const float thr = v_th + beta * a[j];
            const float vj = alpha * v[j] + s.cur[j] - z[j] * v_th;
            float zj = 0.0f;
            float pj = 0.0f;
            if (refrac[j] > 0) {
                refrac[j] -= 1;
            } else {
                if (vj >= thr) {
                    zj = 1.0f;
                    refrac[j] = ref_steps;
                }
                const float h = 1.0f - fabsf(vj - thr) / v_th;
                pj = psi_scale * (h > 0.0f ? h : 0.0f);
            }
            if (alif) a[j] = rho * a[j] + zj;
            v[j] = vj;
            z[j] = zj;
            s.psi[j] = pj;
            zo[j] = kappa * zo[j] + zj;
            f_avg[j] = reg_decay * f_avg[j] + reg_gain * zj;
        }
        __syncthreads();
        // This step's spikes (next step's presynaptic ones) and the readout.
        ns = cls_compact(z, n_hid, s.spk, scan);
        for (long long k = tid; k < n_out; k += nthr) {
            float yk = kappa * y[k] + net.b_out[k];
            for (int m = 0; m < ns; ++m) yk += net.w_out[static_cast<long long>(s.spk[m]) * n_out + k];
            y[k] = yk;
            ys[k] += yk;
            if (lane == 0) net.trace_y[t * n_out + k] = yk;
        }
        if (lane == 0)
            for (long long j = tid; j < n_hid; j += nthr) net.trace_z[t * n_hid + j] = static_cast<unsigned char>(z[j]);
        __syncthreads();
        if (!learn) continue;
        // The readout's error: softmax minus the label, sums on one thread in output order.
        if (tid == 0) {
            float top = y[0];
            for (long long k = 1; k < n_out; ++k) top = y[k] > top ? y[k] : top;
            float total = 0.0f;
            for (long long k = 0; k < n_out; ++k) {
                const float e = cls_expf(y[k] - top);
                s.err[k] = e;
                total += e;
            }
            for (long long k = 0; k < n_out; ++k) s.err[k] = s.err[k] / total - (k == label ? 1.0f : 0.0f);
        }
        __syncthreads();
        for (long long k = tid; k < n_out; k += nthr) gb[k] += s.err[k];
        // Learning signal, readout gradients and the regularisation of every hidden neuron.
        for (long long j = tid; j < n_hid; j += nthr) {
            float lj = 0.0f;
            const float zoj = zo[j];
            for (long long k = 0; k < n_out; ++k) {
                lj += fb[j * n_out + k] * s.err[k];
                gout[j * n_out + k] += zoj * s.err[k];
            }
            s.lsig[j] = lj;
            s.reg[j] = c_reg * (f_avg[j] - f_target);
        }
        __syncthreads();
        cls_eprop_table(net.tin, lane, zi, s, kappa, alif, beta, rho);
        cls_eprop_table(net.trec, lane, zr, s, kappa, alif, beta, rho);
        __syncthreads();
    }
}
