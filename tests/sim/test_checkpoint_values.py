"""Checkpoints are validated by value: nothing a file holds reaches the kernels unchecked.

Each class of bad value (an index out of its range, a count beyond the layer, a
non-finite or out-of-bounds float, an inconsistent table, malformed metadata or
headers) is refused with one :class:`CheckpointError` line naming the file and
the array, through every path that loads a checkpoint. A version-1 file still
loads.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from sim.engine import Engine
from sim.errors import CheckpointError
from sim.events import EVENT_DTYPE
from sim.experiments.topomap.checkpoint import expected_layout, state_problem
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.state import (
    S_ATTEMPTS_LAT,
    S_N_SPK_SRC,
    S_N_SPK_TGT,
    S_STEP,
    S_STIM_DIRTY,
    S_STIM_INDEX,
    S_STIM_NEXT,
    S_STIM_X,
    S_STIM_Y,
    NetworkState,
)
from sim.synapses import SynapseTable
from tests.conftest import small_config

ROOT = Path(__file__).resolve().parents[2]
#: Bamford's model with room for formations and fast rewiring (slot scheme, 256 neurons, caps 64).
BUSY: dict[str, Any] = {"connectivity.ff_fan_in": 12, "connectivity.lat_fan_in": 12, "rewiring.rate": 4e4}
STEPS = 200
#: No message may be longer than this (a whole array is never shown).
MAX_MESSAGE = 300

Arrays = dict[str, Any]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid checkpoint of the busy Bamford model after STEPS steps (spikes and synapses present)."""
    path = tmp_path_factory.mktemp("ckpt") / "good.npz"
    with Engine.build(small_config(BUSY, preset="bamford2010"), backend="cpu", seed=7) as eng:
        eng.step(STEPS)
        eng.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def base(good: Path) -> Arrays:
    with np.load(good, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture
def variant(base: Arrays, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``variant(mutate, name="bad.npz")``: the good checkpoint's entries, changed by ``mutate``, saved."""

    def make(mutate: Callable[[Arrays], None], name: str = "bad.npz") -> Path:
        arrays = {k: v.copy() for k, v in base.items()}
        mutate(arrays)
        path = tmp_path / name
        np.savez(path, **arrays)
        return path

    yield make


def refused(path: Path, *fragments: str) -> str:
    """Load ``path``, expect a one-line CheckpointError naming the file and every fragment; return it."""
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg, msg
    assert len(msg) <= MAX_MESSAGE, msg
    assert msg.startswith(f"{path}: ") or msg.startswith(f"{path} (embedded configuration)"), msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def first_live(arrays: Arrays, table: str = "ff") -> int:
    """Flat index of the first synapse of the first non-empty row of ``table``."""
    row_len = arrays[f"state.{table}.row_len"]
    row_cap = int(arrays[f"state.{table}.dims"][2])
    return int(np.argmax(row_len > 0)) * row_cap


def setter(key: str, index: Any, value: Any) -> Callable[[Arrays], None]:
    def mutate(arrays: Arrays) -> None:
        arrays[key][index] = value

    return mutate


def drop(key: str) -> Callable[[Arrays], None]:
    def mutate(arrays: Arrays) -> None:
        del arrays[key]

    return mutate


def with_spikes(key: str, count_index: int, value: int) -> Callable[[Arrays], None]:
    """One spike in the last step whose neuron id is ``value``."""

    def mutate(arrays: Arrays) -> None:
        arrays["state.istate"][count_index] = 1
        arrays[key][0] = value

    return mutate


# --------------------------------------------------------------------------- the valid file


def test_the_valid_checkpoint_loads_and_runs(good: Path) -> None:
    ckpt = load_checkpoint(good)
    assert ckpt.state.step == STEPS
    assert state_problem(ckpt.state, ckpt.config) is None
    with Engine.from_checkpoint(good, backend="cpu") as eng:
        eng.step(50)
        assert state_problem(eng.state(), eng.config) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"network.scale": 2, "stimulus.tiled": True},
        {"connectivity.row_capacity": 40, "connectivity.col_capacity": 80},
    ],
)
def test_expected_layout_is_the_allocated_layout(overrides: dict[str, Any]) -> None:
    """The layout is computed, not allocated; it equals that of a built state."""
    from sim.experiments.topomap.build import build_state

    cfg = small_config(overrides, preset="bamford2010")
    assert expected_layout(cfg) == build_state(cfg, 1).expected_layout()


