"""The CUDA backend against the CPU backend.

Every test runs the backend's real kernel sources and launcher code on a
device: the CUDA emulator (``tests/support/cuda_emulator``: the same ``.cu``
files compiled as host C++, every thread a fiber, blocks and threads run in
forward, reverse or shuffled order) wherever g++ is installed, and a real GPU
through CuPy where one is present.

The float path is order-independent by construction (input delivered on a
power-of-two grid, host-computed probability tables, no fused multiply-add),
so the whole state, floats included, must match the CPU backend bit for bit.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim.backends as registry
from sim.backends.cuda.device import DeviceMemoryError, KernelCompileError, cuda_unavailable_reason
from sim.engine import Engine
from sim.experiments.topomap.build import build_state
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.cuda import backend as cuda_backend
from sim.experiments.topomap.cuda.backend import CudaBackend
from sim.experiments.topomap.cuda.layout import SLOTS
from sim.experiments.topomap.params import steps_of
from sim.experiments.topomap.state import NetworkState
from sim.synapses import SynapseTable

CUDA_DIR = Path(cuda_backend.__file__).resolve().parent

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed (CUDA emulator)")


def emulated(**kwargs: Any) -> Any:
    from tests.support.cuda_emulator import EmulatedDevice

    return EmulatedDevice(**kwargs)


def devices() -> list[Any]:
    params: list[Any] = [pytest.param("emulator", marks=needs_gxx)]
    if cuda_unavailable_reason() is None:
        params.append("gpu")
    return params


def make_device(kind: str, **kwargs: Any) -> Any:
    if kind == "gpu":
        from sim.backends.cuda.device import CupyDevice

        return CupyDevice()
    return emulated(**kwargs)


def cuda_engine(config: ModelConfig, seed: int, device: Any, **kwargs: Any) -> Engine:
    """An engine on the CUDA backend over ``device`` (bypassing the registry)."""
    from sim.experiments.topomap.build import build_state

    return Engine(config, seed, CudaBackend(device, **kwargs), build_state(config, seed))


def assert_states_equal(a: NetworkState, b: NetworkState, context: str) -> None:
    """Every array equal bit for bit (NaN-free), except the CPU-only LIF scratch."""
    for name, x in a.to_arrays().items():
        if name in ("neurons.fac", "neurons.bits"):
            continue
        y = b.to_arrays()[name]
        assert x.dtype == y.dtype and x.shape == y.shape, f"{context}: {name} layout differs"
        if not np.array_equal(x, y):
            idx = np.flatnonzero(x.ravel() != y.ravel())
            raise AssertionError(
                f"{context}: {name} differs at {idx.size} places, first {idx[:5]}: "
                f"cpu {x.ravel()[idx[:5]]} cuda {y.ravel()[idx[:5]]}"
            )


def assert_events_equal(a: np.ndarray, b: np.ndarray, context: str) -> None:
    assert len(a) == len(b), f"{context}: {len(a)} events on the CPU, {len(b)} on CUDA"
    assert np.array_equal(a, b), f"{context}: the event logs differ"


def run_side_by_side(
    cpu: Engine, backend: CudaBackend, chunks: tuple[int, ...], context: str
) -> tuple[dict[str, int], np.ndarray]:
    """Run ``cpu`` and an engine on ``backend`` (same configuration and seed) chunk by chunk.

    States must be equal after every chunk and the event logs at the end; returns the backend's
    :meth:`~CudaBackend.rewiring_paths` and the events.
    """
    with Engine(cpu.config, cpu.seed, backend, build_state(cpu.config, cpu.seed)) as gpu:
        for chunk in chunks:
            cpu.step(chunk)
            gpu.step(chunk)
            assert_states_equal(cpu.state(), gpu.state(), f"{context} after step {cpu.step_count}")
        events = cpu.take_events()
        assert_events_equal(events, gpu.take_events(), context)
        return backend.rewiring_paths(), events


# A few thousand steps of each scheme: dense spiking, STDP on, rewiring every step or every 1 ms.
# Slot cases eliminate potentiated synapses more often than the presets do, so that slots empty and
# refill within the test.
BUSY_SLOTS = {"rewiring.ff.p_elim_pot": 0.05, "rewiring.lat.p_elim_pot": 0.05}
# Pair cases likewise (the preset's weights start potentiated and its eliminations are rare early
# on), with four times the attempts: several changes per row and column within one call.
BUSY_PAIRS = {"rewiring.ff.p_elim_pot": 0.3, "rewiring.lat.p_elim_pot": 0.3, "rewiring.rate": 40_000.0}
CASES = {
    "slot_random": ("bamford2010", BUSY_SLOTS),
    "slot_last_spike": ("bogdan2018", BUSY_SLOTS),
    "pair": ("knight2025", BUSY_PAIRS),
    "pair_inhibitory": ("knight2025_lateral_inhibition", BUSY_PAIRS),
    "pair_scale_2": ("knight2025", {"network.scale": 2, **BUSY_PAIRS}),
    "slot_nearest_flat": (
        "bamford2010_uncorrelated",
        {"stdp.traces": "nearest", **BUSY_SLOTS},
    ),
}


@pytest.fixture
def cpu_engine(make_config: Callable[..., ModelConfig]) -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def build(config: ModelConfig, seed: int) -> Engine:
        eng = Engine.build(config, backend="cpu", seed=seed)
        made.append(eng)
        return eng

    yield build
    for eng in made:
        eng.close()


def test_the_kernel_interface_is_generated_from_the_python_declarations() -> None:
    """Every number the kernels index by comes from one Python declaration, with its value."""
    from sim.experiments.topomap import params, purposes, state
    from sim.experiments.topomap.cuda.interface import interface_enums, interface_header

    enums = interface_enums()
    assert [name for name, _ in enums["Slot"]][:-1] == [
        "P_" + s.removeprefix("neurons.").replace(".", "_").upper() for s in SLOTS
    ]
    assert dict(enums["Slot"])["P_FF_ROW_LEN"] == SLOTS.index("ff.row_len")
    assert dict(enums["FParam"])["F_G_MAX"] == params.F_G_MAX
    assert dict(enums["IParam"])["N_INT_PARAMS"] == params.N_INT_PARAMS
    assert dict(enums["IState"])["S_STIM_DIRTY"] == state.S_STIM_DIRTY
    assert dict(enums["Purpose"])["PURPOSE_POISSON_REST"] == purposes.PURPOSE_POISSON_REST
    header = interface_header()
    assert "F_G_MAX = 12" in header and "P_RW_PATHS" in header
    assert cuda_backend.module_source().startswith(header)
    # The hand-written headers define none of these numbers themselves.
    for name in ("net.cuh", "rewiring.cuh", "neurons.cuh", "synapses.cuh", "kernels.cu"):
        text = (CUDA_DIR / name).read_text()
        for enum in ("enum FParam", "enum IParam", "enum IState", "enum Slot", "PURPOSE_STIMULUS ="):
            assert enum not in text, f"{name} defines {enum} by hand"


def test_a_declaration_with_a_gap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from sim.experiments.topomap import params
    from sim.experiments.topomap.cuda.interface import interface_enums

    monkeypatch.setattr(params, "F_G_MAX", 99)
    with pytest.raises(ValueError, match="F_"):
        interface_enums()


def runs() -> list[Any]:
    """(device, mode, schedule): the emulator in both modes and orders; a real GPU where present."""
    out: list[Any] = [
        pytest.param("emulator", "block", "shuffle", marks=needs_gxx, id="emulator-block-shuffle"),
        pytest.param("emulator", "grid", "reverse", marks=needs_gxx, id="emulator-grid-reverse"),
    ]
    if cuda_unavailable_reason() is None:
        out += [pytest.param("gpu", mode, "", id=f"gpu-{mode}") for mode in ("block", "grid")]
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("kind", "mode", "schedule"), runs())
def test_cuda_matches_cpu_bit_for_bit(
    case: str,
    kind: str,
    mode: str,
    schedule: str,
    make_config: Callable[..., ModelConfig],
    cpu_engine: Callable[..., Engine],
) -> None:
    """Spikes, connectivity, rewiring events and every float match the CPU over 4,000 steps."""
    preset, overrides = CASES[case]
    config = make_config(overrides, preset=preset)
    cpu = cpu_engine(config, 7)
    device = make_device(kind, schedule=schedule or "forward", seed=3)
    paths, events = run_side_by_side(cpu, CudaBackend(device, mode=mode), (1, 299, 700, 3000), case)
    assert cpu.state().neurons.count_tgt.sum() > 0, "the test needs target spikes"
    kinds = np.bincount(events["kind"], minlength=2)
    assert kinds.sum() > 0
    # The calls ran in parallel (the pair scheme's serial loop only where a pair was drawn twice).
    calls = 4000 // steps_of(config.rewiring.interval, config.network.dt)
    if config.rewiring.scheme == "pair":
        assert kinds.min() > 50, f"the test needs formations and eliminations, got {kinds}"
        calls *= 2  # one per projection
        assert paths["parallel"] + paths["serial: a pair drawn twice"] == calls, paths
    assert sum(paths.values()) == calls, paths
    assert paths["parallel"] >= 0.95 * calls, paths


# Calls the parallel pair scheme hands to the serial loop, each forced by the configuration.
FALLBACKS = {
    # ~2,000 attempts among 256^2 pairs: a repeated first draw in nearly every call.
    "serial: a pair drawn twice": {"rewiring.rate": 2_000_000.0},
    # Many formations, hardly any eliminations: rows and columns of 20 fill up.
    "serial: a row or column full": {
        "rewiring.rate": 3_000_000.0,
        "rewiring.ff.p_elim_dep": 0.001,
        "rewiring.ff.p_elim_pot": 0.001,
        "rewiring.lat.p_elim_dep": 0.001,
        "rewiring.lat.p_elim_pot": 0.001,
        "connectivity.row_capacity": 20,
        "connectivity.col_capacity": 20,
    },
    # Fixed fan-in wiring makes multapses; an attempt that meets one runs serially.
    "serial: a multapse attempted": {
        "connectivity.wiring": "fixed_fan_in",
        "rewiring.rate": 100_000.0,
    },
}


@needs_gxx
@pytest.mark.parametrize("reason", sorted(FALLBACKS))
def test_pair_calls_that_run_serially_still_match_the_cpu(
    reason: str, make_config: Callable[..., ModelConfig], cpu_engine: Callable[..., Engine]
) -> None:
    """Calls the parallel path cannot guarantee fall back to the serial loop: same state, same events."""
    config = make_config(FALLBACKS[reason], preset="knight2025")
    cpu = cpu_engine(config, 11)
    paths, events = run_side_by_side(
        cpu, CudaBackend(emulated(schedule="shuffle", seed=5), mode="grid"), (7, 993), reason
    )
    assert paths[reason] > 0, paths
    assert len(events) > 0


# Slot-scheme calls of ~1,000 attempts on 256 targets: several attempts per target per call, so
# synapses formed in a call are also eliminated in it; with certain formation, rows fill up.
BUSY_SLOT_CALLS = {
    "parallel": {"rewiring.rate": 1_000_000.0, "rewiring.ff.p_elim_pot": 0.3, "rewiring.lat.p_elim_pot": 0.3},
    "serial: a row or column full": {
        "rewiring.rate": 2_000_000.0,
        "rewiring.ff.p_elim_pot": 0.3,
        "rewiring.lat.p_elim_pot": 0.3,
        "rewiring.ff.p_form": 1.0,
    },
}


@needs_gxx
@pytest.mark.parametrize("path", sorted(BUSY_SLOT_CALLS))
def test_busy_slot_calls_match_the_cpu(
    path: str, make_config: Callable[..., ModelConfig], cpu_engine: Callable[..., Engine]
) -> None:
    """Many attempts per target and call, in parallel or (rows full) serially: same state, same events."""
    config = make_config(BUSY_SLOT_CALLS[path], preset="bogdan2018")
    cpu = cpu_engine(config, 7)
    paths, events = run_side_by_side(
        cpu, CudaBackend(emulated(schedule="shuffle", seed=1), mode="grid"), (40, 160), path
    )
    kinds = np.bincount(events["kind"], minlength=2)
    assert kinds.min() > 1000, kinds
    assert paths[path] >= (200 if path == "parallel" else 20), paths


@needs_gxx
@pytest.mark.parametrize("preset", ["knight2025", "bogdan2018"])
def test_large_calls_sort_in_global_memory(
    preset: str, make_config: Callable[..., ModelConfig], cpu_engine: Callable[..., Engine]
) -> None:
    """Calls with more attempts than the shared-memory sort holds sort in device memory, same result.

    The shared sort is shrunk to 16 words so that the global path runs at a size the emulator handles.
    """
    config = make_config({"rewiring.rate": 60_000.0}, preset=preset)
    cpu = cpu_engine(config, 2)
    backend = CudaBackend(emulated(schedule="reverse"), mode="block", defines={"RL_SORT_SHARED": 16})
    assert run_side_by_side(cpu, backend, (1000,), "global sort")[0]["parallel"] > 100


@needs_gxx
def test_blocks_shrink_to_what_the_device_allows(
    make_config: Callable[..., ModelConfig], cpu_engine: Callable[..., Engine]
) -> None:
    """A device that allows fewer threads per block for a kernel gets fewer; results do not change."""
    config = make_config({}, preset="knight2025")
    cpu = cpu_engine(config, 4)
    device = emulated(schedule="shuffle")
    backend = CudaBackend(device, mode="block")
    with Engine(config, 4, backend, build_state(config, 4)) as gpu:
        for kernel in backend._kernels.values():
            kernel.max_threads_per_block = 96  # launches above this raise in the emulator
        cpu.step(600)
        gpu.step(600)
        assert_states_equal(cpu.state(), gpu.state(), "96 threads per block")
        assert_events_equal(cpu.take_events(), gpu.take_events(), "96 threads per block")


@needs_gxx
def test_graph_replay_matches_direct_launches(make_config: Callable[..., ModelConfig]) -> None:
    """Grid mode with CUDA graphs (captured once, replayed) equals grid mode without."""
    config = make_config({}, preset="knight2025")
    with (
        cuda_engine(config, 3, emulated(), mode="grid", graphs=True) as a,
        cuda_engine(config, 3, emulated(), mode="grid", graphs=False) as b,
    ):
        a.step(cuda_backend.GRAPH_STEPS * 3 + 17)
        b.step(cuda_backend.GRAPH_STEPS * 3 + 17)
        assert_states_equal(a.state(), b.state(), "graphs vs direct")
        assert_events_equal(a.take_events(), b.take_events(), "graphs vs direct")


@needs_gxx
@pytest.mark.parametrize("mode", ["block", "grid"])
def test_the_step_loop_never_waits_for_the_device(mode: str, make_config: Callable[..., ModelConfig]) -> None:
    """Host waits per advance call do not grow with the steps (counts stay in device memory)."""
    config = make_config({}, preset="knight2025")
    device = emulated()
    with cuda_engine(config, 3, device, mode=mode) as eng:
        eng.step(10)
        before = device.syncs
        eng.step(200)
        short = device.syncs - before
        before = device.syncs
        eng.step(1000)
        long = device.syncs - before
        assert len(eng.take_events()) > 0
    assert long == short <= 4, f"{short} waits for 200 steps, {long} for 1,000"


@needs_gxx
def test_checkpoints_cross_backends(tmp_path: Path, make_config: Callable[..., ModelConfig]) -> None:
    """A CPU checkpoint continues on CUDA, and a CUDA one on the CPU, exactly as on the CPU."""
    config = make_config({}, preset="bogdan2018")
    with Engine.build(config, backend="cpu", seed=5) as cpu:
        cpu.step(500)
        cpu.save_checkpoint(tmp_path / "cpu.npz")
        with cuda_engine(config, 5, emulated(schedule="shuffle")) as gpu:
            gpu.load_checkpoint(tmp_path / "cpu.npz")
            cpu.step(400)
            gpu.step(400)
            assert_states_equal(cpu.state(), gpu.state(), "CPU checkpoint on CUDA")
            gpu.save_checkpoint(tmp_path / "cuda.npz")
        with Engine.from_checkpoint(tmp_path / "cuda.npz", backend="cpu") as back:
            assert back.step_count == cpu.step_count
            cpu.take_events()  # a checkpoint carries no events: compare those after it
            cpu.step(100)
            back.step(100)
            assert_states_equal(cpu.state(), back.state(), "CUDA checkpoint on the CPU")
            assert_events_equal(cpu.take_events(), back.take_events(), "CUDA checkpoint's events")


@needs_gxx
def test_live_parameters_and_state_edits(make_config: Callable[..., ModelConfig]) -> None:
    """Live changes and replaced states reach the kernels as they reach the CPU's."""
    config = make_config({}, preset="bamford2010")
    with Engine.build(config, backend="cpu", seed=2) as cpu, cuda_engine(config, 2, emulated()) as gpu:
        for eng in (cpu, gpu):
            eng.step(200)
            eng.set_parameter("stimulus.f_peak", 300.0)
            eng.set_parameter("rewiring.rate", 40000.0)
            eng.set_parameter("stdp.a_plus", 0.05)
            st = eng.state()
            table = SynapseTable(st.lat)
            posts, _ = table.row(3)
            table.remove(3, 0)  # rewire one LAT synapse of neuron 3 by hand: the slot scheme's
            table.add(3, int(posts[0]), 0.1)  # in-degree stays within s_max
            st.neurons.v[:10] = -50.0
            eng.replace_state(st)
            eng.step(300)
        assert_states_equal(cpu.state(), gpu.state(), "after live changes")
        assert_events_equal(cpu.take_events(), gpu.take_events(), "after live changes")


