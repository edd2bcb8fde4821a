"""Fuzz: no crafted checkpoint crashes the process; each ends in a clean refusal or a finished run.

Valid checkpoints of three presets at scale 1 (``bamford2010``: slot scheme with a random partner;
``bogdan2018``: slot scheme with a last-spike partner, dt = 1 ms; ``knight2025``: pair scheme,
pairwise wiring) are mutated entry by entry:

* systematically: every state array gets each extreme of its dtype (min, max, -1, 2**31 - 1,
  10**12 where it fits; NaN, +-inf, +-float max, -1, 10**12 and a denormal for floats) in one
  element (first, last, and a live synapse or spike) and in the whole array; every entry is
  given another dtype, a shorter, longer, empty or two-dimensional shape, or dropped; the
  metadata (format, version, seed, backend) and the embedded configuration get malformed and
  hostile values; whole files are truncated or replaced;
* at random, with Hypothesis: single elements, slices, noise over a whole array, small
  perturbations, swaps of two elements, dtypes and shapes.

The files are written here, then run in batches by ``tests/support/checkpoint_runner.py`` in a
subprocess: each through the command line (``run --resume FILE --duration 0.05 --quiet
--no-figures``, in-process there) and, when that ran, through :meth:`Engine.load_checkpoint`
plus 200 steps, a snapshot and a rewiring timing. Every case must end in a refusal (exit 2, exactly one stderr
line, no traceback; a one-line :class:`CheckpointError` on the engine) or a finished run (exit
0); a signal, a hang or a traceback fails the test naming the case. The statistics per class
are printed (``pytest -s``) and included in any failure message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine import Engine
from tests.conftest import small_config

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ("bamford2010", "bogdan2018", "knight2025")
#: Random (Hypothesis) mutations per preset.
RANDOM_CASES = 120
#: Wall-clock limit of one runner process.
BATCH_TIMEOUT_S = 240

Arrays = dict[str, Any]
Mutate = Callable[[Arrays], None]


@dataclass(frozen=True)
class Case:
    """One hostile checkpoint: its class (for the statistics), name and file."""

    cls: str
    name: str
    path: Path
    base: Path


# --------------------------------------------------------------------------- values


def int_extremes(dtype: np.dtype[Any]) -> list[int]:
    info = np.iinfo(dtype)
    values = [int(info.min), int(info.max), -1, 2**31 - 1, 10**12]
    return sorted({v for v in values if info.min <= v <= info.max})


FLOAT_EXTREMES: list[tuple[str, float]] = [
    ("nan", float("nan")),
    ("+inf", float("inf")),
    ("-inf", float("-inf")),
    ("+max", float(np.finfo(np.float32).max)),
    ("-max", float(-np.finfo(np.float32).max)),
    ("-1", -1.0),
    ("1e12", 1e12),
    ("denormal", 1e-45),
]


def float_class(label: str) -> str:
    return "float NaN/inf" if label in ("nan", "+inf", "-inf") else "float extreme"


def live_index(arrays: Arrays, key: str) -> int | None:
    """An element the kernels read: a live synapse of a table, a live column entry, a spike."""
    parts = key.split(".")
    if len(parts) == 3 and parts[1] in ("ff", "lat"):
        table = parts[1]
        if parts[2] in ("post", "weight", "col_pos"):
            row_len = arrays[f"state.{table}.row_len"]
            return int(np.argmax(row_len > 0)) * int(arrays[f"state.{table}.dims"][2]) + 1
        if parts[2] == "col_syn":
            col_len = arrays[f"state.{table}.col_len"]
            return int(np.argmax(col_len > 0)) * int(arrays[f"state.{table}.dims"][3])
    return None


def set_at(key: str, index: Any, value: Any) -> Mutate:
    def mutate(arrays: Arrays) -> None:
        arrays[key][index] = value

    return mutate


def replace(key: str, value: Any) -> Mutate:
    def mutate(arrays: Arrays) -> None:
        arrays[key] = value

    return mutate


def drop(key: str) -> Mutate:
    def mutate(arrays: Arrays) -> None:
        del arrays[key]

    return mutate


def combine(*mutations: Mutate) -> Mutate:
    def mutate(arrays: Arrays) -> None:
        for m in mutations:
            m(arrays)

    return mutate


# --------------------------------------------------------------------------- systematic cases

#: Other dtypes an entry is given, by its own dtype's kind: another width, another kind.
SWAPPED_DTYPES = {
    "i": ("int16", "float32"),
    "u": ("int64", "float64"),
    "f": ("float64", "int32"),
    "b": ("uint8",),
}


def systematic(base: Arrays) -> Iterator[tuple[str, str, Mutate]]:
    """``(class, name, mutate)`` for every planned mutation of a checkpoint's entries."""
    for key in (k for k in base if k.startswith("state.")):
        arr = base[key]
        n = arr.shape[0]
        live = live_index(base, key)
        # Every entry of the small arrays (istate, dims, stats); one element the kernels read of the others.
        positions = list(range(n)) if n <= 10 else [n // 2 if live is None else live]
        if arr.dtype.kind in "iu":
            for v in int_extremes(arr.dtype):
                for i in positions:
                    yield "int extreme, one element", f"{key}[{i}]={v}", set_at(key, i, v)
                yield "int extreme, whole array", f"{key}[:]={v}", set_at(key, slice(None), v)
        elif arr.dtype.kind == "f":
            for label, fv in FLOAT_EXTREMES:
                for i in positions:
                    yield f"{float_class(label)}, one element", f"{key}[{i}]={label}", set_at(key, i, fv)
                yield f"{float_class(label)}, whole array", f"{key}[:]={label}", set_at(key, slice(None), fv)
        else:
            yield "bool", f"{key}[0]=True", set_at(key, 0, True)
            yield "bool", f"{key}[:]=True", set_at(key, slice(None), True)
        for dt in SWAPPED_DTYPES[arr.dtype.kind]:
            yield "dtype swap", f"{key} as {dt}", replace(key, arr.astype(dt))
        yield "shape change", f"{key} truncated", replace(key, arr[:-1].copy())
        yield "shape change", f"{key} extended", replace(key, np.concatenate([arr, arr[-1:]]))
        yield "shape change", f"{key} 2-D", replace(key, arr.reshape(1, n).copy())
        yield "missing entry", f"{key} missing", drop(key)
    yield from spike_lists(base)
    yield from metadata()
    yield from embedded_configs(base)


def spike_lists(base: Arrays) -> Iterator[tuple[str, str, Mutate]]:
    """Spike counts within the layer whose id lists hold garbage."""
    n = base["state.neurons.v"].shape[0]
    for which, index in (("src", 5), ("tgt", 6)):
        for v in (-1, n, 2**31 - 1, -(2**31)):
            yield (
                "spike ids beyond the layer",
                f"n_spk_{which}={n}, spk_{which}[last]={v}",
                combine(set_at("state.istate", index, n), set_at(f"state.neurons.spk_{which}", n - 1, v)),
            )


def metadata() -> Iterator[tuple[str, str, Mutate]]:
    values: dict[str, list[Any]] = {
        "version": [
            0,
            1,
            3,
            -1,
            np.int64(2**63 - 1),
            np.uint64(2**64 - 1),
            2.0,
            "2",
            np.array([2, 2]),
            True,
        ],
        "seed": [-1, np.uint64(2**64 - 1), 0, np.uint64(2**63), 1.5, "1", np.array([1, 2]), np.int8(-128)],
        "backend": ["", "cpu", "cuda", "cuda-emulator", "CPU", "x" * 33, "a\nb", 3, b"cpu", "é"],
        "format": ["", "rewire-lab-checkpoint ", b"rewire-lab-checkpoint", 1, "x" * 100],
    }
    for key, vals in values.items():
        for v in vals:
            yield f"metadata: {key}", f"{key}={v!r}"[:80], replace(key, np.array(v))
        yield f"metadata: {key}", f"{key} missing", drop(key)


def alias_bomb(levels: int = 10) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"description: *a{levels - 1}")
    return "\n".join(lines)


