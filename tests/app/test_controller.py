"""The simulation thread and its controller, without Qt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from app.commands import (
    LoadCheckpoint,
    Pause,
    Reset,
    Run,
    SaveCheckpoint,
    SetParameter,
    SetPublishRate,
    SetSpeed,
    Step,
)
from app.controller import LatestMailbox, SimController, Update
from app.experiments.topomap.commands import Lesion, StepUnit
from app.frame import SimState
from sim.engine import Engine
from sim.errors import ConfigError
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.lesion import region_mask

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def config(make_config: Callable[..., ModelConfig]) -> ModelConfig:
    return make_config(preset="demo")


@pytest.fixture
def controller(config: ModelConfig) -> Iterator[SimController]:
    ctl = SimController(config, backend="cpu", seed=3)
    assert ctl.sync(120), "the network was not built in time"
    yield ctl
    assert ctl.shutdown(), "the simulation thread did not end"


def latest(ctl: SimController) -> Update:
    """Wait for the thread to apply everything sent so far, then take the newest update."""
    assert ctl.sync(60)
    update = ctl.take_update()
    assert update is not None
    return update


def wait_until(pred: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.01)


def test_commands_are_validated_when_created() -> None:
    with pytest.raises(ValueError, match="positive"):
        Run(duration=-1.0)
    with pytest.raises(ValueError, match="positive integer"):
        Step(0)
    with pytest.raises(ValueError, match="speed"):
        SetSpeed(0.0)
    with pytest.raises(ConfigError, match=r"rewiring.ff.p_form: must be in \[0, 1\], got 1.6"):
        SetParameter("rewiring.ff.p_form", 1.6)
    with pytest.raises(ConfigError, match="unknown parameter"):
        SetParameter("rewiring.nonsense", 1.0)
    with pytest.raises(ValueError, match="lesion kind"):
        Lesion("burn", 0, 0, 1, 1)
    with pytest.raises(ValueError, match="backend"):
        Reset(backend="tpu")
    a, b = Pause(), Pause()
    assert b.id > a.id


def test_starts_idle_with_a_first_update(controller: SimController) -> None:
    update = latest(controller)
    assert controller.state is SimState.IDLE
    assert update.snapshot.step == 0
    assert update.status.backend == "cpu" and update.status.seed == 3


def test_commands_apply_in_order(controller: SimController) -> None:
    ids = [
        controller.submit(SetParameter("rewiring.ff.p_form", 0.3)),
        controller.submit(SetParameter("rewiring.ff.p_form", 0.4)),
        controller.submit(Step(5)),
        controller.submit(SetParameter("rewiring.ff.p_form", 0.5)),
    ]
    update = latest(controller)
    assert update.config.rewiring.ff.p_form == 0.5
    assert update.snapshot.step == 5
    assert update.status.last_command > ids[-1]  # the Sync after them


def test_step_units(controller: SimController, config: ModelConfig) -> None:
    controller.submit(Step(1))
    assert latest(controller).snapshot.step == 1
    controller.submit(Step(2, StepUnit.STIMULUS))
    per_stimulus = round(config.stimulus.period / config.network.dt)
    assert latest(controller).snapshot.step == 1 + 2 * per_stimulus
    controller.submit(Step(1, StepUnit.REWIRING))
    per_rewiring = max(1, round(config.rewiring.interval / config.network.dt))
    assert latest(controller).snapshot.step == 1 + 2 * per_stimulus + per_rewiring


def test_run_for_stops_at_the_requested_model_time(controller: SimController) -> None:
    controller.submit(Run(duration=0.5))
    assert controller.sync()
    wait_until(lambda: controller.state is SimState.IDLE)
    assert latest(controller).snapshot.t == pytest.approx(0.5)


def test_pause_really_stops_stepping(controller: SimController) -> None:
    controller.submit(Run())
    wait_until(lambda: controller.state is SimState.RUNNING)
    time.sleep(0.2)
    controller.submit(Pause())
    paused = latest(controller)
    assert paused.status.state is SimState.PAUSED
    assert paused.snapshot.step > 0
    time.sleep(0.3)
    assert controller.take_update() is None  # nothing published while paused
    assert latest(controller).snapshot.step == paused.snapshot.step


def test_live_parameter_shows_in_next_snapshot(controller: SimController) -> None:
    controller.submit(Run())
    cmd = controller.submit(SetParameter("stimulus.f_peak", 80.0))
    wait_until(lambda: (u := controller.take_update()) is not None and u.status.last_command >= cmd)
    update = controller.take_update() or latest(controller)
    assert update.config.stimulus.f_peak == 80.0


def test_structural_parameter_waits_for_reset(controller: SimController) -> None:
    controller.submit(SetParameter("network.scale", 2))
    update = latest(controller)
    assert update.snapshot.side == 16
    assert update.status.pending == ("network.scale",)
    assert update.pending_config.network.scale == 2
    controller.submit(Reset())
    update = latest(controller)
    assert update.snapshot.side == 32 and update.status.pending == ()
    assert update.status.generation == 1


def test_invalid_value_for_the_running_configuration_is_reported(controller: SimController) -> None:
    controller.submit(SetParameter("neuron.v_reset", -40.0))  # above v_thresh
    update = latest(controller)
    reports = controller.take_reports()
    assert [r.level for r in reports] == ["error"]
    assert "v_thresh" in reports[0].message
    assert update.config.neuron.v_reset == -70.0
    assert controller.state is SimState.IDLE


def test_speed_target_is_respected(controller: SimController) -> None:
    """At 2x real time the run never gets ahead of twice the wall time (it may fall behind when the
    machine is busy, which is not the pacing's doing, so only progress is asked for below)."""
    controller.submit(SetSpeed(2.0))
    start = time.perf_counter()
    controller.submit(Run())
    time.sleep(1.5)
    controller.submit(Pause())
    assert controller.sync()
    wall = time.perf_counter() - start
    t = latest(controller).snapshot.t
    assert 0.3 < t <= 2.0 * wall + 0.1, (t, wall)  # unthrottled, the demo runs at tens of times real time


def test_updates_leave_at_the_redraw_rate_while_running(controller: SimController) -> None:
    """Updates fall due on a fixed grid: the rate is the redraw rate, not a little below it."""
    published: list[float] = []
    put = controller.mailbox.put

    def counting_put(update: Update) -> None:
        published.append(time.perf_counter())
        put(update)

    controller.mailbox.put = counting_put  # type: ignore[method-assign]
    controller.submit(SetPublishRate(25.0))
    controller.submit(Run())
    assert controller.sync()
    time.sleep(2.5)
    controller.submit(Pause())
    assert controller.sync()
    times = np.array(published[2:-1])  # running: past the command updates, before the pause
    # The typical gap is the period itself (a late update does not push the grid back); the median
    # ignores the odd slot lost when a loaded machine starves the thread.
    gap = float(np.median(np.diff(times)))
    assert 0.039 <= gap <= 0.0415, gap
    assert times.size >= 40  # about 60 due over 2.5 s


def test_mailbox_never_grows_and_keeps_every_event(controller: SimController) -> None:
    controller.submit(SetPublishRate(240.0))
    controller.submit(Run(duration=3.0))
    assert controller.sync()
    assert len(controller.mailbox) <= 1
    wait_until(lambda: controller.state is SimState.IDLE, 60)
    assert len(controller.mailbox) <= 1
    assert controller.mailbox.dropped > 0  # nobody took the updates: they were merged
    update = latest(controller)
    events = update.snapshot.events
    formed = update.snapshot.ff.formed + update.snapshot.lat.formed
    removed = update.snapshot.ff.removed + update.snapshot.lat.removed
    assert int((events["kind"] == 1).sum()) == formed
    assert int((events["kind"] == 0).sum()) == removed


def test_latest_mailbox_merges() -> None:
    box: LatestMailbox[list[int]] = LatestMailbox(lambda old, new: old + new)
    assert box.take() is None
    for i in range(100):
        box.put([i])
    assert len(box) == 1
    assert box.take() == list(range(100))
    assert box.take() is None


def test_exception_in_thread_faults_and_keeps_state(config: ModelConfig) -> None:
    class BoomError(Exception):
        pass

    engines: list[Engine] = []

    def factory(cfg: ModelConfig, backend: str, seed: int | None) -> Engine:
        eng = Engine.build(cfg, backend=backend, seed=seed)
        original = eng.step
        calls = {"n": 0}

        def step(n: int = 1) -> None:
            calls["n"] += 1
            if calls["n"] == 3:
                raise BoomError("kernel failure")
            original(n)

        eng.step = step  # type: ignore[method-assign]
        engines.append(eng)
        return eng

    with SimController(config, backend="cpu", engine_factory=factory) as ctl:
        ctl.submit(Run())
        wait_until(lambda: ctl.state is SimState.FAULTED)
        # Unasked, the window gets an update that shows the fault and the network as it was left.
        seen: list[Update] = []

        def faulted_update() -> bool:
            update = ctl.take_update()
            if update is not None:
                seen.append(update)
            return any(u.status.state is SimState.FAULTED for u in seen)

        wait_until(faulted_update)
        assert seen[-1].snapshot.step > 0
        reports = ctl.take_reports()
        assert any(
            r.level == "fault" and "kernel failure" in r.message and "BoomError" in r.detail for r in reports
        )
        assert ctl.alive
        update = latest(ctl)
        assert update.status.state is SimState.FAULTED
        assert update.snapshot.step > 0  # the state reached before the fault is kept
        ctl.submit(Run(duration=0.1))  # and the run can go on
        assert ctl.sync()
        wait_until(lambda: ctl.state is SimState.IDLE)
    assert not ctl.alive


def test_failed_build_is_reported_and_thread_survives(config: ModelConfig) -> None:
    def factory(cfg: ModelConfig, backend: str, seed: int | None) -> Engine:
        raise RuntimeError("no device")

    with SimController(config, backend="cpu", engine_factory=factory) as ctl:
        wait_until(lambda: ctl.state is SimState.FAULTED)
        assert "no device" in ctl.take_reports()[0].message
        ctl.submit(Run())
        assert ctl.sync(10)
        assert [r.level for r in ctl.take_reports()] == ["error"]  # no network: refused, not crashed


def test_checkpoint_roundtrip_and_refusal(
    controller: SimController, tmp_path: Path, config: ModelConfig
) -> None:
    controller.submit(Step(300))
    saved = latest(controller)
    path = tmp_path / "state.npz"
    controller.submit(SaveCheckpoint(path))
    controller.submit(Step(200))
    assert latest(controller).snapshot.step == 500
    controller.submit(LoadCheckpoint(path))
    loaded = latest(controller)
    assert loaded.snapshot.step == 300
    assert loaded.snapshot.ff.count == saved.snapshot.ff.count
    assert loaded.snapshot.lat.count == saved.snapshot.lat.count
    assert loaded.status.generation == saved.status.generation + 1
    # A checkpoint of another configuration is refused, naming the difference; the state stays.
    other = tmp_path / "other.npz"
    with Engine.build(config.replace("network.scale", 2), backend="cpu", seed=1) as eng:
        eng.save_checkpoint(other)
    controller.submit(LoadCheckpoint(other))
    after = latest(controller)
    errors = [r for r in controller.take_reports() if r.level == "error"]
    assert errors and "network.scale" in errors[0].message
    assert after.snapshot.step == 300 and after.snapshot.side == 16


def test_lesion_cut_removes_synapses_in_region(controller: SimController) -> None:
    before = latest(controller).snapshot
    controller.submit(Lesion("cut", 2, 3, 6, 9))
    after = latest(controller).snapshot
    mask = region_mask(16, 2, 3, 6, 9)
    assert before.ff.in_degree[mask].sum() > 0
    assert after.ff.in_degree[mask].sum() == 0
    assert not np.isin(after.lat.pre, np.flatnonzero(mask)).any()
    assert np.array_equal(after.ff.in_degree[~mask], before.ff.in_degree[~mask])
    assert after.ff.removed == before.ff.removed  # a lesion is not counted as rewiring


def test_lesion_silence_stops_firing_until_restored(controller: SimController) -> None:
    controller.submit(Lesion("silence", 0, 0, 15, 7))
    controller.submit(Step(500))
    first = latest(controller).snapshot
    mask = region_mask(16, 0, 0, 15, 7)
    assert first.spikes_tgt[mask].sum() == 0 and first.spikes_tgt[~mask].sum() > 0
    controller.submit(Lesion("restore"))
    controller.submit(Step(1000))
    second = latest(controller).snapshot
    assert second.spikes_tgt[mask].sum() > 0


def test_shutdown_leaves_no_thread(config: ModelConfig) -> None:
    before = set(threading.enumerate())
    ctl = SimController(config, backend="cpu")
    ctl.submit(Run())
    time.sleep(0.2)
    assert ctl.shutdown(timeout=30)
    assert ctl.state is SimState.CLOSED
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError, match="ended"):
        ctl.submit(Run())


