"""Running a sweep's plan on Dask: a local cluster of worker processes by default, or any Dask
scheduler the user has (started by hand, or by dask-jobqueue on a batch cluster).

Dask does the scheduling: the client submits one task per run that is not yet
complete, Dask places them on workers, retries a task whose worker died
(``distributed.scheduler.allowed-failures``) and carries a run's exception back.
This module only decides what to submit, follows the futures, keeps
``sweep.csv`` up to date after every run, and stops cleanly on Ctrl-C.

Every worker writes its runs into ``DIR/runs/<id>/``, so the output folder
must be on a file system every worker sees (as a cluster's shared home or
scratch); the client checks that, and that every worker runs the same Rewire
Lab, before it submits anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sweep.plan import PlannedRun, SweepPlan
from app.sweep.worker import ERROR_FILE, RunOutcome, RunTask, VersionMismatchError, code_version, execute
from sim.errors import RewireLabError, one_line
from sim.files import check_folder_target, write_atomic

#: ``--scheduler`` value that starts a cluster of worker processes on this machine.
LOCAL = "local"
#: The largest ``summary.json`` read back (a run's own is a few kB).
MAX_SUMMARY_BYTES = 16 * 2**20
#: Seconds to try to reach a scheduler given by address.
CONNECT_TIMEOUT_S = 10.0
#: Seconds to wait for a first worker to join a scheduler given by address.
WORKER_WAIT_S = 60.0
#: Seconds the runs still going get, after Ctrl-C, to stop after their current chunk.
STOP_GRACE_S = 30.0
#: Seconds between two looks at the futures (and refreshes of the progress bar).
POLL_S = 0.5
#: Environment of a local cluster's worker processes: one thread per kernel library.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}

#: Dask settings of a local cluster: no ``MALLOC_TRIM_THRESHOLD_`` for the worker processes. Dask's
#: nanny sets it to 64 KiB by default, which makes glibc give memory back after every large free;
#: a channel network's training (large tensors made and freed every batch) then ran 1.5x slower.
LOCAL_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

#: The states of a run in ``sweep.csv``.
COMPLETE, FAILED, INTERRUPTED, CANCELLED = "complete", "failed", "interrupted", "cancelled"


class SweepError(RewireLabError, RuntimeError):
    """The sweep cannot start: no scheduler, no worker, a worker that cannot run it."""


@dataclass
class RunState:
    """Where one planned run stands."""

    run: PlannedRun
    status: str = "pending"
    wall_seconds: float = math.nan
    worker: str = ""
    error: str = ""
    #: Complete before this sweep started (found in its folder).
    skipped: bool = False
    #: A complete run's final metrics and summary results, read from its files once
    #: (:func:`app.sweep.report.run_results`).
    results: dict[str, Any] | None = None


@dataclass
class SweepResult:
    """What a sweep did."""

    out_dir: Path
    states: list[RunState]
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    wall_seconds: float = 0.0

    def count(self, status: str) -> int:
        """Runs in ``status``."""
        return sum(1 for s in self.states if s.status == status)


def run_dir(out_dir: Path, run: PlannedRun) -> Path:
    """The folder of ``run``'s files."""
    return out_dir / "runs" / run.run_id


def read_summary(folder: Path) -> dict[str, Any] | None:
    """``folder/summary.json`` as a dict, or None when it is missing, too large or unreadable."""
    path = folder / "summary.json"
    try:
        if path.stat().st_size > MAX_SUMMARY_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(out_dir: Path, run: PlannedRun) -> bool:
    """Whether ``run`` finished in an earlier sweep: its summary says complete, for this very
    configuration and seed."""
    summary = read_summary(run_dir(out_dir, run))
    if summary is None or summary.get("status") != COMPLETE:
        return False
    expected = json.loads(json.dumps(run.config.to_dict(), default=str))
    return summary.get("config") == expected and summary.get("seed") == run.seed


def check_workers(workers: int | None, scheduler: str) -> None:
    """``--workers``: at least 1, and only for the local cluster."""
    if workers is not None and workers < 1:
        raise SweepError(f"--workers: must be at least 1, got {workers}")
    if workers is not None and scheduler != LOCAL:
        raise SweepError(
            "--workers: sets the size of the local cluster; the scheduler at --scheduler has its own workers"
        )


