// CUDA device-code shim of the CUDA emulator: pre-included (g++ -include) before every kernel
// source, so that CUDA C++ compiles as host C++.
//
// Execution model: the threads of a block are fibers on one OS thread (runtime.cpp). A fiber runs
// until it reaches __syncthreads(), a warp collective or its end; the scheduler then runs the next.
// Shared memory is static storage (blocks run one after another), atomics are plain
// read-modify-writes (fibers never switch inside them), and float arithmetic is IEEE
// single/double precision (the emulator compiles with -ffp-contract=off).
#pragma once
#ifndef RL_EMU_CUDA_H
#define RL_EMU_CUDA_H

#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <math.h>  // libstdc++'s wrapper: float overloads (exp(float), fabs(float), ...) in the global namespace
#include <type_traits>

// ---------------------------------------------------------------------------------------------
// Qualifiers. The emulator's source rewriting also turns __shared__ into static,
// `extern __shared__ T name[];` into a pointer to the launch's dynamic shared memory and
// __noinline__ into a GCC attribute (a macro would break libstdc++'s __attribute__((__noinline__))).
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
#define __constant__
#define __managed__
#define __grid_constant__
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 750
#endif

// ---------------------------------------------------------------------------------------------
// Vector types (CUDA's alignment: 2-vectors 2x, 4-vectors 4x the element, at most 16 bytes).
#define EMU_VECTOR_TYPES(T, N)                                                                  \
    struct __attribute__((aligned(sizeof(T)))) N##1 { T x; };                                   \
    struct __attribute__((aligned(2 * sizeof(T)))) N##2 { T x, y; };                            \
    struct N##3 { T x, y, z; };                                                                 \
    struct __attribute__((aligned(4 * sizeof(T) < 16 ? 4 * sizeof(T) : 16))) N##4 { T x, y, z, w; }; \
    static inline N##1 make_##N##1(T x) { return N##1{x}; }                                     \
    static inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }                             \
    static inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }                     \
    static inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }

EMU_VECTOR_TYPES(signed char, char)
EMU_VECTOR_TYPES(unsigned char, uchar)
EMU_VECTOR_TYPES(short, short)
EMU_VECTOR_TYPES(unsigned short, ushort)
EMU_VECTOR_TYPES(int, int)
EMU_VECTOR_TYPES(unsigned int, uint)
EMU_VECTOR_TYPES(long, long)
EMU_VECTOR_TYPES(unsigned long, ulong)
EMU_VECTOR_TYPES(long long, longlong)
EMU_VECTOR_TYPES(unsigned long long, ulonglong)
EMU_VECTOR_TYPES(float, float)
EMU_VECTOR_TYPES(double, double)
#undef EMU_VECTOR_TYPES

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

// ---------------------------------------------------------------------------------------------
// Runtime interface (runtime.cpp).
enum emu_warp_op {
    EMU_SYNCWARP,
    EMU_ACTIVEMASK,
    EMU_BALLOT,
    EMU_ANY,
    EMU_ALL,
    EMU_SHFL,
    EMU_SHFL_UP,
    EMU_SHFL_DOWN,
    EMU_SHFL_XOR,
    EMU_REDUCE_ADD,
    EMU_REDUCE_MIN_U,
    EMU_REDUCE_MAX_U,
    EMU_REDUCE_MIN_S,
    EMU_REDUCE_MAX_S,
    EMU_REDUCE_AND,
    EMU_REDUCE_OR,
    EMU_REDUCE_XOR,
    EMU_MATCH_ANY,
    EMU_MATCH_ALL,
    EMU_WARP_OP_COUNT
};

enum emu_block_op { EMU_BAR_SYNC, EMU_BAR_COUNT, EMU_BAR_AND, EMU_BAR_OR };

extern "C" {
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;

// Block barrier of kind emu_block_op; returns the count / and / or of the predicates.
int emu_block_sync(int op, int pred);
// Warp collective: waits for the lanes of `mask`, returns this lane's result.
unsigned long long emu_warp_sync(int op, unsigned int mask, unsigned long long value, int arg, int width);
// Second result of the last warp collective of this thread (the predicate of __match_all_sync).
int emu_warp_result2(void);
// The launch's dynamic shared memory (zeroed at the start of every launch).
void* emu_dynamic_shared(void);
// Stop the launch with an error (device-side trap).
[[noreturn]] void emu_trap(const char* what);
[[noreturn]] void emu_assert_fail(const char* expr, const char* file, unsigned int line, const char* func);
}

