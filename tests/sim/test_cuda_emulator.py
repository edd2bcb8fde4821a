"""The CUDA emulator of the test suite (tests/support/cuda_emulator) runs CUDA kernels correctly.

It compiles kernel sources with g++ and runs the threads of a block as fibers, so these tests
need g++ (and skip without it). Kernels are compiled once and cached on disk.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from sim.backends.cuda.device import Device, DeviceMemoryError, Kernel, KernelCompileError
from tests.sim.test_cuda_sources import KAT
from tests.support.cuda_emulator import (
    SCHEDULES,
    EmulatedDevice,
    EmulatedKernelError,
    emulator_unavailable_reason,
)

REASON = emulator_unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

CUDA_DIR = Path(__file__).resolve().parents[2] / "sim" / "backends" / "cuda"

# One source for most tests, so that a cold cache compiles it once.
SOURCE = r"""
extern "C" __global__ void axpy(const float* __restrict__ x, float* __restrict__ y, float a, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = a * x[i] + y[i];
}

extern "C" __global__ void __launch_bounds__(256) block_sum(const float* x, float* out, int n)
{
    __shared__ float partial[256];
    const int t = threadIdx.x;
    float v = 0.0f;
    for (int i = blockIdx.x * 256 + t; i < n; i += 256 * gridDim.x) v += x[i];
    partial[t] = v;
    __syncthreads();
    for (int width = 128; width > 0; width >>= 1) {
        if (t < width) partial[t] += partial[t + width];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = partial[0];
}

// Reverses each block's slice through dynamic shared memory.
extern "C" __global__ void reverse_blocks(const long long* x, long long* out)
{
    extern __shared__ __align__(16) long long buffer[];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    buffer[threadIdx.x] = x[i];
    __syncthreads();
    out[i] = buffer[blockDim.x - 1 - threadIdx.x];
}

// Inclusive prefix sum over a block of 128 threads: __shfl_up_sync within warps, then warp totals;
// each warp's __ballot_sync of the odd inputs goes to `odd`.
extern "C" __global__ void block_scan(const int* x, int* out, unsigned int* odd)
{
    __shared__ int warp_total[32];
    const unsigned int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
    int v = x[threadIdx.x];
    const unsigned int ballot = __ballot_sync(0xffffffffu, v & 1);
    for (int d = 1; d < warpSize; d <<= 1) {
        const int up = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d) v += up;
    }
    if (lane == warpSize - 1) warp_total[warp] = v;
    if (lane == 0) odd[warp] = ballot;
    __syncthreads();
    for (unsigned int w = 0; w < warp; ++w) v += warp_total[w];
    out[threadIdx.x] = v;
}

// Lanes 0..15 broadcast lane 3's value among themselves; the others leave the branch first.
extern "C" __global__ void half_warp_broadcast(const float* x, float* out)
{
    float v = x[threadIdx.x];
    if (threadIdx.x % 32 < 16) v = __shfl_sync(0x0000ffffu, v, 3, 16);
    out[threadIdx.x] = v + __shfl_xor_sync(0xffffffffu, v, 1);
}

extern "C" __global__ void atomics(int* counter, unsigned int* mask, int* lowest, unsigned long long* total,
                                   float* fsum, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(counter, 1);
    atomicOr(mask, 1u << (i % 32));
    atomicMin(lowest, n - i);
    atomicAdd(total, (unsigned long long)i);
    atomicAdd(fsum, 0.5f);
}

// Records the order in which threads take a ticket.
extern "C" __global__ void tickets(unsigned int* next, int* order)
{
    const unsigned int ticket = atomicInc(next, 0xffffffffu);
    order[ticket] = blockIdx.x * blockDim.x + threadIdx.x;
}

// Threads past n return before the barrier; the rest still meet there.
extern "C" __global__ void early_exit(int* out, int n)
{
    if ((int)threadIdx.x >= n) return;
    const int count = __syncthreads_count(threadIdx.x % 2 == 0);
    out[threadIdx.x] = count;
}

