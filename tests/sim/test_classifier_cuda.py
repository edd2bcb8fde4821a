"""The classifier's CUDA backend against its CPU backend.

Every test runs the backend's real kernel sources and launcher code on a
device: the CUDA emulator (``tests/support/cuda_emulator``: the ``.cu`` files
compiled as host C++ by g++, blocks and threads run in forward, reverse or
shuffled order) wherever g++ is installed, and a real GPU through CuPy where
one is present.

The kernels repeat every float operation of the CPU kernels in the same order
(no atomics on floats, sums over lanes and outputs on one thread, the C
library's expf ported), so on the emulator the whole state, floats included,
the rewiring events and the batch rows must equal the CPU backend's bit for
bit. On a GPU the same holds except for the loss sums (double ``exp``/``log``
of the device's library: the accumulators and the rows' losses are compared
to a relative 1e-12); the module docstring of
``sim/experiments/classifier/cuda/backend.py`` lists the other, practically
unreachable, differences (subnormals flushed, the noise's ``log``/``cos``).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numba import njit

from sim.backends import register_backend, unregister_backend
from sim.backends.cuda.device import cuda_unavailable_reason
from sim.engine import Engine
from sim.experiment import register_experiment, unregister_experiment
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.cuda import backend as cuda_backend
from sim.experiments.classifier.cuda.backend import (
    BLOCK_THREADS,
    COMPILE_OPTIONS,
    GRID_THREADS,
    LANE_SHARED_BYTES,
    ClassifierCudaBackend,
    module_source,
)
from sim.experiments.classifier.experiment import EXPERIMENT
from sim.experiments.classifier.params import C_EPOCH
from sim.experiments.classifier.state import ClassifierState
from tests.support.nvcc import resource_usage as nvcc_resource_usage

CUDA_DIR = Path(cuda_backend.__file__).resolve().parent
HAS_GXX = shutil.which("g++") is not None
needs_gxx = pytest.mark.skipif(not HAS_GXX, reason="g++ is not installed (CUDA emulator)")
#: The registry name the emulator backend gets in these tests.
EMULATOR = "cuda-emulator"
#: Float results of the device's double exp/log (losses): equal on the emulator, close on a GPU.
LOSS_RTOL = 1e-12
LOSS_FIELDS = ("train_loss", "test_loss")


def emulated(**kwargs: Any) -> Any:
    from tests.support.cuda_emulator import EmulatedDevice

    return EmulatedDevice(**kwargs)


def _emulator_reason() -> str | None:
    from tests.support.cuda_emulator import emulator_unavailable_reason

    return emulator_unavailable_reason()


@pytest.fixture(autouse=True)
def _classifier_known() -> Iterator[None]:
    """The classifier and its CUDA backend on the emulator, known to the registries here."""
    register_experiment(EXPERIMENT)
    register_backend(
        EMULATOR, lambda: ClassifierCudaBackend(emulated()), _emulator_reason, experiment=EXPERIMENT.key
    )
    yield
    unregister_backend(EMULATOR, experiment=EXPERIMENT.key)
    unregister_experiment(EXPERIMENT.key)


def devices() -> list[Any]:
    kinds: list[Any] = [pytest.param("emulator", marks=needs_gxx)]
    if cuda_unavailable_reason() is None:
        kinds.append("gpu")
    return kinds


def make_device(kind: str, **kwargs: Any) -> Any:
    if kind == "gpu":
        from sim.backends.cuda.device import CupyDevice

        return CupyDevice()
    return emulated(**kwargs)


def config(**sections: dict[str, Any]) -> ClassifierConfig:
    """A small digits classifier (an epoch: 8 training and 2 test batches of 10 steps) with
    ``sections`` merged in; a low threshold, so the hidden layer spikes."""
    base: dict[str, dict[str, Any]] = {
        "network": {"n_hidden": 24, "v_th": 0.3},
        "connectivity": {"p_in": 0.25, "p_rec": 0.25},
        "data": {"name": "digits", "n_steps": 10, "batch_size": 4, "n_train": 32, "n_test": 8},
        "learning": {"lr": 5e-3},
        "rewiring": {"l1": 3e-3, "temperature": 1e-6},
    }
    for key, values in sections.items():
        base.setdefault(key, {}).update(values)
    return ClassifierConfig.from_dict({"experiment": "classifier", **base})


# --------------------------------------------------------------------------- comparisons


def assert_states_equal(a: ClassifierState, b: ClassifierState, context: str, exact_loss: bool) -> None:
    """Every array equal bit for bit (the NaNs of a held row included); the loss sums within
    LOSS_RTOL unless ``exact_loss``."""
    xa, xb = EXPERIMENT.state_to_arrays(a), EXPERIMENT.state_to_arrays(b)
    assert xa.keys() == xb.keys()
    for name, x in xa.items():
        y = xb[name]
        assert x.dtype == y.dtype and x.shape == y.shape, f"{context}: {name} layout differs"
        if name == "acc" and not exact_loss:
            np.testing.assert_allclose(y, x, rtol=LOSS_RTOL, err_msg=f"{context}: acc")
            continue
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            same = x == y
            if x.dtype.kind == "f":
                same |= np.isnan(x) & np.isnan(y)
            idx = np.flatnonzero(~same)
            raise AssertionError(
                f"{context}: {name} differs at {idx.size} places, first {idx[:5]}: "
                f"cpu {x.ravel()[idx[:5]]} cuda {y.ravel()[idx[:5]]}"
            )


def assert_rows_equal(a: np.ndarray, b: np.ndarray, context: str, exact_loss: bool) -> None:
    assert len(a) == len(b), f"{context}: {len(a)} batch rows on the CPU, {len(b)} on CUDA"
    for name in a.dtype.names or ():
        if name in LOSS_FIELDS and not exact_loss:
            np.testing.assert_allclose(b[name], a[name], rtol=LOSS_RTOL, err_msg=f"{context}: {name}")
        else:
            assert np.array_equal(a[name], b[name], equal_nan=True), f"{context}: rows' {name} differ"


def cuda_engine(cfg: ClassifierConfig, seed: int, device: Any, **kwargs: Any) -> Engine:
    """An engine on the CUDA backend over ``device`` (bypassing the registry)."""
    return Engine(cfg, seed, ClassifierCudaBackend(device, **kwargs), EXPERIMENT.build_state(cfg, seed))


def run_side_by_side(
    cfg: ClassifierConfig,
    kind: str,
    chunks: tuple[int, ...],
    *,
    seed: int = 3,
    live: dict[int, tuple[str, Any]] | None = None,
    device_kwargs: dict[str, Any] | None = None,
    **backend_kwargs: Any,
) -> tuple[ClassifierState, np.ndarray, np.ndarray, int]:
    """Run the CPU and CUDA backends chunk by chunk, comparing the states after every chunk and
    the events and batch rows at the end; ``live`` changes a parameter on both before chunk i.

    Returns the CPU's last state, its events and rows, and the hidden spikes lane 0 showed.
    """
    exact = kind == "emulator"
    spikes = 0
    with (
        Engine.build(cfg, backend="cpu", seed=seed) as cpu,
        cuda_engine(cfg, seed, make_device(kind, **(device_kwargs or {})), **backend_kwargs) as gpu,
    ):
        for i, chunk in enumerate(chunks):
            if live and i in live:
                for eng in (cpu, gpu):
                    eng.set_parameter(*live[i])
            cpu.step(chunk)
            gpu.step(chunk)
            state = cpu.state()
            assert_states_equal(state, gpu.state(), f"{kind} after step {cpu.step_count}", exact)
            spikes += int(state.shown_z.sum())
        events = cpu.take_events()
        gpu_events = gpu.take_events()
        assert len(events) == len(gpu_events), f"{len(events)} events on the CPU, {len(gpu_events)} on CUDA"
        assert np.array_equal(events, gpu_events), "the event logs differ"
        rows = cpu.snapshot().batches
        assert_rows_equal(rows, gpu.snapshot().batches, kind, exact)
        return state, events, rows, spikes


# Chunks that stop mid-trial, at a trial's end and across the epoch's end (an epoch: 100 steps).
CHUNKS = (7, 23, 45, 85, 60)
CASES: dict[str, tuple[dict[str, dict[str, Any]], bool]] = {
    # name: (configuration sections, whether DEEP R rewires)
    "lif_deep_r": ({}, True),
    "alif_deep_r": ({"network": {"neuron": "alif", "beta": 0.2, "tau_a": 200.0}}, True),
    "static_sparse": ({"rewiring": {"enabled": False}, "learning": {"lr": 2e-2}}, False),
    "dense": ({"connectivity": {"p_in": 1.0, "p_rec": 1.0}}, False),
    "random_feedback": ({"learning": {"feedback": "random"}, "run": {"record_events": False}}, True),
}


@pytest.mark.parametrize("kind", devices())
@pytest.mark.parametrize("case", list(CASES))
def test_agrees_with_the_cpu_backend(case: str, kind: str) -> None:
    sections, rewires = CASES[case]
    cfg = config(**sections)
    state, events, rows, spikes = run_side_by_side(cfg, kind, CHUNKS)
    assert spikes > 20, "the test network must spike"
    assert int(state.clock[C_EPOCH]) == 2 and np.isfinite(rows["test_accuracy"]).sum() == 2
    removed = int(rows["removed_in"].sum() + rows["removed_rec"].sum())
    if rewires:
        assert removed > 20, "the test must rewire"
        regrown = int(rows["regrown_in"].sum() + rows["regrown_rec"].sum())
        assert len(events) == (removed + regrown if cfg.run.record_events else 0)
    else:
        assert removed == 0 and len(events) == 0


@pytest.mark.parametrize("kind", devices())
def test_full_rows_redraw_limits_and_small_windows_agree(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows without padding (regrowth refused by full rows, counted in the tables' stats), few
    redraws (regrowth stopping short), regrowth windows of two attempts, a live change mid-run,
    the lanes' scratch in global memory, threads run in shuffled order."""
    cfg = config(
        network={"n_hidden": 16},
        connectivity={"p_in": 0.3, "p_rec": 0.3, "padding": 0.0},
        rewiring={"l1": 2e-2, "temperature": 1e-5, "max_redraws": 2},
        learning={"lr": 2e-2},
    )
    live = {2: ("rewiring.l1", 5e-3), 3: ("learning.lr", 1e-2)}
    device_kwargs = {"schedule": "shuffle", "seed": 7} if kind == "emulator" else {}
    monkeypatch.setattr(cuda_backend, "LANE_SHARED_BYTES", 0)  # the lanes' scratch in global memory
    state, _events, rows, _spikes = run_side_by_side(
        cfg, kind, CHUNKS, seed=5, live=live, device_kwargs=device_kwargs, threads=32, regrow_window=2
    )
    assert int(state.tin.stats[2]) > 0, "some regrowth must find its row full"
    assert (rows["regrown_in"] < rows["removed_in"]).any(), "some regrowth must run out of redraws"