constexpr int warpSize = 32;

#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) \
    (static_cast<bool>(e) ? static_cast<void>(0) : emu_assert_fail(#e, __FILE__, __LINE__, __PRETTY_FUNCTION__))
#endif

static inline void __trap() { emu_trap("__trap() was called"); }
static inline void __brkpt() { emu_trap("__brkpt() was called"); }

// ---------------------------------------------------------------------------------------------
// Barriers and warp collectives.
static inline void __syncthreads() { emu_block_sync(EMU_BAR_SYNC, 0); }
static inline int __syncthreads_count(int pred) { return emu_block_sync(EMU_BAR_COUNT, pred); }
static inline int __syncthreads_and(int pred) { return emu_block_sync(EMU_BAR_AND, pred); }
static inline int __syncthreads_or(int pred) { return emu_block_sync(EMU_BAR_OR, pred); }

static inline void __syncwarp(unsigned int mask = 0xffffffffu) { emu_warp_sync(EMU_SYNCWARP, mask, 0, 0, 32); }
static inline unsigned int __activemask() {
    return static_cast<unsigned int>(emu_warp_sync(EMU_ACTIVEMASK, 0xffffffffu, 0, 0, 32));
}
static inline unsigned int __ballot_sync(unsigned int mask, int pred) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_BALLOT, mask, pred != 0, 0, 32));
}
static inline int __any_sync(unsigned int mask, int pred) {
    return static_cast<int>(emu_warp_sync(EMU_ANY, mask, pred != 0, 0, 32));
}
static inline int __all_sync(unsigned int mask, int pred) {
    return static_cast<int>(emu_warp_sync(EMU_ALL, mask, pred != 0, 0, 32));
}
static inline int __uni_sync(unsigned int mask, int pred) {
    const int all = __all_sync(mask, pred);
    return all || !__any_sync(mask, pred);
}

template <class T>
static inline unsigned long long emu_bits(T v) {
    static_assert(std::is_arithmetic<T>::value && sizeof(T) <= 8, "warp collectives take arithmetic values");
    unsigned long long u = 0;
    std::memcpy(&u, &v, sizeof(T));
    return u;
}
template <class T>
static inline T emu_from_bits(unsigned long long u) {
    T v;
    std::memcpy(&v, &u, sizeof(T));
    return v;
}
template <class T>
static inline T __shfl_sync(unsigned int mask, T var, int srcLane, int width = warpSize) {
    return emu_from_bits<T>(emu_warp_sync(EMU_SHFL, mask, emu_bits(var), srcLane, width));
}
template <class T>
static inline T __shfl_up_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize) {
    return emu_from_bits<T>(emu_warp_sync(EMU_SHFL_UP, mask, emu_bits(var), static_cast<int>(delta), width));
}
template <class T>
static inline T __shfl_down_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize) {
    return emu_from_bits<T>(emu_warp_sync(EMU_SHFL_DOWN, mask, emu_bits(var), static_cast<int>(delta), width));
}
template <class T>
static inline T __shfl_xor_sync(unsigned int mask, T var, int laneMask, int width = warpSize) {
    return emu_from_bits<T>(emu_warp_sync(EMU_SHFL_XOR, mask, emu_bits(var), laneMask, width));
}
template <class T>
static inline unsigned int __match_any_sync(unsigned int mask, T value) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_MATCH_ANY, mask, emu_bits(value), 0, 32));
}
template <class T>
static inline unsigned int __match_all_sync(unsigned int mask, T value, int* pred) {
    const unsigned int r = static_cast<unsigned int>(emu_warp_sync(EMU_MATCH_ALL, mask, emu_bits(value), 0, 32));
    *pred = emu_warp_result2();
    return r;
}
static inline unsigned int __reduce_add_sync(unsigned int mask, unsigned int v) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_REDUCE_ADD, mask, v, 0, 32));
}
static inline int __reduce_add_sync(unsigned int mask, int v) {
    return static_cast<int>(emu_warp_sync(EMU_REDUCE_ADD, mask, static_cast<unsigned int>(v), 0, 32));
}
static inline unsigned int __reduce_min_sync(unsigned int mask, unsigned int v) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_REDUCE_MIN_U, mask, v, 0, 32));
}
static inline int __reduce_min_sync(unsigned int mask, int v) {
    return static_cast<int>(emu_warp_sync(EMU_REDUCE_MIN_S, mask, static_cast<unsigned long long>(static_cast<long long>(v)), 0, 32));
}
static inline unsigned int __reduce_max_sync(unsigned int mask, unsigned int v) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_REDUCE_MAX_U, mask, v, 0, 32));
}
static inline int __reduce_max_sync(unsigned int mask, int v) {
    return static_cast<int>(emu_warp_sync(EMU_REDUCE_MAX_S, mask, static_cast<unsigned long long>(static_cast<long long>(v)), 0, 32));
}
static inline unsigned int __reduce_and_sync(unsigned int mask, unsigned int v) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_REDUCE_AND, mask, v, 0, 32));
}
static inline unsigned int __reduce_or_sync(unsigned int mask, unsigned int v) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_REDUCE_OR, mask, v, 0, 32));
}
static inline unsigned int __reduce_xor_sync(unsigned int mask, unsigned int v) {
    return static_cast<unsigned int>(emu_warp_sync(EMU_REDUCE_XOR, mask, v, 0, 32));
}

