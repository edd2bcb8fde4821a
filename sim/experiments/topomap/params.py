"""Kernel parameters: the configuration turned into two flat arrays.

Every backend's kernels receive the live parameters as one float64 array and
one int64 array, indexed by the constants below, so that changing a live
parameter is a write into these arrays and never a recompilation. Derived
constants (decay factors, step counts, 1 / (2 sigma^2)) are computed here, on
the host, and never stored in presets.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from sim.experiments.topomap.config import BASE_SIDE, ModelConfig
from sim.philox import key_from_seed

# --- float parameters -----------------------------------------------------------------------------
(
    F_DT_MS,
    F_DT_OVER_TAU_M,
    F_V_REST,
    F_V_RESET,
    F_V_THRESH,
    F_E_EX,
    F_E_INH,
    F_SYN_DECAY,
    F_PRE_DECAY,
    F_POST_DECAY,
    F_A_PLUS,
    F_A_MINUS,
    F_G_MAX,
    F_THETA,
    F_FF_P_FORM,
    F_FF_INV_2S2,
    F_FF_P_DEP,
    F_FF_P_POT,
    F_LAT_P_FORM,
    F_LAT_INV_2S2,
    F_LAT_P_DEP,
    F_LAT_P_POT,
    F_ATTEMPTS,
    F_F_BASE,
    F_F_PEAK,
    F_STIM_INV_2S2,
    F_FLAT_RATE,
    F_QUANTUM,
    F_INV_QUANTUM,
    N_FLOAT_PARAMS,
) = range(30)

# --- integer parameters ---------------------------------------------------------------------------
(
    I_N,
    I_SIDE,
    I_TILE,
    I_REF_STEPS,
    I_STDP,
    I_NEAREST,
    I_REWIRE,
    I_SCHEME,
    I_PARTNER_LAST,
    I_REWIRE_EVERY,
    I_STIM_EVERY,
    I_CORRELATED,
    I_LAT_INH,
    I_AUTAPSES,
    I_S_MAX,
    I_RECORD_EVENTS,
    I_KEY0,
    I_KEY1,
    I_MAX_ATTEMPTS,
    N_INT_PARAMS,
) = range(20)

SCHEME_SLOT = 0
SCHEME_PAIR = 1


def steps_of(ms: float, dt_ms: float) -> int:
    """Whole number of steps in ``ms`` (at least one)."""
    return max(1, round(ms / dt_ms))


def attempts_per_call(cfg: ModelConfig) -> float:
    """Expected rewiring attempts per call (per target population or per projection)."""
    every = steps_of(cfg.rewiring.interval, cfg.network.dt)
    return cfg.rewiring.rate * cfg.network.scale**2 * every * cfg.network.dt * 1e-3


def kernel_params(cfg: ModelConfig, seed: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Float and integer parameter arrays for the kernels."""
    dt = cfg.network.dt
    nrn, stdp, rw, stim, con = cfg.neuron, cfg.stdp, cfg.rewiring, cfg.stimulus, cfg.connectivity
    fp = np.zeros(N_FLOAT_PARAMS, np.float64)
    fp[F_DT_MS] = dt
    fp[F_DT_OVER_TAU_M] = dt / nrn.tau_m
    fp[F_V_REST] = nrn.v_rest
    fp[F_V_RESET] = nrn.v_reset
    fp[F_V_THRESH] = nrn.v_thresh
    fp[F_E_EX] = nrn.e_ex
    fp[F_E_INH] = nrn.e_inh
    fp[F_SYN_DECAY] = math.exp(-dt / nrn.tau_syn)
    fp[F_PRE_DECAY] = math.exp(-dt / stdp.tau_plus)
    fp[F_POST_DECAY] = math.exp(-dt / stdp.tau_minus)
    fp[F_A_PLUS] = stdp.a_plus
    fp[F_A_MINUS] = stdp.a_minus
    fp[F_G_MAX] = stdp.g_max
    fp[F_THETA] = stdp.g_max / 2.0
    for base, proj in ((F_FF_P_FORM, rw.ff), (F_LAT_P_FORM, rw.lat)):
        fp[base] = proj.p_form
        fp[base + 1] = 1.0 / (2.0 * proj.sigma_form**2)
        fp[base + 2] = proj.p_elim_dep
        fp[base + 3] = proj.p_elim_pot
    fp[F_ATTEMPTS] = attempts_per_call(cfg)
    fp[F_F_BASE] = stim.f_base
    fp[F_F_PEAK] = stim.f_peak
    fp[F_STIM_INV_2S2] = 1.0 / (2.0 * stim.sigma**2)
    fp[F_FLAT_RATE] = stim.flat_rate
    fp[F_QUANTUM] = delivery_quantum(stdp.g_max, con.col_capacity)
    fp[F_INV_QUANTUM] = 1.0 / fp[F_QUANTUM]

    ip = np.zeros(N_INT_PARAMS, np.int64)
    side = cfg.side
    ip[I_N] = side * side
    ip[I_SIDE] = side
    ip[I_TILE] = BASE_SIDE if stim.tiled else side
    ip[I_REF_STEPS] = round(nrn.tau_ref / dt)
    ip[I_STDP] = int(stdp.enabled)
    ip[I_NEAREST] = int(stdp.traces == "nearest")
    ip[I_REWIRE] = int(rw.enabled)
    ip[I_SCHEME] = SCHEME_SLOT if rw.scheme == "slot" else SCHEME_PAIR
    ip[I_PARTNER_LAST] = int(rw.partner == "last_spike")
    ip[I_REWIRE_EVERY] = steps_of(rw.interval, dt)
    ip[I_STIM_EVERY] = steps_of(stim.period, dt)
    ip[I_CORRELATED] = int(stim.input == "correlated")
    ip[I_LAT_INH] = int(con.lat_inhibitory)
    ip[I_AUTAPSES] = int(con.allow_autapses)
    ip[I_S_MAX] = rw.s_max
    ip[I_RECORD_EVENTS] = int(cfg.run.record_events)
    k0, k1 = key_from_seed(seed)
    ip[I_KEY0] = k0
    ip[I_KEY1] = k1
    ip[I_MAX_ATTEMPTS] = math.floor(fp[F_ATTEMPTS]) + 1
    return fp, ip


