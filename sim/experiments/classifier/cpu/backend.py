"""The classifier's CPU backend: Numba kernels over host arrays, the batch lanes on every core."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numpy.typing import NDArray

from sim.data import SpikeData, SpikeDataset
from sim.events import EV_COLS, EVENT_DTYPE, events_from_rows
from sim.experiments.classifier.cpu import kernels
from sim.experiments.classifier.params import C_T, I_LANES, I_TRIAL_STEPS
from sim.experiments.classifier.records import BATCH_DTYPE, record_from_row
from sim.experiments.classifier.state import ClassifierState


def examples(split: SpikeData) -> kernels.Examples:
    """The kernels' view of one split of a data set."""
    return kernels.Examples(
        np.ascontiguousarray(split.offsets, np.int64),
        np.ascontiguousarray(split.steps, np.int32),
        np.ascontiguousarray(split.units, np.int32),
        np.ascontiguousarray(split.labels, np.int32),
    )


def event_capacity(state: ClassifierState) -> int:
    """Events one batch can log: every synapse removed and as many formed."""
    slots = sum(int(t.post.shape[0]) for t in state.tables())
    return 2 * slots + 16


def worker_count() -> int:
    """Threads that run lanes at once: Numba's thread count for this thread (``NUMBA_NUM_THREADS``,
    or less after ``numba.set_num_threads``, as a sweep's worker sets), else every core."""
    return max(1, int(numba.get_num_threads() or os.cpu_count() or 1))


class ClassifierCpuBackend:
    """Numba kernels; the lanes of a batch split among threads, one compiled call per range and trial."""

    name = "cpu"

    def __init__(self) -> None:
        self._state: ClassifierState | None = None
        self._fp = np.zeros(0)
        self._ip = np.zeros(0, np.int64)
        self._train: kernels.Examples | None = None
        self._test: kernels.Examples | None = None
        self._ev = np.zeros((0, EV_COLS), np.int64)
        self._ev_count = np.zeros(1, np.int64)
        self._row = np.zeros(kernels.ROW_LENGTH, np.float64)
        self._rows: list[NDArray[np.void]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._ranges: list[tuple[int, int]] = []

    def allocate(
        self, state: ClassifierState, fp: NDArray[np.float64], ip: NDArray[np.int64], data: SpikeDataset
    ) -> None:
        """Take a copy of ``state``, the parameters and the data set's splits."""
        self._state = state.copy()
        self._train, self._test = examples(data.train), examples(data.test)
        self._ev = np.zeros((event_capacity(state), EV_COLS), np.int64)
        self._ev_count[0] = 0
        self.set_params(fp, ip)

    def set_params(self, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Replace the kernel parameters (they apply from the next step)."""
        self._fp = np.array(fp, np.float64)
        self._ip = np.array(ip, np.int64)
        lanes = int(self._ip[I_LANES])
        workers = min(worker_count(), lanes)
        bounds = np.linspace(0, lanes, workers + 1).round().astype(int)
        self._ranges = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]
        if workers > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="classifier-lanes")

    def _require(self) -> ClassifierState:
        if self._state is None:
            raise RuntimeError("the CPU backend has no network allocated")
        return self._state

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; return the rewiring events (batch rows wait in :meth:`take_records`)."""
        st = self._require()
        assert self._train is not None and self._test is not None
        ro = kernels.Readout(
            st.w_out, st.b_out, st.m_out, st.v_out, st.m_b, st.v_b, st.grad_out, st.grad_b, st.feedback
        )
        ln = kernels.Lanes(
            st.v,
            st.a,
            st.z,
            st.refrac,
            st.f_avg,
            st.zbar_in,
            st.zbar_rec,
            st.zout,
            st.y,
            st.y_sum,
            st.lane_example,
            st.lane_ptr,
            st.trace_z,
            st.trace_y,
            st.shown_z,
            st.shown_y,
            st.shown_info,
        )
        chunks: list[NDArray[np.void]] = []
        left = int(n_steps)
        trial = int(self._ip[I_TRIAL_STEPS])
        while left > 0:
            n = min(left, trial - int(st.clock[C_T]))
            args = (n, self._fp, self._ip, st.tin, st.trec, ro, ln, st.clock, self._train, self._test)
            if self._pool is None or len(self._ranges) == 1:
                kernels.run_lanes(0, int(self._ip[I_LANES]), *args)
            else:
                done = [self._pool.submit(kernels.run_lanes, lo, hi, *args) for lo, hi in self._ranges]
                for future in done:
                    future.result()
            kernels.finish_segment(
                n,
                self._fp,
                self._ip,
                st.tin,
                st.trec,
                ro,
                ln,
                st.order,
                st.clock,
                st.acc,
                st.pending,
                self._train,
                self._test,
                self._ev,
                self._ev_count,
                self._row,
            )
            left -= n
            if self._row[0] != 0.0:
                self._rows.append(record_from_row(self._row))
            if self._ev_count[0]:
                chunks.append(events_from_rows(self._ev[: self._ev_count[0]]))
                self._ev_count[0] = 0
        return np.concatenate(chunks) if chunks else np.zeros(0, EVENT_DTYPE)

    def take_records(self) -> Mapping[str, NDArray[np.void]]:
        """The batch rows completed since the last call (``batches``)."""
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, BATCH_DTYPE)
        self._rows = []
        return {"batches": rows}

    def warm_up(self) -> None:
        """Compile the kernels now: one step on a scratch copy of the state, which is then dropped."""
        st = self._require()
        probe = st.copy()
        saved = self._state
        self._state = probe
        try:
            self.advance(1)
        finally:
            self._state = saved
            self._rows = []
            self._ev_count[0] = 0

    def pull_state(self) -> ClassifierState:
        """A host copy of the whole state."""
        return self._require().copy()

    def push_state(self, state: ClassifierState) -> None:
        """Replace the state by a copy of ``state``."""
        self._state = state.copy()

    def close(self) -> None:
        """Drop the arrays and stop the threads."""
        self._state = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
