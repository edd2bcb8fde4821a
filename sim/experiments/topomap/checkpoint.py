"""What a topographic-map checkpoint holds, and the check of every value in it.

:func:`expected_layout` gives the shape and dtype of every state array of a
configuration, computed without allocating; :func:`state_problem` names the
first value that the kernels of that configuration must not be given. The
container itself (reading entries within bounds, the embedded configuration,
the time series) is :mod:`sim.checkpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.checkpoint import FLOAT_CEILING
from sim.experiments.topomap.config import ModelConfig, param_spec
from sim.experiments.topomap.lesion import SILENCED_STEPS
from sim.experiments.topomap.params import steps_of
from sim.experiments.topomap.state import (
    N_ISTATE,
    S_ATTEMPTS_FF,
    S_ATTEMPTS_LAT,
    S_N_SPK_SRC,
    S_N_SPK_TGT,
    S_STEP,
    S_STIM_DIRTY,
    S_STIM_INDEX,
    S_STIM_NEXT,
    S_STIM_X,
    S_STIM_Y,
    NetworkState,
    ProjectionTable,
    empty_neurons,
)
from sim.synapses import N_STATS, SynapseTable, empty_table

#: Steps are counted below this: the random counters hold step bits 0..47 (``sim.philox``).
STEP_LIMIT = 2**48
#: Cumulative counters (attempts, synapses formed and removed) stay below this.
COUNTER_LIMIT = 2**62
#: Membrane potentials lie within this many mV of zero: every potential of a configuration is
#: within [-200, 200] mV and the initial draw within 6 standard deviations (at most 100 mV) of it.
V_LIMIT = 1000.0
#: Names of the entries of ``state.istate``, for messages.
ISTATE_NAMES = (
    "step",
    "stim_index",
    "stim_next",
    "stim_x",
    "stim_y",
    "n_spk_src",
    "n_spk_tgt",
    "stim_dirty",
    "attempts_ff",
    "attempts_lat",
)
_DIM_NAMES = ("n_pre", "n_post", "row_cap", "col_cap")


def expected_layout(cfg: ModelConfig) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every state array for configuration ``cfg`` (computed, nothing allocated).

    Raises ``ValueError`` when a table of ``cfg`` would exceed 2**31 entries, as
    :func:`sim.synapses.empty_table` does.
    """
    n, con = cfg.n_neurons, cfg.connectivity
    rc, cc = con.row_capacity, con.col_capacity
    if n * rc >= 2**31:
        raise ValueError(f"table too large: {n} rows x {rc} synapses exceeds 2**31 entries")
    layout: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {"istate": ((N_ISTATE,), np.dtype(np.int64))}
    for name, arr in empty_neurons(1)._asdict().items():
        layout[f"neurons.{name}"] = ((n,), arr.dtype)
    sizes = {
        "row_len": n,
        "post": n * rc,
        "weight": n * rc,
        "col_pos": n * rc,
        "col_len": n,
        "col_syn": n * cc,
        "dims": 4,
        "stats": N_STATS,
    }
    proto = empty_table(1, 1, 1, 1, table=ProjectionTable)
    for group in ("ff", "lat"):
        for name, arr in proto._asdict().items():
            layout[f"{group}.{name}"] = ((sizes[name],), arr.dtype)
    return layout


# --------------------------------------------------------------------------- checking values


@dataclass(frozen=True)
class _Bounds:
    """What the kernels of one configuration can take, and the bounds the model keeps."""

    n: int
    tile: int
    side: int
    row_cap: int
    col_cap: int
    w_max: float  # weights: STDP clips to [0, g_max]; g_max is live, so up to its largest value
    pend_max: float  # one step's input: at most 2 col_cap inputs of at most w_max each
    g_max: float  # conductances: the input's steady state, (1 + tau_syn / dt) steps of it
    trace_max: float  # traces: one per spike, decaying; (1 + tau / dt) at most
    refrac_max: int  # refractory steps: tau_ref / dt, or a lesion's silenced neurons
    stim_every_max: int  # steps between stimulus locations (the period is live)
    slot_s_max: int | None  # the slot scheme's shared in-degree cap


def _hi(path: str) -> float:
    hi = param_spec(path).hi
    assert hi is not None, path
    return float(hi)


def _bounds(cfg: ModelConfig) -> _Bounds:
    dt = cfg.network.dt
    con = cfg.connectivity
    w_max = max(cfg.stdp.g_max, _hi("stdp.g_max"))
    pend_max = min(4.0 * con.col_capacity * w_max, FLOAT_CEILING)
    tau_trace = max(cfg.stdp.tau_plus, cfg.stdp.tau_minus, _hi("stdp.tau_plus"), _hi("stdp.tau_minus"))
    return _Bounds(
        n=cfg.n_neurons,
        tile=16 if cfg.stimulus.tiled else cfg.side,
        side=cfg.side,
        row_cap=con.row_capacity,
        col_cap=con.col_capacity,
        w_max=w_max,
        pend_max=pend_max,
        g_max=min(pend_max * (1.0 + max(cfg.neuron.tau_syn, _hi("neuron.tau_syn")) / dt), FLOAT_CEILING),
        trace_max=min(1.0 + tau_trace / dt, FLOAT_CEILING),
        refrac_max=max(
            SILENCED_STEPS, min(round(max(cfg.neuron.tau_ref, _hi("neuron.tau_ref")) / dt), 2**31 - 1)
        ),
        stim_every_max=max(steps_of(cfg.stimulus.period, dt), steps_of(_hi("stimulus.period"), dt)),
        slot_s_max=cfg.rewiring.s_max if cfg.rewiring.scheme == "slot" else None,
    )