@needs_gxx
@pytest.mark.parametrize("first", ["cpu", EMULATOR])
def test_a_checkpoint_continues_on_the_other_backend(first: str, tmp_path: Path) -> None:
    """Saved mid-trial and mid-epoch by one backend, continued by the other: the same run."""
    other = EMULATOR if first == "cpu" else "cpu"
    cfg = config(network={"neuron": "alif"}, rewiring={"temperature": 1e-5})
    path = tmp_path / "run.npz"
    with Engine.build(cfg, backend=first, seed=7) as eng:
        eng.step(35)
        eng.save_checkpoint(path)
        eng.take_events()
        eng.snapshot()
        eng.step(120)
        straight = eng.state()
        straight_events = eng.take_events()
        straight_rows = eng.snapshot().batches
    with Engine.from_checkpoint(path, backend=other) as eng:
        eng.step(120)
        assert_states_equal(straight, eng.state(), f"{first} -> {other}", exact_loss=True)
        events = eng.take_events()
        assert len(events) > 0 and np.array_equal(straight_events, events)
        assert_rows_equal(straight_rows, eng.snapshot().batches, f"{first} -> {other}", exact_loss=True)


@needs_gxx
def test_push_and_pull_round_trip() -> None:
    cfg = config()
    with Engine.build(cfg, backend=EMULATOR, seed=2) as eng:
        eng.step(15)
        st = eng.state()
        st.tin.weight[:] *= 2.0
        eng.replace_state(st)
        assert_states_equal(st, eng.state(), "push, pull", exact_loss=True)


