"""Checkpoints: the whole state of a run in one ``.npz`` file, written atomically.

A checkpoint holds the configuration (as YAML text), the seed, the backend it
was written on and every state array: the network, not its history. The
rewiring events of a run go to the run's own files, so a checkpoint's size does
not grow with model time.

Loading trusts nothing in the file. Each entry's NumPy header is read before
its data, so no entry is read unless it has exactly the shape and dtype that
the embedded configuration implies (nothing is unpickled, and a hostile header
cannot make the loader allocate more than the configuration's arrays). Then
every value that reaches the kernels is checked against that configuration
(:func:`state_problem`): indices and counts within the sizes they index,
tables consistent, floats finite and within the bounds the model keeps. Any
problem raises :class:`CheckpointError` with one line naming the file, the
entry and the value, e.g. ``run.npz: state.istate[stim_x] = 1000000000000 is
outside the 16 x 16 grid``.
"""

from __future__ import annotations

import math
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from sim.config import ModelConfig, config_from_dict, param_spec, parse_yaml_text
from sim.errors import CheckpointError, ConfigError, OutputError, one_line, short_repr
from sim.files import write_atomic
from sim.lesion import SILENCED_STEPS
from sim.memory import check_fits
from sim.params import steps_of
from sim.state import (
    N_ISTATE,
    S_ATTEMPTS_FF,
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
    empty_neurons,
)
from sim.synapses import N_STATS, SynapseTable, TableArrays, empty_table

FORMAT = "rewire-lab-checkpoint"
VERSION = 2
#: Versions this module reads (version 1 also held the event log, which is ignored).
READABLE_VERSIONS = (1, 2)

#: Longest embedded configuration read (characters); a preset's is a few thousand.
MAX_CONFIG_CHARS = 1 << 20
#: Longest backend name accepted.
MAX_BACKEND_CHARS = 32
#: Steps are counted below this: the random counters hold step bits 0..47 (``sim.philox``).
STEP_LIMIT = 2**48
#: Cumulative counters (attempts, synapses formed and removed) stay below this.
COUNTER_LIMIT = 2**62
#: Membrane potentials lie within this many mV of zero: every potential of a configuration is
#: within [-200, 200] mV and the initial draw within 6 standard deviations (at most 100 mV) of it.
V_LIMIT = 1000.0
#: Ceiling of the derived float bounds, far below float32's overflow even when multiplied by a
#: reversal potential, so nothing a check admits turns into inf or NaN in a step.
FLOAT_CEILING = 1e30
#: Longest error message (the rest is cut); every message is one line.
MAX_MESSAGE_CHARS = 500

#: Names of the entries of ``state.istate``, for messages.
ISTATE_NAMES = (
    "step",
    "stim_index",
    "stim_next",
    "stim_x",
    "stim_y",
    "n_spk_src",
    "n_spk_tgt",
    "stim_dirty",
    "attempts_ff",
    "attempts_lat",
)
_DIM_NAMES = ("n_pre", "n_post", "row_cap", "col_cap")
_BACKEND_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
#: What reading a hostile archive member can raise, besides what is checked first.
_READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,
    RuntimeError,
    KeyError,
    SyntaxError,
    TypeError,
    OverflowError,
    MemoryError,
)

_Fail = Callable[[str], CheckpointError]


@dataclass(frozen=True)
class Checkpoint:
    """The content of a checkpoint file."""

    config: ModelConfig
    seed: int
    backend: str
    state: NetworkState
    #: The run's time series up to the checkpoint (column name -> values), when the writer kept one.
    history: Mapping[str, NDArray[np.float64]] | None = None


