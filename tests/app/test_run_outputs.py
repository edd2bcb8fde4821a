"""Headless runs lose nothing: targets checked first, one run per folder, streamed results,
periodic checkpoints, SIGTERM and SIGKILL, the user's umask, bounded memory."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.eventlog import EventLogWriter
from app.experiments.topomap.events import EventCounts
from app.experiments.topomap.metrics import METRIC_COLUMNS
from app.headless import run_headless
from app.metrics import MetricsCsvWriter
from app.presets import load_preset
from main import EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USER_ERROR, main
from sim.engine import Engine
from sim.events import EVENT_DTYPE, FORMED, REMOVED

ROOT = Path(__file__).resolve().parents[2]

#: A small, busy run: rewiring every step's worth of attempts, 0.05 s records.
BUSY = """\
extends: {root}/presets/topomap/bamford2010.yaml
name: busy
rewiring:
  rate: 40000.0
run:
  record_interval: 0.05
  duration: 0.2
"""


@pytest.fixture
def busy(tmp_path: Path) -> Path:
    p = tmp_path / "busy.yaml"
    p.write_text(BUSY.format(root=ROOT))
    return p


def _cli(*args: str, umask: int | None = None, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
        **kw,  # type: ignore[call-overload]
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _complete_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a metrics file, asserting that every row has every column as a number."""
    rows = _rows(path)
    for row in rows:
        assert list(row) == list(METRIC_COLUMNS)
        assert all(v not in (None, "") for v in row.values()), row
        [float(v) for v in row.values()]
    return rows