// ---------------------------------------------------------------------------------------------
// Atomics: the overloads CUDA declares, as plain read-modify-writes (wrap-around integer math).
#define EMU_ATOMIC_RMW(NAME, T, EXPR)          \
    static inline T NAME(T* address, T val) { \
        const T old = *address;                \
        *address = (EXPR);                     \
        return old;                            \
    }
#define EMU_WRAP_ADD(T, U) static_cast<T>(static_cast<U>(old) + static_cast<U>(val))
#define EMU_WRAP_SUB(T, U) static_cast<T>(static_cast<U>(old) - static_cast<U>(val))

EMU_ATOMIC_RMW(atomicAdd, int, EMU_WRAP_ADD(int, unsigned int))
EMU_ATOMIC_RMW(atomicAdd, unsigned int, old + val)
EMU_ATOMIC_RMW(atomicAdd, unsigned long long, old + val)
EMU_ATOMIC_RMW(atomicAdd, float, old + val)
EMU_ATOMIC_RMW(atomicAdd, double, old + val)
EMU_ATOMIC_RMW(atomicSub, int, EMU_WRAP_SUB(int, unsigned int))
EMU_ATOMIC_RMW(atomicSub, unsigned int, old - val)
EMU_ATOMIC_RMW(atomicExch, int, val)
EMU_ATOMIC_RMW(atomicExch, unsigned int, val)
EMU_ATOMIC_RMW(atomicExch, unsigned long long, val)
EMU_ATOMIC_RMW(atomicExch, float, val)
EMU_ATOMIC_RMW(atomicMin, int, val < old ? val : old)
EMU_ATOMIC_RMW(atomicMin, unsigned int, val < old ? val : old)
EMU_ATOMIC_RMW(atomicMin, long long, val < old ? val : old)
EMU_ATOMIC_RMW(atomicMin, unsigned long long, val < old ? val : old)
EMU_ATOMIC_RMW(atomicMax, int, val > old ? val : old)
EMU_ATOMIC_RMW(atomicMax, unsigned int, val > old ? val : old)
EMU_ATOMIC_RMW(atomicMax, long long, val > old ? val : old)
EMU_ATOMIC_RMW(atomicMax, unsigned long long, val > old ? val : old)
EMU_ATOMIC_RMW(atomicAnd, int, old & val)
EMU_ATOMIC_RMW(atomicAnd, unsigned int, old & val)
EMU_ATOMIC_RMW(atomicAnd, long long, old & val)
EMU_ATOMIC_RMW(atomicAnd, unsigned long long, old & val)
EMU_ATOMIC_RMW(atomicOr, int, old | val)
EMU_ATOMIC_RMW(atomicOr, unsigned int, old | val)
EMU_ATOMIC_RMW(atomicOr, long long, old | val)
EMU_ATOMIC_RMW(atomicOr, unsigned long long, old | val)
EMU_ATOMIC_RMW(atomicXor, int, old ^ val)
EMU_ATOMIC_RMW(atomicXor, unsigned int, old ^ val)
EMU_ATOMIC_RMW(atomicXor, long long, old ^ val)
EMU_ATOMIC_RMW(atomicXor, unsigned long long, old ^ val)
EMU_ATOMIC_RMW(atomicInc, unsigned int, old >= val ? 0u : old + 1u)
EMU_ATOMIC_RMW(atomicDec, unsigned int, (old == 0u || old > val) ? val : old - 1u)
#undef EMU_ATOMIC_RMW
#undef EMU_WRAP_ADD
#undef EMU_WRAP_SUB

