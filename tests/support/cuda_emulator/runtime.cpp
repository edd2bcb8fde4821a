// Fiber scheduler of the CUDA emulator: runs a kernel launch on the calling OS thread.
//
// Blocks run one after another. The threads of a block are fibers, each with its own stack from a
// pool that lives as long as the process. A fiber runs until it arrives at a block barrier
// (__syncthreads and its variants) or a warp collective (__shfl_sync, __ballot_sync, ...), or
// until its thread returns; then the scheduler runs the next fiber. When every fiber has stopped,
// the scheduler resolves what can be resolved: a warp collective once every live lane named in its
// mask waits at it, the block barrier once every live thread of the block waits at it. Threads
// that returned count as arrived at the block barrier and as inactive lanes in warp collectives.
// Nothing left to resolve while threads still wait is reported as a deadlock.
//
// A fiber is started once with makecontext/setcontext and then loops: run a thread of the
// kernel, report completion, wait for the next thread. Switching between the scheduler and a
// fiber uses _setjmp/_longjmp, which (unlike swapcontext) makes no system call.
//
// The order in which the scheduler runs blocks and runnable fibers is the launch's schedule:
// forward (ascending linear index), reverse or shuffle (seeded pseudo-random permutations).
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "emu_cuda.h"

extern "C" {
__attribute__((visibility("default"))) uint3 threadIdx = {0, 0, 0};
__attribute__((visibility("default"))) uint3 blockIdx = {0, 0, 0};
__attribute__((visibility("default"))) dim3 blockDim = dim3(1, 1, 1);
__attribute__((visibility("default"))) dim3 gridDim = dim3(1, 1, 1);
}

namespace {

constexpr size_t kStackBytes = 64 * 1024;
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kDynamicSharedBytes = 256 * 1024;

enum State { READY, AT_BARRIER, AT_WARP, DONE };
enum Schedule { FORWARD = 0, REVERSE = 1, SHUFFLE = 2 };

const char* const kWarpOpNames[EMU_WARP_OP_COUNT] = {
    "__syncwarp",        "__activemask",      "__ballot_sync",     "__any_sync",        "__all_sync",
    "__shfl_sync",       "__shfl_up_sync",    "__shfl_down_sync",  "__shfl_xor_sync",   "__reduce_add_sync",
    "__reduce_min_sync", "__reduce_max_sync", "__reduce_min_sync", "__reduce_max_sync", "__reduce_and_sync",
    "__reduce_or_sync",  "__reduce_xor_sync", "__match_any_sync",  "__match_all_sync",
};

struct Fiber {
    jmp_buf ctx;           // where the fiber waits while the scheduler runs
    ucontext_t start;      // entry context, used once per (re)start
    char* stack = nullptr;
    bool fresh = true;     // not started yet: enter through `start`
    bool in_body = false;  // suspended inside a kernel thread (not at the loop point)
    State state = DONE;
    unsigned tid = 0;  // linear thread index in the block
    uint3 idx = {0, 0, 0};
    // What the fiber waits for, and the result it gets.
    int op = 0;
    unsigned mask = 0;
    unsigned long long value = 0;
    int arg = 0;
    int width = 32;
    unsigned long long result = 0;
    int result2 = 0;
};

std::vector<Fiber*> g_pool;
Fiber* g_current = nullptr;
jmp_buf g_sched;
void (*g_thunk)(void**) = nullptr;
void** g_args = nullptr;
bool g_failed = false;
std::string g_error;
unsigned long long g_switches = 0;
unsigned long long g_rng = 0;
std::vector<unsigned> g_ready;    // threads to run next, in schedule order
std::vector<unsigned> g_running;  // threads of the current pass
alignas(256) unsigned char g_dynamic_shared[kDynamicSharedBytes];

unsigned long long next_random() {  // splitmix64
    unsigned long long z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fiber_main();

void prepare(Fiber* f) {
    getcontext(&f->start);
    f->start.uc_stack.ss_sp = f->stack;
    f->start.uc_stack.ss_size = kStackBytes;
    f->start.uc_link = nullptr;
    makecontext(&f->start, fiber_main, 0);
    f->fresh = true;
    f->in_body = false;
}

bool ensure_pool(size_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    while (g_pool.size() < n) {
        void* mem = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
        if (mem == MAP_FAILED) return false;
        mprotect(mem, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting memory
        Fiber* f = new Fiber();
        f->stack = static_cast<char*>(mem) + page;
        prepare(f);
        g_pool.push_back(f);
    }
    return true;
}

// Scheduler side: run fiber `f` until it stops again.
__attribute__((noinline)) void resume(Fiber* f) {
    g_current = f;
    threadIdx = f->idx;
    ++g_switches;
    if (_setjmp(g_sched) == 0) {
        if (f->fresh) {
            f->fresh = false;
            setcontext(&f->start);
        }
        _longjmp(f->ctx, 1);
    }
}

// Fiber side: hand control back to the scheduler; returns when the scheduler resumes this fiber.
__attribute__((noinline)) void suspend(Fiber* f) {
    if (_setjmp(f->ctx) == 0) _longjmp(g_sched, 1);
}

void fiber_main() {
    for (;;) {
        Fiber* f = g_current;
        f->in_body = true;
        g_thunk(g_args);
        f->in_body = false;
        f->state = DONE;
        suspend(f);
    }
}

Fiber* current_or_die(const char* what) {
    if (g_current == nullptr) {
        std::fprintf(stderr, "CUDA emulator: %s called outside a kernel launch\n", what);
        std::abort();
    }
    return g_current;
}

void fail(const std::string& message) {
    if (!g_failed) {
        g_failed = true;
        g_error = message;
    }
}

std::string where(const Fiber* f) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", blockIdx.x, blockIdx.y, blockIdx.z, f->idx.x,
                  f->idx.y, f->idx.z);
    return buf;
}

void order(std::vector<unsigned>& v, int schedule) {
    if (schedule == REVERSE) {
        for (size_t i = 0, j = v.size(); i + 1 < j; ++i, --j) std::swap(v[i], v[j - 1]);
    } else if (schedule == SHUFFLE) {
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[next_random() % i]);
    }
}

