"""Sweeps on Dask: the plan and its checks, a local cluster of two processes over every experiment
with a failing combination and a resumed sweep, a scheduler and workers started by the test,
refused workers, and Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import main as cli
from app.sweep import runner
from app.sweep.plan import PRESET_AXIS, parse_sweep_settings, plan_sweep
from app.sweep.runner import run_sweep
from app.sweep.worker import code_version
from sim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

TOPOMAP = f"""\
extends: {ROOT}/presets/topomap/demo.yaml
description: the demo map, briefly
run: {{duration: 0.5, record_interval: 0.25}}
"""
CLASSIFIER = f"""\
extends: {ROOT}/presets/classifier/classifier_digits.yaml
description: a small digits classifier
network: {{n_hidden: 24}}
connectivity: {{p_in: 0.2, p_rec: 0.2}}
data: {{n_steps: 10, batch_size: 8, n_train: 64, n_test: 20}}
run: {{duration: 1.0, record_interval: 0.25}}
"""
CHANNELS = f"""\
extends: {ROOT}/presets/channels/channels_shapes.yaml
description: a small channel network
network: {{layers: 4C3-AP2-8C3-AP2-4FC}}
pruning: {{sparsity: 0.5, fraction: 0.25, first: 0}}
data: {{classes: 4, size: 8, n_train: 64, n_test: 32, batch_size: 8}}
run: {{duration: 2.0}}
"""
#: Passes every check before the run, fails as the run loads its data on the worker.
BROKEN = CLASSIFIER.replace("a small digits classifier", "a classifier whose data is missing").replace(
    "data: {", "data: {name: shd, path: /nonexistent/shd.h5, "
)


def write(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return str(path)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


# -- the plan -------------------------------------------------------------------------------------
def test_the_plan_is_the_cross_product_and_names_each_run_by_what_it_computes(tmp_path: Path) -> None:
    preset = write(tmp_path, "map", TOPOMAP)
    settings = parse_sweep_settings(
        ["rewiring.rate=1000,2000,4000", "stdp.a_plus=0.05", "run.record_interval=0.5"]
    )
    plan = plan_sweep([preset], settings, [1, 2])
    assert len(plan.runs) == 3 * 2
    assert plan.keys == ("rewiring.rate",) and plan.fixed == {"stdp.a_plus": 0.05, "run.record_interval": 0.5}
    assert [(r.values["rewiring.rate"], r.seed) for r in plan.runs][:3] == [(1000, 1), (1000, 2), (2000, 1)]
    assert all(r.config.get("stdp.a_plus") == 0.05 and r.config.get("run.seed") == r.seed for r in plan.runs)
    ids = [r.run_id for r in plan.runs]
    assert len(set(ids)) == len(ids) and ids[0].startswith("map-rate=1000-s1-")
    again = plan_sweep([preset], settings, [2, 1])
    assert {r.run_id for r in again.runs} == set(ids)  # the same runs, whatever the order given
    other = plan_sweep([preset], parse_sweep_settings(["rewiring.rate=1000", "stdp.a_plus=0.06"]), [1])
    assert other.runs[0].run_id not in ids  # another value of a fixed parameter is another run
    own = plan_sweep([preset], [], None)
    assert [r.seed for r in own.runs] == [cli._with_overrides(preset, None, None).get("run.seed")]


def test_values_are_split_on_commas_outside_brackets() -> None:
    assert parse_sweep_settings(["a.b=1,2.5,x", "c.d=[1, 2],[3]", "e.f='p,q',r"]) == [
        ("a.b", (1, 2.5, "x")),
        ("c.d", ([1, 2], [3])),
        ("e.f", ("p,q", "r")),
    ]


def test_several_presets_make_a_swept_dimension(tmp_path: Path) -> None:
    plan = plan_sweep([write(tmp_path, "a", TOPOMAP), write(tmp_path, "b", CLASSIFIER)], [], [3])
    assert plan.keys == (PRESET_AXIS,) and plan.experiments == ("topomap", "classifier")
    assert [r.values[PRESET_AXIS] for r in plan.runs] == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "rewiring.nope=1,2"], "unknown parameter 'rewiring.nope'"),
        (["--set", "rewiring.rate=1000,-5"], "rewiring.rate"),
        (["--set", "rewiring.rate=1000,1000"], "rewiring.rate: a value is listed twice"),
        (["--set", "rewiring.rate=1000,"], "rewiring.rate: an empty value"),
        (["--set", "rewiring.rate"], "expected KEY=VALUE"),
        (["--set", "rewiring.rate=1,2", "--set", "rewiring.rate=3"], "rewiring.rate is given twice"),
        (["--seeds", "1", "1"], "--seeds: a seed is listed twice"),
        (["--duration", "-1"], "--duration"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (
            ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
            "--workers: sets the size of the local cluster",
        ),
        (
            [
                "--set",
                "rewiring.rate=" + ",".join(str(i) for i in range(1, 400)),
                "--seeds",
                *map(str, range(300)),
            ],
            "at most",
        ),
    ],
)
def test_bad_sweeps_are_refused_before_anything_runs(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    preset = write(tmp_path, "map", TOPOMAP)
    assert cli.main(["sweep", "--preset", preset, *args, "--out", str(out)]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_key_one_of_the_presets_lacks_is_named_with_the_preset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter 'rewiring.rate'.*b\.yaml"):
        plan_sweep(
            [write(tmp_path, "a", TOPOMAP), write(tmp_path, "b", CHANNELS)],
            parse_sweep_settings(["rewiring.rate=1,2"]),
        )


# -- on a local cluster ---------------------------------------------------------------------------
def test_a_local_sweep_over_every_experiment_records_a_failure_and_resumes(tmp_path: Path) -> None:
    presets = [
        write(tmp_path, "map", TOPOMAP),
        write(tmp_path, "classifier", CLASSIFIER),
        write(tmp_path, "channels", CHANNELS),
        write(tmp_path, "broken", BROKEN),
    ]
    plan = plan_sweep(presets, [], [1])
    out = tmp_path / "sweep"
    result = run_sweep(plan, out, workers=2, backend="cpu", progress=False)
    rows = {Path(r["preset"]).stem: r for r in read_rows(out / "sweep.csv")}
    assert [rows[name]["status"] for name in ("map", "classifier", "channels", "broken")] == [
        "complete",
        "complete",
        "complete",
        "failed",
    ]
    assert "data.path" in rows["broken"]["error"] and "/nonexistent/shd.h5" in rows["broken"]["error"]
    assert "\n" not in rows["broken"]["error"]
    broken_dir = out / "runs" / rows["broken"]["run_id"]
    assert "Traceback" in (broken_dir / "error.txt").read_text()
    # every complete run has its usual files and its final metrics in the table
    for name, metric in (("map", "ad_conn"), ("classifier", "test_accuracy"), ("channels", "test_accuracy")):
        row = rows[name]
        folder = out / "runs" / row["run_id"]
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["status"] == "complete" and summary["seed"] == 1
        assert (folder / "metrics.csv").is_file() and (folder / "events.npy").is_file()
        assert float(row[metric]) == pytest.approx(summary["final"][metric], rel=1e-5)
        assert row["worker"].startswith("tcp://127.0.0.1:") and float(row["wall_seconds"]) > 0
    workers = {rows[n]["worker"] for n in ("map", "classifier", "channels")}
    assert len(workers) == 2  # both processes of the cluster took runs
    names = {p.name for p in result.files}
    for experiment in ("topomap", "classifier", "channels"):
        assert f"sweep_{experiment}_curves.png" in names
    assert all(p.stat().st_size > 10_000 for p in result.files if p.suffix == ".png")

    # the same command again: the complete runs are skipped, the failed one is run again
    stamps = {
        n: (out / "runs" / rows[n]["run_id"] / "summary.json").stat().st_mtime_ns for n in ("map", "channels")
    }
    error_stamp = (broken_dir / "error.txt").stat().st_mtime_ns
    again = run_sweep(plan, out, workers=2, backend="cpu", progress=False, figures=False)
    assert [s.skipped for s in again.states] == [True, True, True, False]
    assert again.states[3].status == "failed"
    assert (broken_dir / "error.txt").stat().st_mtime_ns > error_stamp
    for n, stamp in stamps.items():
        assert (out / "runs" / rows[n]["run_id"] / "summary.json").stat().st_mtime_ns == stamp
    rows2 = {Path(r["preset"]).stem: r for r in read_rows(out / "sweep.csv")}
    assert rows2["map"]["skipped"] == "true" and rows2["map"]["ad_conn"] == rows["map"]["ad_conn"]


# -- on a scheduler started by the test ------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scheduler(cluster: tuple[str, subprocess.Popen[bytes]]) -> str:
    """The address of a Dask scheduler with two workers of one thread on 127.0.0.1."""
    return cluster[0]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Dask scheduler and a ``dask worker`` process (two workers of one thread, each under a
    nanny) on 127.0.0.1, shared by this module's tests: the address and the worker command's
    process."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = (tmp_path / "scheduler.log").open("w")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=logs,
            stderr=subprocess.STDOUT,
            env=env,
        )
    ]
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
            ],
            stdout=logs,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    )
    try:
        yield address, procs[1]
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()


def test_a_sweep_runs_on_a_scheduler_given_by_address(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    preset = write(tmp_path, "map", TOPOMAP)
    out = tmp_path / "sweep"
    args = ["sweep", "--preset", preset, "--set", "rewiring.rate=1000,2000", "--seeds", "1", "2"]
    assert cli.main([*args, "--scheduler", scheduler, "--out", str(out), "--quiet", "--no-figures"]) == 0
    rows = read_rows(out / "sweep.csv")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"complete"}
    assert sorted((r["rewiring.rate"], r["seed"]) for r in rows) == [
        ("1000", "1"),
        ("1000", "2"),
        ("2000", "1"),
        ("2000", "2"),
    ]
    assert all(r["worker"].startswith("tcp://127.0.0.1:") for r in rows)
    assert "4 of 4 runs complete" in capsys.readouterr().out

    # a client of another version is refused before anything is submitted
    monkeypatch.setattr(runner, "code_version", lambda: "0.0+another")
    assert (
        cli.main([*args, "--seeds", "3", "--scheduler", scheduler, "--out", str(tmp_path / "v"), "--quiet"])
        == 2
    )
    err = capsys.readouterr().err
    assert f"runs Rewire Lab {code_version()}, this command 0.0+another" in err
    assert not list((tmp_path / "v" / "runs").iterdir())


def test_a_worker_that_dies_is_replaced_and_its_run_retried_by_dask(
    tmp_path: Path, cluster: tuple[str, subprocess.Popen[bytes]]
) -> None:
    import threading

    import psutil

    address, workers = cluster
    preset = write(tmp_path, "map", TOPOMAP.replace("duration: 0.5", "duration: 150.0"))
    plan = plan_sweep([preset], [], [1, 2])
    out = tmp_path / "sweep"
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.append(run_sweep(plan, out, scheduler=address, progress=False, figures=False))
    )
    thread.start()
    deadline = time.monotonic() + 120
    while not list(out.glob("runs/*/metrics.csv")) and time.monotonic() < deadline:
        time.sleep(0.1)
    processes = [
        p
        for p in psutil.Process(workers.pid).children(recursive=True)
        if "spawn_main" in " ".join(p.cmdline())
    ]
    assert len(processes) >= 2, [p.cmdline() for p in processes]
    processes[0].kill()  # a worker dies in the middle of a run; its nanny starts another
    processes[0].wait(timeout=10)
    assert not list(out.glob("runs/*/summary.json"))  # it died before either run ended
    thread.join(timeout=240)
    assert not thread.is_alive() and results
    assert [s.status for s in results[0].states] == ["complete", "complete"]
    for state in results[0].states:
        summary = json.loads((out / "runs" / state.run.run_id / "summary.json").read_text())
        assert summary["status"] == "complete" and summary["t_end_s"] == pytest.approx(150.0)


def test_an_unreachable_scheduler_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    preset = write(tmp_path, "map", TOPOMAP)
    assert (
        cli.main(
            ["sweep", "--preset", preset, "--scheduler", address, "--out", str(tmp_path / "o"), "--quiet"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"--scheduler: cannot reach a Dask scheduler at {address}" in err and err.count("\n") == 1


# -- Ctrl-C ---------------------------------------------------------------------------------------
def test_ctrl_c_stops_the_sweep_and_leaves_complete_runs_complete(tmp_path: Path) -> None:
    preset = write(tmp_path, "map", TOPOMAP.replace("duration: 0.5", "duration: 60.0"))
    out = tmp_path / "sweep"
    cmd = [
        sys.executable,
        str(ROOT / "main.py"),
        "sweep",
        "--preset",
        preset,
        "--seeds",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
    ]
    cmd += ["--workers", "2", "--backend", "cpu", "--out", str(out), "--quiet", "--no-figures"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if (out / "sweep.csv").is_file() and any(
            r["status"] == "complete" for r in read_rows(out / "sweep.csv")
        ):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("no run completed")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    rows = read_rows(out / "sweep.csv")
    statuses = [r["status"] for r in rows]
    assert "complete" in statuses and "pending" not in statuses
    assert set(statuses) <= {"complete", "interrupted", "cancelled"}, statuses
    for row in rows:
        summary_path = out / "runs" / row["run_id"] / "summary.json"
        if row["status"] == "complete":
            assert json.loads(summary_path.read_text())["status"] == "complete"
        elif summary_path.exists():
            assert json.loads(summary_path.read_text())["status"] == "interrupted"
    done = statuses.count("complete")
    # the same command again runs only what is not complete
    plan = plan_sweep([preset], [], [1, 2, 3, 4, 5])
    again = run_sweep(plan, out, workers=2, backend="cpu", progress=False, figures=False)
    assert sum(s.skipped for s in again.states) == done
    assert all(s.status == "complete" for s in again.states)
