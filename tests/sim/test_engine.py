"""Tests of ``sim.engine``: determinism, checkpoints, live parameters, snapshots and lifetime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.backends import available_backends
from sim.engine import Engine
from sim.errors import BackendUnavailableError, CheckpointError, ConfigError, EngineClosedError
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.state import NetworkState

#: Bamford's model with room for formations (12 + 12 of 32 slots) and a faster rewiring rate,
#: so that a few hundred steps produce rewiring events.
BUSY: dict[str, Any] = {"connectivity.ff_fan_in": 12, "connectivity.lat_fan_in": 12, "rewiring.rate": 4e4}


@pytest.fixture
def config(make_config: Callable[..., ModelConfig]) -> ModelConfig:
    return make_config(BUSY, preset="bamford2010")


@pytest.fixture
def engine(config: ModelConfig) -> Iterator[Callable[..., Engine]]:
    """``engine(seed=1, cfg=None)``: a CPU engine, closed after the test."""
    engines: list[Engine] = []

    def build(seed: int = 1, cfg: ModelConfig | None = None) -> Engine:
        eng = Engine.build(cfg or config, backend="cpu", seed=seed)
        engines.append(eng)
        return eng

    yield build
    for eng in engines:
        eng.close()


def assert_same_state(a: NetworkState, b: NetworkState) -> None:
    """Every state array equal bit for bit."""
    arrays_a, arrays_b = a.to_arrays(), b.to_arrays()
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        x, y = arrays_a[key], arrays_b[key]
        assert x.dtype == y.dtype and x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), f"state array {key} differs"


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_run(engine: Callable[..., Engine]) -> None:
    """Two engines with the same seed agree bit for bit after 400 steps, events included."""
    a, b = engine(seed=3), engine(seed=3)
    a.step(400)
    b.step(400)
    assert_same_state(a.state(), b.state())
    ev_a = a.take_events()
    assert len(ev_a) > 0
    np.testing.assert_array_equal(ev_a, b.take_events())


def test_different_seeds_differ(engine: Callable[..., Engine]) -> None:
    """Another seed gives other wiring, spikes and potentials."""
    a, b = engine(seed=3), engine(seed=4)
    a.step(200)
    b.step(200)
    sa, sb = a.state(), b.state()
    assert not np.array_equal(sa.ff.post, sb.ff.post)
    assert not np.array_equal(sa.neurons.count_src, sb.neurons.count_src)
    assert not np.array_equal(sa.neurons.v, sb.neurons.v)


def test_split_runs_equal_one_run(engine: Callable[..., Engine]) -> None:
    """n then m steps, or one run in small chunks, equal n + m steps at once."""
    a, b, c = engine(), engine(), engine()
    a.step(123)
    a.step(277)
    b.step(400)
    chunks: list[int] = []
    c.run(0.04, chunk_steps=37, callback=lambda eng, n: chunks.append(n))
    assert sum(chunks) == 400 and max(chunks) == 37
    ev_a = a.take_events()
    for other in (b, c):
        assert_same_state(a.state(), other.state())
        np.testing.assert_array_equal(ev_a, other.take_events())
    assert a.step_count == 400
    assert a.t == pytest.approx(0.04)


def test_seed_defaults_to_config(make_config: Callable[..., ModelConfig]) -> None:
    """``seed=None`` takes run.seed; a seed outside [0, 2**64) is refused."""
    cfg = make_config({"run.seed": 7})
    with Engine.build(cfg, backend="cpu") as a, Engine.build(cfg, backend="cpu", seed=7) as b:
        assert a.seed == 7
        assert_same_state(a.state(), b.state())
    with pytest.raises(ConfigError):
        Engine.build(cfg, backend="cpu", seed=-1)
    with pytest.raises(ConfigError):
        Engine.build(cfg, backend="cpu", seed=2**64)


def test_step_and_run_arguments(engine: Callable[..., Engine]) -> None:
    """Negative steps or durations are refused; zero steps change nothing."""
    eng = engine()
    before = eng.state()
    eng.step(0)
    eng.run(0.0)
    assert_same_state(before, eng.state())
    with pytest.raises(ValueError):
        eng.step(-1)
    with pytest.raises(ValueError):
        eng.run(-0.1)


def test_state_is_a_copy_and_replace_state_checks_layout(
    engine: Callable[..., Engine], make_config: Callable[..., ModelConfig]
) -> None:
    """Editing ``state()`` changes nothing until ``replace_state``; a state of another shape is refused."""
    eng = engine()
    st = eng.state()
    st.neurons.v[:] = 0.0
    assert not np.all(eng.state().neurons.v == 0.0)
    eng.replace_state(st)
    assert np.all(eng.state().neurons.v == 0.0)
    with Engine.build(make_config({"network.scale": 2}), backend="cpu") as big, pytest.raises(ValueError):
        eng.replace_state(big.state())


def test_time_rewiring_leaves_state_unchanged(engine: Callable[..., Engine]) -> None:
    """Timing the rewiring share works on a scratch copy."""
    eng = engine()
    eng.step(50)
    before = eng.state()
    assert eng.time_rewiring(0.01) >= 0.0
    assert_same_state(before, eng.state())


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(engine: Callable[..., Engine], tmp_path: Path) -> None:
    """Save, continue; from_checkpoint or load_checkpoint and continue: identical states and events."""
    path = tmp_path / "run.npz"
    a = engine(seed=5)
    a.step(200)
    a.set_parameter("stimulus.f_peak", 100.0)  # a live change travels with the checkpoint
    a.save_checkpoint(path)
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary file left
    assert len(a.take_events()) > 0  # the events before the checkpoint stay out of it
    a.step(300)
    after = a.take_events()
    assert len(after) > 0

    b = Engine.from_checkpoint(path, backend="cpu")
    assert b.step_count == 200 and b.seed == 5
    assert b.config == a.config
    b.step(300)

    c = engine(seed=99)
    c.step(17)
    c.load_checkpoint(path)
    assert c.step_count == 200 and c.seed == 5
    assert c.config.stimulus.f_peak == 100.0
    c.step(300)
    for other in (b, c):
        assert_same_state(a.state(), other.state())
        np.testing.assert_array_equal(after, other.take_events())
        assert other.snapshot().attempts == a.snapshot().attempts
    b.close()


def test_load_checkpoint_of_other_configuration(
    engine: Callable[..., Engine], make_config: Callable[..., ModelConfig], tmp_path: Path
) -> None:
    """A checkpoint with other structural values is refused, naming file and key; the engine is unchanged."""
    path = tmp_path / "small_rows.npz"
    other = engine(cfg=make_config({**BUSY, "connectivity.row_capacity": 40}, preset="bamford2010"))
    other.save_checkpoint(path)
    eng = engine()
    eng.step(10)
    before = eng.state()
    with pytest.raises(CheckpointError) as info:
        eng.load_checkpoint(path)
    assert str(path) in str(info.value)
    assert "connectivity.row_capacity" in str(info.value)
    assert_same_state(before, eng.state())
    eng.step(1)


@pytest.fixture
def checkpoint_file(engine: Callable[..., Engine], tmp_path: Path) -> Path:
    path = tmp_path / "good.npz"
    eng = engine()
    eng.step(20)
    eng.save_checkpoint(path)
    return path


def rewrite(src: Path, dst: Path, drop: str | None = None, **replace: Any) -> Path:
    """Copy checkpoint ``src`` to ``dst`` as a plain npz with one entry dropped or replaced."""
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != drop}
    arrays.update({k.replace("__", "."): v for k, v in replace.items()})
    np.savez(dst, **arrays)
    return dst


def expect_checkpoint_error(path: Path, *fragments: str) -> None:
    with pytest.raises(CheckpointError) as info:
        Engine.from_checkpoint(path, backend="cpu")
    for fragment in (str(path), *fragments):
        assert fragment in str(info.value)


def test_truncated_checkpoint(checkpoint_file: Path, tmp_path: Path) -> None:
    """A truncated file raises CheckpointError naming it."""
    bad = tmp_path / "truncated.npz"
    data = checkpoint_file.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    expect_checkpoint_error(bad)


@pytest.mark.parametrize(
    "content", [b"", b"\x00" * 10, bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8))]
)
def test_garbage_checkpoint(tmp_path: Path, content: bytes) -> None:
    """Empty or random bytes raise CheckpointError naming the file."""
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(content)
    expect_checkpoint_error(bad)


def test_missing_checkpoint(tmp_path: Path) -> None:
    """A missing file raises CheckpointError naming it."""
    expect_checkpoint_error(tmp_path / "absent.npz", "not found")


@pytest.mark.parametrize(
    ("drop", "replace", "fragment"),
    [
        ("state.ff.post", {}, "ff.post"),
        ("state.istate", {}, "istate"),
        (None, {"state__neurons__v": np.zeros(10, np.float32)}, "neurons.v"),
        (None, {"state__neurons__v": np.zeros(256, np.float64)}, "neurons.v"),
        (None, {"state__lat__row_len": np.full(256, 99, np.int32)}, "lat"),
        ("format", {}, "format"),
        (None, {"version": np.array(3)}, "version"),
        (None, {"config_yaml": np.array("rewiring:\n  ff:\n    p_form: 1.6\n")}, "rewiring.ff.p_form"),
        (None, {"config_yaml": np.array("[1, 2]")}, "mapping"),
    ],
    ids=[
        "missing-array",
        "missing-istate",
        "wrong-shape",
        "wrong-dtype",
        "corrupt-table",
        "no-format",
        "wrong-version",
        "bad-config",
        "config-not-mapping",
    ],
)
def test_malformed_checkpoint_content(
    checkpoint_file: Path, tmp_path: Path, drop: str | None, replace: dict[str, Any], fragment: str
) -> None:
    """A readable npz with a missing, misshapen or invalid entry raises CheckpointError naming file, entry."""
    bad = rewrite(checkpoint_file, tmp_path / "bad.npz", drop, **replace)
    expect_checkpoint_error(bad, fragment)


@pytest.mark.parametrize(
    ("drop", "replace"),
    [("seed", {}), ("backend", {}), (None, {"version": np.array("one")}), (None, {"seed": np.array(-5)})],
    ids=["no-seed", "no-backend", "version-not-a-number", "negative-seed"],
)
def test_malformed_checkpoint_metadata(
    checkpoint_file: Path, tmp_path: Path, drop: str | None, replace: dict[str, Any]
) -> None:
    """Missing or invalid metadata (seed, backend, version) also raises CheckpointError naming the file.

    checkpoint.py promises: "anything missing, malformed or of the wrong shape raises
    CheckpointError naming the file and the problem".
    """
    bad = rewrite(checkpoint_file, tmp_path / "meta.npz", drop, **replace)
    expect_checkpoint_error(bad)


def test_save_into_missing_folder(engine: Callable[..., Engine], tmp_path: Path) -> None:
    """Saving into a folder that does not exist raises CheckpointError."""
    with pytest.raises(CheckpointError, match="does not exist"):
        engine().save_checkpoint(tmp_path / "no" / "such" / "x.npz")


# --------------------------------------------------------------------------- live parameters


def test_live_parameter_changes_config_and_behaviour(engine: Callable[..., Engine]) -> None:
    """Switching the stimulus off (f_base = f_peak = 0, live) stops all source spikes from the next step."""
    eng = engine()
    eng.step(100)
    assert eng.state().neurons.count_src.sum() > 0
    eng.set_parameter("stimulus.f_base", 0.0)
    eng.set_parameter("stimulus.f_peak", 0.0)
    assert (eng.config.stimulus.f_base, eng.config.stimulus.f_peak) == (0.0, 0.0)
    before = eng.state().neurons.count_src.copy()
    eng.step(500)  # crosses stimulus periods: new locations must not bring spikes back
    np.testing.assert_array_equal(eng.state().neurons.count_src, before)
    eng.set_parameter("stimulus.f_base", 50.0)
    eng.step(100)
    assert eng.state().neurons.count_src.sum() > before.sum() + 80  # 256 x 50 Hz x 10 ms: 128 expected


def test_structural_and_invalid_parameters_are_refused(engine: Callable[..., Engine]) -> None:
    """Structural keys, unknown keys and invalid values raise ConfigError and leave the configuration be."""
    eng = engine()
    cfg = eng.config
    with pytest.raises(ConfigError, match=r"network\.dt.*structural"):
        eng.set_parameter("network.dt", 0.2)
    with pytest.raises(ConfigError, match=r"connectivity\.row_capacity"):
        eng.set_parameter("connectivity.row_capacity", 8)
    with pytest.raises(ConfigError, match=r"rewiring\.ff\.p_form: must be in \[0, 1\]"):
        eng.set_parameter("rewiring.ff.p_form", 1.6)
    with pytest.raises(ConfigError):
        eng.set_parameter("rewiring.ff.p_fom", 0.1)
    assert eng.config == cfg
    eng.step(1)


# --------------------------------------------------------------------------- snapshots


def test_snapshots_are_frozen_copies(engine: Callable[..., Engine]) -> None:
    """Snapshot arrays are read-only copies that do not change when the engine runs on."""
    eng = engine()
    eng.step(100)
    snap = eng.snapshot()
    arrays = {
        "v": snap.v,
        "spikes_src": snap.spikes_src,
        "spikes_tgt": snap.spikes_tgt,
        "last_spikes_src": snap.last_spikes_src,
        "last_spikes_tgt": snap.last_spikes_tgt,
        "events": snap.events,
        "ff.pre": snap.ff.pre,
        "ff.post": snap.ff.post,
        "ff.weight": snap.ff.weight,
        "ff.in_degree": snap.ff.in_degree,
        "lat.weight": snap.lat.weight,
        "lat.in_degree": snap.lat.in_degree,
    }
    copies = {k: a.copy() for k, a in arrays.items()}
    for name, a in arrays.items():
        assert not a.flags.writeable, name
    with pytest.raises(ValueError):
        snap.v[0] = 1.0
    with pytest.raises(ValueError):
        snap.ff.weight[0] = 1.0
    eng.step(200)
    for name, a in arrays.items():
        np.testing.assert_array_equal(a, copies[name], err_msg=name)


def test_snapshot_reflects_last_step(engine: Callable[..., Engine]) -> None:
    """A snapshot shows the state after the last completed step."""
    eng = engine()
    eng.step(250)
    snap, st = eng.snapshot(), eng.state()
    assert snap.step == eng.step_count == 250
    assert snap.t == pytest.approx(0.025)
    assert snap.backend == "cpu"
    np.testing.assert_array_equal(snap.v, st.neurons.v)
    np.testing.assert_array_equal(snap.spikes_src, st.neurons.count_src)
    assert snap.ff.count == st.ff.row_len.sum()
    np.testing.assert_array_equal(snap.ff.in_degree, st.ff.col_len)
    assert 0 <= snap.stimulus[0] < 16 and 0 <= snap.stimulus[1] < 16


def test_snapshot_sequence_and_events_since_previous(engine: Callable[..., Engine]) -> None:
    """Sequence numbers count up; a snapshot holds the events since the previous one, none lost or twice."""
    eng = engine()
    snaps = []
    for n in (150, 0, 250, 100):
        eng.step(n)
        snaps.append(eng.snapshot())
    assert [s.seq for s in snaps] == [1, 2, 3, 4]
    assert len(snaps[1].events) == 0
    for prev, snap in zip([None, *snaps[:-1]], snaps, strict=True):
        if len(snap.events):
            assert snap.events["step"].min() >= (prev.step if prev else 0)
            assert snap.events["step"].max() < snap.step
    log = np.concatenate([s.events for s in snaps])
    assert len(log) > 0
    np.testing.assert_array_equal(log, eng.take_events())
    assert len(eng.take_events()) == 0  # taken events are let go


# --------------------------------------------------------------------------- lifetime and backends


def test_closed_engine_refuses_use(engine: Callable[..., Engine], tmp_path: Path) -> None:
    """After close every operation raises EngineClosedError (a RuntimeError); closing twice is fine."""
    eng = engine()
    with eng:
        eng.step(1)
    assert eng.closed
    eng.close()
    operations: list[Callable[[], Any]] = [
        lambda: eng.step(1),
        lambda: eng.run(0.001),
        eng.state,
        eng.snapshot,
        lambda: eng.set_parameter("stimulus.f_peak", 1.0),
        lambda: eng.save_checkpoint(tmp_path / "x.npz"),
        lambda: eng.backend_name,
        lambda: eng.replace_state(None),  # type: ignore[arg-type]
        lambda: eng.__enter__(),
    ]
    for op in operations:
        with pytest.raises(EngineClosedError):
            op()
    assert issubclass(EngineClosedError, RuntimeError)


def test_unknown_backend(config: ModelConfig) -> None:
    """An unknown backend name raises BackendUnavailableError listing the choices."""
    with pytest.raises(BackendUnavailableError, match="unknown backend 'tpu'"):
        Engine.build(config, backend="tpu")


def test_cuda_backend_says_why_it_is_unavailable(config: ModelConfig) -> None:
    """Where CUDA cannot run, asking for it raises BackendUnavailableError with the registry's reason."""
    reason = available_backends()["cuda"]
    if reason is None:  # a machine with a working CUDA backend
        with Engine.build(config, backend="cuda") as eng:
            assert eng.backend_name == "cuda"
        return
    assert reason.strip()
    with pytest.raises(BackendUnavailableError) as info:
        Engine.build(config, backend="cuda")
    assert "cuda" in str(info.value)
    assert reason in str(info.value)


