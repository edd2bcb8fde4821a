"""The sparse classifier's model: build, e-prop against a NumPy reference, DEEP R, batches, checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.checkpoint import load_checkpoint
from sim.engine import Engine
from sim.errors import CheckpointError, ConfigError
from sim.events import FORMED, REMOVED
from sim.experiment import register_experiment, unregister_experiment
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.data import data_sizes, dataset_for
from sim.experiments.classifier.experiment import EXPERIMENT
from sim.experiments.classifier.params import C_BATCH, C_EPOCH, C_T, TABLE_IN, TABLE_REC, float_params
from sim.experiments.classifier.state import ClassifierState, EpropTable, pair_signs, table_shapes
from sim.philox import key_from_seed
from sim.synapses import SynapseTable


@pytest.fixture(autouse=True)
def _classifier_known() -> Any:
    """The classifier is made known to the core here until its application layer lists it."""
    register_experiment(EXPERIMENT)
    yield
    unregister_experiment(EXPERIMENT.key)


def config(**sections: dict[str, Any]) -> ClassifierConfig:
    """A small digits classifier with ``sections`` merged in."""
    base: dict[str, dict[str, Any]] = {
        "network": {"n_hidden": 32},
        "connectivity": {"p_in": 0.2, "p_rec": 0.2},
        "data": {"name": "digits", "n_steps": 12, "batch_size": 8, "n_train": 96, "n_test": 20},
        "rewiring": {"l1": 1e-4},
    }
    for key, values in sections.items():
        base.setdefault(key, {}).update(values)
    return ClassifierConfig.from_dict({"experiment": "classifier", **base})


def coo(t: EpropTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return SynapseTable(t).to_coo()


def dense_of(t: EpropTable, values: np.ndarray) -> np.ndarray:
    """``values`` (one per slot) of every synapse as a (n_pre, n_post) matrix."""
    out = np.zeros((int(t.dims[0]), int(t.dims[1])), np.float64)
    rc = int(t.dims[2])
    for i in range(int(t.dims[0])):
        for k in range(int(t.row_len[i])):
            out[i, t.post[i * rc + k]] = values[i * rc + k]
    return out


# --------------------------------------------------------------------------- build


def test_build_wires_tables_without_self_connections_and_with_the_pairs_signs() -> None:
    cfg = config()
    with Engine.build(cfg, backend="cpu", seed=3) as eng:
        st: ClassifierState = eng.state()
    key = key_from_seed(3)
    sizes = data_sizes(cfg)
    for code, (t, shape) in enumerate(zip(st.tables(), table_shapes(cfg, sizes), strict=True)):
        SynapseTable(t).check()
        assert (int(t.dims[0]), int(t.dims[1]), int(t.dims[2])) == tuple(shape)
        pre, post, w = coo(t)
        assert np.all(w != 0)
        np.testing.assert_array_equal(np.sign(w), pair_signs(key, code, pre, post))
        n_pairs = shape.n_pre * (shape.n_post - (code == TABLE_REC))
        assert abs(len(pre) / n_pairs - 0.2) < 0.05  # connection probability
        if code == TABLE_REC:
            assert not np.any(pre == post)
    assert sizes.n_in == 64 and sizes.n_out == 10


def test_dense_build_fills_every_row_in_order_with_a_zero_diagonal() -> None:
    cfg = config(connectivity={"p_in": 1.0, "p_rec": 1.0})
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.step(2 * cfg.data.n_steps)  # two updates
        st: ClassifierState = eng.state()
    n = cfg.network.n_hidden
    assert np.all(st.trec.row_len == n) and np.all(st.tin.row_len == n)
    np.testing.assert_array_equal(st.trec.post.reshape(n, n), np.tile(np.arange(n), (n, 1)))
    assert np.all(np.diag(st.trec.weight.reshape(n, n)) == 0.0)
    assert len(eng.take_events()) == 0  # nothing is rewired


def test_refuses_half_dense_connectivity_and_a_batch_larger_than_the_data() -> None:
    with pytest.raises(ConfigError, match=r"connectivity\.p_rec"):
        config(connectivity={"p_rec": 1.0})
    with pytest.raises(ConfigError, match=r"data\.batch_size"):
        Engine.build(config(data={"n_train": 4}), backend="cpu")


# --------------------------------------------------------------------------- e-prop


def reference_eprop(
    st: ClassifierState, cfg: ClassifierConfig, steps: np.ndarray, units: np.ndarray, label: int, n: int
) -> dict[str, np.ndarray]:
    """Lane 0's spikes and gradients over ``n`` steps, from CLASSIFIER.md's equations in NumPy."""
    fp = float_params(cfg)
    alpha, kappa, rho, v_th, beta = fp[0], fp[1], fp[2], fp[3], fp[4]
    psi_scale, reg_decay, f_target, c_reg = fp[5], fp[6], fp[7], fp[8]
    ref_steps = round(cfg.network.refractory / cfg.network.dt)
    w_in, w_rec = dense_of(st.tin, st.tin.weight), dense_of(st.trec, st.trec.weight)
    w_out, b = st.w_out.astype(np.float64), st.b_out.astype(np.float64)
    fb = w_out if cfg.learning.feedback == "symmetric" else st.feedback.astype(np.float64)
    n_in, n_hid, n_out = w_in.shape[0], w_in.shape[1], w_out.shape[1]
    z, v, a, refr = np.zeros(n_hid), np.zeros(n_hid), np.zeros(n_hid), np.zeros(n_hid, int)
    zi, zr, zo, y = np.zeros(n_in), np.zeros(n_hid), np.zeros(n_hid), np.zeros(n_out)
    f_avg = st.f_avg[0].astype(np.float64)
    traces = {name: [np.zeros((m, n_hid)) for _ in range(3)] for name, m in (("in", n_in), ("rec", n_hid))}
    gout, spikes = np.zeros((n_hid, n_out)), []
    for t in range(n):
        x = np.bincount(units[steps == t], minlength=n_in).astype(float)
        zi = alpha * zi + x
        current = x @ w_in + z @ w_rec
        zr = alpha * zr + z
        thr = v_th + beta * a
        v_new = alpha * v + current - z * v_th
        blocked = refr > 0
        refr = np.where(blocked, refr - 1, refr)
        z = np.where(blocked, 0.0, (v_new >= thr).astype(float))
        psi = np.where(blocked, 0.0, psi_scale * np.maximum(0.0, 1.0 - np.abs(v_new - thr) / v_th))
        refr = np.where(z == 1, ref_steps, refr)
        if cfg.network.neuron == "alif":
            a = rho * a + z
        v = v_new
        zo = kappa * zo + z
        f_avg = reg_decay * f_avg + (1 - reg_decay) * z
        y = kappa * y + z @ w_out + b
        p = np.exp(y - y.max())
        err = p / p.sum() - np.eye(n_out)[label]
        learning_signal = fb @ err
        reg = c_reg * (f_avg - f_target)
        gout += np.outer(zo, err)
        for name, zb in (("in", zi), ("rec", zr)):
            e_f, e_a, g = traces[name]
            if cfg.network.neuron == "alif":
                e = psi[None, :] * (zb[:, None] - beta * e_a)
                e_a[:] = psi[None, :] * zb[:, None] + (rho - psi[None, :] * beta) * e_a
            else:
                e = psi[None, :] * zb[:, None]
            e_f[:] = kappa * e_f + e
            g += e_f * learning_signal[None, :] + reg[None, :] * e
        spikes.append(z.copy())
    return {"z": np.array(spikes), "g_in": traces["in"][2], "g_rec": traces["rec"][2], "g_out": gout}


@pytest.mark.parametrize("neuron", ["lif", "alif"])
def test_eprop_gradients_match_a_numpy_reference(neuron: str) -> None:
    """Spikes, synapse gradients and readout gradients of one lane over most of a trial."""
    cfg = config(
        network={"neuron": neuron, "n_hidden": 12, "v_th": 0.3, "beta": 0.2, "tau_a": 200.0},
        connectivity={"p_in": 0.5, "p_rec": 0.5},
        data={"n_steps": 24, "batch_size": 2},
    )
    n = cfg.data.n_steps - 1  # stop before the trial's end, where the update consumes the gradients
    with Engine.build(cfg, backend="cpu", seed=2) as eng:
        st: ClassifierState = eng.state()
        st.tin.weight[:] *= 3.0  # enough drive that the hidden layer spikes and adapts
        eng.replace_state(st)
        start = eng.state()
        eng.step(n)
        end: ClassifierState = eng.state()
    train = dataset_for(cfg, 2).train
    ex = int(start.lane_example[0])
    steps, units = train.example(ex)
    ref = reference_eprop(start, cfg, np.asarray(steps), np.asarray(units), int(train.labels[ex]), n)
    np.testing.assert_array_equal(end.trace_z[:n], ref["z"].astype(np.uint8))
    assert ref["z"].sum() > 5, "the test network must spike"
    mask_in, mask_rec = (
        dense_of(end.tin, np.ones(end.tin.post.size)),
        dense_of(end.trec, np.ones(end.trec.post.size)),
    )
    for name, t, mask in (("g_in", end.tin, mask_in), ("g_rec", end.trec, mask_rec)):
        got = dense_of(t, t.grad[0])
        np.testing.assert_allclose(got, ref[name] * mask, rtol=2e-4, atol=2e-6)
    np.testing.assert_allclose(end.grad_out[0], ref["g_out"], rtol=2e-4, atol=2e-6)


def test_dense_kernel_trains_exactly_as_full_ragged_rows() -> None:
    """The dense kernel is the same training: on full rows it gives the sparse kernel's weights."""
    dense_cfg = config(connectivity={"p_in": 1.0, "p_rec": 1.0}, rewiring={"enabled": False})
    sparse_cfg = config(connectivity={"p_in": 0.5, "p_rec": 0.5, "padding": 1.0}, rewiring={"enabled": False})
    with Engine.build(dense_cfg, backend="cpu", seed=4) as dense:
        d: ClassifierState = dense.state()
        with Engine.build(sparse_cfg, backend="cpu", seed=4) as sparse:
            s: ClassifierState = sparse.state()
            n = dense_cfg.network.n_hidden
            for code, (ts, td) in enumerate(zip(s.tables(), d.tables(), strict=True)):
                rc = int(ts.dims[2])
                assert rc == n - (code == TABLE_REC)
                for i in range(int(ts.dims[0])):
                    targets = [j for j in range(n) if not (code == TABLE_REC and j == i)]
                    ts.row_len[i] = len(targets)
                    ts.post[i * rc : i * rc + len(targets)] = targets
                    ts.weight[i * rc : i * rc + len(targets)] = td.weight[i * n + np.array(targets)]
                ts.col_len[:] = n - (code == TABLE_REC)
            for name in ("w_out", "b_out"):
                getattr(s, name)[:] = getattr(d, name)
            sparse.replace_state(s)
            for eng in (dense, sparse):
                eng.step(3 * dense_cfg.data.n_steps)
            d, s = dense.state(), sparse.state()
    np.testing.assert_array_equal(s.w_out, d.w_out)
    for ts, td in zip(s.tables(), d.tables(), strict=True):
        full = dense_of(ts, ts.weight)
        np.testing.assert_array_equal(full, dense_of(td, td.weight))


