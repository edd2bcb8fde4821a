"""The engine: build a network on a backend, run it, look at it, save it.

>>> from sim.config import load_config
>>> with Engine.build(load_config("presets/topomap/demo.yaml"), backend="cpu") as eng:  # doctest: +SKIP
...     eng.run(1.0)
...     snap = eng.snapshot()

The engine knows no experiment: what differs (the state, its build, the
backends, the clock, the snapshot, the checkpoint's arrays) it asks of the
:class:`sim.experiment.Experiment` the configuration belongs to. There are no
threads inside: the caller (the GUI's simulation thread or a headless
command) owns the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.backends import auto_choice, create_backend
from sim.backends.base import Backend
from sim.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from sim.errors import CheckpointError, ConfigError, EngineClosedError, RewireLabError
from sim.events import EVENT_DTYPE
from sim.experiment import Experiment, experiment_of
from sim.parameters import ConfigRoot, iter_params

#: Steps per backend call when running for a duration (keeps callbacks responsive).
DEFAULT_CHUNK_STEPS = 10_000


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (the type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def structural_differences(a: ConfigRoot, b: ConfigRoot) -> list[str]:
    """Key paths of the structural parameters whose values differ between ``a`` and ``b``.

    Configurations of different experiments differ in ``experiment``.
    """
    if a.experiment != b.experiment:
        return ["experiment"]
    values_b = {path: value for path, _spec, value in iter_params(b)}
    return [path for path, spec, value in iter_params(a) if not spec.live and values_b[path] != value]


class Engine:
    """A built network on one backend.

    Use :meth:`build` or :meth:`from_checkpoint` to make one. The engine is a
    context manager; using it after :meth:`close` raises
    :class:`EngineClosedError`.
    """

    def __init__(self, config: ConfigRoot, seed: int, backend: Backend, state: Any) -> None:
        self._config = config
        self._experiment: Experiment = experiment_of(config)
        self._seed = int(seed)
        self._backend: Backend | None = backend
        self._experiment.attach(backend, state, config, self._seed)
        backend.warm_up()
        self._step = self._experiment.state_step(state)
        self._log_events: list[NDArray[np.void]] = []
        self._pending_events: list[NDArray[np.void]] = []
        self._pending_records: dict[str, list[NDArray[np.void]]] = {}
        #: Keep the events for :meth:`take_events`. A caller that reads events only from snapshots
        #: (the window) switches this off, so nothing accumulates between snapshots and takes.
        self.log_events = True
        self._snapshot_seq = 0
        self._wall = 0.0
        self._wall_steps = 0
        self._last_rtf: float | None = None
        #: Why this backend runs the network when ``auto`` chose it (or fell back); None otherwise.
        self.backend_note: str | None = None
        #: True when ``auto`` chose a backend that then failed to start, so this engine runs on the CPU.
        self.backend_failed = False
        #: The time series saved with the checkpoint this engine was made from (None otherwise).
        self.loaded_history: Mapping[str, NDArray[np.float64]] | None = None

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def build(cls, config: ConfigRoot, backend: str = "auto", seed: int | None = None) -> Engine:
        """Build ``config`` on ``backend`` (``auto``, ``cpu`` or ``cuda``) with ``seed``.

        ``seed=None`` takes ``config.run.seed``.
        """
        seed = config.get("run.seed") if seed is None else int(seed)
        if not 0 <= seed < 2**64:
            raise ConfigError(f"must be in [0, 2**64), got {seed}", path="seed")
        return cls._on_backend(backend, config, seed, experiment_of(config).build_state(config, seed))

    @classmethod
    def from_checkpoint(cls, path: str | Path, backend: str = "auto") -> Engine:
        """Continue the run saved in checkpoint ``path`` on ``backend`` (from either backend).

        The event log starts empty: a checkpoint holds the network, not the events before it.
        """
        ckpt = load_checkpoint(path)
        eng = cls._on_backend(backend, ckpt.config, ckpt.seed, ckpt.state)
        eng.loaded_history = ckpt.history
        return eng

    @classmethod
    def _on_backend(
        cls,
        backend: str,
        config: ConfigRoot,
        seed: int,
        state: Any,
    ) -> Engine:
        """An engine on ``backend``; ``auto`` falls back to the CPU when the GPU fails to start."""
        key = config.experiment
        if backend != "auto":
            return cls(config, seed, create_backend(backend, key), state)
        name, why = auto_choice(key)
        try:
            eng = cls(config, seed, create_backend(name, key), state)
        except (RewireLabError, MemoryError) as exc:
            if name == "cpu":
                raise
            eng = cls(config, seed, create_backend("cpu", key), state)
            eng.backend_note = f"'{name}' failed to start, running on 'cpu': {first_line(exc)}"
            eng.backend_failed = True
            return eng
        eng.backend_note = why
        return eng

    # -- properties -------------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        """The configuration, including live changes made since the build."""
        return self._config

    @property
    def experiment(self) -> Experiment:
        """The experiment this engine runs."""
        return self._experiment

    @property
    def seed(self) -> int:
        """The seed of the random number generator."""
        return self._seed

    @property
    def backend_name(self) -> str:
        """Name of the backend running the network."""
        return self._require().name

    @property
    def step_count(self) -> int:
        """Steps completed."""
        return self._step

    @property
    def t(self) -> float:
        """Model time in seconds."""
        return self._experiment.model_seconds(self._config, self._step)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._backend is None

    @property
    def realtime_factor(self) -> float | None:
        """Model seconds per wall second over the most recent run or step call."""
        return self._last_rtf

    @property
    def mean_realtime_factor(self) -> float | None:
        """Model seconds per wall second over every run and step call so far."""
        if self._wall <= 0.0:
            return None
        return self._experiment.model_seconds(self._config, self._wall_steps) / self._wall

    def steps_for(self, seconds: float) -> int:
        """Whole number of steps in ``seconds`` of model time."""
        return self._experiment.steps_for(self._config, seconds)

    # -- running ----------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance ``n`` time steps."""
        if n < 0:
            raise ValueError(f"cannot step a negative number of steps ({n})")
        be = self._require()
        if n == 0:
            return
        t0 = time.perf_counter()
        events = be.advance(int(n))
        wall = time.perf_counter() - t0
        self._step += int(n)
        self._wall += wall
        self._wall_steps += int(n)
        self._last_rtf = self._experiment.model_seconds(self._config, n) / wall if wall > 0 else None
        if len(events):
            if self.log_events:
                self._log_events.append(events)
            self._pending_events.append(events)
        take_records = getattr(be, "take_records", None)
        if take_records is not None:
            for name, rows in take_records().items():
                if len(rows):
                    self._pending_records.setdefault(name, []).append(rows)

    def run(
        self,
        duration: float,
        *,
        chunk_steps: int = DEFAULT_CHUNK_STEPS,
        callback: Callable[[Engine, int], Any] | None = None,
    ) -> None:
        """Advance ``duration`` seconds of model time.

        ``callback(engine, steps_done)`` is called after every chunk of at most
        ``chunk_steps`` steps (for progress bars and recording).
        """
        if duration < 0:
            raise ValueError(f"cannot run for a negative duration ({duration} s)")
        total = self.steps_for(duration)
        done = 0
        t0 = time.perf_counter()
        while done < total:
            n = min(chunk_steps, total - done)
            self.step(n)
            done += n
            if callback is not None:
                callback(self, n)
        wall = time.perf_counter() - t0
        if total and wall > 0:
            self._last_rtf = self._experiment.model_seconds(self._config, total) / wall

    # -- looking ----------------------------------------------------------------------------------
    def state(self) -> Any:
        """A host copy of the whole state."""
        return self._require().pull_state()

    def snapshot(self) -> Any:
        """Read-only copies of what views and reports need, after the last completed step."""
        be = self._require()
        # a backend may hand a snapshot only what it shows (pull_view) instead of the whole state
        st = getattr(be, "pull_view", be.pull_state)()
        events = np.concatenate(self._pending_events) if self._pending_events else np.zeros(0, EVENT_DTYPE)
        records = {name: np.concatenate(rows) for name, rows in self._pending_records.items()}
        self._pending_events = []
        self._pending_records = {}
        self._snapshot_seq += 1
        return self._experiment.snapshot(
            st,
            self._config,
            seq=self._snapshot_seq,
            backend=be.name,
            realtime_factor=self._last_rtf,
            events=events,
            records=records,
        )

    def take_events(self) -> NDArray[np.void]:
        """The rewiring events recorded since the previous call (EVENT_DTYPE, in time order).

        The first call returns those since the build or checkpoint. The engine lets go of
        the events it returns, so a caller that streams them to a file keeps memory flat.
        Events are recorded when ``run.record_events`` is set, and kept for this call
        while :attr:`log_events` is True; snapshots carry theirs independently.
        """
        chunks, self._log_events = self._log_events, []
        if not chunks:
            return np.zeros(0, EVENT_DTYPE)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    # -- changing ---------------------------------------------------------------------------------
    def set_parameter(self, path: str, value: Any) -> None:
        """Change a live parameter now; structural ones raise :class:`ConfigError`."""
        be = self._require()
        spec = self._config.param_spec(path)
        if not spec.live:
            raise ConfigError("is structural: it takes effect when the network is rebuilt (reset)", path=path)
        new = self._config.replace(path, value)
        self._experiment.apply_live(be, self._config, new, self._seed)
        self._config = new

    def replace_state(self, state: Any) -> None:
        """Replace the whole state (same configuration), e.g. after editing connectivity.

        The caller is trusted with the values (tests and lesions edit states on purpose);
        states read from files go through :func:`sim.checkpoint.load_checkpoint`, which
        checks every value.
        """
        be = self._require()
        exp = self._experiment
        got = {k: (a.shape, a.dtype) for k, a in exp.state_to_arrays(state).items()}
        if got != exp.expected_layout(self._config):
            raise ValueError("the state does not match this engine's configuration")
        be.push_state(state)
        self._step = exp.state_step(state)

    def time_rewiring(self, seconds: float) -> float:
        """Wall seconds the rewiring calls of ``seconds`` of model time take from the current state.

        The network is left unchanged (the calls run on a scratch copy).
        """
        be: Any = self._require()
        if not hasattr(be, "time_rewiring"):
            raise NotImplementedError(f"backend '{be.name}' cannot time its rewiring alone")
        return float(be.time_rewiring(self.steps_for(seconds)))

    # -- saving -----------------------------------------------------------------------------------
    def save_checkpoint(
        self, path: str | Path, history: Mapping[str, NDArray[np.float64]] | None = None
    ) -> None:
        """Write the whole state, configuration and seed to ``path`` atomically.

        The event log is not part of it: events belong to the run's output files.
        ``history``, the run's time series so far (column name -> values, ``t``
        first), is stored with it when given, so that whoever continues the run
        continues its plots.
        """
        be = self._require()
        save_checkpoint(path, Checkpoint(self._config, self._seed, be.name, be.pull_state(), history))

    def load_checkpoint(self, path: str | Path) -> Mapping[str, NDArray[np.float64]] | None:
        """Replace this engine's state by checkpoint ``path``, which must have the same structure.

        Live parameters are taken from the checkpoint. Returns the time series
        saved with it, if any.
        """
        be = self._require()
        ckpt = load_checkpoint(path)
        if ckpt.config.experiment != self._config.experiment:
            raise CheckpointError(
                f"{path}: checkpoint is of experiment '{ckpt.config.experiment}', "
                f"this network is '{self._config.experiment}'"
            )
        diff = structural_differences(self._config, ckpt.config)
        if diff:
            detail = ", ".join(
                f"{p}: {self._config.get(p)!r} here, {ckpt.config.get(p)!r} there" for p in diff[:3]
            )
            raise CheckpointError(f"{path}: checkpoint is for another configuration ({detail})")
        self._config = ckpt.config
        self._seed = ckpt.seed
        self._experiment.attach(be, ckpt.state, ckpt.config, ckpt.seed)
        self._step = self._experiment.state_step(ckpt.state)
        self._log_events = []
        self._pending_events = []
        return ckpt.history

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the backend; further use raises :class:`EngineClosedError`."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Engine:
        self._require()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _require(self) -> Backend:
        if self._backend is None:
            raise EngineClosedError("the engine is closed")
        return self._backend
