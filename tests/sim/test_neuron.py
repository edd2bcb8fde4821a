"""Target-neuron dynamics against the analytic solution (MODEL.md, "Target neuron").

tau_m dV/dt = (V_rest - V) + g_ex (E_ex - V) + g_inh (E_inh - V), integrated by exponential Euler,
which is exact while the conductances are constant over a step. The network here is silent: no
synapses, no source spikes, no rewiring; conductances and potentials are set through
``Engine.replace_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from sim.engine import Engine
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.params import delivery_quantum
from sim.experiments.topomap.state import S_N_SPK_TGT
from sim.synapses import SynapseTable

DT, TAU_M, V_REST = 0.1, 20.0, -70.0

#: No stimulus, no synapses, no plasticity: every neuron evolves on its own.
SILENT: dict[str, Any] = {
    "stimulus.f_base": 0.0,
    "stimulus.f_peak": 0.0,
    "stimulus.flat_rate": 0.0,
    "rewiring.enabled": False,
    "stdp.enabled": False,
    "connectivity.ff_fan_in": 0,
    "connectivity.lat_fan_in": 0,
}


@pytest.fixture
def silent_engine(make_config: Callable[..., ModelConfig]) -> Iterator[Callable[..., Engine]]:
    """Build engines on the silent network with extra overrides; closes them afterwards."""
    engines: list[Engine] = []

    def build(**overrides: Any) -> Engine:
        cfg = make_config({**SILENT, **{k.replace("__", "."): v for k, v in overrides.items()}})
        eng = Engine.build(cfg, backend="cpu", seed=1)
        engines.append(eng)
        return eng

    yield build
    for eng in engines:
        eng.close()


def set_neurons(eng: Engine, **arrays: Any) -> None:
    """Overwrite neuron arrays (``v``, ``g_ex``, ...) of the engine's state."""
    st = eng.state()
    for name, value in arrays.items():
        getattr(st.neurons, name)[:] = value
    eng.replace_state(st)


def test_free_relaxation_is_exponential(silent_engine: Callable[..., Engine]) -> None:
    """Without input V(t) = V_rest + (V0 - V_rest) exp(-t / tau_m) (V0 drawn from N(-60, 5))."""
    eng = silent_engine()
    v0 = eng.state().neurons.v.astype(np.float64)
    assert np.ptp(v0) > 5.0  # a spread of initial values
    done = 0
    for n in (1, 10, 100, 1000):
        eng.step(n - done)
        done = n
        v = eng.state().neurons.v.astype(np.float64)
        expected = V_REST + (v0 - V_REST) * math.exp(-n * DT / TAU_M)
        np.testing.assert_allclose(v, expected, rtol=1e-5, atol=0, err_msg=f"after {n} steps")
        if n <= 100:  # while far from rest: the deviation itself to 1e-4
            np.testing.assert_allclose(v - V_REST, expected - V_REST, rtol=1e-4, err_msg=f"after {n} steps")
    assert eng.state().neurons.count_tgt.sum() == 0


@pytest.mark.parametrize(
    ("g_ex_max", "g_inh_max"), [(4.0, 0.0), (0.0, 3.0), (2.0, 1.0)], ids=["excitatory", "inhibitory", "both"]
)
def test_constant_conductance(
    silent_engine: Callable[..., Engine], g_ex_max: float, g_inh_max: float
) -> None:
    """Constant g: V relaxes to V_inf = (V_rest + g_ex E_ex + g_inh E_inh) / (1 + g), tau_m / (1 + g).

    The conductances are re-set before every step, so their decay plays no part.
    """
    eng = silent_engine(neuron__v_thresh=-1.0)  # never reached: V_inf <= -14 mV
    g_ex = np.linspace(0.0, g_ex_max, 256).astype(np.float32)
    g_inh = np.linspace(g_inh_max, 0.0, 256).astype(np.float32)
    v0 = eng.state().neurons.v.astype(np.float64)
    ge, gi = g_ex.astype(np.float64), g_inh.astype(np.float64)
    v_inf = (V_REST + ge * 0.0 + gi * -80.0) / (1.0 + ge + gi)
    for k in range(1, 301):
        set_neurons(eng, g_ex=g_ex, g_inh=g_inh)
        eng.step(1)
        if k in (1, 30, 300):
            v = eng.state().neurons.v.astype(np.float64)
            expected = v_inf + (v0 - v_inf) * np.exp(-k * DT * (1.0 + ge + gi) / TAU_M)
            np.testing.assert_allclose(v, expected, rtol=1e-5, err_msg=f"after {k} steps")
    assert eng.state().neurons.count_tgt.sum() == 0


def test_conductance_decays_with_tau_syn(silent_engine: Callable[..., Engine]) -> None:
    """g_ex and g_inh decay as exp(-t / tau_syn) (tau_syn 5 ms)."""
    eng = silent_engine()
    set_neurons(eng, g_ex=1.0, g_inh=0.5)
    eng.step(100)
    nrn = eng.state().neurons
    np.testing.assert_allclose(nrn.g_ex, math.exp(-100 * DT / 5.0), rtol=2e-5)
    np.testing.assert_allclose(nrn.g_inh, 0.5 * math.exp(-100 * DT / 5.0), rtol=2e-5)


