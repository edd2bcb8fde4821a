"""Numba kernels of the sparse classifier: e-prop trials in parallel lanes, Adam and DEEP R per batch.

:func:`run_lanes` advances a range of the batch's lanes by up to the rest of
the current trial in one compiled call; the backend runs disjoint ranges on
every core at once (the kernels release the GIL and a lane touches only its
own arrays). :func:`finish_segment` then, when the trial ends, scores the
lanes and, at the end of a training batch, sums the lanes' gradients in lane
order, applies L1 and Adam, and runs DEEP R (prune on a sign change, regrow
as many); then it sets up the next batch. A segment never crosses a batch
boundary, so the driver sees every batch's row.

Per lane and time step (CLASSIFIER.md): input spikes and the last step's
hidden spikes are propagated through their tables' rows; the hidden neurons
integrate (reset by subtraction, refractory), the readout leaks and sums;
with learning on, the learning signal is the feedback-weighted error of the
readout's softmax, and every synapse's eligibility trace and gradient are
updated. The dense kernel is the same loop over full rows with the target
taken from the slot's position (no row indirection, contiguous in the
target), selected per row so the inner loops stay straight.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from sim.events import EV_KIND, EV_POST, EV_PRE, EV_PROJ, EV_STEP, FORMED, REMOVED
from sim.experiments.classifier.params import (
    A_REFUSED_IN,
    A_REGROWN_IN,
    A_REMOVED_IN,
    A_TEST_CORRECT,
    A_TEST_LOSS,
    A_TEST_N,
    A_TRAIN_CORRECT,
    A_TRAIN_LOSS,
    A_TRAIN_N,
    C_BATCH,
    C_EPOCH,
    C_STEP,
    C_T,
    C_UPDATES,
    F_ADAM_B1,
    F_ADAM_B2,
    F_ADAM_EPS,
    F_ALPHA,
    F_BETA,
    F_C_REG,
    F_F_TARGET,
    F_KAPPA,
    F_L1,
    F_LR,
    F_NOISE,
    F_PSI_SCALE,
    F_REG_DECAY,
    F_REGROW_W,
    F_RHO,
    F_V_TH,
    I_ALIF,
    I_DEEP_R,
    I_DENSE,
    I_KEY0,
    I_KEY1,
    I_LANES,
    I_MAX_REDRAWS,
    I_N_HID,
    I_N_IN,
    I_N_OUT,
    I_N_TEST,
    I_RANDOM_FEEDBACK,
    I_RECORD_EVENTS,
    I_REF_STEPS,
    I_TEST_BATCHES,
    I_TRAIN_BATCHES,
    I_TRIAL_STEPS,
    RAN_EPOCH,
    RAN_MID_TRIAL,
    RAN_TEST_BATCH,
    RAN_TRAIN_BATCH,
    SH_BATCH,
    SH_EPOCH,
    SH_EXAMPLE,
    SH_LABEL,
    SH_PREDICTION,
    SH_TRAINING,
    TABLE_IN,
    TABLE_REC,
)
from sim.experiments.classifier.purposes import PURPOSE_NOISE, PURPOSE_ORDER, PURPOSE_REGROW, PURPOSE_SIGN
from sim.experiments.classifier.records import (
    N_BATCH_FIELDS,
    R_BATCH,
    R_EPOCH,
    R_HELD,
    R_REFUSED_IN,
    R_REFUSED_REC,
    R_REGROWN_IN,
    R_REGROWN_REC,
    R_REMOVED_IN,
    R_REMOVED_REC,
    R_STEP,
    R_SYNAPSES_IN,
    R_SYNAPSES_REC,
    R_TEST_ACCURACY,
    R_TEST_LOSS,
    R_TRAIN_ACCURACY,
    R_TRAIN_LOSS,
)
from sim.philox import below_nb, counter_word1, philox_nb, uniform_nb
from sim.synapses import D_N_POST, D_N_PRE, D_ROW_CAP, add_synapse, find_synapse, remove_synapse


class Lanes(NamedTuple):
    """Every lane's neuron state and position in its example (the state's arrays of these names)."""

    v: NDArray[np.float32]
    a: NDArray[np.float32]
    z: NDArray[np.float32]
    refrac: NDArray[np.int32]
    f_avg: NDArray[np.float32]
    zbar_in: NDArray[np.float32]
    zbar_rec: NDArray[np.float32]
    zout: NDArray[np.float32]
    y: NDArray[np.float32]
    y_sum: NDArray[np.float32]
    lane_example: NDArray[np.int32]
    lane_ptr: NDArray[np.int64]
    trace_z: NDArray[np.uint8]
    trace_y: NDArray[np.float32]
    shown_z: NDArray[np.uint8]
    shown_y: NDArray[np.float32]
    shown_info: NDArray[np.int64]


class Readout(NamedTuple):
    """The dense readout, its optimiser state and per-lane gradients, and the feedback weights."""

    w_out: NDArray[np.float32]
    b_out: NDArray[np.float32]
    m_out: NDArray[np.float32]
    v_out: NDArray[np.float32]
    m_b: NDArray[np.float32]
    v_b: NDArray[np.float32]
    grad_out: NDArray[np.float32]
    grad_b: NDArray[np.float32]
    feedback: NDArray[np.float32]


class Examples(NamedTuple):
    """One split of a spike data set (``sim.data.SpikeData``'s arrays)."""

    offsets: NDArray[np.int64]
    steps: NDArray[np.int32]
    units: NDArray[np.int32]
    labels: NDArray[np.int32]


# --------------------------------------------------------------------------- random draws


@njit(inline="always", cache=True, nogil=True)
def _words(ip: NDArray[np.int64], c0: Any, purpose: int, c2: Any, c3: Any) -> tuple[Any, Any, Any, Any]:
    return philox_nb(
        np.uint64(c0),
        counter_word1(np.int64(purpose), np.int64(0)),
        np.uint64(c2),
        np.uint64(c3),
        np.uint64(ip[I_KEY0]),
        np.uint64(ip[I_KEY1]),
    )


@njit(inline="always", cache=True, nogil=True)
def pair_sign(ip: NDArray[np.int64], table: int, pre: Any, post: Any) -> np.float32:
    """The fixed sign of pair ``(pre, post)`` of ``table`` (``state.pair_signs``)."""
    w0, _, _, _ = _words(ip, pre, PURPOSE_SIGN, table, post)
    return np.float32(1.0) if (w0 & np.uint64(1)) != 0 else np.float32(-1.0)


@njit(inline="always", cache=True, nogil=True)
def _normal(w0: Any, w1: Any) -> float:
    """Box-Muller on two words (``state._normal``)."""
    u1 = 1.0 - np.float64(uniform_nb(w0))
    u2 = np.float64(uniform_nb(w1))
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True)
def training_order(ip: NDArray[np.int64], epoch: int, order: NDArray[np.int32]) -> None:
    """The epoch's order of the training examples into ``order`` (``state.training_order``)."""
    n = order.shape[0]
    keys = np.empty(n, np.uint64)
    for i in range(n):
        w0, w1, _, _ = _words(ip, i, PURPOSE_ORDER, epoch, 0)
        keys[i] = (w0 << np.uint64(32)) | w1
    order[:] = np.argsort(keys, kind="mergesort").astype(np.int32)


