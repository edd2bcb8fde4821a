"""The toy's CUDA backend: ``toy.cu`` on any :class:`sim.backends.cuda.device.Device`.

The tests run it on the CUDA emulator (:class:`tests.support.cuda_emulator.EmulatedDevice`),
where it must produce the same states and events as :class:`tests.support.toy.cpu.ToyCpuBackend`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.backends.cuda import HEADER_DIR
from sim.backends.cuda.device import Device, Kernel
from sim.events import EV_COLS, empty_events, events_from_rows
from sim.synapses import TableArrays
from tests.support.toy.cpu import EVENT_ROWS, ToyParams, chunk_steps
from tests.support.toy.state import ToyState

SOURCE = Path(__file__).resolve().parent / "toy.cu"
#: No fused multiply-add (the kernel has no float arithmetic, but the options match the topomap's).
COMPILE_OPTIONS: tuple[str, ...] = ("--std=c++17", "--fmad=false", f"-I{HEADER_DIR}")
KERNEL = "toy_run_steps"
#: Threads of the one block (the counts are updated by all of them, the rewiring by thread 0).
BLOCK_THREADS = 64


class ToyCudaBackend:
    """Runs the toy's kernel on ``device``, one block per call."""

    name = "cuda"

    def __init__(self, device: Device) -> None:
        self._dev = device
        self._kernel: Kernel | None = None
        self._table: dict[str, Any] = {}
        self._count: Any = None
        self._clock: Any = None
        self._events: Any = None
        self._n_events: Any = None
        self._params: ToyParams | None = None

    def allocate(self, state: ToyState, params: ToyParams) -> None:
        """Compile the kernel (once), upload ``state`` and take the kernel parameters."""
        if self._kernel is None:
            source = SOURCE.read_text(encoding="utf-8")
            self._kernel = self._dev.compile(source, COMPILE_OPTIONS, (KERNEL,))[KERNEL]
            self._events = self._dev.zeros(EVENT_ROWS * EV_COLS, np.int64)
            self._n_events = self._dev.zeros(1, np.int64)
        self.push_state(state)
        self.set_params(params)

    def set_params(self, params: ToyParams) -> None:
        """New kernel parameters (live changes)."""
        self._params = params

    def push_state(self, state: Any) -> None:
        """Upload ``state`` (new device arrays)."""
        self._table = {name: self._dev.to_device(arr) for name, arr in state.table._asdict().items()}
        self._count = self._dev.to_device(state.count)
        self._clock = self._dev.to_device(np.array([state.step], np.int64))

    def pull_state(self) -> ToyState:
        """A host copy of the device state."""
        self._require()
        table = TableArrays._make(self._dev.to_host(self._table[name]) for name in TableArrays._fields)
        return ToyState(table, self._dev.to_host(self._count), int(self._dev.to_host(self._clock)[0]))

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; the events they produced (EVENT_DTYPE)."""
        p = self._require()
        chunks: list[NDArray[np.void]] = []
        done = 0
        while done < n_steps:
            k = min(chunk_steps(p), n_steps - done)
            self._launch(p, k)
            rows = int(self._dev.to_host(self._n_events)[0])
            if rows:
                flat = self._dev.to_host(self._events)[: rows * EV_COLS]
                chunks.append(events_from_rows(flat.reshape(rows, EV_COLS)))
            done += k
        if not chunks:
            return empty_events()
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def warm_up(self) -> None:
        """The kernel was compiled by :meth:`allocate`; a launch of no steps loads it."""
        self._launch(self._require(), 0)
        self._dev.synchronize()

    def close(self) -> None:
        """Release the device arrays and the device."""
        self._table = {}
        self._count = self._clock = self._events = self._n_events = None
        self._kernel = None
        self._dev.close()

    def _launch(self, p: ToyParams, n_steps: int) -> None:
        assert self._kernel is not None
        self._dev.upload(self._n_events, np.zeros(1, np.int64))
        t = self._table
        self._kernel(
            (1,),
            (BLOCK_THREADS,),
            (
                t["row_len"],
                t["post"],
                t["weight"],
                t["col_pos"],
                t["col_len"],
                t["col_syn"],
                t["dims"],
                t["stats"],
                self._count,
                self._clock,
                np.int64(n_steps),
                np.uint32(p.key0),
                np.uint32(p.key1),
                np.int32(p.swaps),
                np.int32(p.enabled),
                np.int32(p.leak_shift),
                np.float32(p.weight),
                np.int32(p.record_events),
                self._events,
                self._n_events,
            ),
        )

    def _require(self) -> ToyParams:
        if self._kernel is None or self._params is None or self._count is None:
            raise RuntimeError("the toy backend has no network (allocate first)")
        return self._params
