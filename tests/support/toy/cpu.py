"""The toy's CPU backend: one Numba kernel runs whole steps over the shared synapse table.

A step is ``rewiring.swaps`` swaps, then the leaky counts. Swap ``a`` of step
``s`` draws Philox counter ``(s, PURPOSE_REWIRE, a, 0)`` under the seed's key:
words 1 and 2 pick a presynaptic and a postsynaptic neuron, which gain a
synapse of weight ``rewiring.weight`` unless they have one already or its row
or column is full (the table refuses and counts that); when it formed, word 0
picks one of all the synapses (in row order, the new one included) and
removes it. So the number of synapses stays what the build made. Then every
count loses ``count >> leak_shift`` and gains its in-degree. All arithmetic on
the state is integer except the weight, which is only copied, so ``toy.cu``
computes exactly the same states.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.events import (
    EV_COLS,
    EV_KIND,
    EV_POST,
    EV_PRE,
    EV_PROJ,
    EV_STEP,
    FF,
    FORMED,
    REMOVED,
    empty_events,
    events_from_rows,
)
from sim.philox import MASK32, below_nb, counter_word1, key_from_seed, philox_nb
from sim.synapses import D_N_PRE, D_ROW_CAP, TableArrays, add_synapse, find_synapse, remove_synapse
from tests.support.toy.config import ToyConfig
from tests.support.toy.state import PURPOSE_REWIRE, ToyState

#: Rows of the event buffer; an advance runs in chunks of steps that cannot overflow it.
EVENT_ROWS = 1 << 14


class ToyParams(NamedTuple):
    """What the kernels need of a configuration and a seed (the live parameters and the key)."""

    key0: int
    key1: int
    swaps: int
    enabled: bool
    leak_shift: int
    weight: float
    record_events: bool


def toy_params(config: ToyConfig, seed: int) -> ToyParams:
    """The kernel parameters of ``config`` and ``seed``."""
    k0, k1 = key_from_seed(seed)
    r = config.rewiring
    return ToyParams(k0, k1, r.swaps, r.enabled, config.neuron.leak_shift, r.weight, config.run.record_events)


def chunk_steps(params: ToyParams) -> int:
    """Most steps one kernel call may run: their events fit in :data:`EVENT_ROWS` rows."""
    return max(1, EVENT_ROWS // max(1, 2 * params.swaps))


@njit(inline="always", cache=True, nogil=True)
def _record(
    ev: np.ndarray, n_ev: np.ndarray, step: np.int64, pre: np.int64, post: np.int64, kind: np.int64
) -> None:
    c = n_ev[0]
    ev[c, EV_STEP] = step
    ev[c, EV_PRE] = pre
    ev[c, EV_POST] = post
    ev[c, EV_PROJ] = FF
    ev[c, EV_KIND] = kind
    n_ev[0] = c + 1


@njit(cache=True, nogil=True)
def run_steps(
    t: TableArrays,
    count: np.ndarray,
    clock: np.ndarray,
    n_steps: np.int64,
    key0: np.uint64,
    key1: np.uint64,
    swaps: np.int64,
    enabled: np.bool_,
    leak_shift: np.int64,
    weight: np.float32,
    record: np.bool_,
    ev: np.ndarray,
    n_ev: np.ndarray,
) -> None:
    """Advance ``n_steps`` steps of the toy model (module docstring); events go to ``ev``."""
    n = t.dims[D_N_PRE]
    row_cap = t.dims[D_ROW_CAP]
    for _ in range(n_steps):
        step = clock[0]
        if enabled:
            for a in range(swaps):
                w0, w1, w2, _w3 = philox_nb(
                    np.uint64(step) & MASK32,
                    counter_word1(np.int64(PURPOSE_REWIRE), step),
                    np.uint64(a),
                    np.uint64(0),
                    key0,
                    key1,
                )
                pre = below_nb(w1, n)
                post = below_nb(w2, n)
                # A pair that has a synapse already gains none (no multapses); a swap whose
                # formation is refused removes nothing, so the number of synapses is kept.
                if find_synapse(t, pre, post) >= 0 or not add_synapse(t, pre, post, weight):
                    continue
                if record:
                    _record(ev, n_ev, step, pre, post, FORMED)
                total = np.int64(0)
                for i in range(n):
                    total += t.row_len[i]
                r = below_nb(w0, total)
                i = np.int64(0)
                while r >= t.row_len[i]:
                    r -= t.row_len[i]
                    i += 1
                j = np.int64(t.post[i * row_cap + r])
                remove_synapse(t, i, r)
                if record:
                    _record(ev, n_ev, step, i, j, REMOVED)
        for j in range(n):
            count[j] = count[j] - (count[j] >> leak_shift) + t.col_len[j]
        clock[0] = step + 1


class ToyCpuBackend:
    """Runs the toy on the CPU (:func:`run_steps`)."""

    name = "cpu"

    def __init__(self) -> None:
        self._state: ToyState | None = None
        self._params: ToyParams | None = None
        self._clock = np.zeros(1, np.int64)
        self._ev = np.zeros((EVENT_ROWS, EV_COLS), np.int64)
        self._n_ev = np.zeros(1, np.int64)

    def allocate(self, state: ToyState, params: ToyParams) -> None:
        """Take a copy of ``state`` and the kernel parameters."""
        self.push_state(state)
        self.set_params(params)

    def set_params(self, params: ToyParams) -> None:
        """New kernel parameters (live changes)."""
        self._params = params

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; the events they produced (EVENT_DTYPE)."""
        st, p = self._require()
        chunks: list[NDArray[np.void]] = []
        done = 0
        while done < n_steps:
            k = min(chunk_steps(p), n_steps - done)
            self._run(st, p, k)
            if self._n_ev[0]:
                chunks.append(events_from_rows(self._ev[: self._n_ev[0]]))
            done += k
        if not chunks:
            return empty_events()
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def warm_up(self) -> None:
        """Compile (or load from the cache) the kernel now: a call for no steps."""
        st, p = self._require()
        self._run(st, p, 0)

    def _run(self, st: ToyState, p: ToyParams, n_steps: int) -> None:
        self._n_ev[0] = 0
        run_steps(
            st.table,
            st.count,
            self._clock,
            np.int64(n_steps),
            np.uint64(p.key0),
            np.uint64(p.key1),
            np.int64(p.swaps),
            np.bool_(p.enabled),
            np.int64(p.leak_shift),
            np.float32(p.weight),
            np.bool_(p.record_events),
            self._ev,
            self._n_ev,
        )
        st.step = int(self._clock[0])

    def pull_state(self) -> ToyState:
        """A host copy of the state."""
        return self._require()[0].copy()

    def push_state(self, state: Any) -> None:
        """Replace the state by a copy of ``state``."""
        self._state = state.copy()
        self._clock[0] = self._state.step

    def close(self) -> None:
        """Drop the state."""
        self._state = None

    def _require(self) -> tuple[ToyState, ToyParams]:
        if self._state is None or self._params is None:
            raise RuntimeError("the toy backend has no network (allocate first)")
        return self._state, self._params
