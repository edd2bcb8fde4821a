// The end of a trial and of a training batch's learning (CPU twins: _score, _adam, _learn_table,
// _learn_readout in sim/experiments/classifier/cpu/kernels.py).
//
// Each synapse's update is independent of the others': one thread per synapse sums its gradient
// over the lanes in lane order, adds L1, takes the Adam step and adds the temperature noise, with
// the CPU's expressions (float32 where the CPU is float32, double where it is double), so weights
// and moments match bit for bit.
#pragma once

#include "net.cuh"

// a ** b for a double and an integer b >= 0 as Numba computes it (exponentiation by squaring up to
// 2^16, the library's pow above): Adam's bias corrections.
__device__ __forceinline__ double cls_int_power(double a, long long b)
{
    if (b > 0x10000) return pow(a, static_cast<double>(b));
    double r = 1.0;
    while (b != 0) {
        if (b & 1) r *= a;
        b >>= 1;
        a *= a;
    }
    return r;
}

// One Adam step of weight w with gradient g (_adam): the new weight and moments.
__device__ __forceinline__ void cls_adam(const double* fp, double bc1, double bc2, float g, float* w, float* m, float* v)
{
    const float b1 = static_cast<float>(fp[F_ADAM_B1]);
    const float b2 = static_cast<float>(fp[F_ADAM_B2]);
    const float mm = b1 * *m + (1.0f - b1) * g;
    const float vv = b2 * *v + (1.0f - b2) * g * g;
    const float step = static_cast<float>(fp[F_LR]) * (mm / static_cast<float>(bc1)) /
                       (static_cast<float>(sqrt(static_cast<double>(vv) / bc2)) + static_cast<float>(fp[F_ADAM_EPS]));
    *w = *w - step;
    *m = mm;
    *v = vv;
}

// Slot s of table t (code): the lanes' gradients summed and cleared, L1, Adam, noise (_learn_table).
__device__ void cls_learn_slot(const Net& net, const Table& t, int code, long long s, long long updates, double bc1,
                               double bc2)
{
    const long long rc = t.row_cap;
    const long long i = s / rc;
    const long long k = s - i * rc;
    if (k >= t.row_len[i]) return;
    const bool deep_r = net.ip[I_DEEP_R] != 0;
    const float l1 = deep_r ? static_cast<float>(net.fp[F_L1]) : 0.0f;
    const double noise = deep_r ? net.fp[F_NOISE] : 0.0;
    const bool diagonal = net.ip[I_DENSE] != 0 && code == TABLE_REC;
    float* grad = t.f32(ET_GRAD);
    const long long slots = t.n_pre * rc;
    float g = 0.0f;
    for (long long lane = 0; lane < net.lanes; ++lane) {
        g += grad[lane * slots + s];
        grad[lane * slots + s] = 0.0f;
    }
    float* weight = t.f32(ET_WEIGHT);
    float w = weight[s];
    if (w > 0.0f)
        g += l1;
    else if (w < 0.0f)
        g -= l1;
    cls_adam(net.fp, bc1, bc2, g, &w, t.f32(ET_ADAM_M) + s, t.f32(ET_ADAM_V) + s);
    if (noise > 0.0) {
        const rl_uint4x32 r = cls_words(net, updates, PURPOSE_NOISE, code, s);
        w += static_cast<float>(noise * cls_normal(r.x, r.y));
    }
    if (diagonal && k == i) w = 0.0f;
    weight[s] = w;
}

// Readout weight e = j * n_out + k (e < n_hid * n_out), or bias e - n_hid * n_out (_learn_readout).
__device__ void cls_learn_readout(const Net& net, long long e, double bc1, double bc2)
{
    const long long n_w = net.n_hid * net.n_out;
    const bool bias = e >= n_w;
    const long long q = bias ? e - n_w : e;
    const long long stride = bias ? net.n_out : n_w;
    float* grad = bias ? net.grad_b : net.grad_out;
    float g = 0.0f;
    for (long long lane = 0; lane < net.lanes; ++lane) {
        g += grad[lane * stride + q];
        grad[lane * stride + q] = 0.0f;
    }
    if (bias)
        cls_adam(net.fp, bc1, bc2, g, net.b_out + q, net.m_b + q, net.v_b + q);
    else
        cls_adam(net.fp, bc1, bc2, g, net.w_out + q, net.m_out + q, net.v_out + q);
}

// Cross-entropy of the softmax of the summed readout ys[0, n_out), its argmax (_score).
__device__ __forceinline__ double cls_score(const float* ys, long long n_out, int label, int* prediction)
{
    long long top = 0;
    for (long long k = 1; k < n_out; ++k)
        if (ys[k] > ys[top]) top = k;
    const double m = static_cast<double>(ys[top]);
    double total = 0.0;
    for (long long k = 0; k < n_out; ++k) total += exp(static_cast<double>(ys[k]) - m);
    *prediction = static_cast<int>(top);
    return m + log(total) - static_cast<double>(ys[label]);
}