# --------------------------------------------------------------------------- one lane, many steps


@njit(inline="always", cache=True, nogil=True)
def _forward_row(t: Any, i: int, cur: NDArray[np.float32], dense: bool) -> None:
    """Add row ``i``'s weights to the targets' input."""
    base = i * t.dims[D_ROW_CAP]
    n = t.row_len[i]
    w = t.weight
    if dense:
        for k in range(n):
            cur[k] += w[base + k]
    else:
        post = t.post
        for k in range(n):
            cur[post[base + k]] += w[base + k]


@njit(inline="always", cache=True, nogil=True)
def _eprop_row(
    t: Any,
    lane: int,
    i: int,
    zb: np.float32,
    psi: NDArray[np.float32],
    L: NDArray[np.float32],
    reg: NDArray[np.float32],
    kappa: np.float32,
    dense: bool,
) -> None:
    """LIF e-prop of row ``i``: eligibility ``psi_j zbar_i`` filtered by kappa into ``eF``; gradient."""
    base = i * t.dims[D_ROW_CAP]
    n = t.row_len[i]
    el = t.elig[lane]
    g = t.grad[lane]
    if dense:
        for k in range(n):
            e = psi[k] * zb
            f = kappa * el[base + k] + e
            el[base + k] = f
            g[base + k] += f * L[k] + reg[k] * e
    else:
        post = t.post
        for k in range(n):
            j = post[base + k]
            e = psi[j] * zb
            f = kappa * el[base + k] + e
            el[base + k] = f
            g[base + k] += f * L[j] + reg[j] * e