@pytest.mark.parametrize("inhibitory", [False, True])
def test_spike_arrives_after_one_step(silent_engine: Callable[..., Engine], inhibitory: bool) -> None:
    """A LAT spike of neuron a at step t reaches b's conductance (g_ex; g_inh if inhibitory) at step t + 1."""
    eng = silent_engine(connectivity__lat_inhibitory=inhibitory)
    a, b, w = 10, 20, 0.15
    st = eng.state()
    assert SynapseTable(st.lat).add(a, b, w)
    st.neurons.v[a] = -40.0
    eng.replace_state(st)
    v_b = eng.state().neurons.v[b]
    eng.step(1)
    st = eng.state()
    assert st.neurons.count_tgt[a] == 1
    pend, g = (st.neurons.pend_inh, st.neurons.g_inh) if inhibitory else (st.neurons.pend_ex, st.neurons.g_ex)
    # Input arrives rounded to the delivery grid (sim.experiments.topomap.params.delivery_quantum).
    q = delivery_quantum(eng.config.stdp.g_max, eng.config.connectivity.col_capacity)
    assert pend[b] == np.float32(round(np.float32(w) / q) * q)
    assert abs(pend[b] - w) <= q / 2
    assert g[b] == 0.0
    assert st.neurons.v[b] == pytest.approx(V_REST + (v_b - V_REST) * math.exp(-DT / TAU_M), abs=1e-4)
    eng.step(1)
    st = eng.state()
    g = st.neurons.g_inh if inhibitory else st.neurons.g_ex
    assert g[b] == pytest.approx(w * math.exp(-DT / 5.0), rel=1e-5)
    assert st.neurons.pend_ex[b] == 0.0 and st.neurons.pend_inh[b] == 0.0
    # The potential moved towards the reversal potential during this step.
    v_after = st.neurons.v[b]
    v_plain = V_REST + (v_b - V_REST) * math.exp(-2 * DT / TAU_M)
    assert (v_after < v_plain) if inhibitory else (v_after > v_plain)


def test_spike_reset_and_refractory_period(silent_engine: Callable[..., Engine]) -> None:
    """Above threshold a neuron spikes, sits at V_reset for tau_ref / dt steps, then integrates again."""
    eng = silent_engine(neuron__v_reset=-75.0, neuron__tau_ref=0.5, neuron__v_init="rest")  # 5 steps
    j = 37
    v = np.full(256, V_REST, np.float32)
    v[j] = -40.0
    set_neurons(eng, v=v)
    eng.step(1)
    st = eng.state()
    assert st.istate[S_N_SPK_TGT] == 1 and st.neurons.spk_tgt[0] == j
    assert st.neurons.count_tgt[j] == 1
    assert st.neurons.v[j] == np.float32(-75.0)
    for k in range(5):
        eng.step(1)
        st = eng.state()
        assert st.neurons.v[j] == np.float32(-75.0), f"refractory step {k + 1}"
    eng.step(1)
    v_j = float(eng.state().neurons.v[j])
    assert v_j == pytest.approx(V_REST - 5.0 * math.exp(-DT / TAU_M), abs=1e-4)
    assert eng.state().neurons.count_tgt.sum() == 1


def test_no_refractory_period(silent_engine: Callable[..., Engine]) -> None:
    """With tau_ref 0 the step after a spike already integrates from V_reset."""
    eng = silent_engine(neuron__v_reset=-75.0, neuron__tau_ref=0.0, neuron__v_init="rest")
    v = np.full(256, V_REST, np.float32)
    v[3] = -50.0
    set_neurons(eng, v=v)
    eng.step(2)
    v3 = float(eng.state().neurons.v[3])
    assert v3 == pytest.approx(V_REST - 5.0 * math.exp(-DT / TAU_M), abs=1e-4)


def test_regular_firing_under_constant_drive(silent_engine: Callable[..., Engine]) -> None:
    """Constant g_ex = 1: a spike every tau_ref / dt + m* steps.

    m* = ceil(tau_eff ln((V_reset - V_inf) / (V_th - V_inf)) / dt), tau_eff = tau_m / (1 + g).
    """
    eng = silent_engine(neuron__tau_ref=2.0, neuron__v_init="rest")
    g = 1.0
    v_inf = (V_REST + g * 0.0) / (1.0 + g)
    tau_eff = TAU_M / (1.0 + g)
    m_star = math.ceil(tau_eff * math.log((V_REST - v_inf) / (-54.0 - v_inf)) / DT)
    assert m_star == 62
    spikes = []
    for t in range(320):
        set_neurons(eng, g_ex=g)
        eng.step(1)
        st = eng.state()
        if st.istate[S_N_SPK_TGT]:
            assert st.istate[S_N_SPK_TGT] == 256  # every neuron gets the same drive
            spikes.append(t)
    assert spikes == [m_star - 1 + k * (20 + m_star) for k in range(len(spikes))]
    assert len(spikes) == 4
