"""Kernel parameters, clock and accumulators of the sparse classifier: named slots of flat arrays.

Every backend's kernels receive the parameters as one float64 and one int64
array indexed by the constants below, so a live change is a write into them
and never a recompilation; derived constants (decay factors, per-step rates)
are computed here. The state's clock (``C_*``, int64) and batch accumulators
(``A_*``, float64) are flat arrays with named slots too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from sim.experiments.classifier.config import ClassifierConfig
from sim.philox import key_from_seed

if TYPE_CHECKING:
    from sim.experiments.classifier.data import DataSizes

# --- float parameters -----------------------------------------------------------------------------
(
    F_ALPHA,  # membrane decay per step, exp(-dt / tau_m)
    F_KAPPA,  # readout decay per step, exp(-dt / tau_out)
    F_RHO,  # ALIF adaptation decay per step, exp(-dt / tau_a)
    F_V_TH,
    F_BETA,  # ALIF threshold increase per unit of adaptation (0 for LIF)
    F_PSI_SCALE,  # 0.3 / v_th
    F_REG_DECAY,  # decay per step of the regularised rate, exp(-dt / tau_reg)
    F_F_TARGET,  # target rate in spikes per step
    F_C_REG,
    F_LR,
    F_ADAM_B1,
    F_ADAM_B2,
    F_ADAM_EPS,
    F_L1,
    F_NOISE,  # sqrt(2 lr T): the temperature noise's standard deviation
    F_REGROW_W,
    N_FLOAT_PARAMS,
) = range(17)

# --- integer parameters ---------------------------------------------------------------------------
(
    I_N_IN,
    I_N_HID,
    I_N_OUT,
    I_LANES,
    I_TRIAL_STEPS,
    I_REF_STEPS,
    I_ALIF,
    I_RANDOM_FEEDBACK,
    I_DEEP_R,
    I_DENSE,
    I_RECORD_EVENTS,
    I_KEY0,
    I_KEY1,
    I_N_TRAIN,
    I_N_TEST,
    I_TRAIN_BATCHES,
    I_TEST_BATCHES,
    I_MAX_REDRAWS,
    N_INT_PARAMS,
) = range(19)

# --- the state's clock (int64) ----------------------------------------------------------------------
(
    C_STEP,  # steps completed
    C_EPOCH,  # epochs completed
    C_BATCH,  # batch of the current epoch: training batches first, then test batches
    C_T,  # steps completed of the current trial
    C_UPDATES,  # weight updates made (Adam's step count)
    N_CLOCK,
) = range(6)

# --- the state's accumulators (float64) ---------------------------------------------------------------
(
    A_TRAIN_LOSS,  # summed over the current training batch's examples
    A_TRAIN_CORRECT,
    A_TRAIN_N,
    A_TEST_LOSS,  # summed over the current epoch's test examples so far
    A_TEST_CORRECT,
    A_TEST_N,
    A_REMOVED_IN,  # DEEP R of the last update, per table
    A_REGROWN_IN,
    A_REFUSED_IN,
    A_REMOVED_REC,
    A_REGROWN_REC,
    A_REFUSED_REC,
    N_ACC,
) = range(13)

# --- the state's shown example (int64) ----------------------------------------------------------------
SH_EXAMPLE, SH_LABEL, SH_PREDICTION, SH_EPOCH, SH_BATCH, SH_TRAINING, N_SHOWN = range(7)

#: Table codes (event ``projection`` field, random counters).
TABLE_IN = 0
TABLE_REC = 1
TABLE_NAMES = ("in", "rec")

#: What a compiled call of the kernels reports about where it stopped.
RAN_MID_TRIAL = 0  # the steps ran out inside a trial
RAN_TRAIN_BATCH = 1  # a training batch ended: its weights were updated
RAN_TEST_BATCH = 2  # a test batch ended, and the epoch goes on
RAN_EPOCH = 3  # the epoch's last test batch ended: the next epoch has begun


def float_params(config: ClassifierConfig) -> NDArray[np.float64]:
    """The float parameters of ``config``."""
    n, lr, rw = config.network, config.learning, config.rewiring
    p = np.zeros(N_FLOAT_PARAMS, np.float64)
    p[F_ALPHA] = math.exp(-n.dt / n.tau_m)
    p[F_KAPPA] = math.exp(-n.dt / n.tau_out)
    p[F_RHO] = math.exp(-n.dt / n.tau_a)
    p[F_V_TH] = n.v_th
    p[F_BETA] = n.beta if n.neuron == "alif" else 0.0
    p[F_PSI_SCALE] = 0.3 / n.v_th
    p[F_REG_DECAY] = math.exp(-n.dt / lr.tau_reg)
    p[F_F_TARGET] = lr.f_target * n.dt * 1e-3
    p[F_C_REG] = lr.c_reg
    p[F_LR] = lr.lr
    p[F_ADAM_B1] = lr.adam_beta1
    p[F_ADAM_B2] = lr.adam_beta2
    p[F_ADAM_EPS] = lr.adam_eps
    p[F_L1] = rw.l1
    p[F_NOISE] = math.sqrt(2.0 * lr.lr * rw.temperature)
    p[F_REGROW_W] = rw.regrow_weight
    return p


def int_params(config: ClassifierConfig, seed: int, sizes: DataSizes) -> NDArray[np.int64]:
    """The integer parameters of ``config``, ``seed`` and the data set's ``sizes``."""
    n, d = config.network, config.data
    p = np.zeros(N_INT_PARAMS, np.int64)
    p[I_N_IN] = sizes.n_in
    p[I_N_HID] = n.n_hidden
    p[I_N_OUT] = sizes.n_out
    p[I_LANES] = d.batch_size
    p[I_TRIAL_STEPS] = d.n_steps
    p[I_REF_STEPS] = round(n.refractory / n.dt)
    p[I_ALIF] = int(n.neuron == "alif")
    p[I_RANDOM_FEEDBACK] = int(config.learning.feedback == "random")
    p[I_DEEP_R] = int(config.rewiring.enabled and not config.dense)
    p[I_DENSE] = int(config.dense)
    p[I_RECORD_EVENTS] = int(config.run.record_events)
    p[I_KEY0], p[I_KEY1] = key_from_seed(seed)
    p[I_N_TRAIN] = sizes.n_train
    p[I_N_TEST] = sizes.n_test
    p[I_TRAIN_BATCHES] = sizes.train_batches(d.batch_size)
    p[I_TEST_BATCHES] = sizes.test_batches(d.batch_size)
    p[I_MAX_REDRAWS] = config.rewiring.max_redraws
    return p