def test_expected_layout_refuses_tables_beyond_int32() -> None:
    cfg = small_config({"network.scale": 64, "connectivity.row_capacity": 4096}, preset="knight2025")
    with pytest.raises(ValueError, match="2\\*\\*31"):
        expected_layout(cfg)


def test_a_version_1_checkpoint_still_loads_its_events_ignored(variant: Callable[..., Path]) -> None:
    def v1(arrays: Arrays) -> None:
        arrays["version"] = np.array(1)
        arrays["events"] = np.zeros(3, EVENT_DTYPE)

    path = variant(v1, "v1.npz")
    with Engine.from_checkpoint(path, backend="cpu") as eng:
        assert eng.step_count == STEPS
        assert len(eng.take_events()) == 0
        eng.step(20)


def test_scratch_arrays_are_reset_not_refused(variant: Callable[..., Path]) -> None:
    """``fac`` and ``bits`` are written before they are read in every step: any value loads, as zeros."""

    def scratch(arrays: Arrays) -> None:
        arrays["state.neurons.fac"][:] = np.nan
        arrays["state.neurons.bits"][:] = -1

    ckpt = load_checkpoint(variant(scratch))
    assert not ckpt.state.neurons.fac.any() and not ckpt.state.neurons.bits.any()


# --------------------------------------------------------------------------- istate

ISTATE_CASES = [
    ("stim-x-1e12", S_STIM_X, 10**12, "state.istate[stim_x] = 1000000000000 is outside the 16 x 16 grid"),
    ("stim-x-16", S_STIM_X, 16, "state.istate[stim_x] = 16 is outside the 16 x 16 grid"),
    ("stim-y-negative", S_STIM_Y, -1, "state.istate[stim_y] = -1"),
    ("negative-step", S_STEP, -1, "state.istate[step] = -1"),
    ("step-beyond-counters", S_STEP, 2**48, "state.istate[step]"),
    ("stim-index-beyond-step", S_STIM_INDEX, STEPS + 1, "state.istate[stim_index]"),
    ("stim-index-negative", S_STIM_INDEX, -5, "state.istate[stim_index]"),
    ("stim-next-before-step", S_STIM_NEXT, STEPS - 1, "state.istate[stim_next]"),
    ("stim-next-far", S_STIM_NEXT, 2**62, "state.istate[stim_next]"),
    ("n-spk-src-beyond-layer", S_N_SPK_SRC, 257, "state.istate[n_spk_src] = 257 is outside [0, 256]"),
    ("n-spk-tgt-negative", S_N_SPK_TGT, -1, "state.istate[n_spk_tgt] = -1"),
    ("stim-dirty-2", S_STIM_DIRTY, 2, "state.istate[stim_dirty] = 2 is not 0 or 1"),
    ("attempts-negative", S_ATTEMPTS_LAT, -1, "state.istate[attempts_lat] = -1"),
]


@pytest.mark.parametrize(
    ("index", "value", "fragment"), [c[1:] for c in ISTATE_CASES], ids=[c[0] for c in ISTATE_CASES]
)
def test_istate_values_out_of_range_are_refused(
    variant: Callable[..., Path], index: int, value: int, fragment: str
) -> None:
    refused(variant(setter("state.istate", index, value)), fragment)


