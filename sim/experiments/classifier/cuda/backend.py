"""The classifier's CUDA backend: e-prop lanes, Adam and DEEP R in CuPy RawKernels.

The backend keeps a device copy of every array of a
:class:`~sim.experiments.classifier.state.ClassifierState` (and of the data
set) and runs the CPU backend's model (CLASSIFIER.md; the reference is
:mod:`sim.experiments.classifier.cpu.kernels`) in the kernels of
``kernels.cu`` and the headers beside it, compiled once, as one module, with
``--fmad=false``. It follows the CPU backend's protocol and driver: a segment
of steps never crosses the end of a batch, and the batch rows and events come
out as the CPU's do.

Per segment (up to the rest of the current trial), one launch runs every
step of every lane: a thread block per batch lane, its threads over the
neurons and synapses, barriers between the phases of a step
(``lanes.cuh``). At a trial's end one-block kernels score the lanes and, at a
training batch's end, one thread per synapse sums its gradient over the lanes
in lane order and takes its L1, Adam and noise step (``learn.cuh``), one block
runs DEEP R on both tables (``deep_r.cuh``), and one block writes the batch
row, moves the clock, draws the next epoch's order and gives the lanes their
examples. Launch shapes never depend on the data, and the clock is mirrored on
the host (it is integer bookkeeping), so nothing waits for the device inside
:meth:`ClassifierCudaBackend.advance` except, rarely, a drain of the event or
row buffer before it could overflow; it waits once at the end, to collect the
events and rows.

Agreement with the CPU backend
------------------------------
Every float operation is the CPU's, in the CPU's order, so the states (floats
included), the events and the batch rows match the CPU backend bit for bit on
the CUDA emulator, which the tests check:

* the input currents are summed in the CPU's order without atomics: each
  spiking row in turn, a thread per synapse (a row has no two synapses onto one
  target), or on the dense kernel a thread per target gathering in spike order;
* sums over lanes (gradients, scores) and over outputs (softmax, learning
  signal) run in the CPU's order on one thread each; Adam is per synapse;
* the softmax's ``expf`` is a port of the C library's expf that Numba calls
  (glibc's, with its fused multiply-adds: ``expf.cuh``), not CUDA's, which
  rounds differently in places;
* Adam's bias corrections use Numba's exponentiation by squaring;
* DEEP R's prune scans each row from its end and its regrowth replays the
  CPU's serial loop with the same Philox counters, so regrown pairs, table
  layouts and events are identical. Both run in parallel over rows
  (``deep_r.cuh``): each regrowth draw depends on earlier ones only through its
  own row (a pair drawn before, the row filling up) and through the stopping
  point, so a window of draws is sorted by row, each row's draws are decided in
  draw order by one thread, and a prefix sum finds where the loop stops; no
  serial fallback is needed. (``batch.cuh``'s sorted batch is not used: it
  applies a row's changes in target order, the CPU in draw order.)

On a real GPU three things can still differ, none of them by design of the
kernels. CuPy compiles with ``-ftz=true``, so a float32 that would be
subnormal (below 1.2e-38) becomes zero where the CPU keeps it; in this model
only a gradient below about 3e-18 squared into Adam's second moment, a trace
decayed for about 1,700 steps, or a softmax probability of readouts more than
87 apart can get there. The temperature noise's ``log``/``cos`` and the loss's
``exp``/``log`` are the device's double-precision functions, which may differ
from glibc's in the last bit: the noise is rounded to float32 afterwards, so a
weight differs only when such a bit crosses a float32 rounding boundary (about
one draw in 2^29), and the loss feeds only the reported loss. Adam's bias
correction after 65,536 updates uses ``pow``. Conversely the CPU backend's
softmax is the platform's expf: the port matches glibc's on x86-64 with FMA
(and the variant without FMA but for about one call in 2^29); with another C
library (macOS, Windows) the CPU itself computes other last bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.backends.cuda import HEADER_DIR
from sim.backends.cuda.device import Device, Kernel
from sim.data import SpikeData, SpikeDataset
from sim.events import EV_COLS, EVENT_DTYPE, events_from_rows
from sim.experiments.classifier.cuda.interface import (
    COUNT_EVENT_CAP,
    COUNT_EVENTS,
    COUNT_ROW_CAP,
    COUNT_ROWS,
    N_COUNTS,
    SLOT_INDEX,
    SLOTS,
    STATE_SLOTS,
    interface_header,
)
from sim.experiments.classifier.params import (
    C_BATCH,
    C_T,
    I_DEEP_R,
    I_LANES,
    I_N_HID,
    I_N_OUT,
    I_N_TRAIN,
    I_TEST_BATCHES,
    I_TRAIN_BATCHES,
    I_TRIAL_STEPS,
)
from sim.experiments.classifier.records import BATCH_DTYPE, N_BATCH_FIELDS, record_from_row
from sim.experiments.classifier.state import ClassifierState, state_from_arrays, state_to_arrays

SOURCE_DIR = Path(__file__).resolve().parent
KERNELS: tuple[str, ...] = (
    "cls_run_lanes",
    "cls_finish_trial",
    "cls_learn",
    "cls_deep_r",
    "cls_end_batch",
    "cls_start_batch",
)
#: NVRTC options: no fused multiply-add, so every float operation rounds as on the CPU.
COMPILE_OPTIONS: tuple[str, ...] = ("--std=c++17", "--fmad=false", f"-I{SOURCE_DIR}", f"-I{HEADER_DIR}")
#: Threads of a lane's block and of the one-block kernels (fewer if the device allows fewer).
BLOCK_THREADS = 256
#: Threads per block of the kernels over every synapse, and the most blocks they launch.
GRID_THREADS = 256
MAX_GRID_BLOCKS = 4096
#: A lane's scratch (5 words per hidden neuron, 1 per output) goes to shared memory up to this size.
LANE_SHARED_BYTES = 40 * 1024
#: Regrowth attempts decided at once (a power of two; any size gives the same result).
REGROW_WINDOW = 4096
#: Rows of the event buffer at least (40 bytes each), and batch rows held between drains.
EVENT_BUFFER_ROWS = 1 << 16
ROW_BUFFER_ROWS = 1024


def module_source() -> str:
    """The CUDA source of the module: the generated interface, then the kernels, by include."""
    return interface_header() + '#include "kernels.cu"\n'


def _pow2_at_least(n: int) -> int:
    size = 2
    while size < n:
        size *= 2
    return size


def _split_arrays(split: SpikeData) -> list[NDArray[Any]]:
    """A split's arrays in the pointer table's order (offsets, steps, units, labels)."""
    return [
        np.ascontiguousarray(split.offsets, np.int64),
        np.ascontiguousarray(split.steps, np.int32),
        np.ascontiguousarray(split.units, np.int32),
        np.ascontiguousarray(split.labels, np.int32),
    ]


def _active(state: ClassifierState) -> int:
    """Synapses present in both tables (DEEP R never adds to this count)."""
    return int(sum(int(t.row_len.sum()) for t in state.tables()))


class ClassifierCudaBackend:
    """Runs the classifier on a GPU through a :class:`~sim.backends.cuda.device.Device`.

    ``threads`` is the block size of the lane and one-block kernels;
    ``regrow_window`` the attempts DEEP R's regrowth decides at once. Neither
    changes a result.
    """

    name = "cuda"

    def __init__(
        self, device: Device, *, threads: int = BLOCK_THREADS, regrow_window: int = REGROW_WINDOW
    ) -> None:
        if threads < 32 or threads % 32:
            raise ValueError(f"threads must be a positive multiple of 32, got {threads}")
        if regrow_window < 1:
            raise ValueError(f"regrow_window must be positive, got {regrow_window}")
        self._dev = device
        self._want_threads = int(threads)
        self._window = _pow2_at_least(int(regrow_window))
        self._kernels: dict[str, Kernel] = {}
        self._arrays: dict[str, Any] = {}
        self._layout: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
        self._pinned: dict[str, NDArray[Any]] = {}
        self._ptrs: Any = None
        self._fp = np.zeros(0)
        self._ip = np.zeros(0, np.int64)
        self._t = 0  # the clock's trial step and batch, mirrored on the host
        self._batch = 0
        self._per_batch_events = 0
        self._events_bound = 0
        self._rows_bound = 0
        self._events: list[NDArray[np.void]] = []
        self._rows: list[NDArray[np.void]] = []
        self._sort_size = 2

    # -- set-up -----------------------------------------------------------------------------------
    @property
    def device(self) -> Device:
        """The device the backend runs on."""
        return self._dev

    def _compile(self) -> None:
        if not self._kernels:
            self._kernels = self._dev.compile(module_source(), COMPILE_OPTIONS, KERNELS)

    def _threads(self, kernel: str, wanted: int) -> int:
        """``wanted`` threads for a block of ``kernel``, fewer (whole warps) if the device allows fewer."""
        most = self._kernels[kernel].max_threads_per_block // 32 * 32
        return max(32, min(wanted, most))

    def allocate(
        self, state: ClassifierState, fp: NDArray[np.float64], ip: NDArray[np.int64], data: SpikeDataset
    ) -> None:
        """Copy ``state`` and the data set's splits to the device and set the parameters."""
        self._compile()
        dev = self._dev
        host = state_to_arrays(state)
        self._layout = {name: (host[name].shape, host[name].dtype) for name in STATE_SLOTS}
        arrays: dict[str, Any] = {"fp": dev.zeros(len(fp), np.float64), "ip": dev.zeros(len(ip), np.int64)}
        for name in STATE_SLOTS:
            arrays[name] = dev.to_device(np.ascontiguousarray(host[name]).ravel())
        for split_name, split in (("train", data.train), ("test", data.test)):
            fields = ("offsets", "steps", "units", "labels")
            for field, values in zip(fields, _split_arrays(split), strict=True):
                arrays[f"{split_name}.{field}"] = dev.to_device(values)
        lanes, n_hid, n_out = int(ip[I_LANES]), int(ip[I_N_HID]), int(ip[I_N_OUT])
        for name in ("cur", "psi", "lsig", "reg"):
            arrays[name] = dev.zeros(lanes * n_hid, np.float32)
        arrays["spk"] = dev.zeros(lanes * n_hid, np.int32)
        arrays["err"] = dev.zeros(lanes * n_out, np.float32)
        arrays["bc"] = dev.zeros(2, np.float64)
        arrays["counts"] = dev.zeros(N_COUNTS, np.int64)
        arrays["rows"] = dev.zeros(ROW_BUFFER_ROWS * N_BATCH_FIELDS, np.float64)
        arrays["row_out"] = dev.zeros(N_BATCH_FIELDS, np.float64)
        arrays["rg_keys"] = dev.zeros(self._window, np.uint64)
        for name in ("rg_post", "rg_ok", "rg_pos"):
            arrays[name] = dev.zeros(self._window, np.int32)
        self._sort_size = _pow2_at_least(int(ip[I_N_TRAIN]))
        arrays["sort_keys"] = dev.zeros(self._sort_size, np.uint64)
        arrays["sort_idx"] = dev.zeros(self._sort_size, np.int32)
        self._arrays = arrays
        self._pinned = {name: dev.pinned(arrays[name].size, arrays[name].dtype) for name in STATE_SLOTS}
        self._ptrs = dev.zeros(len(SLOTS), np.uint64)
        self._events, self._rows = [], []
        self._event_buffer(_active(state))
        self._write_pointer_table()
        self._mirror(state)
        self.set_params(fp, ip)

    def _event_buffer(self, active: int) -> None:
        """An event buffer for at least one training batch's events (each synapse removed and
        regrown once); a new one (after a drain) when the current one is smaller."""
        self._per_batch_events = 2 * active + 16
        rows = max(EVENT_BUFFER_ROWS, self._per_batch_events)
        if "ev" in self._arrays and self._arrays["ev"].size >= rows * EV_COLS:
            return
        replacing = "ev" in self._arrays
        if replacing:
            self._drain()
        self._arrays["ev"] = self._dev.zeros(rows * EV_COLS, np.int64)
        counts = np.zeros(N_COUNTS, np.int64)
        counts[COUNT_EVENT_CAP] = rows
        counts[COUNT_ROW_CAP] = ROW_BUFFER_ROWS
        self._dev.upload(self._arrays["counts"], counts)
        if replacing:
            self._write_pointer_table()

    def _write_pointer_table(self) -> None:
        addresses = np.zeros(len(SLOTS), np.uint64)
        for name, index in SLOT_INDEX.items():
            addresses[index] = self._dev.address(self._arrays[name])
        self._dev.upload(self._ptrs, addresses)

    def _mirror(self, state: ClassifierState) -> None:
        self._t = int(state.clock[C_T])
        self._batch = int(state.clock[C_BATCH])

    def set_params(self, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Replace the kernel parameters (they apply from the next step)."""
        self._fp = np.array(fp, np.float64)
        self._ip = np.array(ip, np.int64)
        if not self._arrays:
            return
        self._dev.upload(self._arrays["fp"], self._fp)
        self._dev.upload(self._arrays["ip"], self._ip)

    def _require(self) -> None:
        if not self._arrays:
            raise RuntimeError("the CUDA backend has no network allocated")

    # -- running ----------------------------------------------------------------------------------
    def _lane_launch(self) -> tuple[int, int, int]:
        """Threads of a lane's block, whether its scratch is in shared memory, and the bytes."""
        threads = self._threads("cls_run_lanes", self._want_threads)
        nbytes = 4 * (5 * int(self._ip[I_N_HID]) + int(self._ip[I_N_OUT]))
        shared = nbytes <= LANE_SHARED_BYTES
        return threads, int(shared), nbytes if shared else 0

    def _grid(self, total: int) -> int:
        return max(1, min(MAX_GRID_BLOCKS, (total + GRID_THREADS - 1) // GRID_THREADS))

    def _segment(self, n: int) -> None:
        """``n`` steps of the current trial; at its end, the end of the batch (as finish_segment)."""
        k, ptrs, ip = self._kernels, self._ptrs, self._ip
        threads, shared, nbytes = self._lane_launch()
        lanes = int(ip[I_LANES])
        k["cls_run_lanes"]((lanes,), (threads,), (ptrs, np.int64(n), np.int32(shared)), nbytes)
        block = self._threads("cls_finish_trial", self._want_threads)
        k["cls_finish_trial"]((1,), (block,), (ptrs, np.int64(n)))
        self._t += n
        trial = int(ip[I_TRIAL_STEPS])
        if self._t < trial:
            return
        train_batches = int(ip[I_TRAIN_BATCHES])
        deep_r = self._batch < train_batches and int(ip[I_DEEP_R]) != 0
        if (
            deep_r and self._events_bound + self._per_batch_events > self._event_rows()
        ) or self._rows_bound >= ROW_BUFFER_ROWS:
            self._drain()
        if self._batch < train_batches:
            tin, trec = (self._layout[f"{t}.weight"][0][0] for t in ("in", "rec"))
            total = tin + trec + int(self._ip[I_N_HID] + 1) * int(self._ip[I_N_OUT])
            k["cls_learn"]((self._grid(total),), (GRID_THREADS,), (ptrs,))
            if deep_r:
                block = self._threads("cls_deep_r", self._want_threads)
                k["cls_deep_r"]((1,), (block,), (ptrs, np.int64(self._window)))
                self._events_bound += self._per_batch_events
        block = self._threads("cls_end_batch", self._want_threads)
        k["cls_end_batch"]((1,), (block,), (ptrs, np.int64(self._sort_size)))
        self._rows_bound += 1
        per_lane = max(self._layout[f"{t}.elig"][0][1] for t in ("in", "rec"))
        k["cls_start_batch"]((self._grid(lanes * per_lane),), (GRID_THREADS,), (ptrs,))
        self._t = 0
        self._batch = (self._batch + 1) % (train_batches + int(ip[I_TEST_BATCHES]))

    def _event_rows(self) -> int:
        return int(self._arrays["ev"].size // EV_COLS)

    def _drain(self) -> None:
        """Collect the events and batch rows written so far (waits for the device)."""
        dev, arrays = self._dev, self._arrays
        counts = dev.to_host(arrays["counts"])
        n_events, n_rows = int(counts[COUNT_EVENTS]), int(counts[COUNT_ROWS])
        self._events_bound = 0
        self._rows_bound = 0
        if n_events == 0 and n_rows == 0:
            return
        if n_events > counts[COUNT_EVENT_CAP] or n_rows > counts[COUNT_ROW_CAP]:
            raise RuntimeError(
                f"the CUDA event or row buffer overflowed ({n_events} events, {n_rows} rows "
                f"for {int(counts[COUNT_EVENT_CAP])} and {int(counts[COUNT_ROW_CAP])})"
            )
        if n_events:
            rows = dev.to_host(arrays["ev"][: n_events * EV_COLS]).reshape(n_events, EV_COLS)
            self._events.append(events_from_rows(rows))
        if n_rows:
            flat = dev.to_host(arrays["rows"][: n_rows * N_BATCH_FIELDS])
            self._rows.extend(record_from_row(row) for row in flat.reshape(n_rows, N_BATCH_FIELDS))
        counts[COUNT_EVENTS] = 0
        counts[COUNT_ROWS] = 0
        dev.upload(arrays["counts"], counts)

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; return the rewiring events (batch rows wait in :meth:`take_records`)."""
        self._require()
        left = int(n_steps)
        trial = int(self._ip[I_TRIAL_STEPS])
        while left > 0:
            n = min(left, trial - self._t)
            self._segment(n)
            left -= n
        self._drain()
        events, self._events = self._events, []
        if not events:
            return np.zeros(0, EVENT_DTYPE)
        return events[0] if len(events) == 1 else np.concatenate(events)

    def take_records(self) -> Mapping[str, NDArray[np.void]]:
        """The batch rows completed since the last call (``batches``)."""
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, BATCH_DTYPE)
        self._rows = []
        return {"batches": rows}

    def warm_up(self) -> None:
        """The kernels were compiled and loaded by :meth:`allocate`; a launch of no steps checks it."""
        self._compile()
        if self._arrays:
            threads, shared, nbytes = self._lane_launch()
            args = (self._ptrs, np.int64(0), np.int32(shared))
            self._kernels["cls_run_lanes"]((1,), (threads,), args, nbytes)
            self._dev.synchronize()

    # -- host copies ------------------------------------------------------------------------------
    def pull_state(self) -> ClassifierState:
        """A host copy of the whole state: every array queued into pinned memory, one wait."""
        self._require()
        dev, buffers = self._dev, self._pinned
        for name in STATE_SLOTS:
            dev.copy_async(self._arrays[name], buffers[name])
        dev.record().synchronize()
        arrays = {name: buffers[name].reshape(shape) for name, (shape, _dtype) in self._layout.items()}
        return state_from_arrays(arrays)

    def push_state(self, state: ClassifierState) -> None:
        """Replace the device state by ``state`` (same layout)."""
        self._require()
        host = state_to_arrays(state)
        for name, (shape, dtype) in self._layout.items():
            if host[name].shape != shape or host[name].dtype != dtype:
                raise ValueError(f"the state's {name} does not match the allocated network")
        for name in STATE_SLOTS:
            self._dev.upload(self._arrays[name], host[name])
        self._event_buffer(_active(state))
        self._mirror(state)

    def close(self) -> None:
        """Release device memory."""
        self._arrays = {}
        self._pinned = {}
        self._ptrs = None
        self._dev.close()
