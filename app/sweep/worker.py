"""What a Dask worker does for a sweep: check it runs the same Rewire Lab as the client, then run
one planned run headless into its folder.

The functions here are submitted by :mod:`app.sweep.runner` and run in the
worker's process. Each run uses one thread for its kernels (Numba, PyTorch,
BLAS): the sweep's parallelism is across runs, so runs sharing a machine do not
oversubscribe its cores. A run asks the sweep's stop event every second or so
and, once it is set (the user pressed Ctrl-C), ends after its current chunk of
steps without figures, so its folder is marked interrupted rather than complete.
"""

from __future__ import annotations

import functools
import hashlib
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.errors import RewireLabError, one_line
from sim.files import write_atomic

#: The packages whose source makes up the version a sweep's workers must share.
SOURCE_PACKAGES = ("sim", "app")
#: A run's traceback, written next to its outputs when it fails.
ERROR_FILE = "error.txt"
#: Seconds between two looks at the stop event.
STOP_POLL_S = 1.0


class VersionMismatchError(RewireLabError, RuntimeError):
    """A worker runs another version of Rewire Lab than the client."""


@functools.cache
def code_version() -> str:
    """This installation's version: the package version and a digest of the simulator's and the
    application's source, so two checkouts that differ in any line of code differ here."""
    try:
        version = metadata.version("rewire-lab")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return f"{version}+{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (plain data: it travels to the worker)."""

    run_id: str
    config: dict[str, Any]
    out_dir: str
    backend: str
    figures: bool
    version: str
    #: The name of the sweep's Dask event that asks running runs to stop (None: never asked).
    stop_event: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """What a worker reports back for a run that ended without an error."""

    run_id: str
    status: str
    wall_seconds: float
    worker: str
    backend: str


def execute(task: RunTask) -> RunOutcome:
    """Run ``task`` on this worker and return how it ended.

    A failure raises (Dask carries the exception to the client, which records
    its one-line message); its traceback is also written to the run's
    ``error.txt``. A worker of another Rewire Lab version raises
    :class:`VersionMismatchError` before running anything.
    """
    worker = _worker_address()
    mine = code_version()
    if mine != task.version:
        raise VersionMismatchError(
            f"worker {worker} runs Rewire Lab {mine}, the sweep was started with {task.version}: "
            "install the same version on every worker"
        )
    limit_threads()
    from app.headless import run_headless
    from sim.config import config_from_dict

    out_dir = Path(task.out_dir)
    stop = _StopFlag(task.stop_event) if task.stop_event else None
    t0 = time.perf_counter()
    if stop is not None and stop():  # the sweep was stopped before this run began
        return RunOutcome(task.run_id, "cancelled", 0.0, worker, task.backend)
    (out_dir / ERROR_FILE).unlink(missing_ok=True)
    try:
        config = config_from_dict(task.config, source=f"sweep run {task.run_id}")
        result = run_headless(
            config,
            out_dir,
            backend=task.backend,
            progress=False,
            figures=task.figures,
            stop=stop,
        )
    except Exception as exc:
        text = f"{one_line(f'{type(exc).__name__}: {exc}')}\n\n{traceback.format_exc()}"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(out_dir / ERROR_FILE, lambda fh: fh.write(text.encode()))
        except OSError:
            pass  # the exception itself still reaches the client
        raise
    return RunOutcome(
        run_id=task.run_id,
        status=str(result.summary["status"]),
        wall_seconds=time.perf_counter() - t0,
        worker=worker,
        backend=str(result.summary["backend"]),
    )


def limit_threads() -> None:
    """One thread for this process's kernels: Numba's in this thread, BLAS and OpenMP from here on,
    and PyTorch's if a run has loaded it (one imported later reads ``OMP_NUM_THREADS``)."""
    import os
    import sys

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    import numba

    numba.set_num_threads(1)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


class _StopFlag:
    """``stop()`` for :func:`~app.headless.run_headless`: whether the sweep's event is set, asked at
    most every :data:`STOP_POLL_S` seconds (each look is a round trip to the scheduler)."""

    def __init__(self, name: str) -> None:
        from distributed import Event

        self._event = Event(name)
        self._next = 0.0
        self._set = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._set and now >= self._next:
            self._next = now + STOP_POLL_S
            try:
                self._set = bool(self._event.is_set())
            except Exception:  # the scheduler is gone: the client has ended the sweep
                self._set = True
        return self._set