# --------------------------------------------------------------------------- DEEP R


def test_deep_r_keeps_every_tables_synapse_count_and_each_pairs_sign() -> None:
    cfg = config(rewiring={"l1": 3e-3, "temperature": 1e-6}, learning={"lr": 5e-3})
    with Engine.build(cfg, backend="cpu", seed=5) as eng:
        first: ClassifierState = eng.state()
        counts = [int(t.row_len.sum()) for t in first.tables()]
        eng.step(2 * eng.experiment.step_units(cfg)["epoch"])
        snap = eng.snapshot()
        st: ClassifierState = eng.state()
        events = eng.take_events()
    rows = snap.batches
    assert len(rows) == 2 * data_sizes(cfg).train_batches(cfg.data.batch_size)
    np.testing.assert_array_equal(rows["synapses_in"], counts[TABLE_IN])
    np.testing.assert_array_equal(rows["synapses_rec"], counts[TABLE_REC])
    np.testing.assert_array_equal(rows["regrown_in"], rows["removed_in"])
    np.testing.assert_array_equal(rows["regrown_rec"], rows["removed_rec"])
    removed = int(rows["removed_in"].sum() + rows["removed_rec"].sum())
    assert removed > 20, "the test must rewire"
    assert int((events["kind"] == REMOVED).sum()) == removed == int((events["kind"] == FORMED).sum())
    assert np.array_equal(snap.events, events)
    key = key_from_seed(5)
    for code, t in enumerate(st.tables()):
        SynapseTable(t).check()
        pre, post, w = coo(t)
        assert np.all(w * pair_signs(key, code, pre, post) > 0)  # every active weight has its pair's sign
    # the test accuracy arrives with each epoch's last row, and only there
    assert np.isfinite(rows["test_accuracy"]).sum() == 2 and np.isfinite(rows["test_accuracy"][-1])