// Resolves the warp collectives whose lanes have all arrived; appends released threads to g_ready.
void resolve_warp(Fiber* const* lanes, unsigned count) {
    unsigned live = 0, waiting = 0, active = 0;
    for (unsigned l = 0; l < count; ++l) {
        if (lanes[l]->state != DONE) live |= 1u << l;
        if (lanes[l]->state == AT_WARP) {
            if (lanes[l]->op == EMU_ACTIVEMASK)
                active |= 1u << l;
            else
                waiting |= 1u << l;
        }
    }
    // __activemask: the lanes that wait at it together.
    for (unsigned l = 0; l < count; ++l) {
        if (active & (1u << l)) {
            lanes[l]->result = active;
            lanes[l]->state = READY;
            g_ready.push_back(lanes[l]->tid);
        }
    }
    unsigned pending = waiting;
    while (pending != 0) {
        const unsigned first = static_cast<unsigned>(__builtin_ctz(pending));
        const unsigned mask = lanes[first]->mask;
        unsigned group = 0;
        for (unsigned l = 0; l < count; ++l)
            if ((pending & (1u << l)) && lanes[l]->mask == mask) group |= 1u << l;
        pending &= ~group;
        if ((group & ~mask) != 0) {
            const unsigned bad = static_cast<unsigned>(__builtin_ctz(group & ~mask));
            fail(std::string(kWarpOpNames[lanes[bad]->op]) + " called with a mask that leaves out the calling lane in " +
                 where(lanes[bad]));
            return;
        }
        if ((mask & live & ~group) != 0) continue;  // lanes of the mask still on their way
        const int op = lanes[first]->op;
        for (unsigned l = 0; l < count; ++l) {
            if ((group & (1u << l)) && lanes[l]->op != op) {
                fail(std::string("lanes of one warp wait at different warp collectives (") + kWarpOpNames[op] + " and " +
                     kWarpOpNames[lanes[l]->op] + ") in " + where(lanes[l]));
                return;
            }
        }
        unsigned long long acc = 0;
        int any = 0, all = 1;
        switch (op) {
            case EMU_REDUCE_MIN_U: acc = ~0ull; break;
            case EMU_REDUCE_AND: acc = 0xffffffffull; break;
            case EMU_REDUCE_MIN_S: acc = static_cast<unsigned long long>(LLONG_MAX); break;
            case EMU_REDUCE_MAX_S: acc = static_cast<unsigned long long>(LLONG_MIN); break;
            default: break;
        }
        for (unsigned l = 0; l < count; ++l) {
            if (!(group & (1u << l))) continue;
            const unsigned long long v = lanes[l]->value;
            const long long sv = static_cast<long long>(v), sa = static_cast<long long>(acc);
            switch (op) {
                case EMU_BALLOT: acc |= (v != 0) ? (1ull << l) : 0; break;
                case EMU_ANY: any |= (v != 0); break;
                case EMU_ALL: all &= (v != 0); break;
                case EMU_REDUCE_ADD: acc += v; break;
                case EMU_REDUCE_MIN_U: acc = v < acc ? v : acc; break;
                case EMU_REDUCE_MAX_U: acc = v > acc ? v : acc; break;
                case EMU_REDUCE_MIN_S: acc = static_cast<unsigned long long>(sv < sa ? sv : sa); break;
                case EMU_REDUCE_MAX_S: acc = static_cast<unsigned long long>(sv > sa ? sv : sa); break;
                case EMU_REDUCE_AND: acc &= v; break;
                case EMU_REDUCE_OR: acc |= v; break;
                case EMU_REDUCE_XOR: acc ^= v; break;
                default: break;
            }
        }
        for (unsigned l = 0; l < count; ++l) {
            if (!(group & (1u << l))) continue;
            Fiber* f = lanes[l];
            const int w = f->width;
            if (op >= EMU_SHFL && op <= EMU_SHFL_XOR && (w < 1 || w > 32 || (w & (w - 1)) != 0)) {
                fail(std::string(kWarpOpNames[op]) + " called with width " + std::to_string(w) +
                     " (not a power of two up to 32) in " + where(f));
                return;
            }
            long long src = l;
            const long long seg = l & ~static_cast<unsigned>(w - 1), pos = l & static_cast<unsigned>(w - 1);
            switch (op) {
                case EMU_SHFL: src = seg + (f->arg & (w - 1)); break;
                case EMU_SHFL_UP: src = (f->arg >= 0 && pos >= f->arg) ? l - f->arg : l; break;
                case EMU_SHFL_DOWN: src = (f->arg >= 0 && pos + f->arg < w) ? l + f->arg : l; break;
                case EMU_SHFL_XOR:
                    src = static_cast<long long>(l) ^ f->arg;
                    if (src < 0 || src > 31 || src >= seg + w) src = l;
                    break;
                default: break;
            }
            switch (op) {
                case EMU_SHFL:
                case EMU_SHFL_UP:
                case EMU_SHFL_DOWN:
                case EMU_SHFL_XOR:
                    f->result = (src >= 0 && src < 32 && (group & (1u << src))) ? lanes[src]->value : f->value;
                    break;
                case EMU_ANY: f->result = static_cast<unsigned long long>(any); break;
                case EMU_ALL: f->result = static_cast<unsigned long long>(all); break;
                case EMU_REDUCE_ADD:
                case EMU_REDUCE_AND:
                case EMU_REDUCE_OR:
                case EMU_REDUCE_XOR:
                case EMU_REDUCE_MIN_U:
                case EMU_REDUCE_MAX_U: f->result = acc & 0xffffffffull; break;
                case EMU_MATCH_ANY: {
                    unsigned same = 0;
                    for (unsigned k = 0; k < count; ++k)
                        if ((group & (1u << k)) && lanes[k]->value == f->value) same |= 1u << k;
                    f->result = same;
                    break;
                }
                case EMU_MATCH_ALL: {
                    bool equal = true;
                    for (unsigned k = 0; k < count; ++k)
                        if ((group & (1u << k)) && lanes[k]->value != f->value) equal = false;
                    f->result = equal ? group : 0u;
                    f->result2 = equal ? 1 : 0;
                    break;
                }
                case EMU_SYNCWARP: f->result = 0; break;
                default: f->result = acc; break;
            }
            f->state = READY;
            g_ready.push_back(f->tid);
        }
    }
}