def test_the_stimulus_tile_is_the_one_the_kernels_use(tmp_path: Path) -> None:
    """At scale 2 a tiled stimulus lives on the 16 x 16 tile, an untiled one on the 32 x 32 grid."""
    for tiled in (True, False):
        path = tmp_path / f"tiled-{tiled}.npz"
        with Engine.build(small_config({"network.scale": 2, "stimulus.tiled": tiled}), backend="cpu") as eng:
            eng.step(3)
            state = eng.state()
            state.istate[S_STIM_X] = 20
            save_checkpoint(path, Checkpoint(eng.config, eng.seed, "cpu", state))
        if tiled:
            refused(path, "state.istate[stim_x] = 20 is outside the 16 x 16 stimulus tile")
        else:
            assert load_checkpoint(path).state.istate[S_STIM_X] == 20


# --------------------------------------------------------------------------- neuron arrays

NEURON_CASES = [
    ("nan-potential", "v", 3, np.nan, "state.neurons.v[3] = nan is not a membrane potential"),
    ("huge-potential", "v", 0, 1e6, "state.neurons.v[0] = 1000000"),
    ("negative-conductance", "g_ex", 5, -1.0, "state.neurons.g_ex[5] = -1"),
    ("inf-conductance", "g_inh", 0, np.inf, "state.neurons.g_inh[0] = inf"),
    ("nan-input", "pend_ex", 1, np.nan, "state.neurons.pend_ex[1] = nan"),
    ("negative-input", "pend_inh", 1, -0.5, "state.neurons.pend_inh[1]"),
    ("negative-trace", "x_src", 2, -0.5, "state.neurons.x_src[2]"),
    ("inf-trace", "y_tgt", 2, -np.inf, "state.neurons.y_tgt[2] = -inf"),
    ("nan-trace", "x_tgt", 9, np.nan, "state.neurons.x_tgt[9] = nan"),
    ("probability-above-1", "p_src", 0, 1.5, "state.neurons.p_src[0] = 1.5 is not a probability"),
    ("nan-cdf", "cdf_src", 31, np.nan, "state.neurons.cdf_src[31] = nan"),
    ("negative-refractory", "refrac", 4, -1, "state.neurons.refrac[4] = -1"),
    ("huge-refractory", "refrac", 4, 2**31 - 1, "state.neurons.refrac[4] = 2147483647"),
    ("negative-count", "count_src", 0, -1, "state.neurons.count_src[0] = -1"),
    ("count-beyond-steps", "count_tgt", 0, STEPS + 1, f"state.neurons.count_tgt[0] = {STEPS + 1}"),
    ("fired-flag-set", "fired", 7, True, "state.neurons.fired[7] is set"),
]


@pytest.mark.parametrize(
    ("name", "index", "value", "fragment"), [c[1:] for c in NEURON_CASES], ids=[c[0] for c in NEURON_CASES]
)
def test_neuron_values_out_of_range_are_refused(
    variant: Callable[..., Path], name: str, index: int, value: Any, fragment: str
) -> None:
    refused(variant(setter(f"state.neurons.{name}", index, value)), fragment)


@pytest.mark.parametrize(
    ("key", "count_index", "value", "fragment"),
    [
        ("state.neurons.spk_src", S_N_SPK_SRC, 256, "state.neurons.spk_src[0] = 256 is outside [0, 255]"),
        ("state.neurons.spk_tgt", S_N_SPK_TGT, -1, "state.neurons.spk_tgt[0] = -1"),
        ("state.neurons.spk_tgt", S_N_SPK_TGT, 2**31 - 1, "state.neurons.spk_tgt[0] = 2147483647"),
    ],
    ids=["src-id-beyond-layer", "tgt-id-negative", "tgt-id-int32-max"],
)
def test_spike_ids_out_of_range_are_refused(
    variant: Callable[..., Path], key: str, count_index: int, value: int, fragment: str
) -> None:
    refused(variant(with_spikes(key, count_index, value)), fragment)