@njit(inline="always", cache=True, nogil=True)
def _eprop_row_alif(
    t: Any,
    lane: int,
    i: int,
    zb: np.float32,
    psi: NDArray[np.float32],
    L: NDArray[np.float32],
    reg: NDArray[np.float32],
    kappa: np.float32,
    beta: np.float32,
    rho: np.float32,
    dense: bool,
) -> None:
    """ALIF e-prop of row ``i``: ``e = psi (zbar - beta epsA)``, then ``epsA`` moves on."""
    base = i * t.dims[D_ROW_CAP]
    n = t.row_len[i]
    el = t.elig[lane]
    ea = t.elig_a[lane]
    g = t.grad[lane]
    post = t.post
    for k in range(n):
        j = k if dense else post[base + k]
        s = base + k
        p = psi[j]
        e = p * (zb - beta * ea[s])
        ea[s] = p * zb + (rho - p * beta) * ea[s]
        f = kappa * el[s] + e
        el[s] = f
        g[s] += f * L[j] + reg[j] * e


@njit(cache=True, nogil=True)
def _lane_steps(
    lane: int,
    t0: int,
    n: int,
    learn: bool,
    fp: NDArray[np.float64],
    ip: NDArray[np.int64],
    tin: Any,
    trec: Any,
    ro: Readout,
    ln: Lanes,
    data: Examples,
) -> None:
    """Advance lane ``lane`` by ``n`` steps of its example from trial step ``t0``."""
    n_in, n_hid, n_out = ip[I_N_IN], ip[I_N_HID], ip[I_N_OUT]
    alpha, kappa, rho = np.float32(fp[F_ALPHA]), np.float32(fp[F_KAPPA]), np.float32(fp[F_RHO])
    v_th, beta, psi_scale = np.float32(fp[F_V_TH]), np.float32(fp[F_BETA]), np.float32(fp[F_PSI_SCALE])
    reg_decay = np.float32(fp[F_REG_DECAY])
    reg_gain = np.float32(1.0) - reg_decay
    f_target, c_reg = np.float32(fp[F_F_TARGET]), np.float32(fp[F_C_REG])
    ref_steps = ip[I_REF_STEPS]
    alif = ip[I_ALIF] != 0
    dense = ip[I_DENSE] != 0
    fb = ro.feedback if ip[I_RANDOM_FEEDBACK] != 0 else ro.w_out
    ex = ln.lane_example[lane]
    label = data.labels[ex]
    end = data.offsets[ex + 1]
    v, a, z, refrac, f_avg = ln.v[lane], ln.a[lane], ln.z[lane], ln.refrac[lane], ln.f_avg[lane]
    zi, zr, zo, y, ys = ln.zbar_in[lane], ln.zbar_rec[lane], ln.zout[lane], ln.y[lane], ln.y_sum[lane]
    gout, gb = ro.grad_out[lane], ro.grad_b[lane]
    cur = np.zeros(n_hid, np.float32)
    psi = np.zeros(n_hid, np.float32)
    L = np.zeros(n_hid, np.float32)
    reg = np.zeros(n_hid, np.float32)
    err = np.zeros(n_out, np.float32)
    for t in range(t0, t0 + n):
        cur[:] = 0.0
        for u in range(n_in):
            zi[u] *= alpha
        p = ln.lane_ptr[lane]
        while p < end and data.steps[p] == t:
            u = data.units[p]
            zi[u] += np.float32(1.0)
            _forward_row(tin, u, cur, dense)
            p += 1
        ln.lane_ptr[lane] = p
        for i in range(n_hid):
            zr[i] *= alpha
            if z[i] != 0.0:
                zr[i] += np.float32(1.0)
                _forward_row(trec, i, cur, dense)
        for j in range(n_hid):
            thr = v_th + beta * a[j]
            vj = alpha * v[j] + cur[j] - z[j] * v_th
            zj = np.float32(0.0)
            pj = np.float32(0.0)
            if refrac[j] > 0:
                refrac[j] -= 1
            else:
                if vj >= thr:
                    zj = np.float32(1.0)
                    refrac[j] = ref_steps
                pj = psi_scale * max(np.float32(0.0), np.float32(1.0) - abs(vj - thr) / v_th)
            if alif:
                a[j] = rho * a[j] + zj
            v[j] = vj
            z[j] = zj
            psi[j] = pj
            zo[j] = kappa * zo[j] + zj
            f_avg[j] = reg_decay * f_avg[j] + reg_gain * zj
        for k in range(n_out):
            y[k] = kappa * y[k] + ro.b_out[k]
        for j in range(n_hid):
            if z[j] != 0.0:
                for k in range(n_out):
                    y[k] += ro.w_out[j, k]
        for k in range(n_out):
            ys[k] += y[k]
        if lane == 0:
            for j in range(n_hid):
                ln.trace_z[t, j] = np.uint8(z[j])
            for k in range(n_out):
                ln.trace_y[t, k] = y[k]
        if not learn:
            continue
        top = y[0]
        for k in range(1, n_out):
            top = max(top, y[k])
        total = np.float32(0.0)
        for k in range(n_out):
            err[k] = np.float32(math.exp(y[k] - top))
            total += err[k]
        for k in range(n_out):
            err[k] = err[k] / total - (np.float32(1.0) if k == label else np.float32(0.0))
            gb[k] += err[k]
        for j in range(n_hid):
            lj = np.float32(0.0)
            for k in range(n_out):
                lj += fb[j, k] * err[k]
                gout[j, k] += zo[j] * err[k]
            L[j] = lj
            reg[j] = c_reg * (f_avg[j] - f_target)
        if alif:
            for i in range(n_in):
                _eprop_row_alif(tin, lane, i, zi[i], psi, L, reg, kappa, beta, rho, dense)
            for i in range(n_hid):
                _eprop_row_alif(trec, lane, i, zr[i], psi, L, reg, kappa, beta, rho, dense)
        else:
            for i in range(n_in):
                _eprop_row(tin, lane, i, zi[i], psi, L, reg, kappa, dense)
            for i in range(n_hid):
                _eprop_row(trec, lane, i, zr[i], psi, L, reg, kappa, dense)


