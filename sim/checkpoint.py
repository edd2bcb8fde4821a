"""Checkpoints: the whole state of a run in one ``.npz`` file, written atomically, for any experiment.

A checkpoint holds the configuration (as YAML text, whose ``experiment:`` key
names the experiment), the seed, the backend it was written on, every state
array and, optionally, the run's time series: the network, not its event log,
so a checkpoint's size does not grow with model time. Version 2 is written;
versions 1 and 2 are read (version 1 also held the event log, which is
ignored).

Loading trusts nothing in the file. Each entry's NumPy header is read before
its data, so no entry is read unless it has exactly the shape and dtype that
the embedded configuration implies (nothing is unpickled, and a hostile header
cannot make the loader allocate more than the configuration's arrays). Then
the experiment checks every value that reaches its kernels
(:meth:`sim.experiment.Experiment.state_problem`). Any problem raises
:class:`CheckpointError` with one line naming the file, the entry and the
value, e.g. ``run.npz: state.istate[stim_x] = 1000000000000 is outside the
16 x 16 grid``.
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

from sim.config import config_from_dict
from sim.errors import CheckpointError, ConfigError, OutputError, one_line, short_repr
from sim.experiment import Experiment, experiment_of
from sim.files import write_atomic
from sim.parameters import ConfigRoot, parse_yaml_text

FORMAT = "rewire-lab-checkpoint"
VERSION = 2
#: Versions this module reads (version 1 also held the event log, which is ignored).
READABLE_VERSIONS = (1, 2)

#: Longest embedded configuration read (characters); a preset's is a few thousand.
MAX_CONFIG_CHARS = 1 << 20
#: Longest backend name accepted.
MAX_BACKEND_CHARS = 32
#: Largest magnitude of a stored measurement in a run's time series.
FLOAT_CEILING = 1e30
#: Longest error message (the rest is cut); every message is one line.
MAX_MESSAGE_CHARS = 500

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

    config: Any
    seed: int
    backend: str
    #: The experiment's state object.
    state: Any
    #: The run's time series up to the checkpoint (column name -> values), when the writer kept one.
    history: Mapping[str, NDArray[np.float64]] | None = None

    @property
    def experiment(self) -> Experiment:
        """The experiment the checkpoint's configuration belongs to."""
        return experiment_of(self.config)


def expected_layout(cfg: ConfigRoot) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every state array of ``cfg``, as its experiment declares them."""
    return experiment_of(cfg).expected_layout(cfg)


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
    for key, arr in ckpt.experiment.state_to_arrays(ckpt.state).items():
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
    """Read and validate a checkpoint file of any experiment.

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
    experiment = experiment_of(cfg)
    try:
        layout = experiment.expected_layout(cfg)
    except ValueError as exc:
        raise fail(f"embedded configuration: {exc}") from None
    try:
        experiment.check_fits(cfg)  # the network it holds would not fit: refused before reading its arrays
    except ConfigError as exc:
        raise fail(f"embedded configuration: {exc}") from None
    arrays = {key: entries.array(f"state.{key}", shape, dtype) for key, (shape, dtype) in layout.items()}
    state = experiment.state_from_arrays(arrays, cfg)
    problem = experiment.state_problem(state, cfg, seed)
    if problem is not None:
        raise fail(problem)
    t_state = experiment.model_seconds(cfg, experiment.state_step(state))
    history = _read_history(entries, t_state, fail) if entries.has("history_columns") else None
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


def _read_history(entries: _Entries, t_state: float, fail: _Fail) -> dict[str, NDArray[np.float64]]:
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


def _embedded_config(text: str, source: str, fail: _Fail) -> ConfigRoot:
    """The configuration in ``text``, parsed with the bounded YAML reader and validated; one line."""
    try:
        return config_from_dict(parse_yaml_text(text, source), source=source)
    except ConfigError as exc:
        raise CheckpointError(one_line(str(exc), MAX_MESSAGE_CHARS)) from None
    except (TypeError, ValueError, OverflowError, RecursionError, KeyError) as exc:
        raise fail(f"embedded configuration is invalid ({type(exc).__name__}: {exc})") from None


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.9g}"
    return str(int(x)) if isinstance(x, (int, np.integer)) else str(x)