std::string describe_deadlock(unsigned n) {
    unsigned at_barrier = 0, at_warp = 0, done = 0;
    std::string examples;
    int shown = 0;
    for (unsigned t = 0; t < n; ++t) {
        const Fiber* f = g_pool[t];
        if (f->state == DONE) ++done;
        if (f->state == AT_BARRIER) ++at_barrier;
        if (f->state == AT_WARP) {
            ++at_warp;
            if (shown < 4) {
                char buf[160];
                std::snprintf(buf, sizeof buf, "; thread (%u,%u,%u) waits at %s(mask=0x%08x)", f->idx.x, f->idx.y, f->idx.z,
                              kWarpOpNames[f->op], f->mask);
                examples += buf;
                ++shown;
            }
        }
    }
    char head[200];
    std::snprintf(head, sizeof head,
                  "deadlock in block (%u,%u,%u): %u threads wait at __syncthreads, %u at warp collectives, %u returned",
                  blockIdx.x, blockIdx.y, blockIdx.z, at_barrier, at_warp, done);
    return head + examples;
}

// Runs one block; false on an error (g_error says which).
bool run_block(unsigned n, int schedule) {
    for (unsigned t = 0; t < n; ++t) {
        Fiber* f = g_pool[t];
        f->tid = t;
        f->idx = uint3{t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y)};
        f->state = READY;
    }
    g_ready.clear();
    for (unsigned t = 0; t < n; ++t) g_ready.push_back(t);
    order(g_ready, schedule);
    for (;;) {
        g_running.swap(g_ready);
        g_ready.clear();
        for (unsigned t : g_running) {
            resume(g_pool[t]);
            if (g_failed) return false;
        }
        unsigned live = 0, at_barrier = 0, at_warp = 0;
        for (unsigned t = 0; t < n; ++t) {
            const State s = g_pool[t]->state;
            live += s != DONE;
            at_barrier += s == AT_BARRIER;
            at_warp += s == AT_WARP;
        }
        if (live == 0) return true;
        if (at_warp > 0) {
            for (unsigned base = 0; base < n; base += 32) {
                const unsigned count = n - base < 32 ? n - base : 32;
                resolve_warp(&g_pool[base], count);
                if (g_failed) return false;
            }
        }
        if (g_ready.empty() && at_barrier == live) {
            int count = 0, all = 1, any = 0;
            for (unsigned t = 0; t < n; ++t) {
                const Fiber* f = g_pool[t];
                if (f->state != AT_BARRIER) continue;
                count += f->value != 0;
                all &= f->value != 0;
                any |= f->value != 0;
            }
            for (unsigned t = 0; t < n; ++t) {
                Fiber* f = g_pool[t];
                if (f->state != AT_BARRIER) continue;
                f->result = f->op == EMU_BAR_COUNT ? count : f->op == EMU_BAR_AND ? all : f->op == EMU_BAR_OR ? any : 0;
                f->state = READY;
                g_ready.push_back(t);
            }
        }
        if (g_ready.empty()) {
            fail(describe_deadlock(n));
            return false;
        }
        order(g_ready, schedule);
    }
}

