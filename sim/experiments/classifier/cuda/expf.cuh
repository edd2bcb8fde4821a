// expf as the CPU backend computes it, bit for bit.
//
// The CPU kernels' softmax calls math.exp on a float32, which Numba lowers to the C library's
// expf: on x86-64 Linux, glibc's (since 2.27; ARM's optimized-routines algorithm), in its variant
// for processors with FMA. That expf is not correctly rounded (for arguments of order 1, about one
// result in 1,600 is not the float nearest to e^x), and neither is CUDA's expf, in other places;
// one differing bit of the softmax changes a gradient and, through Adam, the weights. So the
// kernels do not use the device's expf but this port of glibc's: the same table, polynomial and
// reduction, with the fused multiply-adds where glibc's FMA build has them (read from its machine
// code) and every other operation rounded separately (the module is compiled with --fmad=false).
// Checked against the host's expf for all 2^32 float inputs (bit for bit, NaN aside) when it was
// written; tests/sim/test_classifier_cuda.py checks it against the CPU kernels' exp on a sample,
// on the emulator and on a GPU when there is one.
#pragma once

// 2^(i/32) as double bits, less i << 47: glibc's __exp2f_data.tab (EXP2F_TABLE_BITS = 5).
__device__ static const unsigned long long CLS_EXP2F_TAB[32] = {
    0x3ff0000000000000ULL, 0x3fefd9b0d3158574ULL, 0x3fefb5586cf9890fULL, 0x3fef9301d0125b51ULL,
    0x3fef72b83c7d517bULL, 0x3fef54873168b9aaULL, 0x3fef387a6e756238ULL, 0x3fef1e9df51fdee1ULL,
    0x3fef06fe0a31b715ULL, 0x3feef1a7373aa9cbULL, 0x3feedea64c123422ULL, 0x3feece086061892dULL,
    0x3feebfdad5362a27ULL, 0x3feeb42b569d4f82ULL, 0x3feeab07dd485429ULL, 0x3feea47eb03a5585ULL,
    0x3feea09e667f3bcdULL, 0x3fee9f75e8ec5f74ULL, 0x3feea11473eb0187ULL, 0x3feea589994cce13ULL,
    0x3feeace5422aa0dbULL, 0x3feeb737b0cdc5e5ULL, 0x3feec49182a3f090ULL, 0x3feed503b23e255dULL,
    0x3feee89f995ad3adULL, 0x3feeff76f2fb5e47ULL, 0x3fef199bdd85529cULL, 0x3fef3720dcef9069ULL,
    0x3fef5818dcfba487ULL, 0x3fef7c97337b9b5fULL, 0x3fefa4afa2a490daULL, 0x3fefd0765b6e4540ULL,
};

__device__ __forceinline__ float cls_expf(float x)
{
    const double inv_ln2_n = 0x1.71547652b82fep+5;  // 32 / ln 2
    const double shift = 0x1.8p+52;
    const unsigned int ux = __float_as_uint(x);
    const unsigned int abstop = (ux >> 20) & 0x7ffu;
    if (abstop >= 0x42bu) {  // |x| >= 88, or not finite
        if (ux == 0xff800000u) return 0.0f;                   // -inf
        if (abstop >= 0x7f8u) return x + x;                   // +inf, NaN
        if (x > 0x1.62e42ep6f) return __int_as_float(0x7f800000);  // overflow
        if (x < -0x1.9fe368p6f) return 0.0f;                  // underflow
        if (x < -0x1.9d1d9ep6f) return __int_as_float(1);     // the smallest subnormal
    }
    const double xd = static_cast<double>(x);
    // x * 32 / ln 2 = k + r, r in [-1/2, 1/2], k rounded to nearest through the shift.
    const double kd_shifted = fma(inv_ln2_n, xd, shift);
    const unsigned long long ki = static_cast<unsigned long long>(__double_as_longlong(kd_shifted));
    const double kd = kd_shifted - shift;
    const double r = fma(inv_ln2_n, xd, -kd);
    // e^x = 2^(k/32) * 2^(r/32) ~= s * (c0 r^3 + c1 r^2 + c2 r + 1)
    const unsigned long long t = CLS_EXP2F_TAB[ki & 31ULL] + (ki << 47);
    const double s = __longlong_as_double(static_cast<long long>(t));
    const double z = fma(r, 0x1.c6af84b912394p-20, 0x1.ebfce50fac4f3p-13);
    const double r2 = r * r;
    const double y0 = fma(r, 0x1.62e42ff0c52d6p-6, 1.0);
    const double y = fma(z, r2, y0) * s;
    return static_cast<float>(y);
}