# --------------------------------------------------------------------------- end of a batch


@njit(inline="always", cache=True, nogil=True)
def _adam(
    w: np.float32,
    g: np.float32,
    m: np.float32,
    v: np.float32,
    fp: NDArray[np.float64],
    bc1: float,
    bc2: float,
) -> tuple[np.float32, np.float32, np.float32]:
    """One Adam step of a weight: the new weight and moments."""
    b1, b2 = np.float32(fp[F_ADAM_B1]), np.float32(fp[F_ADAM_B2])
    m = b1 * m + (np.float32(1.0) - b1) * g
    v = b2 * v + (np.float32(1.0) - b2) * g * g
    step = (
        np.float32(fp[F_LR])
        * (m / np.float32(bc1))
        / (np.float32(math.sqrt(v / bc2)) + np.float32(fp[F_ADAM_EPS]))
    )
    return w - step, m, v


@njit(cache=True, nogil=True)
def _learn_table(
    t: Any, code: int, fp: NDArray[np.float64], ip: NDArray[np.int64], updates: int, bc1: float, bc2: float
) -> None:
    """Sum the lanes' gradients of every synapse, add L1 (DEEP R), take an Adam step, add the noise."""
    lanes = t.grad.shape[0]
    rc = t.dims[D_ROW_CAP]
    deep_r = ip[I_DEEP_R] != 0
    l1 = np.float32(fp[F_L1]) if deep_r else np.float32(0.0)
    noise = fp[F_NOISE] if deep_r else 0.0
    diagonal = ip[I_DENSE] != 0 and code == TABLE_REC
    for i in range(t.dims[D_N_PRE]):
        for k in range(t.row_len[i]):
            s = i * rc + k
            g = np.float32(0.0)
            for lane in range(lanes):
                g += t.grad[lane, s]
                t.grad[lane, s] = 0.0
            w = t.weight[s]
            if w > 0:
                g += l1
            elif w < 0:
                g -= l1
            w, t.adam_m[s], t.adam_v[s] = _adam(w, g, t.adam_m[s], t.adam_v[s], fp, bc1, bc2)
            if noise > 0.0:
                w0, w1, _, _ = _words(ip, updates, PURPOSE_NOISE, code, s)
                w += np.float32(noise * _normal(w0, w1))
            if diagonal and k == i:
                w = np.float32(0.0)
            t.weight[s] = w