def test_the_simulation_thread_keeps_no_event_log(config: ModelConfig, tmp_path: Path) -> None:
    """Events reach the window through updates only: the engines of the thread (first build, reset,
    loaded checkpoint) keep none for a log, so memory does not grow with model time."""
    engines: list[Engine] = []

    def factory(cfg: ModelConfig, backend: str, seed: int | None) -> Engine:
        engines.append(Engine.build(cfg, backend=backend, seed=seed))
        return engines[-1]

    with SimController(config, backend="cpu", engine_factory=factory) as ctl:
        ctl.submit(Step(2000))
        update = latest(ctl)
        assert len(update.snapshot.events) > 0
        ctl.submit(SaveCheckpoint(tmp_path / "c.npz"))
        ctl.submit(Reset())
        ctl.submit(Step(2000))
        latest(ctl)
        ctl.submit(LoadCheckpoint(tmp_path / "c.npz", rebuild=True))
        ctl.submit(Step(2000))
        assert len(latest(ctl).snapshot.events) > 0
        assert len(engines) == 2  # the first build and the reset; the checkpoint's engine is the thread's own
        loaded = ctl._engine  # read after sync: the thread is idle
        assert loaded is not None and loaded not in engines
        for eng in (*engines, loaded):
            assert not eng.log_events and len(eng.take_events()) == 0