def test_auto_backend_picks_an_available_one(config: ModelConfig) -> None:
    """``auto`` resolves to the most preferred backend that can run here."""
    best = next(name for name, reason in available_backends().items() if reason is None)
    with Engine.build(config, backend="auto") as eng:
        assert eng.backend_name == best


def test_tiling_the_stimulus_while_running_keeps_its_position_in_the_tile(
    engine: Callable[..., Engine], make_config: Callable[..., ModelConfig]
) -> None:
    """At scale 2 the stimulus may lie anywhere on the 32 x 32 grid; switching ``tiled`` on while
    running moves it into the 16 x 16 tile the kernels then index (before, they read outside their
    table until the next stimulus period)."""
    from sim.experiments.topomap.checkpoint import state_problem
    from sim.experiments.topomap.state import S_STIM_X, S_STIM_Y

    eng = engine(cfg=make_config({"network.scale": 2, "stimulus.period": 1e6}))
    for seed in range(2, 40):  # a network whose first stimulus lies outside the first tile
        eng.close()
        eng = engine(seed=seed, cfg=make_config({"network.scale": 2, "stimulus.period": 1e6}))
        eng.step(1)
        st = eng.state()
        if max(st.istate[S_STIM_X], st.istate[S_STIM_Y]) >= 16:
            break
    else:
        pytest.fail("no seed put the stimulus outside the first tile")
    x, y = int(st.istate[S_STIM_X]), int(st.istate[S_STIM_Y])
    eng.set_parameter("stimulus.tiled", True)
    st = eng.state()
    assert (st.istate[S_STIM_X], st.istate[S_STIM_Y]) == (x % 16, y % 16)
    assert state_problem(st, eng.config) is None
    eng.step(100)


def test_a_registered_backend_can_be_forgotten() -> None:
    """register_backend adds a backend for one experiment; unregister_backend takes it away again."""
    from sim.backends import register_backend, unavailable_reason, unregister_backend
    from sim.errors import BackendUnavailableError

    register_backend("test-double", lambda: None, lambda: "not here")
    assert unavailable_reason("test-double") == "not here"
    unregister_backend("test-double")
    with pytest.raises(BackendUnavailableError, match="unknown backend 'test-double'"):
        unavailable_reason("test-double")
    unregister_backend("test-double")  # forgetting twice changes nothing