def _wait_for(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


# --------------------------------------------------------------------------- targets first


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("folder", "is a folder; give a file name"),
        ("no_folder", "does not exist"),
        ("proc", "cannot write in /proc"),
    ],
)
def test_bad_checkpoint_target_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, expected: str
) -> None:
    """A checkpoint path that is a folder, in a missing folder or on a file system that takes no
    files is refused at once, before anything is built or written."""
    ckpt = {
        "folder": tmp_path,
        "no_folder": tmp_path / "missing" / "c.npz",
        "proc": Path("/proc/rewire-lab.npz"),
    }[target]
    out = tmp_path / "out"
    t0 = time.perf_counter()
    status = main(["run", "--preset", "bamford2010", "--out", str(out), "--checkpoint", str(ckpt), "--quiet"])
    assert status == EXIT_USER_ERROR
    assert time.perf_counter() - t0 < 5.0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--checkpoint" in err[0] and expected in err[0], err
    assert not out.exists(), "nothing is created before the targets are checked"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--duration", "inf"], "--duration: must be a positive number"),
        (["--duration", "nan"], "--duration: must be a positive number"),
        (["--duration", "1e12"], "up to 1e+07"),
        (["--duration", "1e-9"], "shorter than one time step"),
        (["--checkpoint-every", "1"], "--checkpoint-every: give the file with --checkpoint"),
        (["--backend", "cuda"], "cuda"),
    ],
)
def test_bad_values_leave_no_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    from sim.backends import unavailable_reason

    if args[0] == "--backend" and unavailable_reason("cuda") is None:
        pytest.skip("a CUDA device is usable here")
    out = tmp_path / "out"
    assert main(["run", "--preset", "bamford2010", "--out", str(out), "--quiet", *args]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not out.exists()


def test_resume_refuses_a_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--resume with --preset (or --scale, --seed) is refused: the checkpoint fixes them."""
    ckpt = tmp_path / "c.npz"
    with Engine.build(load_preset("bamford2010"), backend="cpu", seed=1) as eng:
        eng.save_checkpoint(ckpt)
    args = ["run", "--resume", str(ckpt), "--preset", "knight2025", "--out", str(tmp_path / "o")]
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert "--resume" in err and "drop --preset" in err


def test_bench_json_folder_is_refused_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.perf_counter()
    assert main(["bench", "--preset", "bamford2010", "--json", str(tmp_path)]) == EXIT_USER_ERROR
    assert time.perf_counter() - t0 < 5.0
    err = capsys.readouterr()
    assert "--json" in err.err and "is a folder" in err.err
    assert err.out == "", "nothing was measured"


def test_disk_full_while_writing_figures_is_one_line(
    tmp_path: Path, busy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError while saving a figure (ENOSPC) ends in one line and exit 2, no temporary file left."""
    from matplotlib.figure import Figure

    def full(self: Figure, fh: object, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    out = tmp_path / "out"
    assert main(["run", "--preset", str(busy), "--out", str(out), "--quiet"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and ".png" in err[0], err
    assert not list(out.glob(".*.tmp"))
    assert len(_complete_rows(out / "metrics.csv")) == 5, "what was measured is kept"


# --------------------------------------------------------------------------- one run per folder


def test_a_run_replaces_every_file_of_an_earlier_run(tmp_path: Path, busy: Path) -> None:
    """Figures, events and leftovers of an earlier run go; files the run does not own stay."""
    out = tmp_path / "out"
    assert main(["run", "--preset", str(busy), "--out", str(out), "--quiet"]) == 0
    assert (out / "map_quality.png").exists()
    (out / "events.npz").write_bytes(b"an older version's event file")
    (out / ".map_quality.png.abc123.tmp").write_bytes(b"left by a killed run")
    (out / "notes.txt").write_text("mine")
    assert main(["run", "--preset", str(busy), "--out", str(out), "--quiet", "--no-figures"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["connectivity.npz", "events.npy", "metrics.csv", "notes.txt", "summary.json"]


def test_results_and_summary(tmp_path: Path, busy: Path) -> None:
    """events.npy holds every event, counted in the summary with wall time and peak memory."""
    out = tmp_path / "out"
    result = run_headless(
        load_preset(str(busy)),
        out,
        backend="cpu",
        progress=False,
        figures=False,
        checkpoint=tmp_path / "c.npz",
    )
    s = json.loads((out / "summary.json").read_text())
    events = np.load(out / "events.npy")
    assert events.dtype == EVENT_DTYPE and len(events) == s["events_recorded"] > 0
    assert np.all(np.diff(events["step"]) >= 0)
    rows = _complete_rows(out / "metrics.csv")
    formed = sum(float(r["formations"]) for r in rows)
    removed = sum(float(r["eliminations"]) for r in rows)
    assert (events["kind"] == FORMED).sum() == formed and (events["kind"] == REMOVED).sum() == removed
    assert s["status"] == "complete" and s["wall_seconds"] > 0 and s["peak_rss_mb"] > 50
    assert result.checkpoint is not None and result.checkpoint.exists()


# --------------------------------------------------------------------------- streamed files


def test_metrics_csv_is_appended_row_by_row(tmp_path: Path) -> None:
    """Each row is one write at the end of the file: the file parses after every row."""
    path = tmp_path / "metrics.csv"
    out = MetricsCsvWriter(path, METRIC_COLUMNS)
    for i in range(50):
        out.append_row(dict.fromkeys(METRIC_COLUMNS, float(i) + 0.5))
        assert len(_complete_rows(path)) == i + 1
    out.close()
    assert path.read_text().count("\n") == 51


def test_event_log_file_loads_after_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "events.npy"
    rng = np.random.default_rng(1)
    written = []
    with EventLogWriter(path) as log:
        assert len(np.load(path)) == 0
        for size in (0, 1, 17, 1000):
            chunk = np.zeros(size, EVENT_DTYPE)
            chunk["step"] = rng.integers(0, 10**12, size)
            chunk["pre"] = rng.integers(0, 2**31 - 1, size)
            log.append_events(chunk)
            written.append(chunk)
            np.testing.assert_array_equal(np.load(path), np.concatenate(written))
    # Bytes of a chunk whose header update never happened (a kill between the two) are ignored.
    with path.open("ab") as fh:
        fh.write(b"\x01" * 11)
    assert len(np.load(path)) == 1018


def test_event_counts_match_the_analysis() -> None:
    from sim.events import FF, LAT
    from sim.experiments.topomap.analysis import events_by_distance

    rng = np.random.default_rng(2)
    ev = np.zeros(5000, EVENT_DTYPE)
    ev["pre"], ev["post"] = rng.integers(0, 1024, (2, 5000))
    ev["projection"], ev["kind"] = rng.integers(0, 2, (2, 5000))
    counts = EventCounts(32)
    for part in np.array_split(ev, 7):
        counts.add(part)
    for proj in (FF, LAT):
        edges, formed, removed = events_by_distance(ev, 32, projection=proj)
        e2, f2, r2 = counts.of(proj)
        np.testing.assert_array_equal(edges, e2)
        np.testing.assert_array_equal(formed, f2)
        np.testing.assert_array_equal(removed, r2)


# --------------------------------------------------------------------------- memory


def test_the_engine_lets_go_of_events() -> None:
    """Taken events leave the engine; with the log off (the window) none are kept for it."""
    with Engine.build(load_preset("demo"), backend="cpu", seed=1) as eng:
        eng.run(2.0)
        assert len(eng.take_events()) > 0
        assert len(eng.take_events()) == 0
        eng.log_events = False
        eng.run(2.0)
        assert len(eng.take_events()) == 0
        assert len(eng.snapshot().events) > 0, "snapshots still carry their events"


def test_checkpoint_size_does_not_grow_with_model_time(tmp_path: Path) -> None:
    """No event log in a checkpoint: its size follows the synapses (fixed in number here), not the time."""
    sizes = []
    with Engine.build(load_preset("bamford2010"), backend="cpu", seed=1) as eng:
        for seconds in (0.5, 20.0):
            eng.run(seconds)
            path = tmp_path / f"{seconds}.npz"
            eng.save_checkpoint(path)
            with np.load(path) as data:
                assert "events" not in data.files
            sizes.append(path.stat().st_size)
    assert sizes[1] < 1.2 * sizes[0], sizes


# --------------------------------------------------------------------------- interruptions


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path: Path) -> None:
    """SIGTERM: a message, results so far and a checkpoint written, no temporary file, exit 143;
    the checkpoint continues the run."""
    out, ckpt = tmp_path / "out", tmp_path / "c.npz"
    proc = _cli(
        "run",
        "--preset",
        "demo",
        "--duration",
        "3000",
        "--out",
        str(out),
        "--checkpoint",
        str(ckpt),
        "--quiet",
    )
    _wait_for(lambda: (out / "metrics.csv").exists() and len(_rows(out / "metrics.csv")) >= 3)
    proc.send_signal(signal.SIGTERM)
    status, _, err = _finish(proc)
    assert status == EXIT_TERMINATED, err
    assert "SIGTERM" in err and "Traceback" not in err and "--resume" in err
    assert not list(out.glob(".*")) and not list(tmp_path.glob(".*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    rows = _complete_rows(out / "metrics.csv")
    assert float(rows[-1]["t"]) == pytest.approx(summary["t_end_s"])
    assert not (out / "map_quality.png").exists()
    with Engine.from_checkpoint(ckpt, backend="cpu") as eng:
        assert eng.t == pytest.approx(summary["t_end_s"])
    status, _, err = _finish(
        _cli("run", "--resume", str(ckpt), "--duration", "1", "--out", str(tmp_path / "more"), "--quiet")
    )
    assert status == 0, err


@pytest.mark.slow
def test_sigkill_leaves_parsable_files_and_a_checkpoint_to_resume(tmp_path: Path) -> None:
    """After SIGKILL at an arbitrary moment, metrics.csv and events.npy parse, every row is complete,
    and the last periodic checkpoint resumes."""
    out, ckpt = tmp_path / "out", tmp_path / "c.npz"
    proc = _cli(
        "run",
        "--preset",
        "demo",
        "--duration",
        "3000",
        "--out",
        str(out),
        "--checkpoint",
        str(ckpt),
        "--checkpoint-every",
        "10",
        "--quiet",
    )
    _wait_for(ckpt.exists)
    time.sleep(0.37)
    proc.kill()
    _finish(proc)
    rows = _complete_rows(out / "metrics.csv")
    assert len(rows) >= 2
    events = np.load(out / "events.npy")
    assert len(events) > 0 and np.all(np.diff(events["step"]) >= 0)
    with Engine.from_checkpoint(ckpt, backend="cpu") as eng:
        assert eng.t >= 10.0 - 1e-9 and round(eng.t, 6) % 10 == 0
    status, _, err = _finish(
        _cli("run", "--resume", str(ckpt), "--duration", "1", "--out", str(tmp_path / "r"), "--quiet")
    )
    assert status == 0, err


def test_a_stopped_run_equals_a_shorter_run(tmp_path: Path, busy: Path) -> None:
    """Stopping on request writes the state reached: its checkpoint resumes to the whole run exactly."""
    cfg = load_preset(str(busy))
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 2

    part = run_headless(
        cfg, tmp_path / "a", backend="cpu", progress=False, checkpoint=tmp_path / "a.npz", stop=stop
    )
    assert part.interrupted and part.summary["status"] == "interrupted"
    assert part.summary["t_end_s"] == pytest.approx(0.1)
    rest = run_headless(
        cfg,
        tmp_path / "b",
        backend="cpu",
        progress=False,
        figures=False,
        resume=tmp_path / "a.npz",
        duration=0.1,
    )
    whole = run_headless(cfg, tmp_path / "w", backend="cpu", progress=False, figures=False)
    a, b = np.load(tmp_path / "b" / "connectivity.npz"), np.load(tmp_path / "w" / "connectivity.npz")
    for key in ("ff_pre", "ff_post", "ff_weight", "lat_pre", "lat_post", "lat_weight"):
        np.testing.assert_array_equal(a[key], b[key])
    both = np.concatenate([np.load(tmp_path / "a" / "events.npy"), np.load(tmp_path / "b" / "events.npy")])
    np.testing.assert_array_equal(both, np.load(tmp_path / "w" / "events.npy"))
    assert rest.summary["final"] == whole.summary["final"]
    # The resumed run's table continues the stopped one's: from t = 0, every row of the whole run.
    t_rest, t_whole = rest.metrics["t"], whole.metrics["t"]
    assert t_rest[0] == 0.0 and np.all(np.diff(t_rest) > 0) and t_rest[-1] == pytest.approx(t_whole[-1])
    common = np.isin(np.round(t_rest, 9), np.round(t_whole, 9))
    assert common.sum() == len(t_whole)
    for column in ("ff_synapses", "lat_synapses", "sigma_aff_conn", "ad_weight"):
        np.testing.assert_array_equal(rest.metrics[column][common], whole.metrics[column])
    assert rest.summary["t_start_s"] == pytest.approx(0.1)
    assert len(_rows(tmp_path / "b" / "metrics.csv")) == len(t_rest)


def test_periodic_checkpoints_are_written_during_the_run(
    tmp_path: Path, busy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[float] = []
    original = Engine.save_checkpoint

    def spy(self: Engine, path: str | Path, history: Any = None) -> None:
        saved.append(round(self.t, 6))
        original(self, path, history)

    monkeypatch.setattr(Engine, "save_checkpoint", spy)
    run_headless(
        load_preset(str(busy)),
        tmp_path / "o",
        backend="cpu",
        progress=False,
        figures=False,
        checkpoint=tmp_path / "c.npz",
        checkpoint_every=0.07,
    )
    assert saved == [0.07, 0.14, 0.2]


# --------------------------------------------------------------------------- permissions


def test_files_get_the_users_umask(tmp_path: Path, busy: Path) -> None:
    out, ckpt = tmp_path / "out", tmp_path / "c.npz"
    status, _, err = _finish(
        _cli(
            "run", "--preset", str(busy), "--out", str(out), "--checkpoint", str(ckpt), "--quiet", umask=0o027
        )
    )
    assert status == 0, err
    files = [*out.iterdir(), ckpt]
    assert len(files) == 9
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o640, f


def test_sigint_in_bench_exits_130(tmp_path: Path) -> None:
    """Ctrl-C outside a run also gets one line and the conventional status."""
    proc = _cli(
        "bench", "--preset", "bamford2010", "--duration", "300", env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("preset")  # the header: the measurement has begun
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    status, _, err = _finish(proc)
    assert status == EXIT_INTERRUPTED and "Traceback" not in err and "SIGINT" in err


def test_results_are_written_before_the_checkpoint(
    tmp_path: Path, busy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """If the checkpoint cannot be written at the end, the run's results are already on disk."""
    from sim.errors import CheckpointError

    def fail(self: Engine, path: str | Path, history: Any = None) -> None:
        raise CheckpointError(f"{path}: cannot write checkpoint (disk full)")

    monkeypatch.setattr(Engine, "save_checkpoint", fail)
    out = tmp_path / "out"
    args = [
        "run",
        "--preset",
        str(busy),
        "--out",
        str(out),
        "--checkpoint",
        str(tmp_path / "c.npz"),
        "--quiet",
    ]
    assert main(args) == EXIT_USER_ERROR
    assert "disk full" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert {p.name for p in out.iterdir()} >= {
        "connectivity.npz",
        "events.npy",
        "metrics.csv",
        "map_quality.png",
    }
