"""Build: turn a configuration and a seed into the initial network state.

Everything here is backend-neutral host data: the synapse tables with their
initial connectivity, the neuron variables and the kernel parameters. Every
random draw comes from the seeded Philox generator. A configuration that
would not fit in memory is refused before anything is allocated.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.errors import ConfigError
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.memory import check_fits
from sim.experiments.topomap.purposes import (
    PURPOSE_V_INIT,
    PURPOSE_WIRING_FF,
    PURPOSE_WIRING_LAT,
)
from sim.experiments.topomap.state import N_ISTATE, NetworkState, ProjectionTable, empty_neurons
from sim.philox import (
    key_from_seed,
    philox4x32,
    philox_nb,
    uniform_nb,
)
from sim.synapses import S_REFUSED_COL, S_REFUSED_ROW, add_synapse, empty_table

#: Pairwise wiring only draws pairs whose formation probability is at least this;
#: the expected number of synapses left out is below N^2 times it.
PAIRWISE_CUTOFF = 1e-12
#: Fixed fan-in wiring gives up on a target after this many draws per synapse
#: (draws are repeated only when a partner's row is full).
MAX_DRAWS_PER_SYNAPSE = 1000


@njit(inline="always", cache=True, nogil=True)
def torus_d2(a: np.int64, b: np.int64, side: np.int64) -> np.float64:
    """Squared periodic distance between neuron ids ``a`` and ``b`` on a side x side torus."""
    dx = abs(a % side - b % side)
    dy = abs(a // side - b // side)
    dx = min(dx, side - dx)
    dy = min(dy, side - dy)
    return np.float64(dx * dx + dy * dy)


@njit(inline="always", cache=True, nogil=True)
def _uniform53(a: np.uint64, b: np.uint64) -> np.float64:
    """Uniform in [0, 1) with 53 random bits, from two 32-bit words."""
    return (np.float64(a >> np.uint64(5)) * 67108864.0 + np.float64(b >> np.uint64(6))) * (
        1.0 / 9007199254740992.0
    )


@njit(inline="always", cache=True, nogil=True)
def _draw_offset(cdf: np.ndarray, u: np.float64) -> np.int64:
    """The first index whose cumulative probability exceeds ``u`` (binary search)."""
    lo = 0
    hi = cdf.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return np.int64(lo)


@njit(cache=True, nogil=True)
def _wire_fixed_fan_in(
    t: ProjectionTable,
    side: np.int64,
    fan_in: np.int64,
    cdf_x: np.ndarray,
    cdf_y: np.ndarray,
    cdf_y_at_x0: np.ndarray,
    g_max: np.float32,
    purpose: np.int64,
    k0: np.uint64,
    k1: np.uint64,
    max_draws: np.int64,
) -> np.int64:
    """Give every target ``fan_in`` presynaptic partners drawn i.i.d. by torus offset.

    Draw ``a`` of target ``j`` takes Philox counter ``(j, purpose, a, 0)``: words 0-1
    pick the column offset from ``cdf_x``, words 2-3 the row offset from ``cdf_y``
    (from ``cdf_y_at_x0`` when the column offset is 0, which lets the caller leave out
    the offset (0, 0)). A partner whose row is full is drawn again. Returns -1 on
    success, else the target that used up ``max_draws`` draws.
    """
    n = side * side
    for j in range(n):
        jx = j % side
        jy = j // side
        got = 0
        a = 0
        while got < fan_in:
            if a >= max_draws:
                return j
            r0, r1, r2, r3 = philox_nb(np.uint64(j), np.uint64(purpose), np.uint64(a), np.uint64(0), k0, k1)
            a += 1
            ox = _draw_offset(cdf_x, _uniform53(r0, r1))
            oy = _draw_offset(cdf_y_at_x0 if ox == 0 else cdf_y, _uniform53(r2, r3))
            i = ((jy + oy) % side) * side + (jx + ox) % side
            if add_synapse(t, i, j, g_max):
                got += 1
    return -1


def _cdf(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cumulative distribution of ``weights`` (not all zero), exactly 1.0 from the last positive weight on."""
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[int(np.flatnonzero(weights > 0.0)[-1]) :] = 1.0
    return cdf