def expected_layout(cfg: ModelConfig) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every state array for configuration ``cfg`` (computed, nothing allocated).

    Raises ``ValueError`` when a table of ``cfg`` would exceed 2**31 entries, as
    :func:`sim.synapses.empty_table` does.
    """
    n, con = cfg.n_neurons, cfg.connectivity
    rc, cc = con.row_capacity, con.col_capacity
    if n * rc >= 2**31:
        raise ValueError(f"table too large: {n} rows x {rc} synapses exceeds 2**31 entries")
    layout: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {"istate": ((N_ISTATE,), np.dtype(np.int64))}
    for name, arr in empty_neurons(1)._asdict().items():
        layout[f"neurons.{name}"] = ((n,), arr.dtype)
    sizes = {
        "row_len": n,
        "post": n * rc,
        "weight": n * rc,
        "col_pos": n * rc,
        "col_len": n,
        "col_syn": n * cc,
        "dims": 4,
        "stats": N_STATS,
    }
    proto = empty_table(1, 1, 1, 1)
    for group in ("ff", "lat"):
        for name, arr in proto._asdict().items():
            layout[f"{group}.{name}"] = ((sizes[name],), arr.dtype)
    return layout


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically (an existing file is replaced only when complete)."""
    p = Path(path)
    if not p.parent.exists():
        raise CheckpointError(f"{p}: folder {p.parent} does not exist")
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "config_yaml": np.array(ckpt.config.to_yaml()),
        "seed": np.array(ckpt.seed, dtype=np.uint64),
        "backend": np.array(ckpt.backend),
    }
    for key, arr in ckpt.state.to_arrays().items():
        arrays[f"state.{key}"] = arr
    if ckpt.history is not None:
        names, table = _history_table(ckpt.history)
        arrays["history_columns"] = np.array(",".join(names))
        arrays["history"] = table
    try:
        write_atomic(p, lambda fh: np.savez_compressed(fh, **arrays))
    except OutputError as exc:
        raise CheckpointError(f"cannot write checkpoint: {exc}") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint file.

    Raises :class:`CheckpointError` (one line naming the file, the entry and the
    problem) for anything missing, malformed, of the wrong shape or dtype, or
    holding a value the kernels of its configuration cannot take.
    """
    p = Path(path)

    def fail(msg: str) -> CheckpointError:
        return CheckpointError(one_line(f"{p}: {msg}", MAX_MESSAGE_CHARS))

    if not p.is_file():
        raise fail("file not found")
    if not zipfile.is_zipfile(p):
        raise fail("not a checkpoint file (not an .npz archive)")
    try:
        archive = zipfile.ZipFile(p)
    except _READ_ERRORS as exc:
        raise fail(f"not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    with archive:
        return _load(_Entries(archive, fail), p, fail)


def _load(entries: _Entries, p: Path, fail: _Fail) -> Checkpoint:
    fmt = entries.text("format", 64, missing="not a Rewire Lab checkpoint (no format marker)")
    if fmt != FORMAT:
        raise fail("not a Rewire Lab checkpoint (no format marker)")
    version = entries.integer("version")
    if version not in READABLE_VERSIONS:
        raise fail(f"checkpoint version {version} is not supported (this version reads 1 and 2)")
    seed = entries.integer("seed")
    if not 0 <= seed < 2**64:
        raise fail(f"seed {seed} is not a whole number in [0, 2**64)")
    backend = entries.text("backend", MAX_BACKEND_CHARS)
    if not _BACKEND_NAME.match(backend):
        raise fail(f"backend {backend!r} is not a backend name")
    cfg = _embedded_config(
        entries.text("config_yaml", MAX_CONFIG_CHARS), f"{p} (embedded configuration)", fail
    )
    try:
        layout = expected_layout(cfg)
    except ValueError as exc:
        raise fail(f"embedded configuration: {exc}") from None
    try:
        check_fits(cfg)  # the network it holds would not fit: refused before reading its arrays
    except ConfigError as exc:
        raise fail(f"embedded configuration: {exc}") from None
    arrays = {key: entries.array(f"state.{key}", shape, dtype) for key, (shape, dtype) in layout.items()}
    state = NetworkState.from_arrays(arrays)
    problem = state_problem(state, cfg)
    if problem is not None:
        raise fail(problem)
    # Scratch of the LIF update: written before it is read in every step.
    state.neurons.fac[:] = 0.0
    state.neurons.bits[:] = 0
    history = _read_history(entries, cfg, state, fail) if entries.has("history_columns") else None
    return Checkpoint(cfg, seed, backend, state, history)


# --------------------------------------------------------------------------- the run's time series

#: Most columns and rows of the time series a checkpoint may carry (a row a model second for a
#: week of model time; 32 columns of it are 155 MB at most, checked before anything is read).
MAX_HISTORY_COLUMNS = 32
MAX_HISTORY_ROWS = 604_800
_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")


def _history_table(history: Mapping[str, NDArray[np.float64]]) -> tuple[list[str], NDArray[np.float64]]:
    """Column names and the rows x columns float64 table of ``history`` (``t`` first)."""
    names = list(history)
    if not names or names[0] != "t" or len(names) > MAX_HISTORY_COLUMNS:
        raise ValueError(f"a history has 't' first and at most {MAX_HISTORY_COLUMNS} columns, got {names}")
    bad = [n for n in names if not _COLUMN_NAME.match(n)]
    if bad:
        raise ValueError(f"history column names must be lower-case identifiers, got {bad}")
    columns = [np.asarray(history[n], dtype=np.float64) for n in names]
    if len({c.shape for c in columns}) != 1 or columns[0].ndim != 1 or len(columns[0]) > MAX_HISTORY_ROWS:
        raise ValueError(f"history columns must be 1-D, of one length, at most {MAX_HISTORY_ROWS} rows")
    return names, np.stack(columns, axis=1)


def _read_history(
    entries: _Entries, cfg: ModelConfig, state: NetworkState, fail: _Fail
) -> dict[str, NDArray[np.float64]]:
    """The time series stored with the state: named columns, ``t`` rising from 0 to the state's time."""
    names = entries.text("history_columns", MAX_HISTORY_COLUMNS * 33).split(",")
    bad = next((n for n in names if not _COLUMN_NAME.match(n)), None)
    if bad is not None or names[0] != "t" or len(set(names)) != len(names):
        raise fail(
            f"history_columns {short_repr(','.join(names))} is not a list of column names starting with t"
        )
    if len(names) > MAX_HISTORY_COLUMNS:
        raise fail(f"history_columns names {len(names)} columns, at most {MAX_HISTORY_COLUMNS} allowed")
    table = entries.table("history", len(names), MAX_HISTORY_ROWS)
    t = table[:, 0]
    t_state = int(state.istate[S_STEP]) * cfg.network.dt * 1e-3
    if not np.all(np.isfinite(t)) or (len(t) and (t[0] < 0.0 or t[-1] > t_state + 1e-9)):
        raise fail(f"history.t is not within [0, {t_state:g}] s, the model time of the state")
    if np.any(np.diff(t) <= 0.0):
        raise fail("history.t does not rise from row to row")
    values = table[:, 1:]
    wild = ~np.isnan(values) & ~(np.abs(values) <= FLOAT_CEILING)
    if wild.any():
        row, col = (int(i[0]) for i in np.nonzero(wild))
        raise fail(f"history.{names[col + 1]}[{row}] = {_fmt(values[row, col])} is not a finite measurement")
    return {name: table[:, i].copy() for i, name in enumerate(names)}