def test_spike_ids_past_the_spike_count_are_not_read(variant: Callable[..., Path]) -> None:
    def garbage(arrays: Arrays) -> None:
        arrays["state.istate"][S_N_SPK_SRC] = 0
        arrays["state.neurons.spk_src"][:] = -7

    load_checkpoint(variant(garbage))


# --------------------------------------------------------------------------- synapse tables


def post_out_of_range(value: int) -> Callable[[Arrays], None]:
    def mutate(arrays: Arrays) -> None:
        arrays["state.ff.post"][first_live(arrays)] = value

    return mutate


def live_weight(value: float, table: str = "ff") -> Callable[[Arrays], None]:
    def mutate(arrays: Arrays) -> None:
        arrays[f"state.{table}.weight"][first_live(arrays, table)] = value

    return mutate


def past_row_end(arrays: Arrays) -> None:
    row_len = arrays["state.ff.row_len"]
    i = int(np.argmax(row_len < 64))
    arrays["state.ff.weight"][i * 64 + int(row_len[i])] = 0.1


def col_pos_out_of_range(arrays: Arrays) -> None:
    arrays["state.lat.col_pos"][first_live(arrays, "lat")] = 64


def col_syn_not_back(arrays: Arrays) -> None:
    col_len = arrays["state.ff.col_len"]
    j = int(np.argmax(col_len >= 2))
    col = arrays["state.ff.col_syn"][j * 64 : j * 64 + 2]
    col[:] = col[::-1].copy()


def col_len_off_by_one(arrays: Arrays) -> None:
    arrays["state.ff.col_len"][0] += 1


def dead_col_syn(arrays: Arrays) -> None:
    col_len = arrays["state.lat.col_len"]
    arrays["state.lat.col_syn"][int(col_len[0])] = 99


TABLE_CASES: list[tuple[str, Callable[[Arrays], None], str]] = [
    ("post-beyond-layer", post_out_of_range(256), "state.ff.post["),
    ("post-1e9", post_out_of_range(10**9), "is outside [0, 255] (postsynaptic neuron ids)"),
    ("post-negative", post_out_of_range(-1), "state.ff.post["),
    (
        "row-len-beyond-capacity",
        setter("state.ff.row_len", 0, 65),
        "state.ff.row_len[0] = 65 is outside [0, 64]",
    ),
    ("row-len-negative", setter("state.lat.row_len", 3, -1), "state.lat.row_len[3] = -1"),
    ("col-len-beyond-capacity", setter("state.lat.col_len", 1, 10**6), "state.lat.col_len[1] = 1000000"),
    ("col-len-not-in-degree", col_len_off_by_one, "state.ff.col_len[0]"),
    ("nan-weight", live_weight(np.nan), "state.ff.weight["),
    ("inf-weight", live_weight(np.inf, "lat"), "state.lat.weight["),
    ("negative-weight", live_weight(-0.1), "is not a weight in [0, 100]"),
    ("weight-above-any-g-max", live_weight(1e3), "state.ff.weight["),
    ("storage-past-row-end", past_row_end, "lies past the end of row"),
    ("col-pos-out-of-range", col_pos_out_of_range, "state.lat.col_pos["),
    ("col-syn-not-pointing-back", col_syn_not_back, "does not point back to synapse"),
    ("col-syn-past-column-end", dead_col_syn, "state.lat.col_syn["),
    ("dims-other-capacity", setter("state.ff.dims", 2, 63), "state.ff.dims[row_cap] = 63"),
    ("dims-huge", setter("state.lat.dims", 0, 2**40), "state.lat.dims[n_pre]"),
    ("stats-negative", setter("state.ff.stats", 1, -3), "state.ff.stats[1] = -3"),
]


@pytest.mark.parametrize(
    ("mutate", "fragment"), [c[1:] for c in TABLE_CASES], ids=[c[0] for c in TABLE_CASES]
)
def test_table_values_out_of_range_are_refused(
    variant: Callable[..., Path], mutate: Callable[[Arrays], None], fragment: str
) -> None:
    refused(variant(mutate), fragment)


