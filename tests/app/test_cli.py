"""The command line: headless runs, the benchmark, preset listing and bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.experiments.topomap.metrics import METRIC_COLUMNS
from app.presets import PRESETS_DIR, list_presets
from main import EXIT_USER_ERROR, main

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_presets_lists_every_preset_on_one_line_under_its_experiment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    headers = [line for line in lines if not line.startswith(" ")]
    presets = [line for line in lines if line.startswith("  ")]
    assert headers == [
        "topomap (topographic map: rewiring and STDP form a map):",
        "classifier (sparse classifier: e-prop learning with DEEP R rewiring):",
        "channels (channel masks: pruning and regrowing conv channels by spiking activity):",
    ]
    assert lines[0] == headers[0]
    names = {p.name for p in list_presets()}
    assert len(presets) == len(names)
    assert {line.split()[0] for line in presets} == names
    assert {"bamford2010", "bogdan2018", "knight2025", "demo"} <= names
    assert all(len(line.split()) > 1 for line in presets), "every preset has a description"
    assert {p.experiment for p in list_presets()} == {"topomap", "classifier", "channels"}
    classifier = {p.name for p in list_presets() if p.experiment == "classifier"}
    for base in ("classifier_yinyang", "classifier_digits", "classifier_shd", "classifier_bench"):
        assert {base, f"{base}_static", f"{base}_dense"} <= classifier


def test_presets_resolve_by_bare_name_or_with_their_experiment(tmp_path: Path) -> None:
    from app.presets import preset_path
    from sim.errors import ConfigError

    assert preset_path("demo") == preset_path("topomap/demo") == PRESETS_DIR / "topomap" / "demo.yaml"
    with pytest.raises(ConfigError, match="unknown preset 'nothing'"):
        preset_path("nothing")
    # A name in two experiments' folders must be given with its experiment.
    for key in ("topomap", "other"):
        (tmp_path / key).mkdir()
        (tmp_path / key / "same.yaml").write_text("description: x\n")
    with pytest.raises(ConfigError, match=r"several experiments: say which \(topomap/same, other/same\)"):
        preset_path("same", tmp_path)
    assert preset_path("other/same", tmp_path) == tmp_path / "other" / "same.yaml"


def test_run_writes_metrics_summary_connectivity_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "run"
    preset = tmp_path / "short.yaml"
    preset.write_text(
        f"extends: {PRESETS_DIR / 'topomap' / 'bamford2010.yaml'}\nrun: {{record_interval: 0.1}}\n"
    )
    assert (
        main(
            ["run", "--preset", str(preset), "--duration", "0.3", "--seed", "5", "--out", str(out), "--quiet"]
        )
        == 0
    )
    rows = _rows(out / "metrics.csv")
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [float(r["t"]) for r in rows] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert float(rows[0]["sigma_aff_conn"]) > 1.5
    assert 5.0 < float(rows[-1]["rate_source"]) < 40.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 5 and summary["backend"] == "cpu"
    assert summary["realtime_factor"] > 0
    assert summary["config"]["network"]["scale"] == 1
    assert summary["final"]["ff_synapses"] == float(rows[-1]["ff_synapses"])
    assert summary["reference"]["sigma_aff_conn"] == 1.95
    with np.load(out / "connectivity.npz", allow_pickle=False) as conn:
        assert conn["ff_pre"].shape == conn["ff_post"].shape == conn["ff_weight"].shape
        assert conn["ff_pre"].size == int(float(rows[-1]["ff_synapses"]))
    for name in ("map_quality.png", "synapses.png", "topographic_map.png", "receptive_field.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp")), "no temporary files left behind"


def test_run_duration_defaults_to_the_preset(tmp_path: Path) -> None:
    preset = tmp_path / "tiny.yaml"
    preset.write_text(
        f"extends: {PRESETS_DIR / 'topomap' / 'knight2025.yaml'}\n"
        "run: {duration: 0.05, record_interval: 0.05}\n"
    )
    assert (
        main(["run", "--preset", str(preset), "--out", str(tmp_path / "o"), "--quiet", "--no-figures"]) == 0
    )
    rows = _rows(tmp_path / "o" / "metrics.csv")
    assert float(rows[-1]["t"]) == pytest.approx(0.05)


def test_checkpoint_and_resume_continue_the_run_exactly(tmp_path: Path) -> None:
    common = ["--preset", "bamford2010", "--quiet", "--no-figures"]
    assert main(["run", *common, "--duration", "0.2", "--out", str(tmp_path / "whole")]) == 0
    ck = tmp_path / "half.npz"
    assert (
        main(["run", *common, "--duration", "0.1", "--out", str(tmp_path / "a"), "--checkpoint", str(ck)])
        == 0
    )
    assert (
        main(
            [
                "run",
                "--resume",
                str(ck),
                "--duration",
                "0.1",
                "--out",
                str(tmp_path / "b"),
                "--quiet",
                "--no-figures",
            ]
        )
        == 0
    )
    whole = np.load(tmp_path / "whole" / "connectivity.npz")
    resumed = np.load(tmp_path / "b" / "connectivity.npz")
    for key in ("ff_pre", "ff_post", "ff_weight", "lat_pre", "lat_post", "lat_weight"):
        assert np.array_equal(whole[key], resumed[key]), key


def test_bench_prints_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "bench.json"
    assert (
        main(
            ["bench", "--preset", "knight2025", "--scales", "1", "--duration", "0.05", "--json", str(target)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "knight2025" in out and "realtime" in out
    records = json.loads(target.read_text())
    assert len(records) == 1
    rec = records[0]
    for key in (
        "preset",
        "backend",
        "scale",
        "neurons_per_layer",
        "synapses",
        "realtime_factor",
        "rewiring_share",
    ):
        assert key in rec
    assert rec["neurons_per_layer"] == 256 and rec["synapses"] > 0
    assert rec["realtime_factor"] > 0 and 0.0 <= rec["rewiring_share"] <= 1.0
    # knight2025: 10 attempts per projection per 1 ms call at scale 1.
    assert rec["attempts_per_call"] == pytest.approx(20.0) and rec["rewiring_call_us"] > 0


def test_bench_sweeps_rewiring_rates(tmp_path: Path) -> None:
    """--rewiring-rates measures the cost per call at each rate; a bad rate is refused up front."""
    target = tmp_path / "rates.json"
    args = ["bench", "--preset", "knight2025", "--duration", "0.02", "--json", str(target)]
    assert main([*args, "--rewiring-rates", "10000", "40000"]) == 0
    recs = json.loads(target.read_text())
    assert [r["rewiring_rate"] for r in recs] == [10000.0, 40000.0]
    assert recs[1]["attempts_per_call"] == pytest.approx(4 * recs[0]["attempts_per_call"])
    assert main([*args, "--rewiring-rates", "-5"]) != 0


def test_bench_without_rewiring_reports_no_share(tmp_path: Path) -> None:
    target = tmp_path / "b.json"
    assert (
        main(
            ["bench", "--preset", "knight2025", "--duration", "0.02", "--no-rewiring", "--json", str(target)]
        )
        == 0
    )
    rec = json.loads(target.read_text())[0]
    assert rec["rewiring"] is False and rec["rewiring_share"] == 0.0


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def bad_yaml(tmp_path: Path) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text("network:\n  scale: [1\n")
    return p


@pytest.fixture
def bad_key(tmp_path: Path) -> Path:
    p = tmp_path / "key.yaml"
    p.write_text("rewiring:\n  ff:\n    p_form: 1.6\n")
    return p


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown_preset", "unknown preset 'nope'"),
        ("malformed_yaml", "malformed YAML: line"),
        ("bad_value", "rewiring.ff.p_form: must be in [0, 1], got 1.6"),
        ("impossible_scale", "network.scale: must be in [1, 64], got 0"),
        ("unwritable_out", "a_file is not a folder"),
        ("corrupt_checkpoint", "not a checkpoint file"),
        ("negative_duration", "--duration: must be a positive number"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    case: str, expected: str, tmp_path: Path, bad_yaml: Path, bad_key: Path
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"\x00" * 100)
    out = str(tmp_path / "out")
    args = {
        "unknown_preset": ["run", "--preset", "nope", "--out", out],
        "malformed_yaml": ["run", "--preset", str(bad_yaml), "--out", out],
        "bad_value": ["run", "--preset", str(bad_key), "--out", out],
        "impossible_scale": ["run", "--preset", "bamford2010", "--scale", "0", "--out", out],
        "unwritable_out": [
            "run",
            "--preset",
            "bamford2010",
            "--duration",
            "0.01",
            "--out",
            str(blocker / "sub"),
        ],
        "corrupt_checkpoint": ["run", "--resume", str(corrupt), "--out", out],
        "negative_duration": ["run", "--preset", "bamford2010", "--duration", "-1", "--out", out],
    }[case]
    result = _cli(*args)
    assert result.returncode == EXIT_USER_ERROR
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    if case == "bad_value":
        assert str(bad_key) in lines[0], "the message names the file"


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    result = _cli("run", "--backend", "tpu", "--out", str(tmp_path))
    assert result.returncode == EXIT_USER_ERROR
    assert "invalid choice: 'tpu'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unavailable_backend_says_why(tmp_path: Path) -> None:
    from sim.backends import unavailable_reason

    reason = unavailable_reason("cuda")
    if reason is None:
        pytest.skip("a CUDA device is usable here")
    result = _cli("run", "--backend", "cuda", "--duration", "0.01", "--out", str(tmp_path))
    assert result.returncode == EXIT_USER_ERROR
    assert "backend 'cuda' is unavailable" in result.stderr and reason in result.stderr


def test_failed_run_keeps_earlier_output(tmp_path: Path) -> None:
    """A run that fails on bad input leaves files already in the output folder untouched."""
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--preset",
                "bamford2010",
                "--duration",
                "0.02",
                "--out",
                str(out),
                "--quiet",
                "--no-figures",
            ]
        )
        == 0
    )
    before = (out / "metrics.csv").read_bytes()
    assert main(["run", "--preset", "bamford2010", "--scale", "0", "--out", str(out)]) == EXIT_USER_ERROR
    assert (out / "metrics.csv").read_bytes() == before


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("big", "--export-size: expected WIDTHxHEIGHT in pixels, such as 1920x1080; got 'big'"),
        ("1920x", "--export-size: expected WIDTHxHEIGHT"),
        ("8x600", "--export-size: width must be 16 to 8192 pixels, got 8"),
        ("800x9000", "--export-size: height must be 16 to 8192 pixels, got 9000"),
    ],
)
def test_bad_export_size_is_refused_before_the_window_opens(
    value: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--run-for", "1", "--export-views", str(tmp_path / "views"), "--export-size", value]
    assert main(args) == EXIT_USER_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "views").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--run-for", "1"], "--run-for needs --screenshot FILE, --export-views DIR or both"),
        (["--export-views", "{tmp}/v"], "--export-views needs --run-for SECONDS"),
        (
            ["--run-for", "1", "--screenshot", "{tmp}/x.png", "--export-size", "800x600"],
            "give --export-views",
        ),
        (["--run-for", "1", "--screenshot", "{tmp}/shot.bmp"], "--screenshot: {tmp}/shot.bmp: the file name"),
        (["--run-for", "1", "--screenshot", "{tmp}/shot"], "must end in .png, .jpg, .jpeg; got no suffix"),
        (["--run-for", "1", "--screenshot", "{tmp}/nowhere/x.jpg"], "--screenshot: folder"),
        (
            ["--run-for", "1", "--export-views", "{tmp}/a_file"],
            "--export-views: {tmp}/a_file exists and is not",
        ),
    ],
)
def test_scripted_options_are_checked_before_the_window_opens(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_file").write_text("x")
    assert main([a.format(tmp=tmp_path) for a in args]) == EXIT_USER_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected.format(tmp=tmp_path) in lines[0], lines


def test_scripted_mode_exports_every_view_and_a_jpeg_screenshot(tmp_path: Path) -> None:
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("no display for the window (the GUI tests run under Xvfb)")
    views, shot = tmp_path / "views", tmp_path / "shot.jpg"
    result = _cli(
        *("--preset", "demo", "--backend", "cpu", "--run-for", "1.5"),
        *("--screenshot", str(shot), "--export-views", str(views), "--export-size", "640x360"),
    )
    assert result.returncode == 0, result.stderr
    printed = [line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("view_image=")]
    files = sorted(views.iterdir())
    assert sorted(printed) == [str(f) for f in files]
    assert len(files) == 7 and {"map.png", "connectivity.png", "events.png"} <= {f.name for f in files}
    for f in files:
        assert _png_size(f) == (640, 360), f.name
    assert shot.read_bytes()[:3] == b"\xff\xd8\xff", "the screenshot is a JPEG"
    assert not (tmp_path / "shot.jpg.png").exists()
    assert result.stdout.strip().splitlines()[-1].startswith("realtime_factor=")
