"""CPU backend: runs the Numba kernels on host arrays."""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from sim.events import EV_COLS, EVENT_DTYPE, events_from_rows
from sim.experiments.topomap.cpu import kernels
from sim.experiments.topomap.params import formation_table, max_events_per_step, stimulus_table
from sim.experiments.topomap.state import S_STIM_DIRTY, NetworkState

#: Event buffer rows (each row 40 bytes); the kernel returns to drain it when nearly full.
EVENT_BUFFER_ROWS = 1 << 16


class CpuBackend:
    """Numba kernels over host arrays; ``advance`` runs many steps per compiled call."""

    name = "cpu"

    def __init__(self) -> None:
        self._state: NetworkState | None = None
        self._fp = np.zeros(0)
        self._ip = np.zeros(0, np.int64)
        self._ev = np.zeros((0, EV_COLS), np.int64)
        self._ev_count = np.zeros(1, np.int64)
        self._stim_table = np.zeros(1, np.float32)
        self._form_table = np.zeros((2, 1), np.float64)

    def allocate(self, state: NetworkState, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Take a copy of ``state`` and the parameters."""
        self._state = state.copy()
        self.set_params(fp, ip)

    def set_params(self, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Replace the kernel parameters."""
        self._fp = np.array(fp, np.float64)
        self._ip = np.array(ip, np.int64)
        self._stim_table = stimulus_table(self._fp, self._ip)
        self._form_table = formation_table(self._fp, self._ip)
        rows = max(EVENT_BUFFER_ROWS, 4 * max_events_per_step(self._ip))
        if self._ev.shape[0] < rows:
            self._ev = np.zeros((rows, EV_COLS), np.int64)
            self._ev_count[0] = 0
        if self._state is not None:
            # Stimulus probabilities depend on live parameters: refresh them at the next step.
            self._state.istate[S_STIM_DIRTY] = 1

    def _require(self) -> NetworkState:
        if self._state is None:
            raise RuntimeError("the CPU backend has no network allocated")
        return self._state

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps and return their rewiring events."""
        st = self._require()
        chunks: list[NDArray[np.void]] = []
        reserve = max_events_per_step(self._ip)
        left = int(n_steps)
        while left > 0:
            done = self._run_steps(st, left, reserve)
            left -= done
            if self._ev_count[0]:
                chunks.append(self._drain())
        if not chunks:
            return np.zeros(0, EVENT_DTYPE)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def warm_up(self) -> None:
        """Compile (or load from the disk cache) every kernel, so that no timed call compiles.

        Zero-step calls: nothing of the state changes.
        """
        self._run_steps(self._require(), 0, 0)
        self._replay_rewiring(0)

    def _run_steps(self, st: NetworkState, n_steps: int, reserve: int) -> int:
        """Up to ``n_steps`` steps in one compiled call (fewer when the event buffer needs draining)."""
        return int(
            kernels.run_steps(
                np.int64(n_steps),
                self._fp,
                self._ip,
                st.istate,
                st.neurons,
                st.ff,
                st.lat,
                self._ev,
                self._ev_count,
                np.int64(reserve),
                self._stim_table,
                self._form_table,
            )
        )

    def _drain(self) -> NDArray[np.void]:
        c = int(self._ev_count[0])
        out = events_from_rows(self._ev[:c])
        self._ev_count[0] = 0
        return out

    def pull_state(self) -> NetworkState:
        """A host copy of the state."""
        return self._require().copy()

    def push_state(self, state: NetworkState) -> None:
        """Replace the state by a copy of ``state``."""
        self._state = state.copy()

    def time_rewiring(self, n_steps: int) -> float:
        """Time the rewiring calls of ``n_steps`` steps on a scratch copy of the state."""
        return self._replay_rewiring(n_steps)

    def _replay_rewiring(self, n_steps: int) -> float:
        """Run the rewiring calls of ``n_steps`` steps on a scratch copy; their wall time."""
        st = self._require().copy()
        ev = np.zeros_like(self._ev)
        count = np.zeros(1, np.int64)
        t0 = time.perf_counter()
        kernels.rewire_only(
            np.int64(n_steps),
            self._fp,
            self._ip,
            st.istate,
            st.neurons,
            st.ff,
            st.lat,
            ev,
            count,
            self._form_table,
        )
        return time.perf_counter() - t0

    def close(self) -> None:
        """Drop the state."""
        self._state = None
