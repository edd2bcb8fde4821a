// Philox4x32-10 (Salmon et al. 2011), the CUDA twin of sim/philox.py.
//
// Every random draw of the model is philox4x32(counter, key) with the key from the seed and the
// counter (step, purpose, element, attempt); the same event draws the same numbers here as on
// the CPU. No includes, so NVRTC compiles it in a fraction of a second.
#pragma once

struct rl_uint4x32 { unsigned int x, y, z, w; };

__device__ __forceinline__ rl_uint4x32 rl_philox4x32(rl_uint4x32 c, unsigned int k0, unsigned int k1)
{
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        const unsigned int hi0 = __umulhi(0xD2511F53u, c.x);
        const unsigned int lo0 = 0xD2511F53u * c.x;
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c.z);
        const unsigned int lo1 = 0xCD9E8D57u * c.z;
        c = rl_uint4x32{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

// Second counter word: the purpose in the low 16 bits, step bits 32..47 above (see philox.py).
__device__ __forceinline__ unsigned int rl_counter_word1(unsigned int purpose, unsigned long long step)
{
    return purpose | (static_cast<unsigned int>(step >> 32) << 16);
}

// Exact float32 uniform in [0, 1) from a 32-bit word.
__device__ __forceinline__ float rl_uniform(unsigned int x) { return static_cast<float>(x >> 8) * 5.9604644775390625e-8f; }

// Integer in [0, n) from a 32-bit word (multiply-shift).
__device__ __forceinline__ unsigned int rl_below(unsigned int x, unsigned int n) { return __umulhi(x, n); }