#define EMU_ATOMIC_CAS(T)                                          \
    static inline T atomicCAS(T* address, T compare, T val) {      \
        const T old = *address;                                    \
        if (old == compare) *address = val;                        \
        return old;                                                \
    }
EMU_ATOMIC_CAS(int)
EMU_ATOMIC_CAS(unsigned int)
EMU_ATOMIC_CAS(unsigned long long)
EMU_ATOMIC_CAS(unsigned short)
#undef EMU_ATOMIC_CAS

// The _block and _system scopes behave like the device scope here.
#define EMU_ATOMIC_SCOPES(NAME)                                                          \
    template <class T, class... A>                                                       \
    static inline auto NAME##_block(T* p, A... a) -> decltype(NAME(p, a...)) { return NAME(p, a...); } \
    template <class T, class... A>                                                       \
    static inline auto NAME##_system(T* p, A... a) -> decltype(NAME(p, a...)) { return NAME(p, a...); }
EMU_ATOMIC_SCOPES(atomicAdd)
EMU_ATOMIC_SCOPES(atomicSub)
EMU_ATOMIC_SCOPES(atomicExch)
EMU_ATOMIC_SCOPES(atomicMin)
EMU_ATOMIC_SCOPES(atomicMax)
EMU_ATOMIC_SCOPES(atomicAnd)
EMU_ATOMIC_SCOPES(atomicOr)
EMU_ATOMIC_SCOPES(atomicXor)
EMU_ATOMIC_SCOPES(atomicInc)
EMU_ATOMIC_SCOPES(atomicDec)
EMU_ATOMIC_SCOPES(atomicCAS)
#undef EMU_ATOMIC_SCOPES

// Memory fences and sleeps: one OS thread runs everything, so they have nothing to order.
static inline void __threadfence() {}
static inline void __threadfence_block() {}
static inline void __threadfence_system() {}
static inline void __nanosleep(unsigned int) {}
static inline long long clock64() {
    static long long ticks = 0;
    return ++ticks;
}

// Cache-hinted loads and stores are plain memory accesses.
template <class T> static inline T __ldg(const T* p) { return *p; }
template <class T> static inline T __ldca(const T* p) { return *p; }
template <class T> static inline T __ldcg(const T* p) { return *p; }
template <class T> static inline T __ldcs(const T* p) { return *p; }
template <class T> static inline T __ldlu(const T* p) { return *p; }
template <class T> static inline T __ldcv(const T* p) { return *p; }
template <class T> static inline void __stwb(T* p, T v) { *p = v; }
template <class T> static inline void __stcg(T* p, T v) { *p = v; }
template <class T> static inline void __stcs(T* p, T v) { *p = v; }
template <class T> static inline void __stwt(T* p, T v) { *p = v; }