def embedded_configs(base: Arrays) -> Iterator[tuple[str, str, Mutate]]:
    text = str(base["config_yaml"])
    texts = {
        "empty": "",
        "defaults": "{}",
        "garbage": "\x00\x01\x02: [",
        "multi-line error": "network:\n  scale: [1,\n  dt: {\n",
        "deep nesting": "[" * 5000,
        "alias bomb": alias_bomb(),
        "duplicate keys": text + "\nname: twice\n",
        "other scale": text.replace("scale: 1", "scale: 2"),
        "scale 64 caps 4096": text.replace("scale: 1", "scale: 64") + "\n",
        "nan dt": text.replace("dt: ", "dt: .nan #"),
        "huge integer": text.replace("scale: 1", "scale: " + "9" * 5000),
        "huge float": text.replace("tau_m: ", "tau_m: 1e400 #"),
        "tiled stimulus": text.replace("tiled: false", "tiled: true"),
        "smaller g_max": text.replace("g_max: ", "g_max: 0.001 #"),
        "pair scheme": text.replace("scheme: slot", "scheme: pair"),
        "list top level": "- 1\n- 2\n",
        "unknown key": text + "\nbogus: 1\n",
        "over 1 MiB": text + "\n#" + "x" * (1 << 20),
        "control characters in a key": "ne\ntwork\x07: 1",
    }
    for label, t in texts.items():
        yield "embedded config", f"config_yaml {label}", replace("config_yaml", np.array(t))
    yield "embedded config", "config_yaml as bytes", replace("config_yaml", np.array(text.encode()))
    yield "embedded config", "config_yaml as array", replace("config_yaml", np.array([text, text]))
    yield "embedded config", "config_yaml missing", drop("config_yaml")