def default_workers() -> int:
    """Worker processes of a local cluster: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_sweep(
    plan: SweepPlan,
    out_dir: Path,
    *,
    scheduler: str = LOCAL,
    workers: int | None = None,
    backend: str = "auto",
    figures: bool = True,
    progress: bool = True,
    on_change: Callable[[list[RunState]], None] | None = None,
) -> SweepResult:
    """Run every run of ``plan`` not already complete in ``out_dir`` on Dask.

    ``scheduler`` is :data:`LOCAL` (a cluster of ``workers`` processes, one
    thread each, started here and stopped at the end) or a scheduler's address
    (``tcp://host:8786``). ``sweep.csv`` is rewritten after every run that ends
    (and ``on_change`` called with every run's state); the sweep's figures are
    drawn at the end. A run that fails is recorded with its one-line error and
    the others go on. ``KeyboardInterrupt`` (Ctrl-C) asks the runs going to
    stop, cancels the rest, writes ``sweep.csv`` and is raised again.
    """
    from app.sweep.report import write_sweep_csv, write_sweep_figures

    out_dir = Path(out_dir)
    check_folder_target(out_dir, "--out")
    check_workers(workers, scheduler)
    wall0 = time.perf_counter()
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    states = [RunState(run) for run in plan.runs]
    for state in states:
        if is_complete(out_dir, state.run):
            summary = read_summary(run_dir(out_dir, state.run)) or {}
            state.status, state.skipped = COMPLETE, True
            state.wall_seconds = float(summary.get("wall_seconds", math.nan))
    todo = [s for s in states if s.status != COMPLETE]

    def changed() -> None:
        write_sweep_csv(out_dir, plan, states)
        if on_change is not None:
            on_change(states)

    result = SweepResult(out_dir, states)
    changed()
    try:
        if todo:
            with _client(scheduler, workers) as client:
                _check_workers(client, out_dir)
                _follow(client, plan, todo, out_dir, backend, figures, progress, changed)
    except KeyboardInterrupt:
        result.interrupted = True
        changed()
        raise
    finally:
        result.wall_seconds = time.perf_counter() - wall0
    result.files = [out_dir / "sweep.csv"]
    if figures:
        result.files += write_sweep_figures(out_dir, plan, states)
    return result


@contextlib.contextmanager
def _client(scheduler: str, workers: int | None) -> Iterator[Any]:
    """A Dask client: of a local cluster started (and stopped) here, or of the given scheduler."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler == LOCAL:
        n = workers or default_workers()
        with dask.config.set(LOCAL_CONFIG):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: two sweeps on one machine do not collide
                silence_logs=logging.ERROR,
                env=WORKER_ENV,
            )
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(
            f"--scheduler: cannot reach a Dask scheduler at {scheduler} ({one_line(str(exc), 200)})"
        ) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise SweepError(
                f"--scheduler: no worker joined the scheduler at {scheduler} within {WORKER_WAIT_S:g} s "
                "(start some with 'dask worker " + scheduler + " --nthreads 1')"
            ) from None
        yield client


def _check_workers(client: Any, out_dir: Path) -> None:
    """Refuse workers of another Rewire Lab version, and workers that cannot see ``out_dir``."""
    token = secrets.token_hex(8)
    probe = out_dir / ".sweep-probe"
    write_atomic(probe, lambda fh: fh.write(token.encode()))
    folder = str(out_dir.resolve())

    def look(folder: str) -> tuple[str, str]:  # pickled by value: runs where Rewire Lab may be missing
        try:
            from app.sweep.worker import code_version as version
        except ImportError as exc:
            return "", f"Rewire Lab is not importable there ({exc})"
        try:
            with open(os.path.join(folder, ".sweep-probe"), encoding="utf-8") as fh:
                seen = fh.read()
        except OSError:
            seen = ""
        return version(), seen

    try:
        answers = client.run(look, folder)
    finally:
        probe.unlink(missing_ok=True)
    mine = code_version()
    for address, (version, seen) in sorted(answers.items()):
        if not version:
            raise VersionMismatchError(f"worker {address}: {seen}; install Rewire Lab on every worker")
        if version != mine:
            raise VersionMismatchError(
                f"worker {address} runs Rewire Lab {version}, this command {mine}: "
                "install the same version on every worker"
            )
        if seen != token:
            raise SweepError(
                f"worker {address} cannot see the output folder {folder}: it must be on a file system "
                "every worker shares"
            )


def _follow(
    client: Any,
    plan: SweepPlan,
    todo: list[RunState],
    out_dir: Path,
    backend: str,
    figures: bool,
    progress: bool,
    changed: Callable[[], None],
) -> None:
    """Submit ``todo``, follow the futures until every one has ended, record each as it ends."""
    from distributed import Event

    stop_name = f"rewire-lab-stop-{secrets.token_hex(8)}"
    stop = Event(stop_name, client=client)
    version = code_version()
    futures: dict[Any, RunState] = {}
    for index, state in enumerate(todo):  # in the plan's order: submitted and run first to last
        run = state.run
        folder = run_dir(out_dir, run)
        task = RunTask(
            run.run_id, run.config_dict(), str(folder.resolve()), backend, figures, version, stop_name
        )
        future = client.submit(
            execute,
            task,
            key=f"rewire-lab-{run.run_id}-{secrets.token_hex(4)}",
            priority=-index,
            pure=False,
        )
        futures[future] = state
    bar = _progress_bar(len(todo), progress, len(plan.runs) - len(todo))
    pending = set(futures)
    shown = ""
    try:
        while pending:
            done = {f for f in pending if f.done()}
            pending -= done
            if not done:
                time.sleep(POLL_S)
            for future in done:
                _record(future, futures[future], out_dir)
            if done:
                changed()
            if bar is not None:
                text = _postfix(client, futures, pending)
                if done or text != shown:
                    shown = text
                    bar.set_postfix_str(text, refresh=False)
                    bar.update(len(done))
                    bar.refresh()
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        stop.set()  # a run that starts from now on returns at once
        assigned = _assigned(client, pending)
        client.cancel([f for f in pending if f not in assigned])
        print(
            f"\nstopping: {_executing(client, assigned)} run(s) going end after their current chunk; "
            "the runs not started are cancelled",
            file=sys.stderr,
        )
        running = assigned
        deadline = time.monotonic() + STOP_GRACE_S
        try:
            while any(not f.done() for f in running) and time.monotonic() < deadline:
                time.sleep(POLL_S / 5)
        except KeyboardInterrupt:
            pass
        done = {f for f in running if f.done()}
        for future, state in futures.items():
            if future in pending:
                if future in done:
                    _record(future, state, out_dir)
                elif is_complete(out_dir, state.run):  # ended as it was cancelled
                    state.status = COMPLETE
                else:
                    state.status = CANCELLED
        client.cancel(list(pending))
        raise
    finally:
        if bar is not None:
            bar.close()


def _record(future: Any, state: RunState, out_dir: Path) -> None:
    """Take a finished future's outcome into ``state``."""
    if future.status == "finished":
        outcome: RunOutcome = future.result()
        state.status = outcome.status if outcome.status in (COMPLETE, INTERRUPTED, CANCELLED) else FAILED
        state.wall_seconds = outcome.wall_seconds
        state.worker = outcome.worker
        state.error = ""
        return
    if future.status == "cancelled":
        state.status = CANCELLED
        return
    exc = future.exception()
    state.status = FAILED
    state.error = one_line(f"{type(exc).__name__}: {exc}", 500)
    first = _first_line(run_dir(out_dir, state.run) / ERROR_FILE)
    if first and type(exc).__name__ != "KilledWorker":
        state.error = first


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return one_line(fh.readline(2000).strip(), 500)
    except OSError:
        return ""


def _processing(client: Any) -> dict[str, set[str]]:
    """The keys every worker holds to run (executing, or waiting there for a thread)."""
    try:
        return {worker: set(keys) for worker, keys in client.processing().items()}
    except Exception:  # the scheduler is going away
        return {}


def _assigned(client: Any, pending: set[Any]) -> set[Any]:
    """The futures of ``pending`` the scheduler has handed to a worker."""
    keys = set().union(*_processing(client).values())
    return {f for f in pending if f.key in keys}


def _executing(client: Any, futures: set[Any]) -> int:
    """How many of ``futures`` are running now: on each worker, as many as it has threads."""
    keys = {f.key for f in futures}
    try:
        threads = client.nthreads()
    except Exception:
        return 0
    return sum(min(len(held & keys), threads.get(worker, 1)) for worker, held in _processing(client).items())


def _postfix(client: Any, futures: dict[Any, RunState], pending: set[Any]) -> str:
    failed = sum(1 for f, s in futures.items() if f not in pending and s.status == FAILED)
    return f"running {_executing(client, pending)}, failed {failed}"


def _progress_bar(total: int, enabled: bool, skipped: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    desc = "sweep" + (f" ({skipped} complete before)" if skipped else "")
    return tqdm(
        total=total,
        desc=desc,
        unit="run",
        bar_format="{desc}: {n}/{total} runs done |{bar}| [{elapsed}<{remaining}{postfix}]",
    )
