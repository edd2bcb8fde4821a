"""Numba kernels of the CPU backend.

One compiled call, :func:`run_steps`, advances many time steps with no Python
work per step. Each step, in order:

1. input that arrived through the one-step delay joins the conductances;
2. a new stimulus location every stimulus period (:func:`update_stimulus`);
3. Poisson source spikes (:func:`source_spikes`);
4. target neurons integrate and spike (:func:`neuron_update`), traces decay;
5. spikes travel along their rows into next step's input, with STDP on
   every synapse of a spiking neuron (:func:`propagate_stdp`), then the
   traces take this step's spikes;
6. rewiring every ``rewire_every`` steps (:func:`rewire_slot` or
   :func:`rewire_pair`), recording each synapse formed or removed.

The CUDA backend's kernels carry the same names.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.events import EV_KIND, EV_POST, EV_PRE, EV_PROJ, EV_STEP
from sim.experiments.topomap.build import torus_d2
from sim.experiments.topomap.params import (
    F_A_MINUS,
    F_A_PLUS,
    F_ATTEMPTS,
    F_DT_OVER_TAU_M,
    F_E_EX,
    F_E_INH,
    F_FF_P_FORM,
    F_G_MAX,
    F_INV_QUANTUM,
    F_LAT_P_FORM,
    F_POST_DECAY,
    F_PRE_DECAY,
    F_QUANTUM,
    F_SYN_DECAY,
    F_THETA,
    F_V_RESET,
    F_V_REST,
    F_V_THRESH,
    I_AUTAPSES,
    I_KEY0,
    I_KEY1,
    I_LAT_INH,
    I_MAX_ATTEMPTS,
    I_N,
    I_NEAREST,
    I_PARTNER_LAST,
    I_RECORD_EVENTS,
    I_REF_STEPS,
    I_REWIRE,
    I_REWIRE_EVERY,
    I_S_MAX,
    I_SCHEME,
    I_SIDE,
    I_STDP,
    I_STIM_EVERY,
    I_TILE,
    SCHEME_SLOT,
)
from sim.experiments.topomap.purposes import (
    PURPOSE_ATTEMPTS,
    PURPOSE_PAIR_FF,
    PURPOSE_POISSON,
    PURPOSE_POISSON_REST,
    PURPOSE_SLOT,
    PURPOSE_STIMULUS,
)
from sim.experiments.topomap.state import (
    S_ATTEMPTS_FF,
    S_N_SPK_SRC,
    S_N_SPK_TGT,
    S_STEP,
    S_STIM_DIRTY,
    S_STIM_INDEX,
    S_STIM_NEXT,
    S_STIM_X,
    S_STIM_Y,
    NeuronArrays,
    ProjectionTable,
)
from sim.philox import (
    below_nb,
    counter_word1,
    philox_nb,
    uniform_nb,
)
from sim.synapses import D_COL_CAP, D_ROW_CAP, add_synapse, find_synapse, remove_synapse

#: Values below this are flushed to zero, so no backend ever meets a denormal.
TINY = np.float32(1e-30)

# exp_poly constants (Cephes expf)
LOG2E = np.float32(1.44269504088896341)
LN2_HI = np.float32(0.693359375)
LN2_LO = np.float32(-2.12194440e-4)
EXP_LO = np.float32(-87.0)
EXP_OFF = np.float32(128.0)
EXP_HALF_OFF = np.float32(128.5)
EXP_P0 = np.float32(1.9875691500e-4)
EXP_P1 = np.float32(1.3981999507e-3)
EXP_P2 = np.float32(8.3334519073e-3)
EXP_P3 = np.float32(4.1665795894e-2)
EXP_P4 = np.float32(1.6666665459e-1)
EXP_P5 = np.float32(5.0000001201e-1)

#: Source neurons are sampled in blocks of this many (see source_spikes).
POISSON_BLOCK = 32
MASK32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def update_stimulus(
    ip: np.ndarray,
    istate: np.ndarray,
    table: np.ndarray,
    p_src: np.ndarray,
    cdf_src: np.ndarray,
    step: np.int64,
) -> None:
    """Draw a new stimulus location when its period is over; refresh spike probabilities.

    ``table`` holds the probability by torus offset from the stimulus centre
    (:func:`sim.experiments.topomap.params.stimulus_table`).
    """
    side = ip[I_SIDE]
    k0 = np.uint64(ip[I_KEY0])
    k1 = np.uint64(ip[I_KEY1])
    tile = ip[I_TILE]
    if step >= istate[S_STIM_NEXT]:
        idx = istate[S_STIM_INDEX]
        r0, r1, _r2, _r3 = philox_nb(
            np.uint64(idx) & MASK32, counter_word1(PURPOSE_STIMULUS, idx), np.uint64(0), np.uint64(0), k0, k1
        )
        istate[S_STIM_X] = below_nb(r0, tile)
        istate[S_STIM_Y] = below_nb(r1, tile)
        istate[S_STIM_INDEX] = idx + 1
        istate[S_STIM_NEXT] = step + ip[I_STIM_EVERY]
        istate[S_STIM_DIRTY] = 1
    if istate[S_STIM_DIRTY] == 0:
        return
    istate[S_STIM_DIRTY] = 0
    sx = istate[S_STIM_X]
    sy = istate[S_STIM_Y]
    width = tile // 2 + 1
    for i in range(ip[I_N]):
        dx = abs((i % side) % tile - sx)
        dy = abs((i // side) % tile - sy)
        dx = min(dx, tile - dx)
        dy = min(dy, tile - dy)
        p_src[i] = table[dy * width + dx]
    _block_cdf(p_src, cdf_src)


@njit(cache=True, nogil=True)
def _block_cdf(p: np.ndarray, cdf: np.ndarray) -> None:
    """Within each Poisson block, the probability that some neuron up to k has spiked."""
    for base in range(0, p.shape[0], POISSON_BLOCK):
        none = 1.0
        for i in range(base, base + POISSON_BLOCK):
            none *= 1.0 - np.float64(p[i])
            cdf[i] = np.float32(1.0 - none)


@njit(cache=True, nogil=True)
def source_spikes(ip: np.ndarray, istate: np.ndarray, nrn: NeuronArrays, step: np.int64) -> np.int64:
    """Poisson spikes of the source layer; returns their number (ids in ``nrn.spk_src``).

    Exact block sampling: neuron i spikes with probability p_i, independently.
    For each block of POISSON_BLOCK neurons one uniform u decides the first
    spiking neuron by inversion of ``cdf`` (``cdf[k] = 1 - prod_{i<=k} (1 - p_i)``
    within the block; u >= the block's last entry means no spike); the neurons
    after it then draw one uniform each. The cost is one draw per block plus a
    few per spike, instead of one per neuron.
    """
    n = ip[I_N]
    k0 = np.uint64(ip[I_KEY0])
    k1 = np.uint64(ip[I_KEY1])
    c0 = np.uint64(step) & MASK32
    c1 = counter_word1(PURPOSE_POISSON, step)
    c1_rest = counter_word1(PURPOSE_POISSON_REST, step)
    p = nrn.p_src
    cdf = nrn.cdf_src
    spk = nrn.spk_src
    nb = n // POISSON_BLOCK
    ns = 0
    for q in range(0, nb, 4):
        words = philox_nb(c0, c1, np.uint64(q >> 2), np.uint64(0), k0, k1)
        for lane in range(min(4, nb - q)):
            b = q + lane
            base = b * POISSON_BLOCK
            u = uniform_nb(words[lane])
            if u >= cdf[base + POISSON_BLOCK - 1]:
                continue
            first = base
            while u >= cdf[first]:
                first += 1
            spk[ns] = first
            ns += 1
            # Every later neuron of the block: its own Bernoulli draw, four per Philox call.
            k = first + 1 - base
            while k < POISSON_BLOCK:
                r = philox_nb(c0, c1_rest, np.uint64(b), np.uint64(k >> 2), k0, k1)
                for w in range(k & 3, 4):
                    i = base + (k & ~3) + w
                    if uniform_nb(r[w]) < p[i]:
                        spk[ns] = i
                        ns += 1
                k = (k & ~3) + 4
    for a in range(ns):
        nrn.count_src[spk[a]] += 1
    istate[S_N_SPK_SRC] = ns
    return ns


@njit(cache=True, nogil=True)
def decay_traces(fp: np.ndarray, nrn: NeuronArrays) -> None:
    """Decay the STDP traces by one step, flushing tiny values to zero."""
    pre_decay = np.float32(fp[F_PRE_DECAY])
    post_decay = np.float32(fp[F_POST_DECAY])
    zero = np.float32(0.0)
    x_src = nrn.x_src
    x_tgt = nrn.x_tgt
    y_tgt = nrn.y_tgt
    for j in range(x_src.shape[0]):
        a = x_src[j] * pre_decay
        x_src[j] = a if a > TINY else zero
    for j in range(x_tgt.shape[0]):
        a = x_tgt[j] * pre_decay
        x_tgt[j] = a if a > TINY else zero
    for j in range(y_tgt.shape[0]):
        a = y_tgt[j] * post_decay
        y_tgt[j] = a if a > TINY else zero


@njit(inline="always", cache=True, nogil=True)
def exp_poly(x: np.float32) -> tuple[np.float32, np.int32]:
    """exp(x) for x in [-87, 0] as ``(mantissa, exponent bits)``: the value is mantissa * 2**n.

    Cody-Waite reduction and the Cephes single-precision polynomial (about one
    ulp), in operations that vectorise and that CUDA reproduces exactly with
    ``--fmad=false``. Returns the float32 bit pattern of 2**n as an int32.
    """
    x = max(x, EXP_LO)
    t = x * LOG2E + EXP_HALF_OFF
    ni = np.int32(t)  # t > 0, so truncation is floor
    nf = np.float32(ni) - EXP_OFF
    r = (x - nf * LN2_HI) - nf * LN2_LO
    p = ((((EXP_P0 * r + EXP_P1) * r + EXP_P2) * r + EXP_P3) * r + EXP_P4) * r + EXP_P5
    return (p * r * r + r) + np.float32(1.0), (ni - np.int32(1)) << np.int32(23)


@njit(cache=True, nogil=True, error_model="numpy")
def _lif(
    v: np.ndarray,
    g_ex: np.ndarray,
    g_inh: np.ndarray,
    pend_ex: np.ndarray,
    pend_inh: np.ndarray,
    refrac: np.ndarray,
    fired: np.ndarray,
    spk: np.ndarray,
    count: np.ndarray,
    fp: np.ndarray,
    ref_steps: np.int32,
    fac: np.ndarray,
    bits: np.ndarray,
) -> np.int64:
    """LIF update in three passes that the compiler can vectorise; returns the spike count."""
    v_rest = np.float32(fp[F_V_REST])
    v_reset = np.float32(fp[F_V_RESET])
    v_th = np.float32(fp[F_V_THRESH])
    e_ex = np.float32(fp[F_E_EX])
    e_inh = np.float32(fp[F_E_INH])
    k_m = np.float32(fp[F_DT_OVER_TAU_M])
    syn_decay = np.float32(fp[F_SYN_DECAY])
    one = np.float32(1.0)
    zero = np.float32(0.0)
    n = v.shape[0]
    # Pass 1: input of the one-step delay joins the conductances; exp(-dt (1 + g) / tau_m).
    for j in range(n):
        ge = g_ex[j] + pend_ex[j]
        gi = g_inh[j] + pend_inh[j]
        pend_ex[j] = zero
        pend_inh[j] = zero
        g_ex[j] = ge
        g_inh[j] = gi
        fac[j], bits[j] = exp_poly(-k_m * (one + ge + gi))
    scale = bits.view(np.float32)
    # Pass 2: exponential Euler towards V_inf; refractory neurons held at V_reset; conductances decay.
    for j in range(n):
        ge = g_ex[j]
        gi = g_inh[j]
        v_inf = (v_rest + ge * e_ex + gi * e_inh) / (one + ge + gi)
        vj = v_inf + (v[j] - v_inf) * (fac[j] * scale[j])
        r = refrac[j]
        v[j] = vj if r == 0 else v_reset
        refrac[j] = r - 1 if r > 0 else 0
        ge *= syn_decay
        gi *= syn_decay
        g_ex[j] = ge if ge > TINY else zero
        g_inh[j] = gi if gi > TINY else zero
    # Pass 3: threshold.
    nt = 0
    for j in range(n):
        if v[j] >= v_th:
            v[j] = v_reset
            refrac[j] = ref_steps
            fired[j] = True
            spk[nt] = j
            count[j] += 1
            nt += 1
    return nt


@njit(cache=True, nogil=True)
def neuron_update(fp: np.ndarray, ip: np.ndarray, istate: np.ndarray, nrn: NeuronArrays) -> np.int64:
    """Exponential-Euler LIF step of every target neuron; decay of conductances and traces.

    Returns the number of target spikes (ids in ``nrn.spk_tgt``).
    """
    decay_traces(fp, nrn)
    nt = _lif(
        nrn.v,
        nrn.g_ex,
        nrn.g_inh,
        nrn.pend_ex,
        nrn.pend_inh,
        nrn.refrac,
        nrn.fired,
        nrn.spk_tgt,
        nrn.count_tgt,
        fp,
        np.int32(ip[I_REF_STEPS]),
        nrn.fac,
        nrn.bits,
    )
    istate[S_N_SPK_TGT] = nt
    return nt


@njit(cache=True, nogil=True)
def clear_fired(nrn: NeuronArrays, nt: np.int64) -> None:
    """Reset the spiked-this-step flags of the target neurons that spiked."""
    for b in range(nt):
        nrn.fired[nrn.spk_tgt[b]] = False


@njit(inline="always", cache=True, nogil=True)
def quantise(w: np.float32, q: np.float32, inv_q: np.float32) -> np.float32:
    """``w`` rounded to the delivery grid; exact in float32.

    See :func:`sim.experiments.topomap.params.delivery_quantum`.
    """
    return np.float32(np.rint(w * inv_q)) * q


@njit(cache=True, nogil=True)
def propagate_stdp(
    fp: np.ndarray,
    ip: np.ndarray,
    nrn: NeuronArrays,
    ff: ProjectionTable,
    lat: ProjectionTable,
    ns: np.int64,
    nt: np.int64,
) -> None:
    """Deliver this step's spikes into next step's input; STDP; then add the spikes to the traces.

    Input is rounded to the delivery grid, which makes its sum independent of
    the order of the additions. Traces read here exclude this step's spikes, so a pre and a post spike in
    the same step change nothing. A synapse whose pre and post neurons both
    spiked in this step receives its depression and its potentiation before
    being clipped to [0, g_max] once, so the result does not depend on which
    of the two is applied first.
    """
    stdp = ip[I_STDP] != 0
    a_plus = np.float32(fp[F_A_PLUS])
    a_minus = np.float32(fp[F_A_MINUS])
    g_max = np.float32(fp[F_G_MAX])
    q = np.float32(fp[F_QUANTUM])
    inv_q = np.float32(fp[F_INV_QUANTUM])
    zero = np.float32(0.0)
    y = nrn.y_tgt
    fired = nrn.fired
    # Source spikes along FF rows: input and depression.
    cap = ff.dims[D_ROW_CAP]
    for a in range(ns):
        i = nrn.spk_src[a]
        base = i * cap
        for s in range(base, base + ff.row_len[i]):
            j = ff.post[s]
            w = ff.weight[s]
            nrn.pend_ex[j] += quantise(w, q, inv_q)
            if stdp:
                w -= a_minus * y[j]
                # Clipped below once all of this step's changes are in (see the docstring).
                ff.weight[s] = w if (w > zero or fired[j]) else zero
    # Target spikes along LAT rows.
    cap = lat.dims[D_ROW_CAP]
    pend = nrn.pend_inh if ip[I_LAT_INH] != 0 else nrn.pend_ex
    for b in range(nt):
        i = nrn.spk_tgt[b]
        base = i * cap
        for s in range(base, base + lat.row_len[i]):
            j = lat.post[s]
            w = lat.weight[s]
            pend[j] += quantise(w, q, inv_q)
            if stdp:
                w -= a_minus * y[j]
                lat.weight[s] = w if (w > zero or fired[j]) else zero
    # Target spikes as postsynaptic: potentiation through the column index.
    if stdp:
        for b in range(nt):
            j = nrn.spk_tgt[b]
            for table, x in ((ff, nrn.x_src), (lat, nrn.x_tgt)):
                rcap = table.dims[D_ROW_CAP]
                ccap = table.dims[D_COL_CAP]
                base = j * ccap
                for c in range(base, base + table.col_len[j]):
                    s = table.col_syn[c]
                    w = table.weight[s] + a_plus * x[s // rcap]
                    table.weight[s] = min(max(w, zero), g_max)
    # Traces take this step's spikes.
    nearest = ip[I_NEAREST] != 0
    one = np.float32(1.0)
    for a in range(ns):
        i = nrn.spk_src[a]
        nrn.x_src[i] = one if nearest else nrn.x_src[i] + one
    for b in range(nt):
        j = nrn.spk_tgt[b]
        nrn.x_tgt[j] = one if nearest else nrn.x_tgt[j] + one
        nrn.y_tgt[j] = one if nearest else nrn.y_tgt[j] + one


@njit(inline="always", cache=True, nogil=True)
def _record(
    ev: np.ndarray,
    ev_count: np.ndarray,
    step: np.int64,
    pre: np.int64,
    post: np.int64,
    proj: np.int64,
    kind: np.int64,
) -> None:
    c = ev_count[0]
    ev[c, EV_STEP] = step
    ev[c, EV_PRE] = pre
    ev[c, EV_POST] = post
    ev[c, EV_PROJ] = proj
    ev[c, EV_KIND] = kind
    ev_count[0] = c + 1


@njit(inline="always", cache=True, nogil=True)
def _n_attempts(fp: np.ndarray, ip: np.ndarray, step: np.int64, proj: np.int64) -> np.int64:
    """Attempts this call: the integer part of the expectation plus one with its fractional probability."""
    expected = fp[F_ATTEMPTS]
    whole = np.int64(math.floor(expected))
    frac = expected - whole
    if frac > 0.0:
        r0, _r1, _r2, _r3 = philox_nb(
            np.uint64(step) & MASK32,
            counter_word1(PURPOSE_ATTEMPTS, step),
            np.uint64(proj),
            np.uint64(0),
            np.uint64(ip[I_KEY0]),
            np.uint64(ip[I_KEY1]),
        )
        if uniform_nb(r0) < frac:
            whole += 1
    return min(whole, ip[I_MAX_ATTEMPTS])


@njit(inline="always", cache=True, nogil=True)
def _p_elim(fp: np.ndarray, base: np.int64, w: np.float32) -> np.float64:
    return fp[base + 2] if w < fp[F_THETA] else fp[base + 3]


@njit(cache=True, nogil=True)
def rewire_slot(
    fp: np.ndarray,
    ip: np.ndarray,
    istate: np.ndarray,
    nrn: NeuronArrays,
    ff: ProjectionTable,
    lat: ProjectionTable,
    step: np.int64,
    ev: np.ndarray,
    ev_count: np.ndarray,
    form_table: np.ndarray,
) -> None:
    """Bamford's scheme: each attempt picks a target neuron and one of its s_max slots.

    An occupied slot is an elimination attempt; an empty one a formation
    attempt with a partner of either layer (random, or among last step's spikers).
    """
    n = ip[I_N]
    side = ip[I_SIDE]
    s_max = ip[I_S_MAX]
    k0 = np.uint64(ip[I_KEY0])
    k1 = np.uint64(ip[I_KEY1])
    record = ip[I_RECORD_EVENTS] != 0
    last_spike = ip[I_PARTNER_LAST] != 0
    autapses = ip[I_AUTAPSES] != 0
    g_max = np.float32(fp[F_G_MAX])
    ns = istate[S_N_SPK_SRC]
    nt = istate[S_N_SPK_TGT]
    attempts = _n_attempts(fp, ip, step, np.int64(0))
    istate[S_ATTEMPTS_FF] += attempts
    c0 = np.uint64(step) & MASK32
    c1 = counter_word1(PURPOSE_SLOT, step)
    for a in range(attempts):
        r0, r1, r2, r3 = philox_nb(c0, c1, np.uint64(a), np.uint64(0), k0, k1)
        j = below_nb(r0, n)
        slot = below_nb(r1, s_max)
        d_ff = ff.col_len[j]
        d_lat = lat.col_len[j]
        if slot < d_ff + d_lat:
            # Elimination attempt on the synapse in this slot.
            if slot < d_ff:
                table = ff
                c = slot
                base = F_FF_P_FORM
                proj = 0
            else:
                table = lat
                c = slot - d_ff
                base = F_LAT_P_FORM
                proj = 1
            s = table.col_syn[j * table.dims[D_COL_CAP] + c]
            if uniform_nb(r3) < _p_elim(fp, base, table.weight[s]):
                rcap = table.dims[D_ROW_CAP]
                pre = s // rcap
                remove_synapse(table, pre, s - pre * rcap)
                if record:
                    _record(ev, ev_count, step, pre, j, proj, 0)
            continue
        # Formation attempt: choose the partner.
        if last_spike:
            total = ns + nt
            if total == 0:
                continue
            r = below_nb(r2, total)
            if r < ns:
                pre = np.int64(nrn.spk_src[r])
                proj = 0
            else:
                pre = np.int64(nrn.spk_tgt[r - ns])
                proj = 1
        else:
            r = below_nb(r2, 2 * n)
            if r < n:
                pre = r
                proj = 0
            else:
                pre = r - n
                proj = 1
        if proj == 1 and not autapses and pre == j:
            continue
        if uniform_nb(r3) < form_table[proj, np.int64(torus_d2(pre, j, side))]:
            table = ff if proj == 0 else lat
            if add_synapse(table, pre, j, g_max) and record:
                _record(ev, ev_count, step, pre, j, proj, 1)


@njit(cache=True, nogil=True)
def _draw_pairs(
    ip: np.ndarray,
    step: np.int64,
    proj: np.int64,
    attempts: np.int64,
    autapses: bool,
    keys: np.ndarray,
    accept: np.ndarray,
) -> None:
    """Draw ``attempts`` distinct (pre, post) pairs: sorted keys pre * n + post and acceptance uniforms."""
    n = ip[I_N]
    k0 = np.uint64(ip[I_KEY0])
    k1 = np.uint64(ip[I_KEY1])
    c0 = np.uint64(step) & MASK32
    c1 = counter_word1(PURPOSE_PAIR_FF + proj, step)
    size = 16
    while size < 2 * attempts:
        size *= 2
    table = np.full(size, -1, np.int64)
    mask = size - 1
    for a in range(attempts):
        redraw = 0
        while True:
            r0, r1, r2, _r3 = philox_nb(c0, c1, np.uint64(a), np.uint64(redraw), k0, k1)
            redraw += 1
            pre = below_nb(r0, n)
            post = below_nb(r1, n)
            if not autapses and pre == post:
                continue
            key = pre * n + post
            pos = ((key * np.int64(0x5851F42D4C957F2D)) >> 29) & mask
            dup = False
            while table[pos] != -1:
                if table[pos] == key:
                    dup = True
                    break
                pos = (pos + 1) & mask
            if dup:
                continue
            table[pos] = key
            keys[a] = key
            accept[a] = uniform_nb(r2)
            break
    order = np.argsort(keys[:attempts], kind="mergesort")
    keys[:attempts] = keys[:attempts][order]
    accept[:attempts] = accept[:attempts][order]


@njit(cache=True, nogil=True)
def rewire_pair(
    fp: np.ndarray,
    ip: np.ndarray,
    istate: np.ndarray,
    ff: ProjectionTable,
    lat: ProjectionTable,
    step: np.int64,
    ev: np.ndarray,
    ev_count: np.ndarray,
    form_table: np.ndarray,
) -> None:
    """GeNN-study scheme: per projection, distinct random (pre, post) pairs.

    An existing synapse is an elimination attempt; an absent one a formation
    attempt. Pairs are processed in (pre, post) order.
    """
    n = ip[I_N]
    side = ip[I_SIDE]
    record = ip[I_RECORD_EVENTS] != 0
    g_max = np.float32(fp[F_G_MAX])
    max_a = ip[I_MAX_ATTEMPTS]
    keys = np.empty(max_a, np.int64)
    accept = np.empty(max_a, np.float32)
    for proj in range(2):
        table = ff if proj == 0 else lat
        base = F_FF_P_FORM if proj == 0 else F_LAT_P_FORM
        autapses = proj == 0 or ip[I_AUTAPSES] != 0
        # Never ask for more distinct pairs than exist (the draw would not terminate).
        attempts = min(_n_attempts(fp, ip, step, np.int64(proj)), n * n if autapses else n * n - n)
        istate[S_ATTEMPTS_FF + proj] += attempts
        _draw_pairs(ip, step, np.int64(proj), attempts, autapses, keys, accept)
        rcap = table.dims[D_ROW_CAP]
        for a in range(attempts):
            pre = keys[a] // n
            post = keys[a] - pre * n
            k = find_synapse(table, pre, post)
            u = accept[a]
            if k >= 0:
                if u < _p_elim(fp, base, table.weight[pre * rcap + k]):
                    remove_synapse(table, pre, k)
                    if record:
                        _record(ev, ev_count, step, pre, post, proj, 0)
            else:
                p = form_table[proj, np.int64(torus_d2(pre, post, side))]
                if u < p and add_synapse(table, pre, post, g_max) and record:
                    _record(ev, ev_count, step, pre, post, proj, 1)


@njit(cache=True, nogil=True)
def rewire(
    fp: np.ndarray,
    ip: np.ndarray,
    istate: np.ndarray,
    nrn: NeuronArrays,
    ff: ProjectionTable,
    lat: ProjectionTable,
    step: np.int64,
    ev: np.ndarray,
    ev_count: np.ndarray,
    form_table: np.ndarray,
) -> None:
    """One rewiring call of the configured scheme."""
    if ip[I_SCHEME] == SCHEME_SLOT:
        rewire_slot(fp, ip, istate, nrn, ff, lat, step, ev, ev_count, form_table)
    else:
        rewire_pair(fp, ip, istate, ff, lat, step, ev, ev_count, form_table)


@njit(cache=True, nogil=True)
def run_steps(
    n_steps: np.int64,
    fp: np.ndarray,
    ip: np.ndarray,
    istate: np.ndarray,
    nrn: NeuronArrays,
    ff: ProjectionTable,
    lat: ProjectionTable,
    ev: np.ndarray,
    ev_count: np.ndarray,
    ev_reserve: np.int64,
    stim_table: np.ndarray,
    form_table: np.ndarray,
) -> np.int64:
    """Advance up to ``n_steps`` steps; returns the number done.

    Stops early, at a step boundary, when the event buffer has less than
    ``ev_reserve`` free rows, so that no event is ever lost: the caller drains
    the buffer and calls again.
    """
    ev_cap = ev.shape[0]
    rewire_on = ip[I_REWIRE] != 0
    every = ip[I_REWIRE_EVERY]
    done = 0
    while done < n_steps:
        if ev_count[0] + ev_reserve > ev_cap:
            break
        step = istate[S_STEP]
        update_stimulus(ip, istate, stim_table, nrn.p_src, nrn.cdf_src, step)
        ns = source_spikes(ip, istate, nrn, step)
        nt = neuron_update(fp, ip, istate, nrn)
        propagate_stdp(fp, ip, nrn, ff, lat, ns, nt)
        clear_fired(nrn, nt)
        if rewire_on and (step + 1) % every == 0:
            rewire(fp, ip, istate, nrn, ff, lat, step, ev, ev_count, form_table)
        istate[S_STEP] = step + 1
        done += 1
    return done


@njit(cache=True, nogil=True)
def rewire_only(
    n_steps: np.int64,
    fp: np.ndarray,
    ip: np.ndarray,
    istate: np.ndarray,
    nrn: NeuronArrays,
    ff: ProjectionTable,
    lat: ProjectionTable,
    ev: np.ndarray,
    ev_count: np.ndarray,
    form_table: np.ndarray,
) -> np.int64:
    """Run just the rewiring calls that ``n_steps`` steps would make (for timing its share)."""
    every = ip[I_REWIRE_EVERY]
    done = 0
    for _ in range(n_steps):
        step = istate[S_STEP]
        if (step + 1) % every == 0:
            if ev_count[0] + 2 * ip[I_MAX_ATTEMPTS] + 2 > ev.shape[0]:
                ev_count[0] = 0
            rewire(fp, ip, istate, nrn, ff, lat, step, ev, ev_count, form_table)
        istate[S_STEP] = step + 1
        done += 1
    return done