def file_level(good: Path) -> Iterator[tuple[str, str, bytes]]:
    data = good.read_bytes()
    rng = np.random.default_rng(5)
    yield "file level", "empty file", b""
    yield "file level", "truncated to half", data[: len(data) // 2]
    yield "file level", "truncated by 1 byte", data[:-1]
    yield "file level", "random bytes", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    flipped = bytearray(data)
    for i in rng.integers(100, len(data) - 100, 20):
        flipped[int(i)] ^= 0xFF
    yield "file level", "20 bytes flipped", bytes(flipped)
    yield "file level", "zip with no members", _empty_zip()


def _empty_zip() -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w"):
        pass
    return buf.getvalue()


# --------------------------------------------------------------------------- random cases

STATE_EXTRA_INTS = [15, 16, 31, 32, 63, 64, 65, 255, 256, 257, 2**48, -(2**31)]


def values_for(dtype: np.dtype[Any]) -> st.SearchStrategy[Any]:
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        extra = [v for v in STATE_EXTRA_INTS if info.min <= v <= info.max]
        return st.one_of(
            st.integers(-3, 300),
            st.sampled_from(int_extremes(dtype) + extra),
            st.integers(int(info.min), int(info.max)),
        )
    return st.one_of(
        st.floats(width=32),
        st.floats(-2.0, 2.0, width=32),
        st.sampled_from([v for _l, v in FLOAT_EXTREMES]),
    )


class Entries(dict[str, Any]):
    """A checkpoint's entries, with a short repr (Hypothesis shows the arguments of strategies)."""

    def __repr__(self) -> str:
        return f"<{len(self)} checkpoint entries>"


@st.composite
def random_mutation(draw: st.DrawFn, base: Entries) -> tuple[str, str, Mutate]:
    """One random mutation of one state entry: ``(class, description, mutate)``."""
    key = draw(st.sampled_from(sorted(k for k in base if k.startswith("state."))))
    arr = base[key]
    n = arr.shape[0]
    kind = draw(st.sampled_from(["element", "slice", "noise", "perturb", "swap", "dtype", "shape"]))
    if kind == "element":
        i = draw(st.integers(0, n - 1))
        v = draw(values_for(arr.dtype))
        return f"random ({kind})", f"{key}[{i}]={v!r}", set_at(key, i, v)
    if kind == "slice":
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i, n))
        v = draw(values_for(arr.dtype))
        return f"random ({kind})", f"{key}[{i}:{j}]={v!r}", set_at(key, slice(i, j), v)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "noise":
        if arr.dtype.kind == "f":
            noise = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 40)
        elif arr.dtype.kind == "b":
            noise = rng.random(n) < 0.5
        else:
            info = np.iinfo(arr.dtype)
            noise = rng.integers(info.min, info.max, n, dtype=arr.dtype, endpoint=True)
        return f"random ({kind})", f"{key} noise seed {seed}", replace(key, noise.astype(arr.dtype))
    if kind == "perturb":
        k = draw(st.integers(1, 5))
        idx = rng.integers(0, n, k)
        new = arr.copy()
        if arr.dtype.kind == "b":
            new[idx] = ~new[idx]
        elif arr.dtype.kind == "f":
            new[idx] = new[idx] * np.float32(1.5) - np.float32(0.25)
        else:
            new[idx] = new[idx] + rng.choice(np.array([-1, 1], dtype=arr.dtype), k)
        return f"random ({kind})", f"{key} +-1 at {idx.tolist()}", replace(key, new)
    if kind == "swap":
        i, j = (int(x) for x in rng.integers(0, n, 2))
        new = arr.copy()
        new[[i, j]] = new[[j, i]]
        return f"random ({kind})", f"{key} swap {i}, {j}", replace(key, new)
    if kind == "dtype":
        dt = draw(
            st.sampled_from(
                ["int8", "int16", "int32", "int64", "uint32", "float16", "float32", "float64", "bool"]
            )
        )
        return f"random ({kind})", f"{key} as {dt}", replace(key, arr.astype(dt))
    length = draw(st.integers(0, 2 * n + 2))
    new = np.resize(arr, length)
    return f"random ({kind})", f"{key} length {length}", replace(key, new)