def state_problem(state: NetworkState, cfg: ModelConfig) -> str | None:
    """The first value of ``state`` that the kernels of ``cfg`` must not be given, or None.

    ``state`` must already have the shapes and dtypes of :func:`expected_layout`.
    The answer is one line naming the array, the element and the value, e.g.
    ``state.neurons.v[3] = nan is not a membrane potential in [-1000, 1000] mV``.
    """
    b = _bounds(cfg)
    return _istate_problem(state.istate, b) or _neuron_problem(state, b) or _tables_problem(state, b)


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.9g}"
    return str(int(x)) if isinstance(x, (int, np.integer)) else str(x)


def _first_bad(bad: NDArray[np.bool_]) -> int | None:
    return int(np.argmax(bad)) if bad.any() else None


def _ints_outside(name: str, a: NDArray[Any], lo: int, hi: int, why: str = "") -> str | None:
    """``name[i] = v is outside [lo, hi]`` for the first element out of range."""
    i = _first_bad((a < lo) | (a > hi))
    if i is None:
        return None
    return f"{name}[{i}] = {_fmt(a[i])} is outside [{lo}, {hi}]{why}"


def _floats_outside(
    name: str, a: NDArray[Any], lo: float, hi: float, what: str, unit: str = ""
) -> str | None:
    """``name[i] = v is not WHAT in [lo, hi]`` for the first element not finite or out of range."""
    i = _first_bad(~np.isfinite(a) | (a < lo) | (a > hi))
    if i is None:
        return None
    return f"{name}[{i}] = {_fmt(a[i])} is not {what} in [{_fmt(lo)}, {_fmt(hi)}]{unit}"


def _istate_problem(ist: NDArray[np.int64], b: _Bounds) -> str | None:
    def at(k: int) -> str:
        return f"state.istate[{ISTATE_NAMES[k]}] = {int(ist[k])}"

    step = int(ist[S_STEP])
    if not 0 <= step < STEP_LIMIT:
        return f"{at(S_STEP)} is outside [0, 2**48)"
    if not 0 <= ist[S_STIM_INDEX] <= step:
        return f"{at(S_STIM_INDEX)} is outside [0, {step}] (at most one stimulus per step)"
    if not step <= ist[S_STIM_NEXT] <= step + b.stim_every_max:
        return f"{at(S_STIM_NEXT)} is outside [{step}, {step + b.stim_every_max}] (the stimulus period)"
    where = "grid" if b.tile == b.side else "stimulus tile"
    for k in (S_STIM_X, S_STIM_Y):
        if not 0 <= ist[k] < b.tile:
            return f"{at(k)} is outside the {b.tile} x {b.tile} {where}"
    for k in (S_N_SPK_SRC, S_N_SPK_TGT):
        if not 0 <= ist[k] <= b.n:
            return f"{at(k)} is outside [0, {b.n}] (neurons per layer)"
    if ist[S_STIM_DIRTY] not in (0, 1):
        return f"{at(S_STIM_DIRTY)} is not 0 or 1"
    for k in (S_ATTEMPTS_FF, S_ATTEMPTS_LAT):
        if not 0 <= ist[k] < COUNTER_LIMIT:
            return f"{at(k)} is outside [0, 2**62)"
    return None


def _neuron_problem(state: NetworkState, b: _Bounds) -> str | None:
    nrn, ist = state.neurons, state.istate
    step = int(ist[S_STEP])
    p = "state.neurons."
    floats = (
        ("v", -V_LIMIT, V_LIMIT, "a membrane potential", " mV"),
        ("g_ex", 0.0, b.g_max, "a conductance", ""),
        ("g_inh", 0.0, b.g_max, "a conductance", ""),
        ("pend_ex", 0.0, b.pend_max, "one step's input", ""),
        ("pend_inh", 0.0, b.pend_max, "one step's input", ""),
        ("x_src", 0.0, b.trace_max, "a trace", ""),
        ("x_tgt", 0.0, b.trace_max, "a trace", ""),
        ("y_tgt", 0.0, b.trace_max, "a trace", ""),
        ("p_src", 0.0, 1.0, "a probability", ""),
        ("cdf_src", 0.0, 1.0, "a probability", ""),
    )
    for name, lo, hi, what, unit in floats:
        problem = _floats_outside(p + name, getattr(nrn, name), lo, hi, what, unit)
        if problem is not None:
            return problem
    return (
        _ints_outside(p + "refrac", nrn.refrac, 0, b.refrac_max, " (refractory steps)")
        or _ints_outside(p + "count_src", nrn.count_src, 0, step, " (at most one spike per step)")
        or _ints_outside(p + "count_tgt", nrn.count_tgt, 0, step, " (at most one spike per step)")
        or _spike_ids(p + "spk_src", nrn.spk_src, int(ist[S_N_SPK_SRC]), b.n)
        or _spike_ids(p + "spk_tgt", nrn.spk_tgt, int(ist[S_N_SPK_TGT]), b.n)
        or _fired_problem(p + "fired", nrn.fired)
    )


