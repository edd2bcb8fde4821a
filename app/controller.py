"""The simulation thread and its controller (Qt-free).

One :class:`SimController` starts one thread that owns the engine (and so the
GPU, when there is one). The window never touches the engine: it submits
:mod:`app.commands` through one queue and takes :class:`Update` objects from
a latest-wins :class:`LatestMailbox`.

The thread's loop::

    while not shut down:
        take commands (block on the queue unless running; wait with a timeout
                       when ahead of the target speed)
        apply them in order          -> errors become Reports, state kept
        if running: advance a chunk  -> an exception faults the thread
        publish an Update when one is due (redraw rate) or after commands

States (:class:`~app.frame.SimState`): ``STARTING`` while the first network
is built, then ``IDLE`` (built, not running), ``RUNNING``, ``PAUSED`` (a run
stopped by Pause or Step), ``FAULTED`` (an unexpected error: the engine and
its state are kept, so the state can be saved, run again or reset) and
``CLOSED``. Expected errors in a command (an invalid value, a checkpoint of
another configuration, an unwritable file) are reported and change nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from app.commands import (
    Command,
    EngineCommand,
    LoadCheckpoint,
    Pause,
    Reset,
    Run,
    SaveCheckpoint,
    SetParameter,
    SetPublishRate,
    SetSpeed,
    Shutdown,
    Step,
    Sync,
)
from app.frame import SimState, Status
from sim.engine import Engine, structural_differences
from sim.errors import RewireLabError
from sim.parameters import ConfigRoot
from sim.snapshot import merge_snapshots

__all__ = ["LatestMailbox", "Report", "SimController", "Update"]

T = TypeVar("T")

#: Longest wall time of one chunk of steps: commands wait at most about this long.
MAX_CHUNK_WALL = 0.05
#: Shortest wall time of one chunk (keeps the per-call overhead small).
MIN_CHUNK_WALL = 0.002
#: Wall seconds over which the achieved real-time factor is measured.
RTF_WINDOW = 1.0
#: How far (wall seconds) a speed-limited run may fall behind before the schedule restarts.
MAX_LAG = 0.25

#: Errors that a command can cause by its content; they are reported and change nothing.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (RewireLabError, ValueError, OSError)


@dataclass(frozen=True)
class Update:
    """What the thread publishes: a snapshot, the configuration it runs with and the controller's status.

    ``pending_config`` is ``config`` with the structural changes that apply on
    the next reset.
    """

    #: The experiment's snapshot (a :class:`sim.snapshot.SnapshotBase`).
    snapshot: Any
    config: ConfigRoot
    pending_config: ConfigRoot
    status: Status


@dataclass(frozen=True)
class Report:
    """A message from the thread for the user.

    ``level`` is ``"info"`` (a command did what was asked), ``"error"`` (a
    command was refused; nothing changed) or ``"fault"`` (an unexpected error
    stopped the simulation; ``detail`` holds the traceback).
    """

    level: Literal["info", "error", "fault"]
    message: str
    command: int | None = None
    detail: str = ""
    #: With a loaded checkpoint: the time series saved with it, for the next generation's plots.
    history: Mapping[str, NDArray[np.float64]] | None = field(default=None, repr=False)


class LatestMailbox(Generic[T]):
    """A one-item, latest-wins mailbox shared by two threads.

    :meth:`put` replaces an item nobody took, after ``merge(old, new)`` has
    folded what must not be lost (the rewiring events) into the new one; so
    a slow reader never builds a backlog and never loses a count.
    """

    def __init__(self, merge: Callable[[T, T], T] | None = None) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._merge = merge
        #: Items replaced before anyone took them.
        self.dropped = 0

    def put(self, item: T) -> None:
        """Offer ``item``, replacing (and merging) one that was not taken."""
        with self._lock:
            if self._item is not None:
                self.dropped += 1
                if self._merge is not None:
                    item = self._merge(self._item, item)
            self._item = item

    def take(self) -> T | None:
        """The newest item, or None when nothing new arrived since the last take."""
        with self._lock:
            item, self._item = self._item, None
            return item

    def __len__(self) -> int:
        with self._lock:
            return 0 if self._item is None else 1


def merge_updates(old: Update, new: Update) -> Update:
    """Fold the appendable records of ``old`` (not taken: events, per-batch rows) into ``new``.

    Only within one network: a rebuilt network's records start afresh.
    """
    if old.status.generation != new.status.generation:
        return new
    merged = merge_snapshots(old.snapshot, new.snapshot)
    return new if merged is new.snapshot else dataclasses.replace(new, snapshot=merged)


EngineFactory = Callable[[ConfigRoot, str, "int | None"], Engine]


def _build_engine(config: ConfigRoot, backend: str, seed: int | None) -> Engine:
    return Engine.build(config, backend=backend, seed=seed)


class SimController:
    """Runs a network in a thread of its own and takes commands for it.

    Parameters
    ----------
    config : ConfigRoot
        The network to build first.
    backend : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    seed : int, optional
        Seed of the first build (default: ``config.run.seed``).
    publish_hz : float
        Most updates published per wall second (the redraw rate).
    speed : float, optional
        Target multiple of real time; None runs as fast as possible.
    engine_factory : callable, optional
        ``(config, backend, seed) -> Engine``; replaceable in tests.

    Examples
    --------
    >>> ctl = SimController(load_preset("demo"))  # doctest: +SKIP
    >>> ctl.submit(Run(duration=10.0))  # doctest: +SKIP
    >>> update = ctl.take_update()  # doctest: +SKIP
    >>> ctl.shutdown()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: ConfigRoot,
        backend: str = "auto",
        seed: int | None = None,
        *,
        publish_hz: float = 30.0,
        speed: float | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        SetPublishRate(publish_hz)  # validates
        SetSpeed(speed)
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._reports: queue.SimpleQueue[Report] = queue.SimpleQueue()
        self.mailbox: LatestMailbox[Update] = LatestMailbox(merge_updates)
        self._factory = engine_factory or _build_engine
        self._status_lock = threading.Lock()
        self._state = SimState.STARTING
        # Owned by the thread from here on.
        self._initial = (config, backend, seed)
        self._engine: Engine | None = None
        self._backend_choice = backend
        self._pending_config = config
        self._generation = 0
        self._reported_note: str | None = None
        self._last_command = 0
        self._publish_interval = 1.0 / publish_hz
        # Updates fall due on a fixed grid of this spacing, so a late one does not delay the rest.
        self._next_publish = -math.inf
        self._publish_due = False
        self._speed = speed
        self._anchor: tuple[float, int] = (0.0, 0)
        self._until_step: int | None = None
        self._sec_per_step: float | None = None
        self._rtf_samples: collections.deque[tuple[float, int]] = collections.deque()
        self._wait: float | None = None
        self._thread = threading.Thread(target=self._main, name="rewire-lab-simulation", daemon=True)
        self._thread.start()

    # -- the window's side ------------------------------------------------------------------------
    def submit(self, command: Command) -> int:
        """Queue ``command`` for the thread; returns its id."""
        if not isinstance(command, Command):
            raise TypeError(f"not a command: {command!r}")
        if not self._thread.is_alive() and not isinstance(command, Shutdown):
            raise RuntimeError("the simulation thread has ended")
        self._commands.put(command)
        return command.id

    def take_update(self) -> Update | None:
        """The newest update, or None when nothing new was published since the last call."""
        return self.mailbox.take()

    def take_reports(self) -> list[Report]:
        """Every report since the last call, oldest first."""
        out = []
        while True:
            try:
                out.append(self._reports.get_nowait())
            except queue.Empty:
                return out

    @property
    def state(self) -> SimState:
        """What the thread is doing now."""
        with self._status_lock:
            return self._state

    @property
    def alive(self) -> bool:
        """Whether the simulation thread is running."""
        return self._thread.is_alive()

    def sync(self, timeout: float | None = 30.0) -> bool:
        """Wait until the thread has applied every command submitted so far; False on timeout."""
        cmd = Sync()
        self.submit(cmd)
        return cmd.done.wait(timeout)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop the thread and close the engine; True when the thread has ended."""
        if self._thread.is_alive():
            self._commands.put(Shutdown())
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> SimController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- the thread -------------------------------------------------------------------------------
    def _set_state(self, state: SimState) -> None:
        with self._status_lock:
            self._state = state

    def _report(
        self, level: Literal["info", "error", "fault"], message: str, cmd: Command | None = None
    ) -> None:
        detail = traceback.format_exc() if level == "fault" else ""
        self._reports.put(Report(level, message, None if cmd is None else cmd.id, detail))

    def _main(self) -> None:
        config, backend, seed = self._initial
        try:
            self._engine = self._factory(config, backend, seed)
            self._engine.log_events = False  # the window takes events from snapshots only
            self._pending_config = self._engine.config
            self._set_state(SimState.IDLE)
            note = self._new_backend_note(self._engine)
            if note:
                self._report("info", f"running on {self._engine.backend_name}: {note}")
            self._publish()
        except Exception as exc:
            self._report("fault", f"could not build the network: {exc}")
            self._set_state(SimState.FAULTED)
        try:
            while self._loop_once():
                pass
        finally:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            self._set_state(SimState.CLOSED)
            self._release_waiters()

    def _loop_once(self) -> bool:
        """One pass of the loop; False when the thread must end."""
        commands = self._next_commands()
        applied = False
        syncs: list[Sync] = []
        for cmd in commands:
            if isinstance(cmd, Shutdown):
                self._last_command = cmd.id
                return False
            self._apply(cmd)
            applied = True
            if isinstance(cmd, Sync):
                syncs.append(cmd)
        if self.state is SimState.RUNNING:
            try:
                self._advance()
            except Exception as exc:
                self._fault(f"the simulation stopped: {type(exc).__name__}: {exc}")
        now = time.perf_counter()
        if applied or self._publish_due or (self.state is SimState.RUNNING and now >= self._next_publish):
            self._publish_due = False
            self._publish()
        for cmd in syncs:  # released after the update that shows them is published
            cmd.done.set()
        return True

    def _next_commands(self) -> list[Command]:
        """Commands waiting in the queue; blocks when there is nothing to do."""
        out: list[Command] = []
        block = self.state is not SimState.RUNNING
        timeout = self._wait
        self._wait = None
        try:
            if block:
                out.append(self._commands.get())
            elif timeout is not None:
                out.append(self._commands.get(timeout=timeout))
        except queue.Empty:
            return out
        while True:
            try:
                out.append(self._commands.get_nowait())
            except queue.Empty:
                return out

    def _apply(self, cmd: Command) -> None:
        try:
            self._dispatch(cmd)
        except EXPECTED_ERRORS as exc:
            self._report("error", str(exc), cmd)
        except Exception as exc:
            self._fault(f"{type(cmd).__name__} failed: {type(exc).__name__}: {exc}", cmd)
        finally:
            self._last_command = cmd.id

    def _fault(self, message: str, cmd: Command | None = None) -> None:
        self._report("fault", message, cmd)
        self._until_step = None
        self._set_state(SimState.FAULTED)
        self._publish_due = True  # the window sees the faulted state and the network as it was left

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise RewireLabError("no network is built: reset or load a preset")
        return self._engine

    def _dispatch(self, cmd: Command) -> None:
        state = self.state
        if isinstance(cmd, Sync):
            return
        if isinstance(cmd, SetPublishRate):
            self._publish_interval = 1.0 / cmd.hz
            self._next_publish = min(self._next_publish, time.perf_counter() + self._publish_interval)
            return
        if isinstance(cmd, SetSpeed):
            self._speed = cmd.target
            self._restart_schedule()
            return
        if isinstance(cmd, Reset):
            self._reset(cmd)
            return
        if isinstance(cmd, LoadCheckpoint):
            self._load_checkpoint(cmd)
            return
        eng = self._require_engine()
        if isinstance(cmd, Run):
            self._until_step = None if cmd.duration is None else eng.step_count + eng.steps_for(cmd.duration)
            self._restart_schedule()
            self._set_state(SimState.RUNNING)
        elif isinstance(cmd, Pause):
            if state is SimState.RUNNING:
                self._set_state(SimState.PAUSED)
            self._until_step = None
        elif isinstance(cmd, Step):
            eng.step(cmd.count * self._steps_per(cmd.unit, eng))
            self._until_step = None
            if state is SimState.RUNNING:
                self._set_state(SimState.PAUSED)
        elif isinstance(cmd, SetParameter):
            self._set_parameter(eng, cmd)
        elif isinstance(cmd, SaveCheckpoint):
            eng.save_checkpoint(cmd.path, _history_until(cmd.history, eng.t))
            self._report("info", f"saved checkpoint {cmd.path} (t = {eng.t:.3f} s)", cmd)
        elif isinstance(cmd, EngineCommand):
            self._report("info", cmd.apply(eng), cmd)
        else:
            raise TypeError(f"unknown command {type(cmd).__name__}")

    @staticmethod
    def _steps_per(unit: str, eng: Engine) -> int:
        units = eng.experiment.step_units(eng.config)
        if unit not in units:
            raise ValueError(f"unknown step unit {unit!r} (this experiment steps by {', '.join(units)})")
        return units[unit]

    def _set_parameter(self, eng: Engine, cmd: SetParameter) -> None:
        spec = eng.config.param_spec(cmd.path)
        if spec.live:
            eng.set_parameter(cmd.path, cmd.value)
            # Keep the pending structural changes, now on top of the new live value.
            self._pending_config = self._pending_config.replace(cmd.path, cmd.value)
            return
        self._pending_config = self._pending_config.replace(cmd.path, cmd.value)
        if cmd.path in structural_differences(eng.config, self._pending_config):
            self._report("info", f"{cmd.path} = {cmd.value!r} applies when the network is reset", cmd)

    def _reset(self, cmd: Reset) -> None:
        config = cmd.config if cmd.config is not None else self._pending_config
        backend = cmd.backend if cmd.backend is not None else self._backend_choice
        seed = cmd.seed
        if seed is None and cmd.config is None and self._engine is not None:
            seed = self._pending_config.get("run.seed")
        new = self._factory(config, backend, seed)  # on failure the old network stays
        self._replace_engine(new, backend)
        note = self._new_backend_note(new)
        note = f"; {note}" if note else ""
        self._report("info", f"built '{config.name}' on {new.backend_name} (seed {new.seed}){note}", cmd)

    def _new_backend_note(self, engine: Engine) -> str | None:
        """The engine's backend note when it is news: a GPU that failed to start, said once.

        That ``auto`` runs on the CPU because no GPU or no CuPy is there is not news
        on such a machine; the window's status bar says it (see
        :func:`sim.backends.available_backends`) without a message on every start
        and rebuild.
        """
        note = engine.backend_note
        if not engine.backend_failed or note == self._reported_note:
            return None
        self._reported_note = note
        return note

    def _load_checkpoint(self, cmd: LoadCheckpoint) -> None:
        if cmd.rebuild or self._engine is None:
            new = Engine.from_checkpoint(cmd.path, backend=self._backend_choice)
            self._replace_engine(new, self._backend_choice)
            history = new.loaded_history
        else:
            history = self._engine.load_checkpoint(cmd.path)
            self._pending_config = self._engine.config
            self._generation += 1
            self._set_state(SimState.IDLE)
            self._until_step = None
        eng = self._require_engine()
        self._reports.put(
            Report("info", f"loaded checkpoint {cmd.path} (t = {eng.t:.3f} s)", cmd.id, history=history)
        )

    def _replace_engine(self, new: Engine, backend: str) -> None:
        new.log_events = False  # the window takes events from snapshots only
        old, self._engine = self._engine, new
        if old is not None:
            old.close()
        self._backend_choice = backend
        self._pending_config = new.config
        self._generation += 1
        self._until_step = None
        self._sec_per_step = None
        self._set_state(SimState.IDLE)

    def _restart_schedule(self) -> None:
        eng = self._engine
        self._anchor = (time.perf_counter(), 0 if eng is None else eng.step_count)
        self._rtf_samples.clear()

    def _advance(self) -> None:
        eng = self._require_engine()
        dt_s = _step_seconds(eng)
        # End the chunk at the next publication, so updates leave at the redraw rate.
        until_publish = self._next_publish - time.perf_counter()
        wall_target = min(max(until_publish, MIN_CHUNK_WALL), MAX_CHUNK_WALL)
        steps = 1 if self._sec_per_step is None else max(1, round(wall_target / self._sec_per_step))
        if self._until_step is not None:
            steps = min(steps, self._until_step - eng.step_count)
        if self._speed is not None:
            now = time.perf_counter()
            wall0, step0 = self._anchor
            allowed = int((now - wall0) * self._speed / dt_s) - (eng.step_count - step0)
            if allowed > round(MAX_LAG * self._speed / dt_s):
                self._anchor = (now, eng.step_count)  # too far behind: do not try to catch up
                allowed = max(1, round(wall_target * self._speed / dt_s))
            if allowed <= 0:
                self._wait = min(MAX_CHUNK_WALL, (1 - allowed) * dt_s / self._speed)
                self._sample_rtf(eng)
                return
            steps = min(steps, allowed)
        if steps > 0:
            t0 = time.perf_counter()
            eng.step(steps)
            per = (time.perf_counter() - t0) / steps
            self._sec_per_step = per if self._sec_per_step is None else 0.7 * self._sec_per_step + 0.3 * per
        self._sample_rtf(eng)
        if self._until_step is not None and eng.step_count >= self._until_step:
            self._until_step = None
            self._set_state(SimState.IDLE)
            self._publish()

    def _sample_rtf(self, eng: Engine) -> None:
        now = time.perf_counter()
        samples = self._rtf_samples
        samples.append((now, eng.step_count))
        while len(samples) > 2 and now - samples[0][0] > RTF_WINDOW:
            samples.popleft()

    def _realtime_factor(self, eng: Engine) -> float | None:
        if self.state is not SimState.RUNNING or len(self._rtf_samples) < 2:
            return None
        (w0, s0), (w1, s1) = self._rtf_samples[0], self._rtf_samples[-1]
        if w1 <= w0:
            return None
        return eng.experiment.model_seconds(eng.config, s1 - s0) / (w1 - w0)

    # -- publishing -------------------------------------------------------------------------------
    def _publish(self) -> None:
        eng = self._engine
        if eng is None or eng.closed:
            return
        try:
            snap = eng.snapshot()
        except Exception as exc:
            self._fault(f"could not read the network state: {type(exc).__name__}: {exc}")
            return
        status = Status(
            state=self.state,
            generation=self._generation,
            last_command=self._last_command,
            realtime_factor=self._realtime_factor(eng),
            target_speed=self._speed,
            run_until=None
            if self._until_step is None
            else eng.experiment.model_seconds(eng.config, self._until_step),
            backend=eng.backend_name,
            seed=eng.seed,
            pending=tuple(structural_differences(eng.config, self._pending_config)),
        )
        self.mailbox.put(Update(snap, eng.config, self._pending_config, status))
        now = time.perf_counter()
        if now >= self._next_publish:  # a scheduled update (not one that shows a command early)
            following = self._next_publish + self._publish_interval
            self._next_publish = following if following > now else now + self._publish_interval

    def _release_waiters(self) -> None:
        """Release :meth:`sync` callers whose commands will never be applied."""
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(cmd, Sync):
                cmd.done.set()


def _history_until(
    history: Mapping[str, NDArray[np.float64]] | None, t: float
) -> dict[str, NDArray[np.float64]] | None:
    """The rows of ``history`` up to model time ``t`` (the window may have shown a later frame)."""
    if history is None or "t" not in history:
        return None
    keep = np.asarray(history["t"]) <= t + 1e-9
    return {name: np.array(values, dtype=np.float64)[keep] for name, values in history.items()}


def _step_seconds(eng: Engine) -> float:
    """Model time of one step of ``eng`` (seconds, or the experiment's unit: epochs)."""
    return float(eng.experiment.model_seconds(eng.config, 1))