# --------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Arrays]]:
    """A valid checkpoint of each preset at scale 1, saved after a few hundred steps."""
    folder = tmp_path_factory.mktemp("bases")
    out: dict[str, tuple[Path, Arrays]] = {}
    for preset in PRESETS:
        path = folder / f"{preset}.npz"
        with Engine.build(small_config({}, preset=preset), backend="cpu", seed=11) as eng:
            eng.step(300)
            eng.save_checkpoint(path)
        with np.load(path, allow_pickle=False) as data:
            out[preset] = (path, {k: data[k] for k in data.files})
    return out


def write_case(folder: Path, number: int, arrays: Arrays) -> Path:
    path = folder / f"case{number:05d}.npz"
    np.savez(path, **arrays)
    return path


def random_cases(preset: str, base_path: Path, base: Arrays, add: Callable[..., None]) -> None:
    """Draw RANDOM_CASES random mutations of ``base`` with Hypothesis and ``add`` each."""

    @settings(
        max_examples=RANDOM_CASES,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("CHECKPOINT_FUZZ_RANDOM"),
        suppress_health_check=list(HealthCheck),
    )
    @given(mutation=random_mutation(Entries(base)))
    def draw(mutation: tuple[str, str, Mutate]) -> None:
        cls, name, mutate = mutation
        arrays = {k: v.copy() for k, v in base.items()}
        mutate(arrays)
        add(cls, f"{preset}: {name}", base_path, arrays)

    draw()


def generate(bases: dict[str, tuple[Path, Arrays]], folder: Path) -> list[Case]:
    cases: list[Case] = []

    def add(
        cls: str, name: str, base_path: Path, arrays: Arrays | None = None, raw: bytes | None = None
    ) -> None:
        number = len(cases)
        if raw is not None:
            path = folder / f"case{number:05d}.npz"
            path.write_bytes(raw)
        else:
            assert arrays is not None
            path = write_case(folder, number, arrays)
        cases.append(Case(cls, f"#{number} {name}", path, base_path))

    for preset, (base_path, base) in bases.items():
        for cls, name, mutate in systematic(base):
            arrays = {k: v.copy() for k, v in base.items()}
            mutate(arrays)
            add(cls, f"{preset}: {name}", base_path, arrays)

        random_cases(preset, base_path, base, add)
    good = bases[PRESETS[0]][0]
    for cls, name, raw in file_level(good):
        add(cls, f"{PRESETS[0]}: {name}", good, raw=raw)
    return cases


def judge(result: dict[str, Any]) -> tuple[str, str | None]:
    """``(end, problem)``: how the command line ended (refused / ran) and what is wrong, if anything."""
    cli, eng = result["cli"], result["engine"]
    problem = None
    if cli["escaped"] is not None:
        problem = f"an exception escaped the command: {cli['escaped']}"
    elif cli["traceback"]:
        problem = f"a traceback was printed: {cli['stderr']}"
    elif cli["rc"] == 2 and cli["stderr_lines"] != 1:
        problem = f"refused with {cli['stderr_lines']} stderr lines: {cli['stderr']}"
    elif cli["rc"] not in (0, 2):
        problem = f"exit status {cli['rc']}: {cli['stderr']}"
    elif eng["end"] == "error":
        problem = f"Engine.load_checkpoint path: {eng['message']}"
    elif eng["end"] == "refused" and "\n" in eng["message"]:
        problem = f"multi-line CheckpointError: {eng['message']!r}"
    return ("ran" if cli["rc"] == 0 else "refused"), problem