def _spike_ids(name: str, ids: NDArray[np.int32], count: int, n: int) -> str | None:
    return _ints_outside(name, ids[:count], 0, n - 1, f" (neuron ids; the first {count} are spikes)")


def _fired_problem(name: str, fired: NDArray[np.bool_]) -> str | None:
    i = _first_bad(fired)
    if i is None:
        return None
    return f"{name}[{i}] is set, but a checkpoint is taken between steps, when every flag is clear"


def _tables_problem(state: NetworkState, b: _Bounds) -> str | None:
    for name, t in (("ff", state.ff), ("lat", state.lat)):
        problem = _table_problem(f"state.{name}.", t, b)
        if problem is not None:
            return problem
    if b.slot_s_max is not None:
        total = state.ff.col_len.astype(np.int64) + state.lat.col_len
        j = _first_bad(total > b.slot_s_max)
        if j is not None:
            return (
                f"state.ff.col_len[{j}] + state.lat.col_len[{j}] = {int(total[j])} exceeds "
                f"rewiring.s_max ({b.slot_s_max}), the slots of the slot scheme"
            )
    return None


def _table_problem(p: str, t: ProjectionTable, b: _Bounds) -> str | None:
    """Every index of table ``t`` in range and the table consistent; the ranges are checked here,
    in NumPy, before the compiled invariant check reads anything through them."""
    n, rc, cc = b.n, b.row_cap, b.col_cap
    expected = (n, n, rc, cc)
    for k, want in enumerate(expected):
        if t.dims[k] != want:
            return f"{p}dims[{_DIM_NAMES[k]}] = {int(t.dims[k])}, but the configuration's is {want}"
    problem = (
        _ints_outside(p + "stats", t.stats, 0, COUNTER_LIMIT - 1)
        or _ints_outside(p + "row_len", t.row_len, 0, rc, " (connectivity.row_capacity)")
        or _ints_outside(p + "col_len", t.col_len, 0, cc, " (connectivity.col_capacity)")
    )
    if problem is not None:
        return problem
    live = (np.arange(rc, dtype=np.int32)[None, :] < t.row_len[:, None]).ravel()
    s_live = np.flatnonzero(live)
    for name in ("post", "weight", "col_pos"):
        arr = getattr(t, name)
        s = _first_bad((arr != 0) & ~live)
        if s is not None:
            return (
                f"{p}{name}[{s}] = {_fmt(arr[s])} lies past the end of row {s // rc} "
                f"(length {int(t.row_len[s // rc])}), where storage is zero"
            )
    post = t.post[s_live]
    i = _first_bad((post < 0) | (post >= n))
    if i is not None:
        return f"{p}post[{s_live[i]}] = {int(post[i])} is outside [0, {n - 1}] (postsynaptic neuron ids)"
    weight = t.weight[s_live]
    i = _first_bad(~np.isfinite(weight) | (weight < 0.0) | (weight > b.w_max))
    if i is not None:
        return f"{p}weight[{s_live[i]}] = {_fmt(weight[i])} is not a weight in [0, {_fmt(b.w_max)}]"
    in_degree = np.bincount(post, minlength=n)
    j = _first_bad(in_degree != t.col_len)
    if j is not None:
        return (
            f"{p}col_len[{j}] = {int(t.col_len[j])}, but {int(in_degree[j])} synapses in the rows end there"
        )
    col_pos = t.col_pos[s_live]
    i = _first_bad((col_pos < 0) | (col_pos >= t.col_len[post]))
    if i is not None:
        return (
            f"{p}col_pos[{s_live[i]}] = {int(col_pos[i])} is outside [0, {int(t.col_len[post[i]]) - 1}] "
            f"(its column's length)"
        )
    col_live = (np.arange(cc, dtype=np.int32)[None, :] < t.col_len[:, None]).ravel()
    c = _first_bad((t.col_syn != 0) & ~col_live)
    if c is not None:
        return (
            f"{p}col_syn[{c}] = {int(t.col_syn[c])} lies past the end of column {c // cc} "
            f"(length {int(t.col_len[c // cc])}), where storage is zero"
        )
    back = t.col_syn[post.astype(np.int64) * cc + col_pos]
    i = _first_bad(back != s_live)
    if i is not None:
        c = int(post[i]) * cc + int(col_pos[i])
        return f"{p}col_syn[{c}] = {int(back[i])} does not point back to synapse {int(s_live[i])}"
    # Every index is in range now; the compiled check confirms the invariants it defines.
    try:
        SynapseTable(t).check()
    except AssertionError as exc:
        return f"{p[:-1]} synapse table is corrupt ({exc})"
    return None