def test_slot_scheme_in_degree_beyond_s_max_is_refused(good: Path, tmp_path: Path) -> None:
    """A consistent table whose target has more synapses than the slot scheme's s_max slots."""
    ckpt = load_checkpoint(good)
    state = ckpt.state
    j = 0
    table = SynapseTable(state.ff)
    pre = 0
    while int(state.ff.col_len[j] + state.lat.col_len[j]) <= ckpt.config.rewiring.s_max:
        table.add(pre, j, 0.1)
        pre += 1
    path = tmp_path / "s_max.npz"
    save_checkpoint(path, Checkpoint(ckpt.config, ckpt.seed, "cpu", state))
    refused(path, "exceeds rewiring.s_max (32)")


# --------------------------------------------------------------------------- metadata and headers


def multi_line_yaml_error(arrays: Arrays) -> None:
    arrays["config_yaml"] = np.array("network:\n  scale: [1,\n  dt: {\n")


def alias_bomb(arrays: Arrays) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"b{i}: &b{i} [" + ", ".join(["*a" if i == 1 else f"*b{i - 1}"] * 9) + "]")
    lines.append("description: *b11")
    arrays["config_yaml"] = np.array("\n".join(lines))


META_CASES: list[tuple[str, Callable[[Arrays], None], str]] = [
    ("version-0", setter("version", (), 0), "checkpoint version 0 is not supported"),
    ("version-float", lambda a: a.update(version=np.array(2.0)), "'version' is not a whole number"),
    ("version-array", lambda a: a.update(version=np.arange(3)), "'version' is not a whole number"),
    ("seed-negative", lambda a: a.update(seed=np.array(-1)), "seed -1 is not a whole number"),
    ("seed-text", lambda a: a.update(seed=np.array("1")), "'seed' is not a whole number"),
    ("backend-path", lambda a: a.update(backend=np.array("../cpu")), "is not a backend name"),
    ("backend-long", lambda a: a.update(backend=np.array("c" * 33)), "'backend' is longer than 32"),
    ("backend-missing", drop("backend"), "'backend' is missing"),
    ("format-missing", drop("format"), "no format marker"),
    ("config-multi-line-error", multi_line_yaml_error, "malformed YAML"),
    ("config-alias-bomb", alias_bomb, "embedded configuration"),
    (
        "config-other-scale",
        lambda a: a.update(config_yaml=np.array("network: {scale: 2}")),
        "has shape (256,)",
    ),
    ("config-not-yaml-mapping", lambda a: a.update(config_yaml=np.array("- 1\n- 2")), "mapping"),
    ("config-bytes", lambda a: a.update(config_yaml=np.array(b"network: {}")), "'config_yaml' is not a text"),
    ("state-missing", drop("state.lat.col_syn"), "'state.lat.col_syn' is missing"),
    (
        "state-other-dtype",
        lambda a: a.update({"state.istate": a["state.istate"].astype(np.int32)}),
        "state.istate has shape",
    ),
    (
        "state-shorter",
        lambda a: a.update({"state.ff.post": a["state.ff.post"][:-1]}),
        "state.ff.post has shape",
    ),
    ("state-2d", lambda a: a.update({"state.neurons.v": a["state.neurons.v"].reshape(16, 16)}), "(16, 16)"),
    (
        "state-big-endian",
        lambda a: a.update({"state.neurons.v": a["state.neurons.v"].astype(">f4")}),
        "state.neurons.v has shape",
    ),
]


@pytest.mark.parametrize(("mutate", "fragment"), [c[1:] for c in META_CASES], ids=[c[0] for c in META_CASES])
def test_malformed_metadata_and_entries_are_refused(
    variant: Callable[..., Path], mutate: Callable[[Arrays], None], fragment: str
) -> None:
    t0 = time.perf_counter()
    refused(variant(mutate), fragment)
    assert time.perf_counter() - t0 < 5.0