# --------------------------------------------------------------------------- reading entries


class _Entries:
    """The ``.npy`` members of an open archive, each read only after its header has been checked."""

    def __init__(self, archive: zipfile.ZipFile, fail: _Fail) -> None:
        self._archive = archive
        self._fail = fail
        self._members = {
            info.filename[: -len(".npy")]: info
            for info in archive.infolist()
            if info.filename.endswith(".npy") and not info.is_dir()
        }

    def _read(
        self,
        key: str,
        check: Callable[[tuple[int, ...], np.dtype[Any]], str | None],
        missing: str | None = None,
    ) -> tuple[bytes, tuple[int, ...], np.dtype[Any], bool]:
        """Raw data, shape, dtype and Fortran order of entry ``key``, once ``check`` passes its header."""
        info = self._members.get(key)
        if info is None:
            raise self._fail(missing or f"'{key}' is missing")
        try:
            with self._archive.open(info) as fh:
                shape, fortran, dtype = _read_header(fh)
                problem = check(shape, dtype)
                if problem is not None:
                    raise self._fail(problem)
                nbytes = math.prod(shape) * dtype.itemsize
                data = fh.read(nbytes)
        except CheckpointError:
            raise
        except _READ_ERRORS as exc:
            raise self._fail(f"'{key}' is not readable ({type(exc).__name__}: {exc})") from None
        if len(data) != nbytes:
            raise self._fail(f"'{key}' is truncated ({len(data)} of {nbytes} bytes)")
        return data, shape, dtype, fortran

    def array(self, key: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]:
        """Entry ``key``, which must have exactly ``shape`` and ``dtype``."""

        def check(got_shape: tuple[int, ...], got_dtype: np.dtype[Any]) -> str | None:
            if got_shape == shape and got_dtype == dtype:
                return None
            return f"{key} has shape {got_shape} {got_dtype}, expected {shape} {dtype}"

        data, _shape, _dtype, fortran = self._read(key, check)
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    def has(self, key: str) -> bool:
        """Whether the archive holds entry ``key``."""
        return key in self._members

    def table(self, key: str, columns: int, max_rows: int) -> NDArray[np.float64]:
        """Entry ``key``: a float64 table of ``columns`` columns and at most ``max_rows`` rows."""

        def check(shape: tuple[int, ...], dtype: np.dtype[Any]) -> str | None:
            if len(shape) == 2 and shape[1] == columns and shape[0] <= max_rows and dtype == np.float64:
                return None
            return (
                f"{key} has shape {shape} {dtype}, expected (rows, {columns}) float64 "
                f"with at most {max_rows} rows"
            )

        data, shape, dtype, fortran = self._read(key, check)
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    def integer(self, key: str) -> int:
        """Scalar integer entry ``key``."""

        def check(shape: tuple[int, ...], dtype: np.dtype[Any]) -> str | None:
            if shape == () and dtype.kind in "iu" and dtype.itemsize <= 8 and dtype.subdtype is None:
                return None
            return f"'{key}' is not a whole number (shape {shape}, dtype {dtype})"

        data, _shape, dtype, _f = self._read(key, check)
        return int(np.frombuffer(data, dtype=dtype)[0])

    def text(self, key: str, max_chars: int, missing: str | None = None) -> str:
        """Scalar string entry ``key`` of at most ``max_chars`` characters."""

        def check(shape: tuple[int, ...], dtype: np.dtype[Any]) -> str | None:
            if shape != () or dtype.kind != "U" or dtype.subdtype is not None:
                return f"'{key}' is not a text (shape {shape}, dtype {dtype})"
            if not 0 < dtype.itemsize <= 4 * max_chars:
                return f"'{key}' is longer than {max_chars} characters"
            return None

        data, _shape, dtype, _f = self._read(key, check, missing)
        try:
            big = dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big")
            return data.decode("utf-32-be" if big else "utf-32-le").rstrip("\x00")
        except UnicodeDecodeError:
            raise self._fail(f"'{key}' holds characters that are not Unicode") from None