@njit(cache=True, nogil=True)
def _log_event(
    ev: NDArray[np.int64], ev_count: NDArray[np.int64], step: int, pre: int, post: int, code: int, kind: int
) -> None:
    c = ev_count[0]
    if c < ev.shape[0]:
        ev[c, EV_STEP] = step
        ev[c, EV_PRE] = pre
        ev[c, EV_POST] = post
        ev[c, EV_PROJ] = code
        ev[c, EV_KIND] = kind
        ev_count[0] = c + 1


@njit(cache=True, nogil=True)
def _deep_r(
    t: Any,
    code: int,
    fp: NDArray[np.float64],
    ip: NDArray[np.int64],
    updates: int,
    step: int,
    ev: NDArray[np.int64],
    ev_count: NDArray[np.int64],
) -> tuple[int, int, int]:
    """Prune every synapse whose weight left its pair's sign; regrow as many at random free pairs.

    Rows are scanned in order, each from its end (a removal moves the row's last synapse, already
    looked at, into the hole). Regrowth draws ``(pre, post)`` uniformly (no self-connection in the
    recurrent table) from counter ``(updates, PURPOSE_REGROW, table, attempt)``; a pair that exists
    or a full row is redrawn and counted as refused, up to ``max_redraws`` draws per synapse.
    Returns removed, regrown, refused.
    """
    rc = t.dims[D_ROW_CAP]
    n_pre, n_post = t.dims[D_N_PRE], t.dims[D_N_POST]
    record = ip[I_RECORD_EVENTS] != 0
    removed = 0
    for i in range(n_pre):
        for k in range(t.row_len[i] - 1, -1, -1):
            s = i * rc + k
            j = t.post[s]
            if t.weight[s] * pair_sign(ip, code, i, j) < 0:
                remove_synapse(t, i, k)
                removed += 1
                if record:
                    _log_event(ev, ev_count, step, i, j, code, REMOVED)
    regrown = 0
    refused = 0
    attempt = 0
    limit = removed * ip[I_MAX_REDRAWS]
    recurrent = code == TABLE_REC
    w_new = np.float32(fp[F_REGROW_W])
    zero = np.float32(0.0)
    while regrown < removed and attempt < limit:
        w0, w1, _, _ = _words(ip, updates, PURPOSE_REGROW, code, attempt)
        attempt += 1
        pre = below_nb(w0, n_pre)
        if recurrent:
            post = below_nb(w1, n_post - 1)
            if post >= pre:
                post += 1
        else:
            post = below_nb(w1, n_post)
        if find_synapse(t, pre, post) >= 0:
            refused += 1
            continue
        init = (w_new * pair_sign(ip, code, pre, post), zero, zero, zero, zero, zero)
        if not add_synapse(t, pre, post, init):
            refused += 1
            continue
        regrown += 1
        if record:
            _log_event(ev, ev_count, step, pre, post, code, FORMED)
    return removed, regrown, refused