def delivery_quantum(g_max: float, col_capacity: int) -> float:
    """Grid (a power of two) that synaptic input is rounded to as it is delivered.

    A neuron receives at most ``2 col_capacity`` inputs in a step (FF and LAT),
    each in [0, g_max], so the sum stays below ``2**24`` quanta. Sums of
    multiples of the quantum below that bound are exact in float32 in any
    order: the GPU's atomic additions give the same conductance as the CPU's
    ordered loop, bit for bit. The rounding error is at most half a quantum
    per input (below 1e-5 g_max for every allowed capacity).
    """
    bound = max(2.0 * col_capacity * g_max, 2.0**-100)
    return 2.0 ** (math.ceil(math.log2(bound)) - 24)


def stimulus_table(fp: NDArray[np.float64], ip: NDArray[np.int64]) -> NDArray[np.float32]:
    """Spike probability per step of a source neuron by its torus offset from the stimulus centre.

    Entry ``dy * (tile // 2 + 1) + dx`` for offsets ``dx, dy`` in ``[0, tile // 2]``
    (the flat rate everywhere for uncorrelated input). Every backend reads
    this one host-computed table, so both draw spikes with identical
    probabilities.
    """
    half = int(ip[I_TILE]) // 2
    dt_s = fp[F_DT_MS] * 1e-3
    if ip[I_CORRELATED] == 0:
        rate = np.full((half + 1) ** 2, fp[F_FLAT_RATE])
    else:
        d = np.arange(half + 1, dtype=np.float64)
        d2 = (d[:, None] ** 2 + d[None, :] ** 2).ravel()
        rate = fp[F_F_BASE] + fp[F_F_PEAK] * np.exp(-d2 * fp[F_STIM_INV_2S2])
    return (-np.expm1(-rate * dt_s)).astype(np.float32)


def formation_table(fp: NDArray[np.float64], ip: NDArray[np.int64]) -> NDArray[np.float64]:
    """Formation probability ``p_form exp(-d^2 / 2 sigma_form^2)`` by integer squared torus distance.

    Row 0 is FF, row 1 LAT; column ``d2`` for ``d2`` up to ``2 (side // 2)**2``.
    Every backend reads this one host-computed table, so acceptance
    decisions never depend on a device's ``exp``.
    """
    half = int(ip[I_SIDE]) // 2
    d2 = np.arange(2 * half * half + 1, dtype=np.float64)
    out = np.empty((2, d2.size), np.float64)
    for row, base in enumerate((F_FF_P_FORM, F_LAT_P_FORM)):
        out[row] = fp[base] * np.exp(-d2 * fp[base + 1])
    return out


def max_events_per_step(ip: NDArray[np.int64]) -> int:
    """Upper bound on rewiring events one step can record."""
    return int(2 * ip[I_MAX_ATTEMPTS] + 2)
