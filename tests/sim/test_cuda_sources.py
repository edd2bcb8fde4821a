"""Every CUDA source compiles for sm_75 and sm_90 (nvcc -cubin), so a syntax error never reaches a user.

The Philox known-answer kernel also runs when a CUDA device and CuPy are present.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sim.philox import philox4x32
from tests.support.nvcc import resource_usage as nvcc_resource_usage

CUDA_DIR = Path(__file__).resolve().parents[2] / "sim" / "backends" / "cuda"
SOURCES = sorted(CUDA_DIR.glob("*.cu"))
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def test_there_are_cuda_sources() -> None:
    assert SOURCES, f"no .cu files in {CUDA_DIR}"


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cuda_source_compiles(source: Path, arch: str, tmp_path: Path) -> None:
    """Each source compiles as the backend compiles it: after the generated kernel interface."""
    from sim.experiments.topomap.cuda.interface import interface_header

    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    module = tmp_path / f"module_{source.name}"
    module.write_text(interface_header() + f'#include "{source.name}"\n')
    result = subprocess.run(
        [
            nvcc,
            "-cubin",
            f"-arch={arch}",
            "-I",
            str(CUDA_DIR),
            str(module),
            "-o",
            str(tmp_path / "out.cubin"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{source.name} ({arch}):\n{result.stderr}"


def test_philox_kat_on_device() -> None:
    cupy = pytest.importorskip("cupy")
    if not cupy.is_available():
        pytest.skip("no CUDA device")
    src = (CUDA_DIR / "philox_kat.cu").read_text()
    module = cupy.RawModule(code=src, options=("-I" + str(CUDA_DIR),))
    kernel = module.get_function("philox_kat")
    counters = cupy.asarray(np.array([c for c, _, _ in KAT], np.uint32).ravel())
    keys = cupy.asarray(np.array([k for _, k, _ in KAT], np.uint32).ravel())
    out = cupy.zeros(4 * len(KAT), cupy.uint32)
    kernel((1,), (32,), (counters, keys, out, np.int32(len(KAT))))
    got = cupy.asnumpy(out).reshape(-1, 4)
    assert [tuple(int(x) for x in row) for row in got] == [e for _, _, e in KAT]
    expected_cpu = philox4x32(np.array([c for c, _, _ in KAT]), np.array(KAT[2][1]))[2]
    assert tuple(int(x) for x in expected_cpu) == KAT[2][2]


def resource_usage(arch: str, tmp_path: Path) -> dict[str, tuple[int, int]]:
    """``kernel -> (registers per thread, static shared bytes)`` from ptxas, compiled as the backend does."""
    from sim.experiments.topomap.cuda.backend import COMPILE_OPTIONS, module_source

    return nvcc_resource_usage(module_source(), arch, tmp_path, [*COMPILE_OPTIONS, f"-I{CUDA_DIR}"])


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_every_kernel_fits_its_launch(arch: str, tmp_path: Path) -> None:
    """Registers and shared memory allow the block sizes the backend launches with (64K registers per block).

    A kernel that needs more registers than a block of its size can have fails to launch on a GPU,
    an error no emulator shows; one-block kernels are compiled with __launch_bounds__ for this.
    """
    from sim.experiments.topomap.cuda.backend import BLOCK_THREADS, GRID_THREADS, KERNELS, STEP_KERNELS

    usage = resource_usage(arch, tmp_path)
    assert set(usage) == set(KERNELS)
    one_block = {"compact_spikes", "rewire", "rewire_only", "run_steps"}
    assert one_block < set(KERNELS) and set(STEP_KERNELS) - one_block
    for kernel, (registers, smem) in usage.items():
        threads = BLOCK_THREADS if kernel in one_block else GRID_THREADS
        assert registers * threads <= 65536, f"{kernel} ({arch}): {registers} registers x {threads} threads"
        assert smem <= 48 * 1024, f"{kernel} ({arch}): {smem} bytes of static shared memory"