@njit(cache=True, nogil=True)
def _learn_readout(ro: Readout, fp: NDArray[np.float64], bc1: float, bc2: float) -> None:
    """Adam on the readout weights and biases with the lanes' gradients summed."""
    lanes = ro.grad_out.shape[0]
    n_hid, n_out = ro.w_out.shape
    for j in range(n_hid):
        for k in range(n_out):
            g = np.float32(0.0)
            for lane in range(lanes):
                g += ro.grad_out[lane, j, k]
                ro.grad_out[lane, j, k] = 0.0
            ro.w_out[j, k], ro.m_out[j, k], ro.v_out[j, k] = _adam(
                ro.w_out[j, k], g, ro.m_out[j, k], ro.v_out[j, k], fp, bc1, bc2
            )
    for k in range(n_out):
        g = np.float32(0.0)
        for lane in range(lanes):
            g += ro.grad_b[lane, k]
            ro.grad_b[lane, k] = 0.0
        ro.b_out[k], ro.m_b[k], ro.v_b[k] = _adam(ro.b_out[k], g, ro.m_b[k], ro.v_b[k], fp, bc1, bc2)


# --------------------------------------------------------------------------- the compiled call


@njit(cache=True, nogil=True)
def _score(y_sum: NDArray[np.float32], label: int) -> tuple[float, int, int]:
    """Cross-entropy of the softmax of the summed readout, whether its argmax is the label, the argmax."""
    n_out = y_sum.shape[0]
    top = 0
    for k in range(1, n_out):
        if y_sum[k] > y_sum[top]:
            top = k
    m = np.float64(y_sum[top])
    total = 0.0
    for k in range(n_out):
        total += math.exp(np.float64(y_sum[k]) - m)
    loss = m + math.log(total) - np.float64(y_sum[label])
    return loss, 1 if top == label else 0, top


@njit(cache=True, nogil=True)
def _batch_row(
    row: NDArray[np.float64],
    clock: NDArray[np.int64],
    acc: NDArray[np.float64],
    tin: Any,
    trec: Any,
    ip: NDArray[np.int64],
) -> None:
    """The row of the training batch that just ended (its test fields NaN).

    The dense recurrent matrix's diagonal, held at zero weight, is not counted among its synapses.
    """
    row[R_HELD] = 1.0
    row[R_EPOCH] = clock[C_EPOCH]
    row[R_BATCH] = clock[C_BATCH]
    row[R_STEP] = clock[C_STEP]
    n = max(acc[A_TRAIN_N], 1.0)
    row[R_TRAIN_LOSS] = acc[A_TRAIN_LOSS] / n
    row[R_TRAIN_ACCURACY] = acc[A_TRAIN_CORRECT] / n
    row[R_TEST_LOSS] = np.nan
    row[R_TEST_ACCURACY] = np.nan
    row[R_SYNAPSES_IN] = tin.row_len.sum()
    row[R_REMOVED_IN] = acc[A_REMOVED_IN]
    row[R_REGROWN_IN] = acc[A_REGROWN_IN]
    row[R_REFUSED_IN] = acc[A_REFUSED_IN]
    row[R_SYNAPSES_REC] = trec.row_len.sum() - (trec.dims[D_N_POST] if ip[I_DENSE] != 0 else 0)
    row[R_REMOVED_REC] = acc[A_REMOVED_IN + 3]
    row[R_REGROWN_REC] = acc[A_REGROWN_IN + 3]
    row[R_REFUSED_REC] = acc[A_REFUSED_IN + 3]