// ---------------------------------------------------------------------------------------------
// Integer intrinsics.
static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}
static inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
static inline long long __mul64hi(long long a, long long b) {
    return static_cast<long long>((static_cast<__int128>(a) * b) >> 64);
}
static inline int __mul24(int a, int b) {
    return static_cast<int>(static_cast<unsigned int>((a << 8) >> 8) * static_cast<unsigned int>((b << 8) >> 8));
}
static inline unsigned int __umul24(unsigned int a, unsigned int b) { return (a & 0xffffffu) * (b & 0xffffffu); }
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(x)); }
static inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
static inline unsigned int __brev(unsigned int x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
static inline unsigned long long __brevll(unsigned long long x) {
    return (static_cast<unsigned long long>(__brev(static_cast<unsigned int>(x))) << 32) | __brev(static_cast<unsigned int>(x >> 32));
}
static inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s) {
    const unsigned long long v = (static_cast<unsigned long long>(y) << 32) | x;
    unsigned int r = 0;
    for (int i = 0; i < 4; ++i) r |= static_cast<unsigned int>((v >> (8 * ((s >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
    return r;
}
static inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int shift) {
    const unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>((v << (shift & 31u)) >> 32);
}
static inline unsigned int __funnelshift_lc(unsigned int lo, unsigned int hi, unsigned int shift) {
    const unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>((v << (shift < 32u ? shift : 32u)) >> 32);
}
static inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int shift) {
    const unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>(v >> (shift & 31u));
}
static inline unsigned int __funnelshift_rc(unsigned int lo, unsigned int hi, unsigned int shift) {
    const unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>(v >> (shift < 32u ? shift : 32u));
}
static inline int __hadd(int a, int b) { return static_cast<int>((static_cast<long long>(a) + b) >> 1); }
static inline int __rhadd(int a, int b) { return static_cast<int>((static_cast<long long>(a) + b + 1) >> 1); }
static inline unsigned int __uhadd(unsigned int a, unsigned int b) {
    return static_cast<unsigned int>((static_cast<unsigned long long>(a) + b) >> 1);
}
static inline unsigned int __urhadd(unsigned int a, unsigned int b) {
    return static_cast<unsigned int>((static_cast<unsigned long long>(a) + b + 1) >> 1);
}
static inline unsigned int __sad(int x, int y, unsigned int z) {
    return z + static_cast<unsigned int>(x > y ? static_cast<long long>(x) - y : static_cast<long long>(y) - x);
}
static inline unsigned int __usad(unsigned int x, unsigned int y, unsigned int z) { return z + (x > y ? x - y : y - x); }

// ---------------------------------------------------------------------------------------------
// min / max: the overload set of CUDA's math_functions.hpp (mixed signedness goes unsigned).
static inline int min(int a, int b) { return a < b ? a : b; }
static inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
static inline unsigned int min(int a, unsigned int b) { return min(static_cast<unsigned int>(a), b); }
static inline unsigned int min(unsigned int a, int b) { return min(a, static_cast<unsigned int>(b)); }
static inline long min(long a, long b) { return a < b ? a : b; }
static inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
static inline unsigned long min(long a, unsigned long b) { return min(static_cast<unsigned long>(a), b); }
static inline unsigned long min(unsigned long a, long b) { return min(a, static_cast<unsigned long>(b)); }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
static inline unsigned long long min(long long a, unsigned long long b) { return min(static_cast<unsigned long long>(a), b); }
static inline unsigned long long min(unsigned long long a, long long b) { return min(a, static_cast<unsigned long long>(b)); }
static inline float min(float a, float b) { return fminf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double min(float a, double b) { return fmin(static_cast<double>(a), b); }
static inline double min(double a, float b) { return fmin(a, static_cast<double>(b)); }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
static inline unsigned int max(int a, unsigned int b) { return max(static_cast<unsigned int>(a), b); }
static inline unsigned int max(unsigned int a, int b) { return max(a, static_cast<unsigned int>(b)); }
static inline long max(long a, long b) { return a > b ? a : b; }
static inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
static inline unsigned long max(long a, unsigned long b) { return max(static_cast<unsigned long>(a), b); }
static inline unsigned long max(unsigned long a, long b) { return max(a, static_cast<unsigned long>(b)); }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
static inline unsigned long long max(long long a, unsigned long long b) { return max(static_cast<unsigned long long>(a), b); }
static inline unsigned long long max(unsigned long long a, long long b) { return max(a, static_cast<unsigned long long>(b)); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }
static inline double max(float a, double b) { return fmax(static_cast<double>(a), b); }
static inline double max(double a, float b) { return fmax(a, static_cast<double>(b)); }
static inline unsigned int umin(unsigned int a, unsigned int b) { return a < b ? a : b; }
static inline unsigned int umax(unsigned int a, unsigned int b) { return a > b ? a : b; }
static inline long long llmin(long long a, long long b) { return a < b ? a : b; }
static inline long long llmax(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long long ullmin(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
static inline unsigned long long ullmax(unsigned long long a, unsigned long long b) { return a > b ? a : b; }

// ---------------------------------------------------------------------------------------------
// Floating-point intrinsics. The _rn operations are IEEE operations (correctly rounded, never
// contracted); the approximate ones (__expf, __sinf, __fdividef, ...) use the precise host
// functions, so their last bits can differ from a GPU's.
static inline int __float_as_int(float x) { return emu_from_bits<int>(emu_bits(x)); }
static inline unsigned int __float_as_uint(float x) { return emu_from_bits<unsigned int>(emu_bits(x)); }
static inline float __int_as_float(int x) { return emu_from_bits<float>(emu_bits(x)); }
static inline float __uint_as_float(unsigned int x) { return emu_from_bits<float>(emu_bits(x)); }
static inline long long __double_as_longlong(double x) { return emu_from_bits<long long>(emu_bits(x)); }
static inline double __longlong_as_double(long long x) { return emu_from_bits<double>(emu_bits(x)); }
static inline int __double2hiint(double x) { return static_cast<int>(__double_as_longlong(x) >> 32); }
static inline int __double2loint(double x) { return static_cast<int>(__double_as_longlong(x)); }
static inline double __hiloint2double(int hi, int lo) {
    return __longlong_as_double(static_cast<long long>((static_cast<unsigned long long>(static_cast<unsigned int>(hi)) << 32) |
                                                       static_cast<unsigned int>(lo)));
}

static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline float __frcp_rn(float a) { return 1.0f / a; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline float __frsqrt_rn(float a) { return static_cast<float>(1.0 / sqrt(static_cast<double>(a))); }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
static inline double __drcp_rn(double a) { return 1.0 / a; }
static inline double __dsqrt_rn(double a) { return sqrt(a); }
static inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); }
static inline float __fdividef(float a, float b) { return a / b; }
static inline float fdividef(float a, float b) { return a / b; }
// glibc declares the precise __expf, __logf, __sinf, ... (its internal names); elsewhere define them.
#ifndef __GLIBC__
static inline float __expf(float x) { return expf(x); }
static inline float __exp10f(float x) { return exp10f(x); }
static inline float __logf(float x) { return logf(x); }
static inline float __log2f(float x) { return log2f(x); }
static inline float __log10f(float x) { return log10f(x); }
static inline float __powf(float a, float b) { return powf(a, b); }
static inline float __sinf(float x) { return sinf(x); }
static inline float __cosf(float x) { return cosf(x); }
static inline float __tanf(float x) { return tanf(x); }
static inline void __sincosf(float x, float* s, float* c) { sincosf(x, s, c); }
#endif
static inline float rsqrtf(float x) { return static_cast<float>(1.0 / sqrt(static_cast<double>(x))); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float rcbrtf(float x) { return static_cast<float>(1.0 / cbrt(static_cast<double>(x))); }
static inline double rcbrt(double x) { return 1.0 / cbrt(x); }
static inline float sinpif(float x) { return static_cast<float>(sin(M_PI * static_cast<double>(x))); }
static inline float cospif(float x) { return static_cast<float>(cos(M_PI * static_cast<double>(x))); }
static inline double sinpi(double x) { return sin(M_PI * x); }
static inline double cospi(double x) { return cos(M_PI * x); }
static inline void sincospif(float x, float* s, float* c) {
    *s = sinpif(x);
    *c = cospif(x);
}
static inline float normcdff(float x) { return 0.5f * erfcf(-x * static_cast<float>(M_SQRT1_2)); }
static inline double normcdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }

// Conversions with CUDA's saturation (NaN gives 0) and explicit rounding.
template <class I, class F>
static inline I emu_f2i(F x) {
    if (x != x) return 0;
    if (x <= static_cast<F>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
    if (x >= static_cast<F>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    return static_cast<I>(x);
}
#define EMU_F2I(SRC, F, DST, I)                                                             \
    static inline I __##SRC##2##DST##_rn(F x) { return emu_f2i<I, F>(std::nearbyint(x)); } \
    static inline I __##SRC##2##DST##_rz(F x) { return emu_f2i<I, F>(std::trunc(x)); }    \
    static inline I __##SRC##2##DST##_rd(F x) { return emu_f2i<I, F>(std::floor(x)); }    \
    static inline I __##SRC##2##DST##_ru(F x) { return emu_f2i<I, F>(std::ceil(x)); }
EMU_F2I(float, float, int, int)
EMU_F2I(float, float, uint, unsigned int)
EMU_F2I(float, float, ll, long long)
EMU_F2I(float, float, ull, unsigned long long)
EMU_F2I(double, double, int, int)
EMU_F2I(double, double, uint, unsigned int)
EMU_F2I(double, double, ll, long long)
EMU_F2I(double, double, ull, unsigned long long)
#undef EMU_F2I
static inline float __int2float_rn(int x) { return static_cast<float>(x); }
static inline float __uint2float_rn(unsigned int x) { return static_cast<float>(x); }
static inline float __ll2float_rn(long long x) { return static_cast<float>(x); }
static inline float __ull2float_rn(unsigned long long x) { return static_cast<float>(x); }
static inline double __int2double_rn(int x) { return static_cast<double>(x); }
static inline double __uint2double_rn(unsigned int x) { return static_cast<double>(x); }
static inline double __ll2double_rn(long long x) { return static_cast<double>(x); }
static inline double __ull2double_rn(unsigned long long x) { return static_cast<double>(x); }
static inline float __double2float_rn(double x) { return static_cast<float>(x); }

#endif  // RL_EMU_CUDA_H
