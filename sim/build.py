"""Build: turn a configuration and a seed into the initial network state.

Everything here is backend-neutral host data: the synapse tables with their
initial connectivity, the neuron variables and the kernel parameters. Every
random draw comes from the seeded Philox generator.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.config import ModelConfig
from sim.errors import ConfigError
from sim.philox import (
    PURPOSE_V_INIT,
    PURPOSE_WIRING_FF,
    PURPOSE_WIRING_LAT,
    below_nb,
    key_from_seed,
    philox4x32,
    philox_nb,
    uniform_nb,
)
from sim.state import N_ISTATE, NetworkState, empty_neurons
from sim.synapses import S_REFUSED_COL, S_REFUSED_ROW, TableArrays, add_synapse, empty_table

#: Pairwise wiring only draws pairs whose formation probability is at least this;
#: the expected number of synapses left out is below N^2 times it.
PAIRWISE_CUTOFF = 1e-12
#: Fixed fan-in wiring gives up after this many candidates per target neuron.
MAX_CANDIDATES_PER_TARGET = 50_000_000


@njit(inline="always", cache=True, nogil=True)
def torus_d2(a: np.int64, b: np.int64, side: np.int64) -> np.float64:
    """Squared periodic distance between neuron ids ``a`` and ``b`` on a side x side torus."""
    dx = abs(a % side - b % side)
    dy = abs(a // side - b // side)
    dx = min(dx, side - dx)
    dy = min(dy, side - dy)
    return np.float64(dx * dx + dy * dy)


@njit(cache=True, nogil=True)
def _wire_fixed_fan_in(
    t: TableArrays,
    side: np.int64,
    fan_in: np.int64,
    p_form: np.float64,
    inv_2s2: np.float64,
    g_max: np.float32,
    purpose: np.int64,
    autapses: bool,
    k0: np.uint64,
    k1: np.uint64,
    max_tries: np.int64,
) -> np.int64:
    """Accept-reject candidates until every target has ``fan_in`` synapses.

    Returns -1 on success, else the target that ran out of candidates.
    """
    n = side * side
    for j in range(n):
        got = 0
        a = 0
        while got < fan_in:
            if a >= max_tries:
                return j
            r0, r1, r2, r3 = philox_nb(np.uint64(j), np.uint64(purpose), np.uint64(a), np.uint64(0), k0, k1)
            a += 1
            for word_pre, word_acc in ((r0, r1), (r2, r3)):
                if got >= fan_in:
                    break
                i = below_nb(word_pre, n)
                if not autapses and i == j:
                    continue
                p = p_form * math.exp(-torus_d2(i, j, side) * inv_2s2)
                if uniform_nb(word_acc) < p and add_synapse(t, i, j, g_max):
                    got += 1
    return -1


@njit(cache=True, nogil=True)
def _wire_pairwise(
    t: TableArrays,
    side: np.int64,
    p_form: np.float64,
    inv_2s2: np.float64,
    g_max: np.float32,
    purpose: np.int64,
    autapses: bool,
    k0: np.uint64,
    k1: np.uint64,
    lo: np.int64,
    hi: np.int64,
) -> None:
    """Connect every pair with offsets in [lo, hi] per axis with its formation probability."""
    n = side * side
    for j in range(n):
        jx = j % side
        jy = j // side
        for oy in range(lo, hi + 1):
            for ox in range(lo, hi + 1):
                i = ((jy + oy) % side) * side + (jx + ox) % side
                if not autapses and i == j:
                    continue
                p = p_form * math.exp(-np.float64(ox * ox + oy * oy) * inv_2s2)
                r0, _r1, _r2, _r3 = philox_nb(
                    np.uint64(j), np.uint64(purpose), np.uint64(i), np.uint64(0), k0, k1
                )
                if uniform_nb(r0) < p:
                    add_synapse(t, i, j, g_max)


def _pairwise_window(p_form: float, sigma: float, side: int) -> tuple[int, int]:
    """Offsets [lo, hi] per axis outside which p_form exp(-d^2/2s^2) < PAIRWISE_CUTOFF.

    When the window would reach half the grid it covers the whole torus, every
    displacement exactly once.
    """
    r = (
        0
        if p_form <= PAIRWISE_CUTOFF
        else math.ceil(sigma * math.sqrt(2.0 * math.log(p_form / PAIRWISE_CUTOFF)))
    )
    if r >= side // 2:
        return -(side // 2), (side - 1) // 2
    return -r, r


def build_state(cfg: ModelConfig, seed: int) -> NetworkState:
    """The initial state of the network described by ``cfg`` for ``seed``."""
    side, n = cfg.side, cfg.n_neurons
    con, rw = cfg.connectivity, cfg.rewiring
    k0, k1 = (np.uint64(k) for k in key_from_seed(seed))
    g_max = np.float32(cfg.stdp.g_max)
    ff = empty_table(n, n, con.row_capacity, con.col_capacity)
    lat = empty_table(n, n, con.row_capacity, con.col_capacity)
    for name, table, proj, fan_in, purpose, autapses in (
        ("ff", ff, rw.ff, con.ff_fan_in, PURPOSE_WIRING_FF, True),
        ("lat", lat, rw.lat, con.lat_fan_in, PURPOSE_WIRING_LAT, con.allow_autapses),
    ):
        inv_2s2 = 1.0 / (2.0 * proj.sigma_form**2)
        if con.wiring == "fixed_fan_in":
            if fan_in > 0 and proj.p_form <= 0.0:
                raise ConfigError(
                    f"is 0, so {name} fan-in {fan_in} can never be reached", path=f"rewiring.{name}.p_form"
                )
            failed = _wire_fixed_fan_in(
                table,
                np.int64(side),
                np.int64(fan_in),
                proj.p_form,
                inv_2s2,
                g_max,
                np.int64(purpose),
                autapses,
                k0,
                k1,
                np.int64(MAX_CANDIDATES_PER_TARGET),
            )
            if failed >= 0:
                raise ConfigError(
                    f"target {failed} found no {fan_in} {name.upper()} partners in "
                    f"{MAX_CANDIDATES_PER_TARGET} candidates (formation probability too low)",
                    path=f"connectivity.{name}_fan_in",
                )
        else:
            lo, hi = _pairwise_window(proj.p_form, proj.sigma_form, side)
            _wire_pairwise(
                table,
                np.int64(side),
                proj.p_form,
                inv_2s2,
                g_max,
                np.int64(purpose),
                autapses,
                k0,
                k1,
                np.int64(lo),
                np.int64(hi),
            )
    for name, table in (("ff", ff), ("lat", lat)):
        refused_row, refused_col = int(table.stats[S_REFUSED_ROW]), int(table.stats[S_REFUSED_COL])
        if refused_row or refused_col:
            which = "row_capacity" if refused_row else "col_capacity"
            raise ConfigError(
                f"too small for the initial {name.upper()} wiring "
                f"({refused_row + refused_col} synapses did not fit)",
                path=f"connectivity.{which}",
            )
    # Initial wiring is not rewiring: counters start at zero.
    ff.stats[:] = 0
    lat.stats[:] = 0

    neurons = empty_neurons(n)
    if cfg.neuron.v_init == "normal":
        counters = np.zeros((n, 4), np.uint64)
        counters[:, 1] = PURPOSE_V_INIT
        counters[:, 2] = np.arange(n)
        words = philox4x32(counters, (int(k0), int(k1))).astype(np.uint64)
        u1 = ((words[:, 0] >> np.uint64(8)).astype(np.float64) + 1.0) * 2.0**-24
        u2 = (words[:, 1] >> np.uint64(8)).astype(np.float64) * 2.0**-24
        z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        v0 = cfg.neuron.v_init_mean + cfg.neuron.v_init_sd * z
        # A neuron cannot start above threshold.
        neurons.v[:] = np.minimum(v0, cfg.neuron.v_thresh - 1e-3).astype(np.float32)
    else:
        neurons.v[:] = np.float32(cfg.neuron.v_rest)
    istate = np.zeros(N_ISTATE, np.int64)
    return NetworkState(neurons, ff, lat, istate)