@njit(cache=True, nogil=True)
def start_batch(
    ip: NDArray[np.int64],
    clock: NDArray[np.int64],
    order: NDArray[np.int32],
    ln: Lanes,
    tin: Any,
    trec: Any,
    train: Examples,
    test: Examples,
) -> None:
    """Give every lane its example of the current batch and clear the lanes' trial state."""
    lanes = ip[I_LANES]
    b = clock[C_BATCH]
    n_train_batches = ip[I_TRAIN_BATCHES]
    for lane in range(lanes):
        if b < n_train_batches:
            ex = order[b * lanes + lane]
            ln.lane_example[lane] = ex
            ln.lane_ptr[lane] = train.offsets[ex]
        else:
            ex = (b - n_train_batches) * lanes + lane
            if ex < ip[I_N_TEST]:
                ln.lane_example[lane] = ex
                ln.lane_ptr[lane] = test.offsets[ex]
            else:
                ln.lane_example[lane] = -1
                ln.lane_ptr[lane] = 0
    ln.v[:] = 0.0
    ln.a[:] = 0.0
    ln.z[:] = 0.0
    ln.refrac[:] = 0
    ln.zbar_in[:] = 0.0
    ln.zbar_rec[:] = 0.0
    ln.zout[:] = 0.0
    ln.y[:] = 0.0
    ln.y_sum[:] = 0.0
    for t in (tin, trec):
        t.elig[:] = 0.0
        t.elig_a[:] = 0.0


@njit(cache=True, nogil=True)
def run_lanes(
    lane_lo: int,
    lane_hi: int,
    n: int,
    fp: NDArray[np.float64],
    ip: NDArray[np.int64],
    tin: Any,
    trec: Any,
    ro: Readout,
    ln: Lanes,
    clock: NDArray[np.int64],
    train: Examples,
    test: Examples,
) -> None:
    """Advance lanes ``lane_lo`` to ``lane_hi - 1`` by ``n`` steps of the current trial.

    Lanes touch only their own arrays, so calls for disjoint lane ranges run on
    several threads at once (the kernels release the GIL).
    """
    training = clock[C_BATCH] < ip[I_TRAIN_BATCHES]
    data = train if training else test
    t0 = clock[C_T]
    for lane in range(lane_lo, lane_hi):
        if ln.lane_example[lane] >= 0:
            _lane_steps(lane, t0, n, training, fp, ip, tin, trec, ro, ln, data)


