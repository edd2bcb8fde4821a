"""Pair-based STDP on single synapses with spikes at chosen steps (MODEL.md, "STDP").

The network is silent (no stimulus, no initial synapses, no rewiring). One synapse is added by
hand: FF from source i to target j, or LAT from target a to target b. Spikes are forced before
each step through ``Engine.replace_state``: a target neuron spikes when its potential is set
above threshold; a source neuron spikes when its spike probability (and the Poisson block's
cumulative probability) is set to 1, with the stimulus schedule moved far into the future so
that nothing recomputes those probabilities.

Timing convention (kernels.py): a spike at step t updates the weights from traces that hold
the spikes of steps before t, each decayed once per step; then the traces take step t's spikes.
So a post spike k steps after a pre spike adds A_plus exp(-k dt / tau_plus), a pre spike k steps
after a post spike subtracts A_minus exp(-k dt / tau_minus), and same-step pairs add nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from sim.engine import Engine
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.state import S_N_SPK_SRC, S_N_SPK_TGT, S_STIM_DIRTY, S_STIM_NEXT
from sim.synapses import SynapseTable

DT, A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS, G_MAX = 0.1, 0.02, 0.0075, 20.0, 64.0, 0.2
BLOCK = 32  # Poisson block of the source layer (kernels.POISSON_BLOCK)
FF_PRE, FF_POST = 40, 77  # FF: source i -> target j
LAT_PRE, LAT_POST = 5, 200  # LAT: target a -> target b

SILENT_STDP: dict[str, Any] = {
    "stimulus.f_base": 0.0,
    "stimulus.f_peak": 0.0,
    "stimulus.flat_rate": 0.0,
    "rewiring.enabled": False,
    "stdp.enabled": True,
    "connectivity.ff_fan_in": 0,
    "connectivity.lat_fan_in": 0,
    "neuron.v_init": "rest",
    "neuron.tau_ref": 0.0,
}

Schedule = Mapping[int, Sequence[int]]


def potentiation(k: int) -> float:
    return A_PLUS * math.exp(-k * DT / TAU_PLUS)


def depression(k: int) -> float:
    return A_MINUS * math.exp(-k * DT / TAU_MINUS)


class Pairing:
    """An engine with one synapse and a driver that forces spikes at given steps."""

    def __init__(self, eng: Engine, projection: str, w0: float) -> None:
        self.eng = eng
        self.projection = projection
        self.pre, self.post = (FF_PRE, FF_POST) if projection == "ff" else (LAT_PRE, LAT_POST)
        if w0 >= 0:
            self.add_synapse(w0)

    def add_synapse(self, w0: float) -> None:
        st = self.eng.state()
        table = st.ff if self.projection == "ff" else st.lat
        assert SynapseTable(table).add(self.pre, self.post, w0)
        self.eng.replace_state(st)

    def weight(self) -> float:
        st = self.eng.state()
        table = SynapseTable(st.ff if self.projection == "ff" else st.lat)
        assert table.n_synapses == 1
        return float(table.row(self.pre)[1][0])

    def drive(self, until: int, pre: Sequence[int] = (), post: Sequence[int] = ()) -> None:
        """Step up to step ``until`` (exclusive), with the pre and post neurons spiking at the given steps."""
        src: dict[int, list[int]] = {}
        tgt: dict[int, list[int]] = {}
        for t in pre:
            (src if self.projection == "ff" else tgt).setdefault(t, []).append(self.pre)
        for t in post:
            tgt.setdefault(t, []).append(self.post)
        force_spikes(self.eng, until, src, tgt)


def force_spikes(eng: Engine, until: int, src: Schedule, tgt: Schedule) -> None:
    """Step to ``until``, making exactly the scheduled source and target neurons spike at each step."""
    while eng.step_count < until:
        t = eng.step_count
        st = eng.state()
        nrn = st.neurons
        nrn.p_src[:] = 0.0
        nrn.cdf_src[:] = 0.0
        for i in src.get(t, ()):
            nrn.p_src[i] = 1.0
            end = (i // BLOCK + 1) * BLOCK
            nrn.cdf_src[i:end] = 1.0
        for j in tgt.get(t, ()):
            nrn.v[j] = -40.0
        st.istate[S_STIM_NEXT] = 2**40
        st.istate[S_STIM_DIRTY] = 0
        eng.replace_state(st)
        eng.step(1)
        st = eng.state()
        got_src = sorted(st.neurons.spk_src[: st.istate[S_N_SPK_SRC]].tolist())
        got_tgt = sorted(st.neurons.spk_tgt[: st.istate[S_N_SPK_TGT]].tolist())
        assert got_src == sorted(src.get(t, ())), f"source spikes at step {t}"
        assert got_tgt == sorted(tgt.get(t, ())), f"target spikes at step {t}"


@pytest.fixture
def pairing(make_config: Callable[..., ModelConfig]) -> Iterator[Callable[..., Pairing]]:
    """``pairing(projection, w0, **overrides)``: a silent engine with one synapse of weight w0."""
    engines: list[Engine] = []

    def make(projection: str, w0: float = 0.1, **overrides: Any) -> Pairing:
        cfg = make_config({**SILENT_STDP, **{k.replace("__", "."): v for k, v in overrides.items()}})
        eng = Engine.build(cfg, backend="cpu", seed=1)
        engines.append(eng)
        return Pairing(eng, projection, w0)

    yield make
    for eng in engines:
        eng.close()


PROJECTIONS = ["ff", "lat"]


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize("k", [1, 5, 50])
def test_post_after_pre_potentiates(pairing: Callable[..., Pairing], projection: str, k: int) -> None:
    """Post k steps after pre: w0 + A_plus exp(-k dt / tau_plus)."""
    p = pairing(projection, 0.1)
    p.drive(k + 1, pre=[0], post=[k])
    assert p.weight() == pytest.approx(0.1 + potentiation(k), abs=1e-6)
    p.drive(k + 20)  # nothing else happens without spikes
    assert p.weight() == pytest.approx(0.1 + potentiation(k), abs=1e-6)


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize("k", [1, 5, 50])
def test_pre_after_post_depresses(pairing: Callable[..., Pairing], projection: str, k: int) -> None:
    """Pre k steps after post: w0 - A_minus exp(-k dt / tau_minus)."""
    p = pairing(projection, 0.1)
    p.drive(k + 1, pre=[k], post=[0])
    assert p.weight() == pytest.approx(0.1 - depression(k), abs=1e-6)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_same_step_changes_nothing(pairing: Callable[..., Pairing], projection: str) -> None:
    """A pre and a post spike in the same step leave the weight exactly as it was."""
    p = pairing(projection, 0.1)
    p.drive(1, pre=[0], post=[0])
    assert p.weight() == np.float32(0.1)
    p.drive(30)
    assert p.weight() == np.float32(0.1)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_pairs_add_up(pairing: Callable[..., Pairing], projection: str) -> None:
    """pre (0), post (10), pre (40): + A_plus exp(-10 dt/tau_plus) - A_minus exp(-30 dt/tau_minus)."""
    p = pairing(projection, 0.1)
    p.drive(41, pre=[0, 40], post=[10])
    assert p.weight() == pytest.approx(0.1 + potentiation(10) - depression(30), abs=1e-6)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_weights_clip_at_zero_and_g_max(pairing: Callable[..., Pairing], projection: str) -> None:
    """Depression below 0 stops at exactly 0; potentiation above g_max stops at exactly g_max."""
    low = pairing(projection, 0.001)
    low.drive(2, pre=[1], post=[0])
    assert low.weight() == 0.0
    high = pairing(projection, 0.195)
    high.drive(2, pre=[0], post=[1])
    assert high.weight() == np.float32(G_MAX)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_same_step_pair_clips_once(pairing: Callable[..., Pairing], projection: str) -> None:
    """Pre and post in one step: depression and potentiation are summed before a single clip.

    w0 = 0; pre at 0 and post at 200 give w = A_plus e^-1 (0.00736); then pre and post at 201:
    depression A_minus e^(-dt/tau_minus) (0.00749) would take w below 0 alone, but the sum with the
    potentiation A_plus e^(-201 dt/tau_plus) (0.00732) stays positive and is kept.
    """
    p = pairing(projection, 0.0)
    p.drive(201, pre=[0], post=[200])
    w1 = potentiation(200)
    assert p.weight() == pytest.approx(w1, abs=1e-6)
    p.drive(202, pre=[201], post=[201])
    assert p.weight() == pytest.approx(w1 - depression(1) + potentiation(201), abs=1e-6)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_nearest_vs_all_to_all_potentiation(pairing: Callable[..., Pairing], projection: str) -> None:
    """Two pre spikes (0, 20) then post (30): all-to-all sums both pairs; nearest takes only the last pre."""
    both = pairing(projection, 0.1)
    both.drive(31, pre=[0, 20], post=[30])
    assert both.weight() == pytest.approx(0.1 + potentiation(30) + potentiation(10), abs=1e-6)
    nearest = pairing(projection, 0.1, stdp__traces="nearest")
    nearest.drive(31, pre=[0, 20], post=[30])
    assert nearest.weight() == pytest.approx(0.1 + potentiation(10), abs=1e-6)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_nearest_vs_all_to_all_depression(pairing: Callable[..., Pairing], projection: str) -> None:
    """Two post spikes (0, 20) then pre (30): all-to-all sums both pairs; nearest takes only the last post."""
    both = pairing(projection, 0.1)
    both.drive(31, pre=[30], post=[0, 20])
    assert both.weight() == pytest.approx(0.1 - depression(30) - depression(10), abs=1e-6)
    nearest = pairing(projection, 0.1, stdp__traces="nearest")
    nearest.drive(31, pre=[30], post=[0, 20])
    assert nearest.weight() == pytest.approx(0.1 - depression(10), abs=1e-6)


def test_traces_belong_to_neurons(pairing: Callable[..., Pairing]) -> None:
    """A synapse added after its pre neuron spiked still sees that spike: traces are per neuron."""
    p = pairing("ff", -1.0)  # no synapse yet
    p.drive(1, pre=[0])
    p.add_synapse(0.1)
    p.drive(8, post=[7])
    assert p.weight() == pytest.approx(0.1 + potentiation(7), abs=1e-6)


def test_trace_values(pairing: Callable[..., Pairing]) -> None:
    """Traces jump by 1 at a spike and then decay with tau_plus (pre) and tau_minus (post)."""
    p = pairing("ff", 0.1)
    p.drive(1, pre=[0], post=[0])
    nrn = p.eng.state().neurons
    assert nrn.x_src[FF_PRE] == 1.0 and nrn.y_tgt[FF_POST] == 1.0 and nrn.x_tgt[FF_POST] == 1.0
    p.drive(101)
    nrn = p.eng.state().neurons
    assert nrn.x_src[FF_PRE] == pytest.approx(math.exp(-100 * DT / TAU_PLUS), rel=1e-5)
    assert nrn.x_tgt[FF_POST] == pytest.approx(math.exp(-100 * DT / TAU_PLUS), rel=1e-5)
    assert nrn.y_tgt[FF_POST] == pytest.approx(math.exp(-100 * DT / TAU_MINUS), rel=1e-5)


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_stdp_off_keeps_weights(pairing: Callable[..., Pairing], projection: str) -> None:
    """With STDP switched off (a live change) pairs leave the weight untouched."""
    p = pairing(projection, 0.1)
    p.eng.set_parameter("stdp.enabled", False)
    p.drive(12, pre=[0, 11], post=[5])
    assert p.weight() == np.float32(0.1)


def test_amplitudes_are_live(pairing: Callable[..., Pairing]) -> None:
    """A live change of A_plus scales the potentiation."""
    p = pairing("ff", 0.1)
    p.eng.set_parameter("stdp.a_plus", 0.04)
    p.drive(4, pre=[0], post=[3])
    assert p.weight() == pytest.approx(0.1 + 2 * potentiation(3), abs=1e-6)