def npy_bytes(descr: str, shape: tuple[int, ...], data: bytes) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue() + data


@pytest.mark.parametrize(
    ("member", "content", "fragment"),
    [
        (
            "state.ff.post.npy",
            npy_bytes("<i4", (10**12,), b"\0" * 64),
            "state.ff.post has shape (1000000000000,)",
        ),
        ("state.ff.post.npy", npy_bytes("|O", (16384,), b"\0" * 64), "'state.ff.post' is not readable"),
        ("state.neurons.v.npy", npy_bytes("<f4", (256,), b"\0" * 10), "'state.neurons.v' is truncated"),
        ("state.neurons.v.npy", b"\x93NUMPY\x09\x00garbage", "'state.neurons.v' is not readable"),
        ("version.npy", npy_bytes("<i8", (), b"\1\0"), "'version' is truncated"),
        ("config_yaml.npy", npy_bytes("<U1", (), b"\xff\xff\xff\xff"), "not Unicode"),
        ("config_yaml.npy", npy_bytes("<U2000000", (), b""), "longer than 1048576 characters"),
    ],
    ids=[
        "huge-shape",
        "object-dtype",
        "truncated-data",
        "bad-header",
        "truncated-scalar",
        "bad-code-point",
        "huge-text",
    ],
)
def test_hostile_headers_are_refused_before_reading(
    base: Arrays, tmp_path: Path, member: str, content: bytes, fragment: str
) -> None:
    """The header is checked before any data is read or memory allocated for it."""
    path = tmp_path / "header.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for key, arr in base.items():
            if f"{key}.npy" == member:
                continue
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            zf.writestr(f"{key}.npy", buf.getvalue())
        zf.writestr(member, content)
    t0 = time.perf_counter()
    refused(path, fragment)
    assert time.perf_counter() - t0 < 5.0


# --------------------------------------------------------------------------- every path that loads


def test_every_engine_path_refuses_and_keeps_its_state(variant: Callable[..., Path]) -> None:
    path = variant(setter("state.istate", S_STIM_X, 10**12))
    with pytest.raises(CheckpointError, match=r"stim_x\] = 1000000000000"):
        Engine.from_checkpoint(path, backend="cpu")
    with Engine.build(small_config(BUSY, preset="bamford2010"), backend="cpu", seed=7) as eng:
        eng.step(5)
        before = eng.state()
        with pytest.raises(CheckpointError, match=r"stim_x\] = 1000000000000"):
            eng.load_checkpoint(path)
        after = eng.state()
        for key, arr in before.to_arrays().items():
            assert arr.tobytes() == after.to_arrays()[key].tobytes(), key
        eng.step(5)


def test_the_reported_crash_is_now_a_clean_refusal(variant: Callable[..., Path], tmp_path: Path) -> None:
    """``run --resume`` of a checkpoint with a stimulus position of 10**12 died with SIGSEGV; now exit 2."""
    path = variant(setter("state.istate", S_STIM_X, 10**12))
    args = ["run", "--resume", str(path), "--duration", "0.1", "--out", str(tmp_path / "out"), "--quiet"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "stim_x] = 1000000000000 is outside the 16 x 16 grid" in lines[0]
    assert str(path) in lines[0]


def test_state_problem_accepts_states_of_a_long_run() -> None:
    """After a second of every scheme, including lesions, the state a backend holds passes."""
    from sim.experiments.topomap.lesion import cut_synapses, region_mask, silence

    for preset in ("bogdan2018", "knight2025"):
        cfg: ModelConfig = small_config({}, preset=preset)
        with Engine.build(cfg, backend="cpu", seed=3) as eng:
            eng.run(0.3)
            state: NetworkState = eng.state()
            mask = region_mask(cfg.side, 2, 2, 5, 5)
            cut_synapses(state, mask)
            silence(state, mask)
            eng.replace_state(state)
            eng.run(0.2)
            assert state_problem(eng.state(), eng.config) is None
