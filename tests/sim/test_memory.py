"""Tests of the memory estimate: sizes that cannot fit are refused in one line, before allocating."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.experiments.topomap.build import build_state
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.memory import (
    HEADROOM,
    STATE_COPIES,
    available_bytes,
    check_fits,
    estimate_bytes,
    format_bytes,
)
from sim.synapses import empty_table
from tests.conftest import small_config

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30
PARTS = {"tables", "synapses", "neurons", "snapshots", "analysis", "buffers", "total"}
#: Rows of 2048 synapses at scale 64 need about 100 GiB: more than any test machine has.
HUGE = {"network.scale": 64, "connectivity.row_capacity": 2048}


def state_bytes(cfg: ModelConfig) -> int:
    """Bytes of the arrays of a built network state."""
    return sum(a.nbytes for a in build_state(cfg, seed=1).to_arrays().values())


# --------------------------------------------------------------------------- the estimate


@pytest.mark.parametrize("preset", ["bamford2010", "knight2025"])
@pytest.mark.parametrize(
    "overrides", [{}, {"connectivity.row_capacity": 100, "connectivity.col_capacity": 40}]
)
def test_state_parts_are_the_built_state_exactly(preset: str, overrides: dict[str, int]) -> None:
    """Tables, per-synapse arrays and neuron arrays are STATE_COPIES copies of what the build allocates."""
    cfg = small_config({"network.scale": 2, **overrides}, preset=preset)
    parts = estimate_bytes(cfg)
    assert set(parts) == PARTS
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert parts["tables"] + parts["synapses"] + parts["neurons"] == STATE_COPIES * state_bytes(cfg)
    n, row_cap = cfg.n_neurons, cfg.connectivity.row_capacity
    assert parts["synapses"] == STATE_COPIES * 2 * n * row_cap * 12  # post, weight, col_pos; FF and LAT


def test_estimate_grows_with_neurons_and_capacities() -> None:
    """Every part grows with the network; the capacities drive the table parts."""
    base = estimate_bytes(small_config({"network.scale": 4}))
    bigger = estimate_bytes(small_config({"network.scale": 8}))
    for part in ("tables", "synapses", "neurons", "snapshots", "analysis"):
        assert 3.9 * base[part] < bigger[part] <= 4 * base[part]
    rows = estimate_bytes(small_config({"network.scale": 4, "connectivity.row_capacity": 128}))
    assert rows["synapses"] == 2 * base["synapses"]
    cols = estimate_bytes(small_config({"network.scale": 4, "connectivity.col_capacity": 128}))
    assert 1.9 * base["tables"] < cols["tables"] < 2 * base["tables"]
    assert cols["synapses"] == base["synapses"]


def test_estimate_allocates_nothing_and_is_fast() -> None:
    """Estimating the largest allowed sizes is arithmetic."""
    cfg = small_config({**HUGE, "connectivity.row_capacity": 65536, "connectivity.col_capacity": 65536})
    tracemalloc.start()
    t0 = time.perf_counter()
    parts = estimate_bytes(cfg)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parts["total"] > 1000 * GIB
    assert elapsed < 0.1 and peak < 1 << 20


# --------------------------------------------------------------------------- refusing


def test_too_large_a_network_is_refused_in_one_line_naming_the_scale() -> None:
    cfg = small_config({"network.scale": 64})
    total = estimate_bytes(cfg)["total"]
    with pytest.raises(ConfigError) as info:
        check_fits(cfg, available=2 * GIB)
    err = info.value
    assert err.path == "network.scale"
    text = str(err)
    assert "\n" not in text
    assert text == (
        f"network.scale: a network of 1024 x 1024 neurons per layer needs about "
        f"{format_bytes(total)}, 2.0 GiB available"
    )


def test_headroom_is_kept() -> None:
    """A network is refused above HEADROOM of the available memory, not only above all of it."""
    cfg = small_config({"network.scale": 8})
    total = estimate_bytes(cfg)["total"]
    check_fits(cfg, available=int(total / HEADROOM) + 1)
    with pytest.raises(ConfigError, match=r"more than 80% of the .* available") as info:
        check_fits(cfg, available=int(total / HEADROOM) - 1)
    assert info.value.path == "network.scale"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"connectivity.row_capacity": 4096}, "connectivity.row_capacity"),
        ({"connectivity.col_capacity": 8192}, "connectivity.col_capacity"),
        ({"connectivity.row_capacity": 64, "connectivity.col_capacity": 64}, "network.scale"),
    ],
)
def test_the_key_to_lower_is_named(overrides: dict[str, int], key: str) -> None:
    """A capacity raised above its default that takes most of the memory is named; otherwise the scale."""
    cfg = small_config({"network.scale": 32, **overrides}, preset="knight2025")
    with pytest.raises(ConfigError) as info:
        check_fits(cfg, available=GIB // 4)
    assert info.value.path == key
    what = {"connectivity.row_capacity": "rows of 4096", "connectivity.col_capacity": "columns of 8192"}
    assert what.get(key, "a network of 512 x 512") in str(info.value)


def test_unknown_memory_refuses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiments.topomap.memory

    monkeypatch.setattr(sim.experiments.topomap.memory, "available_bytes", lambda: None)
    check_fits(small_config(HUGE))


def test_build_refuses_before_allocating_with_the_real_memory() -> None:
    """The build checks first: an impossible size is refused within a second, allocating nothing big."""
    cfg = small_config(HUGE, preset="knight2025")
    available = available_bytes()
    if available is None or estimate_bytes(cfg)["total"] <= HEADROOM * available:
        pytest.skip("this machine would have the memory")
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        build_state(cfg, seed=1)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.value.path == "connectivity.row_capacity"
    assert "GiB available" in str(info.value)
    assert elapsed < 0.5 and peak < 16 << 20


def test_cli_refuses_an_impossible_size_with_one_line(tmp_path: Path) -> None:
    """``run`` with a size that cannot fit exits with status 2 and one line, and creates nothing."""
    preset = tmp_path / "huge.yaml"
    knight = ROOT / "presets" / "topomap" / "knight2025.yaml"
    preset.write_text(f"extends: {knight}\nconnectivity:\n  row_capacity: 2048\n")
    available = available_bytes()
    cfg = small_config(HUGE, preset="knight2025")
    if available is None or estimate_bytes(cfg)["total"] <= HEADROOM * available:
        pytest.skip("this machine would have the memory")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "main.py",
            "run",
            "--preset",
            str(preset),
            "--scale",
            "64",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "connectivity.row_capacity" in lines[0] and "GiB available" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert time.perf_counter() - t0 < 60


# --------------------------------------------------------------------------- table sizes


def test_table_size_errors_name_the_capacity() -> None:
    """empty_table refuses sizes it cannot index as a ConfigError naming the key, allocating nothing."""
    with pytest.raises(ConfigError) as info:
        empty_table(1 << 20, 1 << 20, 4096, 64)
    assert info.value.path == "connectivity.row_capacity" and "2**31" in str(info.value)
    with pytest.raises(ConfigError) as info:
        empty_table(4, 4, 0, 1)
    assert info.value.path == "connectivity.row_capacity"
    with pytest.raises(ConfigError) as info:
        empty_table(4, 4, 1, 0)
    assert info.value.path == "connectivity.col_capacity"
    with pytest.raises(ValueError):  # still a ValueError for callers that catch that
        empty_table(0, 4, 1, 1)


# --------------------------------------------------------------------------- available memory


def test_available_memory_reads_meminfo_and_the_cgroup_limit(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n")
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("0::/user.slice/session\n")
    root = tmp_path / "fs"
    inner = root / "user.slice" / "session"
    inner.mkdir(parents=True)
    (inner / "memory.max").write_text("max\n")  # no limit here
    (root / "user.slice" / "memory.max").write_text(f"{3 * GIB}\n")
    (root / "user.slice" / "memory.current").write_text(f"{GIB}\n")

    def read() -> int | None:
        return available_bytes(meminfo=meminfo, cgroup_root=root, proc_cgroup=proc_cgroup)

    assert read() == 2 * GIB  # the cgroup leaves less than MemAvailable
    (root / "user.slice" / "memory.max").write_text(f"{100 * GIB}\n")
    assert read() == 8000000 * 1024
    # cgroup v1
    (root / "user.slice" / "memory.max").unlink()
    v1 = root / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text(f"{GIB}\n")
    (v1 / "memory.usage_in_bytes").write_text(f"{GIB // 4}\n")
    assert read() == GIB - GIB // 4
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert read() == 8000000 * 1024


def test_available_memory_falls_back_to_sysconf(tmp_path: Path) -> None:
    found = available_bytes(
        meminfo=tmp_path / "absent", cgroup_root=tmp_path / "none", proc_cgroup=tmp_path / "none"
    )
    if not hasattr(os, "sysconf"):  # pragma: no cover - Windows
        assert found is None
    else:
        assert found is not None and found > 0


def test_available_memory_of_this_machine() -> None:
    found = available_bytes()
    if sys.platform.startswith("linux"):
        assert found is not None and found > 64 << 20


# --------------------------------------------------------------------------- estimate against a real run


def test_estimate_covers_a_real_run(tmp_path: Path) -> None:
    """A headless run (build, engine, metrics, checkpoint) allocates less than the estimate at its peak.

    The peak is that of the arrays the run allocates (NumPy reports them to tracemalloc), measured in
    a process of its own after a first small run has loaded the kernels and libraries; peak RSS would
    also count what loading or compiling the kernels took, which depends on the kernel cache.
    """
    script = (
        "import sys, tracemalloc\n"
        "from pathlib import Path\n"
        "from app.headless import run_headless\n"
        "from tests.conftest import small_config\n"
        "def run(scale, folder):\n"
        "    cfg = small_config({'network.scale': scale, 'run.record_interval': 0.1}, preset='knight2025')\n"
        "    run_headless(cfg, Path(sys.argv[1]) / folder, backend='cpu', seed=1, duration=0.1,\n"
        "                 progress=False, figures=False, checkpoint=Path(sys.argv[1]) / f'{folder}.npz')\n"
        "run(1, 'warm')\n"
        "tracemalloc.start()\n"
        "run(16, 'big')\n"
        "print(tracemalloc.get_traced_memory()[1])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    peak = int(proc.stdout.strip().splitlines()[-1])
    cfg = small_config({"network.scale": 16}, preset="knight2025")
    estimate = estimate_bytes(cfg)["total"]
    state = estimate_bytes(cfg)
    print(f"peak {peak / 2**20:.0f} MiB, estimate {estimate / 2**20:.0f} MiB, parts {state}")
    assert 0 < peak < estimate
    # The run holds at least the built state once: the estimate is not met by an empty run.
    assert peak > (state["tables"] + state["neurons"]) / 3