def run_batches(cases: list[Case], folder: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run every case in as few runner processes as possible; restart after a process dies."""
    by_name = {c.name: c for c in cases}
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    pending = list(cases)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
    while pending:
        manifest = folder / "manifest.json"
        manifest.write_text(
            json.dumps(
                {
                    "out": str(folder / "out"),
                    "cases": [{"name": c.name, "path": str(c.path), "base": str(c.base)} for c in pending],
                }
            )
        )
        started: str | None = None
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "tests.support.checkpoint_runner", str(manifest)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=BATCH_TIMEOUT_S,
            )
            stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout
            stdout = out.decode() if isinstance(out, bytes) else (out or "")
            stderr, rc = "timed out", None
        for line in stdout.splitlines():
            if line.startswith("START "):
                started = line[len("START ") :]
            elif line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
                results[result["name"]] = result
                started = None
        done = {c.name for c in pending if c.name in results}
        if started is not None:
            how = "hung" if rc is None else f"died with return code {rc}"
            failures.append(f"{started}: the runner {how} ({by_name[started].path}); {stderr[-1500:]}")
            done.add(started)
        elif rc != 0:
            failures.append(f"runner failed outside a case (return code {rc}): {stderr[-1500:]}")
            break
        pending = [c for c in pending if c.name not in done]
    return results, failures


def run_parallel(cases: list[Case], folder: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """:func:`run_batches` on every core: the cases dealt out to one runner process per core."""
    parts = max(1, min(len(cases), os.cpu_count() or 1))
    folders = [folder / f"part{k}" for k in range(parts)]
    for f in folders:
        f.mkdir()
    with ThreadPoolExecutor(max_workers=parts) as pool:
        outcomes = list(pool.map(run_batches, [cases[k::parts] for k in range(parts)], folders))
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for part_results, part_failures in outcomes:
        results |= part_results
        failures += part_failures
    return results, failures


def test_no_crafted_checkpoint_crashes_the_process(
    bases: dict[str, tuple[Path, Arrays]], tmp_path: Path
) -> None:
    t0 = time.perf_counter()
    cases = generate(bases, tmp_path)
    t_gen = time.perf_counter() - t0
    results, failures = run_parallel(cases, tmp_path)
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        result = results.get(case.name)
        if result is None:
            stats[case.cls]["crashed"] += 1
            continue
        end, problem = judge(result)
        stats[case.cls][end] += 1
        if problem is not None:
            failures.append(f"{case.name} ({case.path}): {problem}")
        else:
            case.path.unlink()  # about half a megabyte each; the failing ones stay to reproduce
    wall = time.perf_counter() - t0
    lines = [f"checkpoint fuzz: {len(cases)} hostile checkpoints over {', '.join(PRESETS)}"]
    lines.append(f"  {'class':<36} {'cases':>6} {'refused':>8} {'ran':>6} {'other':>6}")
    total: Counter[str] = Counter()
    for cls in sorted(stats):
        c = stats[cls]
        total.update(c)
        other = sum(c.values()) - c["refused"] - c["ran"]
        lines.append(f"  {cls:<36} {sum(c.values()):>6} {c['refused']:>8} {c['ran']:>6} {other:>6}")
    other = sum(total.values()) - total["refused"] - total["ran"]
    lines.append(
        f"  {'total':<36} {sum(total.values()):>6} {total['refused']:>8} {total['ran']:>6} {other:>6}"
    )
    lines.append(f"  generated in {t_gen:.1f} s, {wall:.1f} s in all")
    report = "\n".join(lines)
    print("\n" + report)
    dump = os.environ.get("CHECKPOINT_FUZZ_DUMP")
    if dump:
        rows = [{"class": c.cls, **results.get(c.name, {"name": c.name})} for c in cases]
        Path(dump).write_text(json.dumps(rows, indent=1))
    assert not failures, report + "\n" + "\n".join(failures[:20])
    assert len(results) == len(cases), report
