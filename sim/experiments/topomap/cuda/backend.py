"""The CUDA backend: the model of MODEL.md in CuPy RawKernels over GeNN-style ragged tables.

All kernels live in ``kernels.cu`` and the headers beside it and are compiled
once, as one module, when the backend allocates its first network (on the
thread that owns the engine: the simulation thread in the app).

Two ways to run steps, chosen by network size (``mode="auto"``):

* ``block``: networks of at most :data:`BLOCK_MODE_MAX_NEURONS` neurons per
  layer run many whole steps per launch of ``run_steps``, one thread block
  with barriers between the phases: one launch per :meth:`advance` chunk
  instead of seven per step.
* ``grid``: larger networks run each phase as a kernel over the whole GPU,
  seven launches per step, replayed from a CUDA graph of
  :data:`GRAPH_STEPS` steps.

In both, launch shapes are fixed and every count (spikes, attempts, events)
stays in device memory: the host waits only at the end of an
:meth:`advance` call, to collect the rewiring events.

A rewiring call runs in one block. Its attempts are sorted and decided in
parallel, with the serial loop as the exact fallback in the rare calls where a
parallel result could differ from it (``rewiring.cuh``);
:meth:`CudaBackend.rewiring_paths` counts how the calls ran.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.backends.cuda import HEADER_DIR
from sim.backends.cuda.device import Device, Graph, Kernel
from sim.events import EV_COLS, EVENT_DTYPE, events_from_rows
from sim.experiments.topomap.cuda.interface import interface_header
from sim.experiments.topomap.cuda.layout import DEVICE_NEURON_FIELDS, SLOT_INDEX, SLOTS
from sim.experiments.topomap.params import (
    I_MAX_ATTEMPTS,
    I_REWIRE_EVERY,
    formation_table,
    max_events_per_step,
    stimulus_table,
)
from sim.experiments.topomap.state import S_STIM_DIRTY, NetworkState, NeuronArrays, ProjectionTable

SOURCE_DIR = Path(__file__).resolve().parent
#: Kernels of the module, in the order a grid-mode step launches them (then the others).
STEP_KERNELS: tuple[str, ...] = (
    "source_spikes",
    "neuron_update",
    "compact_spikes",
    "propagate_stdp",
    "potentiate",
    "update_traces",
    "rewire",
)
KERNELS: tuple[str, ...] = (*STEP_KERNELS, "rewire_only", "run_steps")
#: NVRTC options: no fused multiply-add, so every float operation rounds as on the CPU.
COMPILE_OPTIONS: tuple[str, ...] = ("--std=c++17", "--fmad=false", f"-I{SOURCE_DIR}", f"-I{HEADER_DIR}")
#: Largest network (neurons per layer) that runs in one block.
BLOCK_MODE_MAX_NEURONS = 4096
#: Most threads of a one-block kernel (run_steps, compact_spikes, rewire), registers permitting.
BLOCK_THREADS = 1024
GRID_THREADS = 256
#: Steps per captured CUDA graph in grid mode.
GRAPH_STEPS = 100
#: Rows of the event buffer (each 40 bytes) at least.
EVENT_BUFFER_ROWS = 1 << 16
#: How a projection's rewiring call ran, in the order of the RW_PATH_* enum of rewiring.cuh.
REWIRING_PATHS: tuple[str, ...] = (
    "parallel",
    "serial: a pair drawn twice",
    "serial: a row or column full",
    "serial: a multapse attempted",
    "serial: network too large to sort",
)


#: Device arrays that make up a NetworkState (pulled into pinned buffers for snapshots).
STATE_ARRAYS: tuple[str, ...] = (
    "istate",
    *(f"neurons.{f}" for f in DEVICE_NEURON_FIELDS),
    *(f"{g}.{f}" for g in ("ff", "lat") for f in ProjectionTable._fields),
)


def _host_arrays(state: NetworkState) -> list[tuple[str, NDArray[Any]]]:
    """``(name, array)`` for every name in STATE_ARRAYS; bool flags as bytes, as the kernels see them."""
    flat = state.to_arrays()
    return [
        (name, flat[name].view(np.uint8) if flat[name].dtype == np.bool_ else flat[name])
        for name in STATE_ARRAYS
    ]


def module_source() -> str:
    """The CUDA source of the module: the generated interface, then every kernel file, by include."""
    return interface_header() + '#include "kernels.cu"\n'


def _pow2_at_least(n: int, least: int = 16) -> int:
    size = least
    while size < n:
        size *= 2
    return size


class CudaBackend:
    """Runs the model on a GPU through a :class:`~sim.backends.cuda.device.Device`.

    ``mode`` is ``"auto"``, ``"block"`` or ``"grid"``; ``graphs`` turns CUDA
    graphs on or off in grid mode; ``defines`` sets compile-time constants of
    the kernel sources (such as ``RL_SORT_SHARED``, the most attempts sorted in
    shared memory).
    """

    name = "cuda"

    def __init__(
        self,
        device: Device,
        *,
        mode: str = "auto",
        graphs: bool = True,
        defines: Mapping[str, int] | None = None,
    ) -> None:
        if mode not in ("auto", "block", "grid"):
            raise ValueError(f"mode must be 'auto', 'block' or 'grid', got {mode!r}")
        self._dev = device
        self._options = (*COMPILE_OPTIONS, *(f"-D{k}={int(v)}" for k, v in (defines or {}).items()))
        self._mode_request = mode
        self._use_graphs = graphs
        self._kernels: dict[str, Kernel] = {}
        self._arrays: dict[str, Any] = {}
        self._ptrs: Any = None
        self._graph: Graph | None = None
        self._done: Any = None
        self._n = 0
        self._mode = "grid"
        self._fp = np.zeros(0)
        self._ip = np.zeros(0, np.int64)
        self._pending_events: list[NDArray[np.void]] = []
        self._pinned: dict[str, NDArray[Any]] = {}
        self._graph_rewire_threads = 0

    # -- set-up -----------------------------------------------------------------------------------
    @property
    def device(self) -> Device:
        """The device the backend runs on."""
        return self._dev

    @property
    def mode(self) -> str:
        """``"block"`` or ``"grid"``: how steps run for the allocated network."""
        return self._mode

    def _compile(self) -> None:
        if not self._kernels:
            self._kernels = self._dev.compile(module_source(), self._options, KERNELS)

    def allocate(self, state: NetworkState, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Copy ``state`` to the device and set the parameters."""
        self._compile()
        n = state.neurons.v.shape[0]
        if n % 32:
            raise ValueError(f"the CUDA backend needs a multiple of 32 neurons per layer, got {n}")
        self._n = n
        self._mode = self._mode_request
        if self._mode == "auto":
            self._mode = "block" if n <= BLOCK_MODE_MAX_NEURONS else "grid"
        self._graph = None
        arrays: dict[str, Any] = {}
        arrays["fp"] = self._dev.zeros(len(fp), np.float64)
        arrays["ip"] = self._dev.zeros(len(ip), np.int64)
        for name, host in _host_arrays(state):
            arrays[name] = self._dev.to_device(host)
        arrays["src_mask"] = self._dev.zeros(n // 32, np.uint32)
        arrays["tgt_mask"] = self._dev.zeros(n // 32, np.uint32)
        arrays["ev_count"] = self._dev.zeros(1, np.uint64)
        arrays["ev_cap"] = self._dev.zeros(1, np.int64)
        self._arrays = arrays
        self._pinned = {
            name: self._dev.pinned(arrays[name].size, arrays[name].dtype) for name in STATE_ARRAYS
        }
        arrays["rw_paths"] = self._dev.zeros(len(REWIRING_PATHS), np.int64)
        self._done = self._dev.zeros(1, np.int64)
        self._ptrs = self._dev.zeros(len(SLOTS), np.uint64)
        self.set_params(fp, ip)

    def set_params(self, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Replace the parameters and the tables derived from them; refresh the stimulus at the next step."""
        self._fp = np.array(fp, np.float64)
        self._ip = np.array(ip, np.int64)
        if not self._arrays:
            return
        dev, arrays = self._dev, self._arrays
        dev.upload(arrays["fp"], self._fp)
        dev.upload(arrays["ip"], self._ip)
        for name, table in (
            ("stim_table", stimulus_table(self._fp, self._ip)),
            ("form_table", formation_table(self._fp, self._ip).ravel()),
        ):
            if name in arrays:
                dev.upload(arrays[name], table)
            else:
                arrays[name] = dev.to_device(table)
        max_a = int(self._ip[I_MAX_ATTEMPTS])
        if "pair_keys" not in arrays or arrays["pair_keys"].size < max_a:
            arrays["pair_keys"] = dev.zeros(max_a, np.int64)
            arrays["pair_accept"] = dev.zeros(max_a, np.float32)
            arrays["pair_tmp_keys"] = dev.zeros(max_a, np.int64)
            arrays["pair_tmp_accept"] = dev.zeros(max_a, np.float32)
            arrays["pair_hash"] = dev.zeros(_pow2_at_least(2 * max_a), np.int64)
            sort = _pow2_at_least(max_a, 2)
            arrays["rw_keys"] = dev.zeros(sort, np.uint64)
            arrays["rw_cols"] = dev.zeros(sort, np.uint64)
            for name in ("rw_op", "rw_arg", "rw_pos", "rw_ops", "rw_pre", "rw_kill"):
                arrays[name] = dev.zeros(sort, np.int32)
        if self._graph is not None and self._rewire_threads() != self._graph_rewire_threads:
            self._graph = None  # captured with another rewiring block size
        rows = max(EVENT_BUFFER_ROWS, 4 * max_events_per_step(self._ip))
        if "ev" not in arrays or arrays["ev"].size < rows * EV_COLS:
            if "ev" in arrays:
                self._drain()  # keep the events recorded so far
            arrays["ev"] = dev.zeros(rows * EV_COLS, np.int64)
            dev.upload(arrays["ev_cap"], np.array([rows], np.int64))
        istate = dev.to_host(arrays["istate"])
        istate[S_STIM_DIRTY] = 1
        dev.upload(arrays["istate"], istate)
        self._write_pointer_table()

    def _write_pointer_table(self) -> None:
        addresses = np.zeros(len(SLOTS), np.uint64)
        for name, index in SLOT_INDEX.items():
            addresses[index] = self._dev.address(self._arrays[name])
        self._dev.upload(self._ptrs, addresses)

    def warm_up(self) -> None:
        """Compile and load every kernel now (done in :meth:`allocate`); run a zero-step call of each path."""
        self._compile()
        if self._arrays:
            self._kernels["run_steps"]((1,), (32,), (self._ptrs, np.int64(0), np.int64(0), self._done))
            self._kernels["rewire_only"]((1,), (32,), (self._ptrs, np.int64(0)))
            self._dev.synchronize()

    def _threads(self, kernel: str, wanted: int) -> int:
        """``wanted`` threads for a block of ``kernel``, fewer (whole warps) if the device allows fewer."""
        most = self._kernels[kernel].max_threads_per_block // 32 * 32
        return max(32, min(wanted, most))

    def _rewire_threads(self) -> int:
        """Threads of the rewiring block: about one per two attempts, whole warps, at most BLOCK_THREADS."""
        wanted = _pow2_at_least(int(self._ip[I_MAX_ATTEMPTS]), 64) // 2
        return self._threads("rewire", min(BLOCK_THREADS, wanted))

    def rewiring_paths(self) -> dict[str, int]:
        """How many projection calls ran each way (:data:`REWIRING_PATHS`) since allocation."""
        counts = self._dev.to_host(self._arrays["rw_paths"])
        return {name: int(c) for name, c in zip(REWIRING_PATHS, counts, strict=True)}

    # -- running ----------------------------------------------------------------------------------
    def _reserve(self) -> int:
        return max_events_per_step(self._ip)

    def _steps_per_drain(self) -> int:
        """Steps after which the event buffer must be drained (it cannot overflow before)."""
        rows = int(self._arrays["ev"].size // EV_COLS)
        calls = max(1, rows // self._reserve() - 1)
        return calls * int(self._ip[I_REWIRE_EVERY])

    def _launch_step(self) -> None:
        n = self._n
        k = self._kernels
        args = (self._ptrs,)
        poisson_blocks = n // 32
        k["source_spikes"](((poisson_blocks + GRID_THREADS - 1) // GRID_THREADS,), (GRID_THREADS,), args)
        k["neuron_update"](((n + GRID_THREADS - 1) // GRID_THREADS,), (GRID_THREADS,), args)
        k["compact_spikes"]((1,), (self._threads("compact_spikes", min(BLOCK_THREADS, n // 32)),), args)
        # One warp per spike, grid-stride: a warp for every 8 neurons covers a step's spikes.
        warps_blocks = max(1, min(n // 64, 1024))
        k["propagate_stdp"]((warps_blocks,), (GRID_THREADS,), args)
        k["potentiate"]((warps_blocks,), (GRID_THREADS,), args)
        k["update_traces"](((2 * n + GRID_THREADS - 1) // GRID_THREADS,), (GRID_THREADS,), args)
        k["rewire"]((1,), (self._rewire_threads(),), args)

    def _launch_graph_steps(self) -> None:
        for _ in range(GRAPH_STEPS):
            self._launch_step()

    def _run_grid(self, n_steps: int) -> None:
        if self._use_graphs and n_steps >= GRAPH_STEPS:
            if self._graph is None:
                self._graph = self._dev.capture(self._launch_graph_steps)
                self._graph_rewire_threads = self._rewire_threads()
            for _ in range(n_steps // GRAPH_STEPS):
                self._graph.launch()
            n_steps %= GRAPH_STEPS
        for _ in range(n_steps):
            self._launch_step()

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; returns their rewiring events (waits for the device once per chunk)."""
        if not self._arrays:
            raise RuntimeError("the CUDA backend has no network allocated")
        left = int(n_steps)
        reserve = self._reserve()
        while left > 0:
            if self._mode == "block":
                threads = self._threads("run_steps", min(BLOCK_THREADS, max(256, self._n // 4)))
                self._kernels["run_steps"](
                    (1,), (threads,), (self._ptrs, np.int64(left), np.int64(reserve), self._done)
                )
                done = int(self._dev.to_host(self._done)[0])
            else:
                done = min(left, self._steps_per_drain())
                self._run_grid(done)
            left -= done
            self._drain()
        events = self._pending_events
        self._pending_events = []
        if not events:
            return np.zeros(0, EVENT_DTYPE)
        return events[0] if len(events) == 1 else np.concatenate(events)

    def _drain(self) -> None:
        count = int(self._dev.to_host(self._arrays["ev_count"])[0])
        if count == 0:
            return
        rows = int(self._arrays["ev"].size // EV_COLS)
        if count > rows:
            raise RuntimeError(f"the CUDA event buffer overflowed ({count} events for {rows} rows)")
        ev = self._dev.to_host(self._arrays["ev"]).reshape(-1, EV_COLS)[:count]
        self._pending_events.append(events_from_rows(ev))
        self._dev.upload(self._arrays["ev_count"], np.zeros(1, np.uint64))

    # -- host copies ------------------------------------------------------------------------------
    def pull_state(self) -> NetworkState:
        """A host copy of the whole state: every array queued into pinned memory, one wait."""
        dev, arrays, buffers = self._dev, self._arrays, self._pinned
        for name in STATE_ARRAYS:
            dev.copy_async(arrays[name], buffers[name])
        dev.record().synchronize()
        n = self._n
        neurons = {f: np.array(buffers[f"neurons.{f}"]) for f in DEVICE_NEURON_FIELDS}
        neurons["fired"] = neurons["fired"].view(np.bool_)
        neurons["fac"] = np.zeros(n, np.float32)
        neurons["bits"] = np.zeros(n, np.int32)
        tables = [
            ProjectionTable(*(np.array(buffers[f"{g}.{f}"]) for f in ProjectionTable._fields))
            for g in ("ff", "lat")
        ]
        return NetworkState(NeuronArrays(**neurons), tables[0], tables[1], np.array(buffers["istate"]))

    def push_state(self, state: NetworkState) -> None:
        """Replace the device state by ``state`` (same layout)."""
        dev, arrays = self._dev, self._arrays
        if state.neurons.v.shape[0] != self._n:
            raise ValueError("the state does not match the allocated network")
        for name, host in _host_arrays(state):
            dev.upload(arrays[name], host)
        dev.upload(arrays["src_mask"], np.zeros(self._n // 32, np.uint32))
        dev.upload(arrays["tgt_mask"], np.zeros(self._n // 32, np.uint32))

    def time_rewiring(self, n_steps: int) -> float:
        """Wall seconds of the rewiring calls of ``n_steps`` steps; the state is restored afterwards."""
        saved = self.pull_state()
        paths = self._dev.to_host(self._arrays["rw_paths"])
        self._drain()
        pending = self._pending_events
        self._dev.synchronize()
        t0 = time.perf_counter()
        self._kernels["rewire_only"]((1,), (self._rewire_threads(),), (self._ptrs, np.int64(n_steps)))
        self._dev.synchronize()
        wall = time.perf_counter() - t0
        self.push_state(saved)
        self._dev.upload(self._arrays["rw_paths"], paths)
        self._dev.upload(self._arrays["ev_count"], np.zeros(1, np.uint64))
        self._pending_events = pending
        return wall

    def close(self) -> None:
        """Release device memory."""
        self._graph = None
        self._arrays = {}
        self._ptrs = None
        self._dev.close()