extern "C" __global__ void indices(unsigned int* out)
{
    const unsigned int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const unsigned int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned int i = block * blockDim.x * blockDim.y * blockDim.z + thread;
    out[i] = (threadIdx.z << 24) | (threadIdx.y << 16) | (blockIdx.z << 8) | (blockIdx.y << 4) | blockIdx.x;
}

extern "C" __global__ void add_scalar(float* x, float v, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] += v;
}

// Arrays found through a table of device addresses.
extern "C" __global__ void through_table(const unsigned long long* ptrs, int n)
{
    float* out = reinterpret_cast<float*>(ptrs[0]);
    const int* in = reinterpret_cast<const int*>(ptrs[1]);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = 0.5f * in[i];
}

extern "C" __global__ void intrinsics(const unsigned int* x, const unsigned int* y, unsigned int* out, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const unsigned int a = x[i], b = y[i];
    unsigned int* o = out + 10 * i;
    o[0] = __umulhi(a, b);
    o[1] = __brev(a);
    o[2] = __popc(a);
    o[3] = __clz((int)a);
    o[4] = __ffs((int)a);
    o[5] = __byte_perm(a, b, 0x5140u);
    o[6] = __funnelshift_l(a, b, b);
    o[7] = __funnelshift_r(a, b, b);
    o[8] = min(a, (int)b);
    o[9] = (unsigned int)__float2int_rn((float)(a >> 9) + 0.5f);
}

extern "C" __global__ void checked(int* x)
{
    assert(threadIdx.x != 5);
    x[threadIdx.x] = 1;
}