@needs_gxx
def test_time_rewiring_leaves_the_state_alone(make_config: Callable[..., ModelConfig]) -> None:
    config = make_config({}, preset="knight2025")
    with cuda_engine(config, 1, emulated()) as eng:
        eng.step(100)
        before = eng.state()
        assert eng.time_rewiring(0.05) > 0.0
        assert_states_equal(before, eng.state(), "time_rewiring")
        eng.step(10)


# --------------------------------------------------------------------------------- bad input


def test_a_kernel_that_fails_to_compile_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error names the file and line and quotes the compiler; ``auto`` falls back to the CPU."""
    pytest.importorskip("tests.support.cuda_emulator")
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    broken = tmp_path / "broken.cu"
    broken.write_text(
        '#include "kernels.cu"\nextern "C" __global__ void broken(int* x) { x[0] = undefined_name; }\n'
    )
    from sim.experiments.topomap.cuda.interface import interface_header

    monkeypatch.setattr(cuda_backend, "module_source", lambda: interface_header() + f'#include "{broken}"\n')
    device = emulated()
    with pytest.raises(KernelCompileError) as info:
        CudaBackend(device).warm_up()
    assert "broken.cu, line 2" in str(info.value)
    assert "undefined_name" in str(info.value)

    pretend_gpu(monkeypatch, lambda: CudaBackend(emulated()))
    config = ModelConfig()
    with Engine.build(config, backend="auto", seed=1) as eng:
        assert eng.backend_name == "cpu"
        assert eng.backend_note is not None and "broken.cu, line 2" in eng.backend_note
    with pytest.raises(KernelCompileError):
        Engine.build(config, backend="cuda", seed=1)


def pretend_gpu(monkeypatch: pytest.MonkeyPatch, create: Callable[[], CudaBackend]) -> None:
    """Make the topographic map's ``cuda`` backend available, made by ``create``."""
    from sim.experiment import BackendEntry
    from sim.experiments.topomap.experiment import TopographicMap

    own = dict(TopographicMap().backends())
    own["cuda"] = BackendEntry(create, lambda: None)
    monkeypatch.setattr(TopographicMap, "backends", lambda self: own)


@needs_gxx
def test_out_of_device_memory_is_reported(
    make_config: Callable[..., ModelConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config({"network.scale": 2}, preset="knight2025")
    with pytest.raises(DeviceMemoryError, match="ran out of memory"):
        cuda_engine(config, 1, emulated(memory_limit=200_000))
    pretend_gpu(monkeypatch, lambda: CudaBackend(emulated(memory_limit=200_000)))
    with Engine.build(config, backend="auto", seed=1) as eng:
        assert eng.backend_name == "cpu"
        assert eng.backend_note is not None and "memory" in eng.backend_note


def test_auto_says_why_it_did_not_pick_the_gpu() -> None:
    name, why = registry.auto_choice()
    reason = registry.unavailable_reason("cuda")
    if reason is None:
        assert name == "cuda"
    else:
        assert name == "cpu" and reason in why


@pytest.mark.parametrize("kind", devices())
def test_philox_and_kernels_load_on_the_device(kind: str) -> None:
    """The module compiles and loads on the device (real GPU where present)."""
    device = make_device(kind)
    backend = CudaBackend(device)
    backend.warm_up()