# --------------------------------------------------------------------------- the kernels themselves


EXPF_SOURCE = """
#include "expf.cuh"
extern "C" __global__ void expf_of(const float* x, float* out, long long n)
{
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n; i += stride)
        out[i] = cls_expf(x[i]);
}
"""


@njit(cache=False)
def _numba_exp(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = np.float32(math.exp(x[i]))  # as the CPU kernels' softmax calls it


@pytest.mark.parametrize("kind", devices())
def test_expf_port_equals_the_cpu_kernels_exp(kind: str) -> None:
    """cls_expf gives Numba's math.exp of a float32 (the C library's expf) bit for bit."""
    rng = np.random.default_rng(1)
    special = np.array(
        [0.0, -0.0, -1e-30, 1e-30, -87.3, -88.0, -88.73, -103.28, -103.5, -103.98, -104.0, 88.0, 88.72, 88.8],
        np.float32,
    )
    special = np.concatenate([special, np.array([-np.inf, np.inf], np.float32)])
    x = np.concatenate(
        [
            special,
            (-rng.exponential(8.0, 200_000)).astype(np.float32),
            rng.uniform(-110.0, 90.0, 100_000).astype(np.float32),
            rng.uniform(-1e-3, 1e-3, 20_000).astype(np.float32),
        ]
    )
    expected = np.empty_like(x)
    _numba_exp(x, expected)
    dev = make_device(kind)
    kernel = dev.compile(EXPF_SOURCE, ("--std=c++17", "--fmad=false", f"-I{CUDA_DIR}"), ("expf_of",))[
        "expf_of"
    ]
    x_dev = dev.to_device(x)
    out = dev.zeros(x.size, np.float32)
    kernel((16,), (256,), (x_dev, out, np.int64(x.size)))
    got = dev.to_host(out)
    bad = np.flatnonzero(got.view(np.uint32) != expected.view(np.uint32))
    assert bad.size == 0, f"expf differs at x = {x[bad[:5]]}: cuda {got[bad[:5]]}, cpu {expected[bad[:5]]}"


def _nvcc_resources(arch: str, tmp_path: Path) -> dict[str, tuple[int, int]]:
    """``kernel -> (registers per thread, static shared bytes)``, the module compiled as the backend does."""
    return nvcc_resource_usage(module_source(), arch, tmp_path, COMPILE_OPTIONS)


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_kernels_compile_with_nvcc_and_fit_their_launches(arch: str, tmp_path: Path) -> None:
    """The module compiles; registers allow the blocks launched; the lanes' shared memory fits."""
    usage = _nvcc_resources(arch, tmp_path)
    assert set(usage) == set(cuda_backend.KERNELS)
    for name, (registers, smem) in usage.items():
        threads = GRID_THREADS if name in ("cls_learn", "cls_start_batch") else BLOCK_THREADS
        assert registers * threads <= 65536, f"{name}: {registers} registers x {threads} threads"
        assert smem <= 48 * 1024, name
    assert usage["cls_run_lanes"][1] + LANE_SHARED_BYTES <= 48 * 1024