// After an error the suspended fibers are abandoned: restart them from scratch next time.
void reset_suspended() {
    for (Fiber* f : g_pool) {
        if (f->in_body) prepare(f);
        f->state = DONE;
    }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int emu_block_sync(int op, int pred) {
    Fiber* f = current_or_die("__syncthreads");
    f->state = AT_BARRIER;
    f->op = op;
    f->value = pred != 0;
    suspend(f);
    return static_cast<int>(f->result);
}

__attribute__((visibility("default"))) unsigned long long emu_warp_sync(int op, unsigned int mask,
                                                                         unsigned long long value, int arg, int width) {
    Fiber* f = current_or_die("a warp collective");
    f->state = AT_WARP;
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->arg = arg;
    f->width = width;
    f->result2 = 0;
    suspend(f);
    return f->result;
}

__attribute__((visibility("default"))) int emu_warp_result2(void) { return current_or_die("__match_all_sync")->result2; }

__attribute__((visibility("default"))) void* emu_dynamic_shared(void) { return g_dynamic_shared; }

__attribute__((visibility("default"))) void emu_trap(const char* what) {
    Fiber* f = current_or_die("__trap");
    fail(std::string(what) + " in " + where(f));
    _longjmp(g_sched, 1);
}

__attribute__((visibility("default"))) void emu_assert_fail(const char* expr, const char* file, unsigned int line,
                                                            const char* func) {
    Fiber* f = current_or_die("assert");
    // The message CUDA prints for a failed device-side assert.
    std::fprintf(stderr, "%s:%u: %s: block: [%u,%u,%u], thread: [%u,%u,%u] Assertion `%s` failed.\n", file, line, func,
                 blockIdx.x, blockIdx.y, blockIdx.z, f->idx.x, f->idx.y, f->idx.z, expr);
    std::fflush(stderr);
    fail(std::string("device-side assert triggered: ") + file + ":" + std::to_string(line) + ": Assertion `" + expr +
         "` failed in " + where(f));
    _longjmp(g_sched, 1);
}

// Runs a launch of `thunk` (which unpacks `args` and calls the kernel) to completion.
// Returns 0, or 1 with the reason in emu_last_error().
__attribute__((visibility("default"))) int emu_launch(void (*thunk)(void**), void** args, unsigned gx, unsigned gy,
                                                      unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                                      unsigned long long shared_bytes, int schedule,
                                                      unsigned long long seed) {
    g_failed = false;
    g_error.clear();
    const unsigned long long threads = static_cast<unsigned long long>(bx) * by * bz;
    if (thunk == nullptr || gx == 0 || gy == 0 || gz == 0 || threads == 0 || threads > kMaxThreads) {
        fail("invalid launch configuration");
        return 1;
    }
    if (shared_bytes > kDynamicSharedBytes) {
        fail("dynamic shared memory request too large");
        return 1;
    }
    const unsigned n = static_cast<unsigned>(threads);
    if (!ensure_pool(n)) {
        fail("cannot allocate fiber stacks");
        return 1;
    }
    g_thunk = thunk;
    g_args = args;
    g_rng = seed;
    gridDim = dim3(gx, gy, gz);
    blockDim = dim3(bx, by, bz);
    std::memset(g_dynamic_shared, 0, shared_bytes);
    const unsigned long long blocks = static_cast<unsigned long long>(gx) * gy * gz;
    std::vector<unsigned long long> perm;
    if (schedule == SHUFFLE) {
        perm.resize(blocks);
        for (unsigned long long b = 0; b < blocks; ++b) perm[b] = b;
        for (unsigned long long i = blocks; i > 1; --i) std::swap(perm[i - 1], perm[next_random() % i]);
    }
    bool ok = true;
    for (unsigned long long k = 0; k < blocks && ok; ++k) {
        const unsigned long long b = schedule == SHUFFLE ? perm[k] : schedule == REVERSE ? blocks - 1 - k : k;
        blockIdx = uint3{static_cast<unsigned>(b % gx), static_cast<unsigned>((b / gx) % gy),
                         static_cast<unsigned>(b / (static_cast<unsigned long long>(gx) * gy))};
        ok = run_block(n, schedule);
    }
    g_current = nullptr;
    std::fflush(stdout);
    if (!ok) {
        reset_suspended();
        return 1;
    }
    return 0;
}

__attribute__((visibility("default"))) const char* emu_last_error(void) { return g_error.c_str(); }

__attribute__((visibility("default"))) unsigned long long emu_switch_count(void) { return g_switches; }

}  // extern "C"
