"""The Spiking Heidelberg Digits (Cramer et al. 2020) from the user's own HDF5 files.

``path`` is either a folder holding ``shd_train.h5`` and ``shd_test.h5`` (the
published split), or one ``.h5`` file, whose examples are then split 80/20 at
random from the seed (20 % test, at least one example in each part). Each file
holds three datasets of equal length (one entry per example):

- ``spikes/times``: variable-length arrays of spike times in seconds (floats or integers);
- ``spikes/units``: variable-length integer arrays, the unit of each spike, in ``[0, 700)``;
- ``labels``: integers in ``[0, 20)`` (0-9 the English digits "zero" to "nine",
  10-19 the German "null" to "neun").

Spikes are binned at ``dt``: spike time ``t`` falls into step
``floor(t / dt)`` (computed with a tolerance of 1e-9 steps, so that ``0.003 / 0.001``
is step 3); spikes at or after ``n_steps * dt`` are dropped and several spikes
of one unit in one step count once. Times are taken as stored: a float32
``0.01`` is 0.00999999978 s and falls into step 9 at ``dt`` = 1 ms.

Anything wrong with a file is one :class:`~sim.errors.ConfigError` at
``data.path`` naming the file and the fault: a missing file or folder, a file
that is not HDF5, a missing or malformed dataset, datasets of different
lengths, an example with different numbers of times and units, a unit or label
out of range, a negative or non-finite time, or too many spikes.

Memory stays bounded whatever a file holds: the number of examples is capped
(:data:`~sim.data.spikes.MAX_EXAMPLES`) and the spikes of a file are capped
(:data:`MAX_FILE_SPIKES`). Where the file stores the spike lists contiguously or
in unfiltered chunks (what h5py writes by default), their lengths are read from
the raw storage first (16 bytes an example) and a file holding too many spikes
is refused before any spike is read; otherwise, and in any case, the spikes are
counted while they are read, a few examples at a time, and reading stops as
soon as the count passes the cap. Only the examples that are used (see
``n_train`` / ``n_test``) are read and checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.data.spikes import (
    MAX_EXAMPLES,
    MAX_SPIKES,
    SpikeData,
    SpikeDataset,
    concatenate,
    from_events,
    known_options,
    make_rng,
    size_value,
)
from sim.errors import ConfigError, one_line, short_repr

N_UNITS = 700
N_CLASSES = 20
CLASS_NAMES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
)
TRAIN_FILE = "shd_train.h5"
TEST_FILE = "shd_test.h5"
#: Share of the examples of a single file that go to the test part.
TEST_FRACTION = 0.2
TIMES_KEY = "spikes/times"
UNITS_KEY = "spikes/units"
LABELS_KEY = "labels"

#: The most spikes read from one file (module attribute, so tests can lower it).
MAX_FILE_SPIKES = MAX_SPIKES
#: Spikes read per chunk, and the most examples per chunk.
CHUNK_SPIKES = 1_000_000
CHUNK_EXAMPLES = 256

_SALT = 0x53_48_44_31  # "SHD1"
_TOLERANCE = 1e-9  # in steps


def _fail(file: Path | str, what: str) -> ConfigError:
    return ConfigError(f"{file}: {what}", path="data.path")


class _File:
    """One open SHD file: its three datasets checked for shape and type, labels read and checked."""

    def __init__(self, file: Path, missing: str = "no such file") -> None:
        import h5py  # type: ignore[import-untyped]

        self.file = file
        if not file.exists():
            raise _fail(file, missing)
        if not file.is_file():
            raise _fail(file, "not a file")
        try:
            with open(file, "rb") as fh:
                fh.read(8)
        except OSError as exc:
            raise _fail(file, f"cannot be read ({one_line(exc.strerror or str(exc), 160)})") from None
        try:
            if not h5py.is_hdf5(str(file)):
                raise _fail(file, "not an HDF5 file")
            self.h5 = h5py.File(file, "r")
        except OSError as exc:
            raise _fail(file, f"cannot be opened as HDF5 ({one_line(str(exc), 160)})") from None
        try:
            self.times = self._vlen(TIMES_KEY, "fiu", "numbers")
            self.units = self._vlen(UNITS_KEY, "iu", "integers")
            labels = self._dataset(LABELS_KEY)
            if labels.dtype.kind not in "iu":
                raise _fail(file, f"'{LABELS_KEY}' must hold integers, got {labels.dtype}")
            n = self.times.shape[0]
            if not (self.units.shape[0] == labels.shape[0] == n):
                raise _fail(
                    file,
                    f"mismatched lengths: {n} entries in '{TIMES_KEY}', {self.units.shape[0]} in "
                    f"'{UNITS_KEY}', {labels.shape[0]} in '{LABELS_KEY}'",
                )
            if n == 0:
                raise _fail(file, "holds no examples")
            if n > MAX_EXAMPLES:
                raise _fail(file, f"holds {n} examples, more than the {MAX_EXAMPLES} this loader reads")
            self.n = int(n)
            raw = np.asarray(labels[()])
            bad = (raw < 0) | (raw >= N_CLASSES)
            if bad.any():
                i = int(np.argmax(bad))
                raise _fail(file, f"example {i}: label {raw[i]} outside [0, {N_CLASSES})")
            self.labels = raw.astype(np.int64)
            self.planned = self._planned_lengths()
            self.spikes_read = 0
        except ConfigError:
            self.close()
            raise
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            self.close()
            raise _fail(file, f"cannot be read ({one_line(str(exc), 160)})") from None

    def close(self) -> None:
        self.h5.close()

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dataset(self, key: str) -> Any:
        import h5py

        try:
            obj = self.h5.get(key)
        except (KeyError, TypeError, ValueError, OSError):
            obj = None
        if obj is None:
            raise _fail(self.file, f"no dataset '{key}'")
        if not isinstance(obj, h5py.Dataset):
            raise _fail(self.file, f"'{key}' is not a dataset")
        if obj.shape is None or len(obj.shape) != 1:
            raise _fail(
                self.file, f"'{key}' must be a 1-D dataset (one entry per example), got shape {obj.shape}"
            )
        return obj

    def _vlen(self, key: str, kinds: str, what: str) -> Any:
        import h5py

        ds = self._dataset(key)
        base = h5py.check_vlen_dtype(ds.dtype)
        if base is None or base.kind not in kinds:
            got = ds.dtype if base is None else f"variable-length arrays of {base}"
            raise _fail(self.file, f"'{key}' must hold variable-length arrays of {what}, got {got}")
        return ds

    def _planned_lengths(self) -> NDArray[np.int64] | None:
        """The lengths of the spike lists read from the raw storage, or None where it cannot be read.

        Checks the total against :data:`MAX_FILE_SPIKES`. Each element of a
        variable-length dataset is stored as a 4-byte length and a global heap
        ID (an address and a 4-byte index); the lengths are read from there
        where the layout is contiguous or in unfiltered chunks, and only if
        every record looks sound (heap addresses inside the file) and h5py
        reads the same lengths for the first and last examples.
        """
        lengths = []
        for ds in (self.times, self.units):
            found = _raw_lengths(self.file, ds, self.h5)
            if found is None:
                return None
            # trust the parse only where h5py agrees on the first and the last (non-empty) examples
            nonzero = np.flatnonzero(found)
            probes = {0, self.n - 1} | ({int(nonzero[0]), int(nonzero[-1])} if nonzero.size else set())
            if any(len(ds[i]) != found[i] for i in sorted(probes)):
                return None
            lengths.append(found)
        times, units = lengths
        for key, found in ((TIMES_KEY, times), (UNITS_KEY, units)):
            total = int(found.sum())
            if total > MAX_FILE_SPIKES:
                raise _fail(
                    self.file,
                    f"'{key}' holds {total} spikes, more than the {MAX_FILE_SPIKES} this loader reads "
                    "(split the file or use fewer examples)",
                )
        differ = times != units
        if differ.any():
            i = int(np.argmax(differ))
            raise _fail(self.file, f"example {i}: {times[i]} times but {units[i]} units")
        return times

    def read(self, index: NDArray[np.int64], *, dt: float, n_steps: int) -> SpikeData:
        """The examples at ``index`` (sorted, unique), binned; checks their spikes."""
        parts: list[SpikeData] = []
        pos = 0
        largest = 0  # the most spikes of one example read so far
        while pos < index.size:
            if self.planned is not None:
                sizes = np.cumsum(self.planned[index[pos : pos + CHUNK_EXAMPLES]])
                count = max(1, int(np.searchsorted(sizes, CHUNK_SPIKES, side="right")))
            elif largest == 0:
                count = 8  # sizes unknown: learn them on a few examples first
            else:
                count = max(1, min(CHUNK_EXAMPLES, CHUNK_SPIKES // largest))
            chunk = index[pos : pos + count]
            pos += chunk.size
            part, n_read, biggest = self._chunk(chunk, dt=dt, n_steps=n_steps)
            self.spikes_read += n_read
            largest = max(largest, biggest)
            parts.append(part)
        return concatenate(parts)

    def _chunk(self, chunk: NDArray[np.int64], *, dt: float, n_steps: int) -> tuple[SpikeData, int, int]:
        first, last = int(chunk[0]), int(chunk[-1])
        select: Any = slice(first, last + 1) if last - first + 1 == chunk.size else chunk.tolist()
        try:
            times = self.times[select]
            units = self.units[select]
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise _fail(
                self.file, f"cannot read examples {first}-{last} ({one_line(str(exc), 160)})"
            ) from None
        n_times = np.fromiter((len(a) for a in times), dtype=np.int64, count=chunk.size)
        n_units = np.fromiter((len(a) for a in units), dtype=np.int64, count=chunk.size)
        differ = n_times != n_units
        if differ.any():
            k = int(np.argmax(differ))
            raise _fail(self.file, f"example {chunk[k]}: {n_times[k]} times but {n_units[k]} units")
        n_read = int(n_times.sum())
        if self.spikes_read + n_read > MAX_FILE_SPIKES:
            raise _fail(
                self.file,
                f"holds more than the {MAX_FILE_SPIKES} spikes this loader reads "
                "(split the file or use fewer examples)",
            )
        example = np.repeat(np.arange(chunk.size, dtype=np.int64), n_times)
        if n_read:
            t = np.concatenate(times).astype(np.float64)
            u = np.concatenate(units)
        else:
            t = np.empty(0, dtype=np.float64)
            u = np.empty(0, dtype=np.int64)
        bad = ~np.isfinite(t) | (t < 0)
        if bad.any():
            k = int(np.argmax(bad))
            raise _fail(
                self.file,
                f"example {chunk[example[k]]}: spike time {t[k]:.6g} is negative or not finite",
            )
        bad = (u < 0) | (u >= N_UNITS)
        if bad.any():
            k = int(np.argmax(bad))
            raise _fail(self.file, f"example {chunk[example[k]]}: unit {u[k]} outside [0, {N_UNITS})")
        with np.errstate(over="ignore"):  # a huge time becomes inf: dropped below
            t /= dt
        t += _TOLERANCE
        np.floor(t, out=t)
        keep = t < n_steps
        part = from_events(
            example[keep],
            t[keep].astype(np.int64),
            u[keep].astype(np.int64),
            self.labels[chunk],
            n_units=N_UNITS,
            n_steps=n_steps,
            n_classes=N_CLASSES,
        )
        return part, n_read, int(n_times.max(initial=0))


def _raw_lengths(file: Path, ds: Any, h5: Any) -> NDArray[np.int64] | None:
    """The sequence lengths of a 1-D variable-length dataset, read from its raw storage (or None)."""
    import h5py

    try:
        n = int(ds.shape[0])
        sizeof_addr = int(h5.id.get_create_plist().get_sizes()[0])
        if sizeof_addr not in (2, 4, 8):
            return None
        record = np.dtype([("len", "<u4"), ("addr", f"<u{sizeof_addr}"), ("idx", "<u4")])
        file_size = os.path.getsize(file)
        plist = ds.id.get_create_plist()
        layout = plist.get_layout()
        spans: list[tuple[int, int, int]] = []  # (first element, count, byte offset)
        if layout == h5py.h5d.CONTIGUOUS:
            offset = ds.id.get_offset()
            if offset is None or ds.id.get_storage_size() != n * record.itemsize:
                return None
            spans.append((0, n, int(offset)))
        elif layout == h5py.h5d.CHUNKED:
            if plist.get_nfilters() > 0 or ds.chunks is None:
                return None
            n_chunks = ds.id.get_num_chunks()
            if n_chunks > 100_000:
                return None
            rows = int(ds.chunks[0])
            for i in range(n_chunks):
                info = ds.id.get_chunk_info(i)
                start = int(info.chunk_offset[0])
                if info.byte_offset is None or not 0 <= start < n or info.size != rows * record.itemsize:
                    return None
                spans.append((start, min(rows, n - start), int(info.byte_offset)))
        else:
            return None
        lengths = np.zeros(n, dtype=np.int64)
        with open(file, "rb") as fh:
            for start, count, offset in spans:
                if offset < 0 or offset + count * record.itemsize > file_size:
                    return None
                fh.seek(offset)
                raw = np.frombuffer(fh.read(count * record.itemsize), dtype=record)
                if raw.shape[0] != count:
                    return None
                used = raw["len"] > 0
                if np.any(raw["addr"][used] >= file_size) or np.any(raw["idx"][used] == 0):
                    return None
                lengths[start : start + count] = raw["len"]
        return lengths
    except (OSError, ValueError, TypeError, AttributeError, RuntimeError):
        return None


def _pick(n: int, cap: int | None, rng: np.random.Generator | None) -> NDArray[np.int64]:
    """Which examples of ``n`` to use, in order: all, or a random order from ``rng``; the first ``cap``."""
    order = np.arange(n, dtype=np.int64) if rng is None else rng.permutation(n).astype(np.int64)
    return order if cap is None else order[:cap]


def _load_part(data: _File, order: NDArray[np.int64], *, dt: float, n_steps: int) -> SpikeData:
    """The examples ``order`` of an open file, in that order."""
    need = np.unique(order)
    part = data.read(need, dt=dt, n_steps=n_steps)
    return part if np.array_equal(need, order) else part.subset(np.searchsorted(need, order))


def load(
    *,
    seed: int,
    n_steps: int,
    dt: float,
    path: str | os.PathLike[str] | None,
    n_train: int | None = None,
    n_test: int | None = None,
    **options: Any,
) -> SpikeDataset:
    """The SHD from ``path`` (a folder with ``shd_train.h5`` and ``shd_test.h5``, or one file).

    Parameters
    ----------
    seed
        Shuffles the training examples (folder), or splits the single file
        80/20 and shuffles both parts (file).
    n_steps, dt
        The number of time steps and their length in seconds.
    path
        The folder or file.
    n_train, n_test
        At most this many examples (default: all). From a folder, the training
        examples are the first of the shuffled order, the test examples a
        subset fixed for every seed (a random choice from a constant seed,
        in file order), so that runs of different seeds test on the same examples.
    **options
        None.
    """
    known_options("shd", options, ())
    if path is None:
        raise ConfigError(
            f"the shd data set needs a folder holding {TRAIN_FILE} and {TEST_FILE}, or one .h5 file",
            path="data.path",
        )
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"must be a file or folder name, got {short_repr(path)}", path="data.path")
    root = Path(path).expanduser()
    train_cap = None if n_train is None else size_value(n_train, "data.n_train", 1)
    test_cap = None if n_test is None else size_value(n_test, "data.n_test", 1)
    if root.is_dir():
        missing = f"no such file (the folder needs {TRAIN_FILE} and {TEST_FILE})"
        with _File(root / TRAIN_FILE, missing) as data:
            train = _load_part(
                data, _pick(data.n, train_cap, make_rng(seed, _SALT, 0)), dt=dt, n_steps=n_steps
            )
        with _File(root / TEST_FILE, missing) as data:
            order = np.arange(data.n, dtype=np.int64)
            if test_cap is not None and test_cap < data.n:
                order = np.sort(make_rng(0, _SALT, 1).permutation(data.n)[:test_cap]).astype(np.int64)
            test = _load_part(data, order, dt=dt, n_steps=n_steps)
    elif root.exists():
        with _File(root) as data:
            if data.n < 2:
                raise _fail(
                    root, f"holds {data.n} example; one file is split into train and test and needs two"
                )
            order = make_rng(seed, _SALT, 2).permutation(data.n).astype(np.int64)
            n_test_part = min(max(1, round(TEST_FRACTION * data.n)), data.n - 1)
            train_order = order[n_test_part:][:train_cap]
            test_order = order[:n_test_part][:test_cap]
            train = _load_part(data, train_order, dt=dt, n_steps=n_steps)
            test = _load_part(data, test_order, dt=dt, n_steps=n_steps)
    else:
        raise _fail(root, "no such file or folder")
    return SpikeDataset(name="shd", train=train, test=test, class_names=CLASS_NAMES)