@njit(cache=True, nogil=True)
def finish_segment(
    n: int,
    fp: NDArray[np.float64],
    ip: NDArray[np.int64],
    tin: Any,
    trec: Any,
    ro: Readout,
    ln: Lanes,
    order: NDArray[np.int32],
    clock: NDArray[np.int64],
    acc: NDArray[np.float64],
    pending: NDArray[np.float64],
    train: Examples,
    test: Examples,
    ev: NDArray[np.int64],
    ev_count: NDArray[np.int64],
    row_out: NDArray[np.float64],
) -> int:
    """Count ``n`` steps the lanes ran (:func:`run_lanes`); at the trial's end score the lanes, learn
    (a training batch: Adam, DEEP R) and set up the next batch.

    Returns what ended (``params.RAN_*``). When a training batch's row or an
    epoch's held row is complete it is written to ``row_out`` (``row_out[0]`` 1).
    """
    T = ip[I_TRIAL_STEPS]
    lanes = ip[I_LANES]
    training = clock[C_BATCH] < ip[I_TRAIN_BATCHES]
    data = train if training else test
    clock[C_T] += n
    clock[C_STEP] += n
    row_out[0] = 0.0
    if clock[C_T] < T:
        return RAN_MID_TRIAL
    base = A_TRAIN_LOSS if training else A_TEST_LOSS
    for lane in range(lanes):
        ex = ln.lane_example[lane]
        if ex >= 0:
            loss, correct, prediction = _score(ln.y_sum[lane], data.labels[ex])
            acc[base] += loss
            acc[base + 1] += correct
            acc[base + 2] += 1.0
            if lane == 0:
                ln.shown_z[:] = ln.trace_z
                ln.shown_y[:] = ln.trace_y
                info = ln.shown_info
                info[SH_EXAMPLE], info[SH_LABEL], info[SH_PREDICTION] = ex, data.labels[ex], prediction
                info[SH_EPOCH], info[SH_BATCH], info[SH_TRAINING] = clock[C_EPOCH], clock[C_BATCH], training
    status = RAN_TEST_BATCH
    if training:
        clock[C_UPDATES] += 1
        u = clock[C_UPDATES]
        bc1 = 1.0 - fp[F_ADAM_B1] ** u
        bc2 = 1.0 - fp[F_ADAM_B2] ** u
        _learn_table(tin, TABLE_IN, fp, ip, u, bc1, bc2)
        _learn_table(trec, TABLE_REC, fp, ip, u, bc1, bc2)
        _learn_readout(ro, fp, bc1, bc2)
        for code in range(2):
            acc[A_REMOVED_IN + 3 * code] = 0.0
            acc[A_REGROWN_IN + 3 * code] = 0.0
            acc[A_REFUSED_IN + 3 * code] = 0.0
        if ip[I_DEEP_R] != 0:
            for code in range(2):
                t = tin if code == TABLE_IN else trec
                removed, regrown, refused = _deep_r(t, code, fp, ip, u, clock[C_STEP], ev, ev_count)
                acc[A_REMOVED_IN + 3 * code] = removed
                acc[A_REGROWN_IN + 3 * code] = regrown
                acc[A_REFUSED_IN + 3 * code] = refused
        last = clock[C_BATCH] == ip[I_TRAIN_BATCHES] - 1
        _batch_row(pending if last else row_out, clock, acc, tin, trec, ip)
        if not last:
            row_out[0] = 1.0
        acc[A_TRAIN_LOSS] = 0.0
        acc[A_TRAIN_CORRECT] = 0.0
        acc[A_TRAIN_N] = 0.0
        status = RAN_TRAIN_BATCH
    clock[C_T] = 0
    clock[C_BATCH] += 1
    if clock[C_BATCH] == ip[I_TRAIN_BATCHES] + ip[I_TEST_BATCHES]:
        n_test = max(acc[A_TEST_N], 1.0)
        pending[R_TEST_LOSS] = acc[A_TEST_LOSS] / n_test
        pending[R_TEST_ACCURACY] = acc[A_TEST_CORRECT] / n_test
        row_out[:] = pending
        pending[:] = 0.0
        acc[A_TEST_LOSS] = 0.0
        acc[A_TEST_CORRECT] = 0.0
        acc[A_TEST_N] = 0.0
        clock[C_BATCH] = 0
        clock[C_EPOCH] += 1
        training_order(ip, clock[C_EPOCH], order)
        status = RAN_EPOCH
    start_batch(ip, clock, order, ln, tin, trec, train, test)
    return status


#: Length of :func:`finish_segment`'s row buffer.
ROW_LENGTH = N_BATCH_FIELDS