@pytest.mark.parametrize("failed", [False, True])
def test_a_backend_note_is_reported_once_and_only_when_a_gpu_failed(
    config: ModelConfig, failed: bool
) -> None:
    """`auto` on the CPU because there is no GPU is not news on every start and rebuild; a GPU that
    failed to start is said once."""

    def factory(cfg: ModelConfig, backend: str, seed: int | None) -> Engine:
        eng = Engine.build(cfg, backend="cpu", seed=seed)
        if failed:
            eng.backend_note = "'cuda' failed to start, running on 'cpu': out of memory"
            eng.backend_failed = True
        else:
            eng.backend_note = "auto picked 'cpu' because 'cuda' is unavailable: CuPy is not installed"
        return eng

    with SimController(config, backend="auto", engine_factory=factory) as ctl:
        assert ctl.sync(120)
        ctl.submit(Reset())
        ctl.submit(Reset())
        assert ctl.sync(120)
        messages = [r.message for r in ctl.take_reports()]
    noted = [m for m in messages if "cuda" in m]
    assert len([m for m in messages if m.startswith("built")]) == 2
    assert len(noted) == (1 if failed else 0), messages


def test_a_step_unit_the_experiment_lacks_is_reported(controller: SimController) -> None:
    """Step units come from the experiment's clock; an unknown one is refused with the known ones."""
    cmd = controller.submit(Step(1, "batch"))
    assert controller.sync()
    errors = [r for r in controller.take_reports() if r.command == cmd and r.level == "error"]
    assert errors and "unknown step unit 'batch'" in errors[0].message
    assert "step, stimulus, rewiring" in errors[0].message