def _read_header(fh: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Shape, Fortran order and dtype from a ``.npy`` header; refuses object dtypes."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ValueError("holds Python objects")
    return tuple(int(d) for d in shape), bool(fortran), dtype


def _embedded_config(text: str, source: str, fail: _Fail) -> ModelConfig:
    """The configuration in ``text``, parsed with the bounded YAML reader and validated; one line."""
    try:
        return config_from_dict(parse_yaml_text(text, source), source=source)
    except ConfigError as exc:
        raise CheckpointError(one_line(str(exc), MAX_MESSAGE_CHARS)) from None
    except (TypeError, ValueError, OverflowError, RecursionError, KeyError) as exc:
        raise fail(f"embedded configuration is invalid ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------- checking values


@dataclass(frozen=True)
class _Bounds:
    """What the kernels of one configuration can take, and the bounds the model keeps."""

    n: int
    tile: int
    side: int
    row_cap: int
    col_cap: int
    w_max: float  # weights: STDP clips to [0, g_max]; g_max is live, so up to its largest value
    pend_max: float  # one step's input: at most 2 col_cap inputs of at most w_max each
    g_max: float  # conductances: the input's steady state, (1 + tau_syn / dt) steps of it
    trace_max: float  # traces: one per spike, decaying; (1 + tau / dt) at most
    refrac_max: int  # refractory steps: tau_ref / dt, or a lesion's silenced neurons
    stim_every_max: int  # steps between stimulus locations (the period is live)
    slot_s_max: int | None  # the slot scheme's shared in-degree cap


def _hi(path: str) -> float:
    hi = param_spec(path).hi
    assert hi is not None, path
    return float(hi)


def _bounds(cfg: ModelConfig) -> _Bounds:
    dt = cfg.network.dt
    con = cfg.connectivity
    w_max = max(cfg.stdp.g_max, _hi("stdp.g_max"))
    pend_max = min(4.0 * con.col_capacity * w_max, FLOAT_CEILING)
    tau_trace = max(cfg.stdp.tau_plus, cfg.stdp.tau_minus, _hi("stdp.tau_plus"), _hi("stdp.tau_minus"))
    return _Bounds(
        n=cfg.n_neurons,
        tile=16 if cfg.stimulus.tiled else cfg.side,
        side=cfg.side,
        row_cap=con.row_capacity,
        col_cap=con.col_capacity,
        w_max=w_max,
        pend_max=pend_max,
        g_max=min(pend_max * (1.0 + max(cfg.neuron.tau_syn, _hi("neuron.tau_syn")) / dt), FLOAT_CEILING),
        trace_max=min(1.0 + tau_trace / dt, FLOAT_CEILING),
        refrac_max=max(
            SILENCED_STEPS, min(round(max(cfg.neuron.tau_ref, _hi("neuron.tau_ref")) / dt), 2**31 - 1)
        ),
        stim_every_max=max(steps_of(cfg.stimulus.period, dt), steps_of(_hi("stimulus.period"), dt)),
        slot_s_max=cfg.rewiring.s_max if cfg.rewiring.scheme == "slot" else None,
    )


def state_problem(state: NetworkState, cfg: ModelConfig) -> str | None:
    """The first value of ``state`` that the kernels of ``cfg`` must not be given, or None.

    ``state`` must already have the shapes and dtypes of :func:`expected_layout`.
    The answer is one line naming the array, the element and the value, e.g.
    ``state.neurons.v[3] = nan is not a membrane potential in [-1000, 1000] mV``.
    """
    b = _bounds(cfg)
    return _istate_problem(state.istate, b) or _neuron_problem(state, b) or _tables_problem(state, b)


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.9g}"
    return str(int(x)) if isinstance(x, (int, np.integer)) else str(x)


def _first_bad(bad: NDArray[np.bool_]) -> int | None:
    return int(np.argmax(bad)) if bad.any() else None


def _ints_outside(name: str, a: NDArray[Any], lo: int, hi: int, why: str = "") -> str | None:
    """``name[i] = v is outside [lo, hi]`` for the first element out of range."""
    i = _first_bad((a < lo) | (a > hi))
    if i is None:
        return None
    return f"{name}[{i}] = {_fmt(a[i])} is outside [{lo}, {hi}]{why}"


def _floats_outside(
    name: str, a: NDArray[Any], lo: float, hi: float, what: str, unit: str = ""
) -> str | None:
    """``name[i] = v is not WHAT in [lo, hi]`` for the first element not finite or out of range."""
    i = _first_bad(~np.isfinite(a) | (a < lo) | (a > hi))
    if i is None:
        return None
    return f"{name}[{i}] = {_fmt(a[i])} is not {what} in [{_fmt(lo)}, {_fmt(hi)}]{unit}"


def _istate_problem(ist: NDArray[np.int64], b: _Bounds) -> str | None:
    def at(k: int) -> str:
        return f"state.istate[{ISTATE_NAMES[k]}] = {int(ist[k])}"

    step = int(ist[S_STEP])
    if not 0 <= step < STEP_LIMIT:
        return f"{at(S_STEP)} is outside [0, 2**48)"
    if not 0 <= ist[S_STIM_INDEX] <= step:
        return f"{at(S_STIM_INDEX)} is outside [0, {step}] (at most one stimulus per step)"
    if not step <= ist[S_STIM_NEXT] <= step + b.stim_every_max:
        return f"{at(S_STIM_NEXT)} is outside [{step}, {step + b.stim_every_max}] (the stimulus period)"
    where = "grid" if b.tile == b.side else "stimulus tile"
    for k in (S_STIM_X, S_STIM_Y):
        if not 0 <= ist[k] < b.tile:
            return f"{at(k)} is outside the {b.tile} x {b.tile} {where}"
    for k in (S_N_SPK_SRC, S_N_SPK_TGT):
        if not 0 <= ist[k] <= b.n:
            return f"{at(k)} is outside [0, {b.n}] (neurons per layer)"
    if ist[S_STIM_DIRTY] not in (0, 1):
        return f"{at(S_STIM_DIRTY)} is not 0 or 1"
    for k in (S_ATTEMPTS_FF, S_ATTEMPTS_LAT):
        if not 0 <= ist[k] < COUNTER_LIMIT:
            return f"{at(k)} is outside [0, 2**62)"
    return None


def _neuron_problem(state: NetworkState, b: _Bounds) -> str | None:
    nrn, ist = state.neurons, state.istate
    step = int(ist[S_STEP])
    p = "state.neurons."
    floats = (
        ("v", -V_LIMIT, V_LIMIT, "a membrane potential", " mV"),
        ("g_ex", 0.0, b.g_max, "a conductance", ""),
        ("g_inh", 0.0, b.g_max, "a conductance", ""),
        ("pend_ex", 0.0, b.pend_max, "one step's input", ""),
        ("pend_inh", 0.0, b.pend_max, "one step's input", ""),
        ("x_src", 0.0, b.trace_max, "a trace", ""),
        ("x_tgt", 0.0, b.trace_max, "a trace", ""),
        ("y_tgt", 0.0, b.trace_max, "a trace", ""),
        ("p_src", 0.0, 1.0, "a probability", ""),
        ("cdf_src", 0.0, 1.0, "a probability", ""),
    )
    for name, lo, hi, what, unit in floats:
        problem = _floats_outside(p + name, getattr(nrn, name), lo, hi, what, unit)
        if problem is not None:
            return problem
    return (
        _ints_outside(p + "refrac", nrn.refrac, 0, b.refrac_max, " (refractory steps)")
        or _ints_outside(p + "count_src", nrn.count_src, 0, step, " (at most one spike per step)")
        or _ints_outside(p + "count_tgt", nrn.count_tgt, 0, step, " (at most one spike per step)")
        or _spike_ids(p + "spk_src", nrn.spk_src, int(ist[S_N_SPK_SRC]), b.n)
        or _spike_ids(p + "spk_tgt", nrn.spk_tgt, int(ist[S_N_SPK_TGT]), b.n)
        or _fired_problem(p + "fired", nrn.fired)
    )


def _spike_ids(name: str, ids: NDArray[np.int32], count: int, n: int) -> str | None:
    return _ints_outside(name, ids[:count], 0, n - 1, f" (neuron ids; the first {count} are spikes)")


def _fired_problem(name: str, fired: NDArray[np.bool_]) -> str | None:
    i = _first_bad(fired)
    if i is None:
        return None
    return f"{name}[{i}] is set, but a checkpoint is taken between steps, when every flag is clear"


def _tables_problem(state: NetworkState, b: _Bounds) -> str | None:
    for name, t in (("ff", state.ff), ("lat", state.lat)):
        problem = _table_problem(f"state.{name}.", t, b)
        if problem is not None:
            return problem
    if b.slot_s_max is not None:
        total = state.ff.col_len.astype(np.int64) + state.lat.col_len
        j = _first_bad(total > b.slot_s_max)
        if j is not None:
            return (
                f"state.ff.col_len[{j}] + state.lat.col_len[{j}] = {int(total[j])} exceeds "
                f"rewiring.s_max ({b.slot_s_max}), the slots of the slot scheme"
            )
    return None


def _table_problem(p: str, t: TableArrays, b: _Bounds) -> str | None:
    """Every index of table ``t`` in range and the table consistent; the ranges are checked here,
    in NumPy, before the compiled invariant check reads anything through them."""
    n, rc, cc = b.n, b.row_cap, b.col_cap
    expected = (n, n, rc, cc)
    for k, want in enumerate(expected):
        if t.dims[k] != want:
            return f"{p}dims[{_DIM_NAMES[k]}] = {int(t.dims[k])}, but the configuration's is {want}"
    problem = (
        _ints_outside(p + "stats", t.stats, 0, COUNTER_LIMIT - 1)
        or _ints_outside(p + "row_len", t.row_len, 0, rc, " (connectivity.row_capacity)")
        or _ints_outside(p + "col_len", t.col_len, 0, cc, " (connectivity.col_capacity)")
    )
    if problem is not None:
        return problem
    live = (np.arange(rc, dtype=np.int32)[None, :] < t.row_len[:, None]).ravel()
    s_live = np.flatnonzero(live)
    for name in ("post", "weight", "col_pos"):
        arr = getattr(t, name)
        s = _first_bad((arr != 0) & ~live)
        if s is not None:
            return (
                f"{p}{name}[{s}] = {_fmt(arr[s])} lies past the end of row {s // rc} "
                f"(length {int(t.row_len[s // rc])}), where storage is zero"
            )
    post = t.post[s_live]
    i = _first_bad((post < 0) | (post >= n))
    if i is not None:
        return f"{p}post[{s_live[i]}] = {int(post[i])} is outside [0, {n - 1}] (postsynaptic neuron ids)"
    weight = t.weight[s_live]
    i = _first_bad(~np.isfinite(weight) | (weight < 0.0) | (weight > b.w_max))
    if i is not None:
        return f"{p}weight[{s_live[i]}] = {_fmt(weight[i])} is not a weight in [0, {_fmt(b.w_max)}]"
    in_degree = np.bincount(post, minlength=n)
    j = _first_bad(in_degree != t.col_len)
    if j is not None:
        return (
            f"{p}col_len[{j}] = {int(t.col_len[j])}, but {int(in_degree[j])} synapses in the rows end there"
        )
    col_pos = t.col_pos[s_live]
    i = _first_bad((col_pos < 0) | (col_pos >= t.col_len[post]))
    if i is not None:
        return (
            f"{p}col_pos[{s_live[i]}] = {int(col_pos[i])} is outside [0, {int(t.col_len[post[i]]) - 1}] "
            f"(its column's length)"
        )
    col_live = (np.arange(cc, dtype=np.int32)[None, :] < t.col_len[:, None]).ravel()
    c = _first_bad((t.col_syn != 0) & ~col_live)
    if c is not None:
        return (
            f"{p}col_syn[{c}] = {int(t.col_syn[c])} lies past the end of column {c // cc} "
            f"(length {int(t.col_len[c // cc])}), where storage is zero"
        )
    back = t.col_syn[post.astype(np.int64) * cc + col_pos]
    i = _first_bad(back != s_live)
    if i is not None:
        c = int(post[i]) * cc + int(col_pos[i])
        return f"{p}col_syn[{c}] = {int(back[i])} does not point back to synapse {int(s_live[i])}"
    # Every index is in range now; the compiled check confirms the invariants it defines.
    try:
        SynapseTable(t).check()
    except AssertionError as exc:
        return f"{p[:-1]} synapse table is corrupt ({exc})"
    return None