extern "C" __global__ void mismatched_barriers(int* x)
{
    if (threadIdx.x < 16) __syncthreads();
    else __syncwarp();
    x[threadIdx.x] = 1;
}
"""
NAMES = [
    "axpy",
    "block_sum",
    "reverse_blocks",
    "block_scan",
    "half_warp_broadcast",
    "atomics",
    "tickets",
    "early_exit",
    "indices",
    "add_scalar",
    "through_table",
    "intrinsics",
    "checked",
    "mismatched_barriers",
]


@pytest.fixture(params=SCHEDULES)
def schedule(request: pytest.FixtureRequest) -> str:
    """Every execution order of the emulator."""
    return str(request.param)


def compiled(schedule: str = "forward") -> tuple[EmulatedDevice, dict[str, Kernel]]:
    """A device with the given schedule and the kernels of SOURCE."""
    device = EmulatedDevice(schedule=schedule)
    return device, device.compile(SOURCE, ("--fmad=false", "-std=c++17", "-arch=sm_90"), NAMES)


def test_emulated_device_implements_the_protocol() -> None:
    device: Device = EmulatedDevice()
    assert "emulator" in device.description


def test_grid_stride_loop(schedule: str) -> None:
    device, k = compiled(schedule)
    n = 1000
    xh = np.linspace(-3, 7, n, dtype=np.float32)
    yh = np.arange(n, dtype=np.float32)
    x, y = device.to_device(xh), device.to_device(yh)
    k["axpy"]((3,), (64,), (x, y, np.float32(0.1), np.int32(n)))
    expected = np.float32(0.1) * xh + yh  # float32 arithmetic, no fused multiply-add
    np.testing.assert_array_equal(device.to_host(y), expected)
    assert device.launches == 1


def test_block_reduction_with_shared_memory(schedule: str) -> None:
    device, k = compiled(schedule)
    xh = np.arange(3000, dtype=np.float32)
    x, out = device.to_device(xh), device.zeros(4, np.float32)
    k["block_sum"]((4,), (256,), (x, out, np.int32(xh.size)))
    assert float(device.to_host(out).sum()) == float(xh.sum())


def test_dynamic_shared_memory(schedule: str) -> None:
    device, k = compiled(schedule)
    xh = np.arange(6 * 50, dtype=np.int64) * 3
    x, out = device.to_device(xh), device.zeros(xh.size, np.int64)
    k["reverse_blocks"]((6,), (50,), (x, out), shared_mem=50 * 8)
    np.testing.assert_array_equal(device.to_host(out), xh.reshape(6, 50)[:, ::-1].ravel())


def test_warp_ballot_and_shfl_up_prefix_sum(schedule: str) -> None:
    device, k = compiled(schedule)
    xh = np.random.default_rng(1).integers(0, 100, 128).astype(np.int32)
    x, out, odd = device.to_device(xh), device.zeros(128, np.int32), device.zeros(4, np.uint32)
    k["block_scan"]((1,), (128,), (x, out, odd))
    np.testing.assert_array_equal(device.to_host(out), np.cumsum(xh))
    bits = (xh & 1).reshape(4, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    np.testing.assert_array_equal(device.to_host(odd), bits.sum(axis=1).astype(np.uint32))


def test_shuffles_with_partial_masks_and_widths(schedule: str) -> None:
    device, k = compiled(schedule)
    xh = np.arange(64, dtype=np.float32)
    x, out = device.to_device(xh), device.zeros(64, np.float32)
    k["half_warp_broadcast"]((1,), (64,), (x, out))
    v = xh.copy()
    low = (np.arange(64) % 32) < 16
    v[low] = np.where(np.arange(64) < 32, 3.0, 35.0)[low]
    np.testing.assert_array_equal(device.to_host(out), v + v[np.arange(64) ^ 1])


def test_atomics(schedule: str) -> None:
    device, k = compiled(schedule)
    counter, mask, lowest = (
        device.zeros(1, np.int32),
        device.zeros(1, np.uint32),
        device.to_device(np.array([10**6], np.int32)),
    )
    total, fsum = device.zeros(1, np.uint64), device.zeros(1, np.float32)
    k["atomics"]((4,), (256,), (counter, mask, lowest, total, fsum, np.int32(1000)))
    assert int(device.to_host(counter)[0]) == 1000
    assert int(device.to_host(mask)[0]) == 0xFFFFFFFF
    assert int(device.to_host(lowest)[0]) == 1
    assert int(device.to_host(total)[0]) == 999 * 1000 // 2
    assert float(device.to_host(fsum)[0]) == 500.0


def test_integer_intrinsics() -> None:
    device, k = compiled()
    rng = np.random.default_rng(5)
    xs = [0, 0xFFFFFFFF, 1, 0x80000000, *rng.integers(0, 2**32, 60, dtype=np.uint64).tolist()]
    ys = [0xFFFFFFFF, 0, 31, 7, *rng.integers(0, 2**32, 60, dtype=np.uint64).tolist()]
    n = len(xs)
    out = device.zeros(10 * n, np.uint32)
    x, y = device.to_device(np.array(xs, np.uint32)), device.to_device(np.array(ys, np.uint32))
    k["intrinsics"]((1,), (64,), (x, y, out, np.int32(n)))

    def expected(a: int, b: int) -> list[int]:
        both = (b << 32) | a
        perm = sum(((both >> (8 * ((0x5140 >> (4 * j)) & 7))) & 0xFF) << (8 * j) for j in range(4))
        return [
            (a * b) >> 32,
            int(f"{a:032b}"[::-1], 2),
            bin(a).count("1"),
            32 - a.bit_length(),
            (a & -a).bit_length(),
            perm,
            ((both << (b & 31)) >> 32) & 0xFFFFFFFF,
            (both >> (b & 31)) & 0xFFFFFFFF,
            min(a, b),
            round((a >> 9) + 0.5),
        ]

    got = device.to_host(out).reshape(n, 10).tolist()
    assert got == [expected(a, b) for a, b in zip(xs, ys, strict=True)]


def test_returned_threads_count_as_arrived_at_barriers(schedule: str) -> None:
    device, k = compiled(schedule)
    out = device.zeros(64, np.int32)
    k["early_exit"]((1,), (64,), (out, np.int32(40)))
    np.testing.assert_array_equal(device.to_host(out), [20] * 40 + [0] * 24)


def test_multidimensional_indices() -> None:
    device, k = compiled("reverse")
    grid, block = (3, 2, 2), (4, 3, 2)
    out = device.zeros(12 * 24, np.uint32)
    k["indices"](grid, block, (out,))
    got = device.to_host(out).reshape(2, 2, 3, 2, 3, 4)  # bz, by, bx, tz, ty, tx
    bz, by, bx, tz, ty, _ = np.indices(got.shape, dtype=np.uint32)
    np.testing.assert_array_equal(got, (tz << 24) | (ty << 16) | (bz << 8) | (by << 4) | bx)


def test_philox_known_answers(schedule: str) -> None:
    device = EmulatedDevice(schedule=schedule)
    source = (CUDA_DIR / "philox_kat.cu").read_text()
    kernel = device.compile(source, ("-I", str(CUDA_DIR), "--fmad=false"), ["philox_kat"])["philox_kat"]
    counters = device.to_device(np.array([c for c, _, _ in KAT], np.uint32).ravel())
    keys = device.to_device(np.array([k for _, k, _ in KAT], np.uint32).ravel())
    out = device.zeros(4 * len(KAT), np.uint32)
    kernel((1,), (32,), (counters, keys, out, np.int32(len(KAT))))
    got = device.to_host(out).reshape(-1, 4)
    assert [tuple(int(v) for v in row) for row in got] == [e for _, _, e in KAT]


def test_schedule_changes_the_execution_order() -> None:
    orders = {}
    for schedule in SCHEDULES:
        device, k = compiled(schedule)
        nxt, order = device.zeros(1, np.uint32), device.zeros(128, np.int32)
        k["tickets"]((2,), (64,), (nxt, order))
        orders[schedule] = device.to_host(order)
        assert sorted(orders[schedule].tolist()) == list(range(128))
    assert orders["forward"].tolist() == list(range(128))
    assert orders["reverse"].tolist() == list(range(127, -1, -1))
    assert orders["shuffle"].tolist() not in (orders["forward"].tolist(), orders["reverse"].tolist())


def test_arguments_are_checked() -> None:
    device, k = compiled()
    x, y = device.zeros(8, np.float32), device.zeros(8, np.float32)
    axpy = k["axpy"]
    with pytest.raises(TypeError, match=r"axpy.*'a'.*np\.float32.*Python float"):
        axpy((1,), (8,), (x, y, 2.0, np.int32(8)))
    with pytest.raises(TypeError, match=r"axpy.*'n'.*np\.int32.*np\.int64"):
        axpy((1,), (8,), (x, y, np.float32(2), np.int64(8)))
    with pytest.raises(TypeError, match=r"axpy.*'x'.*float32.*float64"):
        axpy((1,), (8,), (device.zeros(8, np.float64), y, np.float32(2), np.int32(8)))
    with pytest.raises(TypeError, match=r"axpy.*'y'.*did not allocate"):
        axpy((1,), (8,), (x, np.zeros(8, np.float32), np.float32(2), np.int32(8)))
    with pytest.raises(TypeError, match=r"axpy.*4 arguments \(x, y, a, n\), got 3"):
        axpy((1,), (8,), (x, y, np.float32(2)))
    with pytest.raises(ValueError, match="1024"):
        axpy((1,), (64, 32), (x, y, np.float32(2), np.int32(8)))
    with pytest.raises(ValueError, match="shared memory"):
        axpy((1,), (8,), (x, y, np.float32(2), np.int32(8)), shared_mem=64 * 1024)
    assert device.launches == 0


def test_addresses_for_pointer_tables() -> None:
    device, k = compiled()
    out, src = device.zeros(40, np.float32), device.to_device(np.arange(40, dtype=np.int32))
    table = device.to_device(np.array([device.address(out), device.address(src)], np.uint64))
    k["through_table"]((2,), (32,), (table, np.int32(40)))
    np.testing.assert_array_equal(device.to_host(out), np.arange(40, dtype=np.float32) / 2)
    with pytest.raises(TypeError, match="device array"):
        device.address(np.zeros(4, np.float32))


def test_compile_errors_name_file_and_line(tmp_path: Path) -> None:
    device = EmulatedDevice()
    source = 'extern "C" __global__ void broken(float* x)\n{\n    x[0] = undefined_name;\n}\n'
    with pytest.raises(KernelCompileError) as info:
        device.compile(source, (), ["broken"])
    assert info.value.where == "kern.cu, line 3"
    assert "undefined_name" in str(info.value) and "error:" in info.value.log

    (tmp_path / "bad.cuh").write_text("#pragma once\n__device__ int f() { return nope; }\n")
    with pytest.raises(KernelCompileError, match=r"bad\.cuh, line 2"):
        device.compile(
            '#include "bad.cuh"\nextern "C" __global__ void k(int* x) { x[0] = f(); }\n',
            ("-I", str(tmp_path)),
            ["k"],
        )

    # An error inside the emulator's header is blamed on the kernel line that led there.
    misuse = (
        "struct S { int a[4]; };\n"
        'extern "C" __global__ void k(int* x)\n'
        "{\n"
        "    S s{};\n"
        "    s = __shfl_sync(0xffffffffu, s, 0);\n"
        "}\n"
    )
    with pytest.raises(KernelCompileError, match=r"kern\.cu, line 5"):
        device.compile(misuse, (), ["k"])

    with pytest.raises(KernelCompileError, match="missing_kernel"):
        device.compile(SOURCE, (), ["missing_kernel"])


def test_device_side_errors_raise() -> None:
    device, k = compiled("shuffle")
    out = device.zeros(64, np.int32)
    with pytest.raises(EmulatedKernelError, match=r"Assertion `threadIdx\.x != 5` failed"):
        k["checked"]((2,), (32,), (out,))
    with pytest.raises(EmulatedKernelError, match="deadlock"):
        k["mismatched_barriers"]((1,), (32,), (out,))
    k["early_exit"]((1,), (64,), (out, np.int32(64)))  # the emulator recovers
    assert device.to_host(out).tolist() == [32] * 64


def test_capture_records_and_replays() -> None:
    device, k = compiled()
    x = device.to_device(np.zeros(10, np.float32))
    seen = device.pinned(10, np.float32)
    value = [1.5]

    def body() -> None:
        k["add_scalar"]((1,), (32,), (x, np.float32(value[0]), np.int32(10)))
        device.copy_async(x, seen)

    syncs = device.syncs
    graph = device.capture(body)
    value[0] = 100.0
    assert device.launches == 0 and not seen.any()
    assert device.syncs == syncs
    graph.launch()
    np.testing.assert_array_equal(seen, np.full(10, 1.5, np.float32))
    graph.launch()
    np.testing.assert_array_equal(device.to_host(x), np.full(10, 3.0, np.float32))
    np.testing.assert_array_equal(seen, np.full(10, 3.0, np.float32))
    assert device.launches == 2

    def read_back() -> None:
        device.to_host(x)

    def write() -> None:
        device.upload(x, np.ones(10))

    def mark() -> None:
        device.record()

    for forbidden in (read_back, write, device.synchronize, mark):
        with pytest.raises(RuntimeError, match="capture"):
            device.capture(forbidden)
    assert not device.capturing


def test_memory_limit() -> None:
    device = EmulatedDevice(memory_limit=1000)
    a = device.zeros(200, np.float32)
    assert device.free_memory() == 200
    with pytest.raises(DeviceMemoryError, match="100 x float32"):
        device.zeros(100, np.float32)
    del a
    gc.collect()
    assert device.free_memory() == 1000
    device.to_device(np.zeros(250, np.int32))