def test_static_sparse_rewires_nothing_and_lets_weights_change_sign() -> None:
    cfg = config(rewiring={"enabled": False}, learning={"lr": 2e-2})
    with Engine.build(cfg, backend="cpu", seed=6) as eng:
        before: ClassifierState = eng.state()
        eng.step(eng.experiment.step_units(cfg)["epoch"])
        after: ClassifierState = eng.state()
        assert len(eng.take_events()) == 0
    for t0, t1 in zip(before.tables(), after.tables(), strict=True):
        np.testing.assert_array_equal(t0.post, t1.post)
    flipped = np.sign(before.tin.weight) * np.sign(after.tin.weight) < 0
    assert flipped.any()


# --------------------------------------------------------------------------- learning, clock, checkpoints


def test_learns_digits_above_chance_in_two_epochs() -> None:
    cfg = config(
        network={"n_hidden": 64},
        learning={"lr": 0.01},
        data={"n_train": 400, "n_test": 100, "batch_size": 16, "n_steps": 20},
    )
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.step(2 * eng.experiment.step_units(cfg)["epoch"])
        rows = eng.snapshot().batches
    assert rows["test_accuracy"][-1] > 0.4  # chance is 0.1


def test_clock_counts_epochs_and_step_units() -> None:
    cfg = config()
    exp_units = {"step": 1, "batch": 12, "epoch": (96 // 8 + 3) * 12}
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        assert eng.experiment.step_units(cfg) == exp_units
        eng.run(1.5)
        st: ClassifierState = eng.state()
        assert eng.t == pytest.approx(1.5, abs=1 / exp_units["epoch"])
    assert st.clock[C_EPOCH] == 1 and st.clock[C_BATCH] == 7 and st.clock[C_T] == 6


def test_checkpoint_mid_trial_resumes_bit_for_bit(tmp_path: Path) -> None:
    cfg = config(network={"neuron": "alif"}, rewiring={"temperature": 1e-5})
    path = tmp_path / "run.npz"
    with Engine.build(cfg, backend="cpu", seed=7) as eng:
        eng.step(100)  # mid trial, mid epoch
        eng.save_checkpoint(path)
        eng.step(250)
        straight = eng.experiment.state_to_arrays(eng.state())
    with Engine.from_checkpoint(path, backend="cpu") as eng:
        eng.step(250)
        resumed = eng.experiment.state_to_arrays(eng.state())
    assert straight.keys() == resumed.keys()
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


def test_same_seed_same_run_other_seed_another() -> None:
    cfg = config()

    def weights(seed: int) -> np.ndarray:
        with Engine.build(cfg, backend="cpu", seed=seed) as eng:
            eng.step(40)
            return eng.state().tin.weight

    np.testing.assert_array_equal(weights(1), weights(1))
    assert not np.array_equal(weights(1), weights(2))


def test_live_learning_rate_zero_freezes_the_weights() -> None:
    cfg = config()
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.set_parameter("learning.lr", 0.0)
        eng.set_parameter("rewiring.enabled", False)
        before = eng.state().tin.weight.copy()
        eng.step(3 * cfg.data.n_steps)
        np.testing.assert_array_equal(eng.state().tin.weight, before)


# --------------------------------------------------------------------------- bad checkpoints


def _tampered(tmp_path: Path, edit: Any) -> Path:
    cfg = config()
    path = tmp_path / "ok.npz"
    with Engine.build(cfg, backend="cpu", seed=1) as eng:
        eng.step(30)
        eng.save_checkpoint(path)
    with np.load(path) as f:
        arrays = dict(f)
    edit(arrays)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    return bad


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a["state.rec.post"].__setitem__(0, 0), "connects neuron 0 to itself"),
        (lambda a: a["state.in.post"].__setitem__(0, 10_000), r"state\.in\.post\[0\] = 10000 is outside"),
        (lambda a: a["state.lane_ptr"].__setitem__(0, -5), r"state\.lane_ptr\[0\]"),
        (lambda a: a["state.order"].__setitem__(0, a["state.order"][1]), "state.order"),
        (lambda a: a["state.clock"].__setitem__(2, 999), r"state\.clock\[2\] = 999 \(batch\)"),
        (lambda a: a["state.v"].__setitem__((0, 0), np.nan), r"state\.v\[0\] = nan is not finite"),
        (lambda a: a["state.in.row_len"].__setitem__(0, 99), r"state\.in\.row_len\[0\] = 99 is outside"),
    ],
)
def test_checkpoint_values_are_checked_before_any_kernel(tmp_path: Path, edit: Any, message: str) -> None:
    bad = _tampered(tmp_path, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad)