def fan_in_offset_tables(
    side: int, sigma: float, autapses: bool, key: str = "rewiring.lat.sigma_form"
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative tables from which fixed fan-in wiring draws a partner's torus offset.

    Accept-reject (a uniform candidate kept with probability
    ``p_form exp(-d^2 / 2 sigma^2)``) accepts partner offsets with probability
    proportional to ``exp(-d^2 / 2 sigma^2) = w(dx) w(dy)``, the product of the
    one-axis weights ``w(k) = exp(-min(k, side - k)^2 / 2 sigma^2)`` of the
    offsets ``k`` in ``[0, side)``. So a partner is drawn exactly as a column
    offset from ``w`` and an independent row offset from ``w``. Without
    autapses the offset (0, 0) is left out exactly: the column offset 0 keeps
    the weight of its other row offsets, ``w(0) (W - w(0)) / W`` with
    ``W = sum(w)``, and is followed by a row offset other than 0.

    Returns
    -------
    cdf_x, cdf_y, cdf_y_at_x0 : ndarray of float64, shape (side,)
        Column offsets, row offsets, and row offsets after column offset 0.

    Raises
    ------
    ConfigError
        Without autapses, when every other offset has weight 0 (``sigma`` far
        below one grid unit): no partner exists. The error names ``key``.
    """
    k = np.arange(side, dtype=np.float64)
    d = np.minimum(k, side - k)
    w = np.exp(-(d * d) / (2.0 * sigma * sigma))
    cdf_y = _cdf(w)
    if autapses:
        return cdf_y, cdf_y, cdf_y
    others = float(w[1:].sum())
    if others <= 0.0:
        raise ConfigError(
            f"{sigma} is so small that a neuron's only possible partner is itself, "
            "and connectivity.allow_autapses is false",
            path=key,
        )
    wx = w.copy()
    wx[0] = others / (1.0 + others)
    w0 = w.copy()
    w0[0] = 0.0
    return _cdf(wx), cdf_y, _cdf(w0)


@njit(cache=True, nogil=True)
def _wire_pairwise(
    t: ProjectionTable,
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
    """The initial state of the network described by ``cfg`` for ``seed``.

    Raises
    ------
    ConfigError
        Before anything is allocated, when a run of ``cfg`` would not fit in
        the memory available (:func:`sim.experiments.topomap.memory.check_fits`); and when the
        initial wiring cannot be placed (a capacity too small, a fan-in that
        cannot be reached).

    Notes
    -----
    Fixed fan-in wiring costs time in proportion to its synapses: each
    synapse's partner is one draw of a torus offset (:func:`fan_in_offset_tables`).
    Pairwise wiring draws every pair within the window where the formation
    probability is at least :data:`PAIRWISE_CUTOFF`.
    """
    check_fits(cfg)
    side, n = cfg.side, cfg.n_neurons
    con, rw = cfg.connectivity, cfg.rewiring
    k0, k1 = (np.uint64(k) for k in key_from_seed(seed))
    g_max = np.float32(cfg.stdp.g_max)
    ff: ProjectionTable = empty_table(n, n, con.row_capacity, con.col_capacity, table=ProjectionTable)
    lat: ProjectionTable = empty_table(n, n, con.row_capacity, con.col_capacity, table=ProjectionTable)
    for name, table, proj, fan_in, purpose, autapses in (
        ("ff", ff, rw.ff, con.ff_fan_in, PURPOSE_WIRING_FF, True),
        ("lat", lat, rw.lat, con.lat_fan_in, PURPOSE_WIRING_LAT, con.allow_autapses),
    ):
        sigma, p_form, sigma_key = proj.sigma_form, proj.p_form, f"rewiring.{name}.sigma_form"
        if name == "ff" and con.ff_init_sigma > 0.0:
            sigma, sigma_key = con.ff_init_sigma, "connectivity.ff_init_sigma"
        if name == "ff" and con.ff_init_p > 0.0:
            p_form = con.ff_init_p
        inv_2s2 = 1.0 / (2.0 * sigma**2)
        if con.wiring == "fixed_fan_in":
            if fan_in > 0 and proj.p_form <= 0.0:
                raise ConfigError(
                    f"is 0, so {name} fan-in {fan_in} can never be reached", path=f"rewiring.{name}.p_form"
                )
            if fan_in == 0:
                continue
            cdf_x, cdf_y, cdf_y_at_x0 = fan_in_offset_tables(side, sigma, autapses, sigma_key)
            failed = _wire_fixed_fan_in(
                table,
                np.int64(side),
                np.int64(fan_in),
                cdf_x,
                cdf_y,
                cdf_y_at_x0,
                g_max,
                np.int64(purpose),
                k0,
                k1,
                np.int64(MAX_DRAWS_PER_SYNAPSE * fan_in),
            )
            if failed >= 0:
                raise ConfigError(
                    f"too small for the initial {name.upper()} wiring: target {failed} found no "
                    f"{fan_in} partners with room in their rows",
                    path="connectivity.row_capacity",
                )
        else:
            lo, hi = _pairwise_window(p_form, sigma, side)
            _wire_pairwise(
                table,
                np.int64(side),
                p_form,
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
