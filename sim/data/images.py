"""Image data sets (static images, e.g. for a convolutional spiking network), built reproducibly from a seed.

:func:`load_image_dataset` builds one of :data:`IMAGE_DATASETS` as an
:class:`ImageDataset`: training and test images as ``(N, C, H, W)`` float32
arrays in ``[0, 1]`` and their labels as int64, all C-contiguous and read-only.

- ``digits``: scikit-learn's 8x8 digits, ``(1, 8, 8)``, 10 classes, with the
  fixed train/test split of :func:`~sim.data.digits.digits_split` (1,347 / 450);
  the order of the training images is shuffled from the seed.
- ``shapes``: generated from the seed: one filled shape per image (class 0
  square, 1 disc, 2 plus, 3 triangle; with the option ``n_classes`` also 4 ring
  and 5 diagonal cross) at a random position and size (its bounding square of
  side 35-70 % of the image, fully inside), of intensity in ``[0.6, 1.0]``,
  plus Gaussian pixel noise, clipped to ``[0, 1]``. Labels are balanced (each
  class equally often, up to one) in a random order. Training and test images
  come from independent random streams, so the test set does not depend on
  ``n_train`` (nor the training set on ``n_test``). Options: ``size`` (the side
  in pixels, 8..64, default 16), ``noise`` (the standard deviation of the
  pixel noise, in ``[0, 1]``, default 0.1), ``n_classes`` (2..6, default 4).
- ``cifar10``: the user's own copy of CIFAR-10, *binary* version (never the
  pickled one): ``path`` is a folder holding ``test_batch.bin`` and at least one
  of ``data_batch_1.bin`` .. ``data_batch_5.bin``. Each file is a sequence of
  3073-byte records: a label byte (0..9), then 1024 red, 1024 green and 1024
  blue bytes, each a row-major 32x32 plane. Images ``(3, 32, 32)``, 10 classes.

Every failure in the caller's values or files is a :class:`~sim.errors.ConfigError`
whose key path starts with ``data.`` (``seed`` for the seed): ``data.name`` for
an unknown data set, ``data.path`` for a missing or malformed folder or file
(naming the file and the fault), ``data.n_train`` / ``data.n_test`` for bad
sizes and ``data.<option>`` for a bad or unknown option.

Loaded data sets are kept in a small cache (the last :data:`CACHE_SIZE`), keyed
on the arguments and, for files, their size and modification time; the arrays
are read-only, so sharing them is safe.

This module uses NumPy only (and scikit-learn through :mod:`sim.data.digits`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from sim.data.digits import digits_images, digits_split
from sim.data.spikes import int_value, known_options, make_rng, size_value
from sim.errors import ConfigError, one_line, short_repr

__all__ = [
    "CIFAR10_CLASS_NAMES",
    "IMAGE_DATASETS",
    "SHAPE_NAMES",
    "ImageDataset",
    "image_dataset_shape",
    "load_image_dataset",
]

#: The names :func:`load_image_dataset` knows.
IMAGE_DATASETS = ("digits", "shapes", "cifar10")

#: How many loaded data sets the cache keeps.
CACHE_SIZE = 2

#: The most bytes of float32 images of one part (train or test) of a generated data set.
MAX_PART_BYTES = 2**31

# --------------------------------------------------------------------------- digits

DIGITS_CLASS_NAMES = tuple(str(d) for d in range(10))
_DIGITS_SALT = 0x49_44_47_31  # "IDG1"

# --------------------------------------------------------------------------- shapes

#: The class names of ``shapes``, in label order (the first ``n_classes`` are used).
SHAPE_NAMES = ("filled square", "filled disc", "plus", "filled triangle", "ring", "diagonal cross")
SHAPES_OPTIONS = ("size", "noise", "n_classes")
SHAPES_SIZE = 16
SHAPES_MIN_SIZE = 8
SHAPES_MAX_SIZE = 64
SHAPES_NOISE = 0.1
SHAPES_CLASSES = 4
SHAPES_TRAIN = 2000
SHAPES_TEST = 500
#: The side of a shape's bounding square, as a fraction of the image's side.
SHAPES_SCALE = (0.35, 0.70)
#: The intensity of a shape's pixels (before noise).
SHAPES_INTENSITY = (0.6, 1.0)
#: Images generated per batch (bounds the temporary arrays).
_SHAPES_BATCH = 2048
_SHAPES_SALT = 0x53_48_50_31  # "SHP1"

# --------------------------------------------------------------------------- cifar10

CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
#: Bytes of one record: a label byte, then 3 x 32 x 32 pixel bytes.
CIFAR10_RECORD = 1 + 3 * 32 * 32
#: The most records read from one file (a CIFAR-10 batch holds 10,000).
CIFAR10_MAX_RECORDS = 10_000
_CIFAR10_SALT = 0x43_49_46_31  # "CIF1"
_CIFAR10_LAYOUT = (
    f"CIFAR-10 binary version: records of {CIFAR10_RECORD} bytes, a label byte 0..9 then 3072 pixel bytes"
)
_CIFAR10_FOLDER = (
    f"a folder holding {CIFAR10_TEST_FILE} and at least one of "
    f"{CIFAR10_TRAIN_FILES[0]} .. {CIFAR10_TRAIN_FILES[-1]} (the CIFAR-10 binary version)"
)


@dataclass(frozen=True)
class ImageDataset:
    """A named image data set: training and test images of one shape, their labels and class names.

    Attributes
    ----------
    name
        The data set's name (one of :data:`IMAGE_DATASETS`).
    train_images, test_images
        ``(N, C, H, W)`` float32 in ``[0, 1]``, C-contiguous, read-only.
    train_labels, test_labels
        ``(N,)`` int64 in ``[0, n_classes)``, read-only.
    class_names
        One name per class, in label order.
    """

    name: str
    train_images: NDArray[np.float32]
    train_labels: NDArray[np.int64]
    test_images: NDArray[np.float32]
    test_labels: NDArray[np.int64]
    class_names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one image, ``(C, H, W)``."""
        c, h, w = self.train_images.shape[1:]
        return int(c), int(h), int(w)


# --------------------------------------------------------------------------- public functions


def load_image_dataset(
    name: str,
    *,
    seed: int,
    path: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    **options: Any,
) -> ImageDataset:
    """Build the image data set ``name`` from ``seed``.

    Parameters
    ----------
    name
        One of :data:`IMAGE_DATASETS`.
    seed
        A non-negative integer; every draw and shuffle comes from it, so the
        same seed gives the same arrays.
    path
        cifar10 only (ignored by the others): a folder holding ``test_batch.bin``
        and at least one of ``data_batch_1.bin`` .. ``data_batch_5.bin``.
    n_train, n_test
        The numbers of training and test images: for ``shapes`` their sizes
        (default 2,000 and 500), for the read data sets caps (default: all).
        digits and cifar10 take the first ``n_train`` of the shuffled training
        images and the first ``n_test`` test images in their fixed order.
    **options
        Options of the data set: ``size``, ``noise`` and ``n_classes`` (shapes);
        the others take none.

    Returns
    -------
    ImageDataset
        Possibly the same object as an earlier call with the same arguments
        (a small cache); its arrays are read-only.

    Raises
    ------
    ConfigError
        An unknown name (``data.name``), a bad seed (``seed``), size
        (``data.n_train``, ``data.n_test``) or option (``data.<option>``), or a
        missing or malformed folder or file (``data.path``).
    """
    name = _name(name)
    seed = int_value(seed, "seed", low=0, high=2**64 - 1)
    opts = _options(name, options)
    if name == "shapes":
        per_image = 4 * opts["size"] ** 2
        high = max(1, MAX_PART_BYTES // per_image)
        train = SHAPES_TRAIN if n_train is None else int_value(n_train, "data.n_train", low=1, high=high)
        test = SHAPES_TEST if n_test is None else int_value(n_test, "data.n_test", low=1, high=high)
        key = (opts["size"], opts["noise"], opts["n_classes"])
        return _load_cached(name, seed, train, test, key, None)
    train_cap = None if n_train is None else size_value(n_train, "data.n_train", 1)
    test_cap = None if n_test is None else size_value(n_test, "data.n_test", 1)
    if name == "digits":
        return _load_cached(name, seed, train_cap, test_cap, (), None)
    files = _cifar10_files(path)
    return _load_cached(name, seed, train_cap, test_cap, (), files)


def image_dataset_shape(name: str, **options: Any) -> tuple[int, int, int, int]:
    """The shape of the images of ``name`` and its number of classes, without loading it.

    Parameters
    ----------
    name
        One of :data:`IMAGE_DATASETS`.
    **options
        The options :func:`load_image_dataset` would get (checked the same way).

    Returns
    -------
    tuple of int
        ``(C, H, W, n_classes)``.

    Raises
    ------
    ConfigError
        An unknown name (``data.name``) or a bad or unknown option (``data.<option>``).
    """
    name = _name(name)
    opts = _options(name, options)
    if name == "digits":
        return 1, 8, 8, len(DIGITS_CLASS_NAMES)
    if name == "shapes":
        return 1, opts["size"], opts["size"], opts["n_classes"]
    return 3, 32, 32, len(CIFAR10_CLASS_NAMES)


# --------------------------------------------------------------------------- checking the caller's values


def _name(name: object) -> str:
    if not isinstance(name, str) or name not in IMAGE_DATASETS:
        raise ConfigError(
            f"unknown image data set {short_repr(name)}; known: {', '.join(IMAGE_DATASETS)}",
            path="data.name",
        )
    return name


def _options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``name``, checked, with their defaults filled in."""
    if name != "shapes":
        known_options(name, options, ())
        return {}
    known_options(name, options, SHAPES_OPTIONS)
    size = options.get("size")
    n_classes = options.get("n_classes")
    return {
        "size": SHAPES_SIZE
        if size is None
        else int_value(size, "data.size", low=SHAPES_MIN_SIZE, high=SHAPES_MAX_SIZE),
        "noise": _noise(SHAPES_NOISE if options.get("noise") is None else options["noise"]),
        "n_classes": SHAPES_CLASSES
        if n_classes is None
        else int_value(n_classes, "data.n_classes", low=2, high=len(SHAPE_NAMES)),
    }


def _noise(value: object) -> float:
    """The option ``noise``: a number in ``[0, 1]``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"must be a number, got {short_repr(value)}", path="data.noise")
    v = float(value)
    if not 0.0 <= v <= 1.0:  # (also refuses NaN)
        raise ConfigError(f"must be in [0, 1], got {short_repr(value)}", path="data.noise")
    return v


# --------------------------------------------------------------------------- building (cached)


_A = TypeVar("_A", bound=np.ndarray[Any, Any])

#: A file as the cache sees it: its path, size, modification time and inode.
_FileKey = tuple[str, int, int, int]


@functools.lru_cache(maxsize=CACHE_SIZE)
def _load_cached(
    name: str,
    seed: int,
    n_train: int | None,
    n_test: int | None,
    options: tuple[Any, ...],
    files: tuple[tuple[_FileKey, ...], _FileKey] | None,
) -> ImageDataset:
    """The data set from checked, hashable arguments (``files``: cifar10's training files and test file)."""
    if name == "digits":
        return _digits(seed, n_train, n_test)
    if name == "shapes":
        assert n_train is not None and n_test is not None
        size, noise, n_classes = options
        return _shapes(seed, n_train, n_test, size=size, noise=noise, n_classes=n_classes)
    assert files is not None
    return _cifar10(seed, n_train, n_test, files)


def _finish(
    name: str,
    train_images: NDArray[np.float32],
    train_labels: NDArray[Any],
    test_images: NDArray[np.float32],
    test_labels: NDArray[Any],
    class_names: tuple[str, ...],
) -> ImageDataset:
    """An :class:`ImageDataset` of C-contiguous, read-only arrays of the documented dtypes."""
    return ImageDataset(
        name,
        _frozen(np.ascontiguousarray(train_images, dtype=np.float32)),
        _frozen(np.ascontiguousarray(train_labels, dtype=np.int64)),
        _frozen(np.ascontiguousarray(test_images, dtype=np.float32)),
        _frozen(np.ascontiguousarray(test_labels, dtype=np.int64)),
        class_names,
    )


def _frozen(array: _A) -> _A:
    """``array``, made read-only."""
    array.setflags(write=False)
    return array


def _digits(seed: int, n_train: int | None, n_test: int | None) -> ImageDataset:
    images, labels = digits_images()
    train, test = digits_split()
    train = train[make_rng(seed, _DIGITS_SALT).permutation(train.shape[0])][:n_train]
    test = test[:n_test]
    return _finish("digits", images[train], labels[train], images[test], labels[test], DIGITS_CLASS_NAMES)


# --------------------------------------------------------------------------- shapes

#: The mask of each shape class from the offsets ``dy``, ``dx`` of the pixel centres
#: from the shape's centre and half its side ``h`` (all broadcasting to ``(n, H, W)``).
_Mask = Callable[[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], NDArray[np.bool_]]


def _square(dy: NDArray[np.float64], dx: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.bool_]:
    return (np.abs(dy) <= h) & (np.abs(dx) <= h)


def _disc(dy: NDArray[np.float64], dx: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.bool_]:
    return dy * dy + dx * dx <= h * h


def _plus(dy: NDArray[np.float64], dx: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.bool_]:
    arm = np.maximum(h / 3.0, 0.5)  # half the width of a bar (a third of the side, at least a pixel)
    return _square(dy, dx, h) & ((np.abs(dy) <= arm) | (np.abs(dx) <= arm))


def _triangle(dy: NDArray[np.float64], dx: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.bool_]:
    # apex at the top centre, base along the bottom edge of the bounding square
    return (dy <= h) & (np.abs(dx) <= (dy + h) / 2.0)


def _ring(dy: NDArray[np.float64], dx: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.bool_]:
    inner = np.maximum(h - np.maximum(h / 3.0, 1.0), 0.0)
    r2 = dy * dy + dx * dx
    return (r2 <= h * h) & (r2 >= inner * inner)


def _cross(dy: NDArray[np.float64], dx: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.bool_]:
    arm = np.maximum(h / 3.0, 0.5) * np.sqrt(2.0)  # bars of the plus's width, along the diagonals
    return _square(dy, dx, h) & ((np.abs(dy - dx) <= arm) | (np.abs(dy + dx) <= arm))


_SHAPES: tuple[_Mask, ...] = (_square, _disc, _plus, _triangle, _ring, _cross)


def _shapes_part(
    rng: np.random.Generator, n: int, *, size: int, noise: float, n_classes: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """``n`` images of shapes and their labels, all drawn from ``rng``."""
    labels = rng.permutation(np.arange(n, dtype=np.int64) % n_classes)
    half = rng.uniform(*SHAPES_SCALE, size=n) * (size / 2.0)
    cy = rng.uniform(half, size - half)
    cx = rng.uniform(half, size - half)
    intensity = rng.uniform(*SHAPES_INTENSITY, size=n).astype(np.float32)
    centres = np.arange(size, dtype=np.float64) + 0.5
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for start in range(0, n, _SHAPES_BATCH):
        part = slice(start, min(start + _SHAPES_BATCH, n))
        m = part.stop - part.start
        dy = centres[None, :, None] - cy[part, None, None]
        dx = centres[None, None, :] - cx[part, None, None]
        h = half[part, None, None]
        mask = np.zeros((m, size, size), dtype=np.bool_)
        for k in range(n_classes):
            pick = labels[part] == k
            if pick.any():
                mask[pick] = _SHAPES[k](dy[pick], dx[pick], h[pick])
        out = images[part, 0]
        np.multiply(mask, intensity[part, None, None], out=out)
        if noise > 0:
            out += rng.standard_normal((m, size, size), dtype=np.float32) * np.float32(noise)
            np.clip(out, 0.0, 1.0, out=out)
    return images, labels


def _shapes(seed: int, n_train: int, n_test: int, *, size: int, noise: float, n_classes: int) -> ImageDataset:
    parts = [
        _shapes_part(make_rng(seed, _SHAPES_SALT, part), n, size=size, noise=noise, n_classes=n_classes)
        for part, n in ((0, n_train), (1, n_test))
    ]
    return _finish("shapes", *parts[0], *parts[1], SHAPE_NAMES[:n_classes])


# --------------------------------------------------------------------------- cifar10


def _fail(file: Path | str, what: str) -> ConfigError:
    return ConfigError(f"{file}: {what}", path="data.path")


def _cifar10_file(file: Path, missing: str) -> _FileKey:
    """Check a CIFAR-10 batch file's existence and size; its key for the cache."""
    if not file.exists():
        raise _fail(file, missing)
    if not file.is_file():
        raise _fail(file, f"not a file (expected a batch of the {_CIFAR10_LAYOUT})")
    try:
        st = file.stat()
    except OSError as exc:
        raise _fail(file, f"cannot be read ({one_line(exc.strerror or str(exc), 160)})") from None
    size = int(st.st_size)
    if size == 0:
        raise _fail(file, f"is empty (expected the {_CIFAR10_LAYOUT})")
    if size % CIFAR10_RECORD:
        raise _fail(
            file,
            f"size {size} bytes is not a multiple of {CIFAR10_RECORD} (expected the {_CIFAR10_LAYOUT})",
        )
    if size // CIFAR10_RECORD > CIFAR10_MAX_RECORDS:
        raise _fail(
            file,
            f"holds {size // CIFAR10_RECORD} records of {CIFAR10_RECORD} bytes; at most "
            f"{CIFAR10_MAX_RECORDS} are read from one file (a CIFAR-10 batch holds 10000)",
        )
    return str(file), size, int(st.st_mtime_ns), int(st.st_ino)


def _cifar10_files(path: object) -> tuple[tuple[_FileKey, ...], _FileKey]:
    """The training files (those of the five that exist, at least one) and the test file, checked."""
    if path is None:
        raise ConfigError(f"the cifar10 data set needs {_CIFAR10_FOLDER}", path="data.path")
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"must be a folder name, got {short_repr(path)}", path="data.path")
    root = Path(path).expanduser()
    if not root.exists():
        raise _fail(root, f"no such folder (expected {_CIFAR10_FOLDER})")
    if not root.is_dir():
        raise _fail(root, f"not a folder (expected {_CIFAR10_FOLDER})")
    root = root.resolve()
    test = _cifar10_file(root / CIFAR10_TEST_FILE, f"no such file (the test batch of the {_CIFAR10_LAYOUT})")
    present = [root / f for f in CIFAR10_TRAIN_FILES if (root / f).exists()]
    if not present:
        raise _fail(
            root / CIFAR10_TRAIN_FILES[0],
            f"no such file, nor any of {', '.join(CIFAR10_TRAIN_FILES[1:])} "
            f"(at least one training batch of the {_CIFAR10_LAYOUT} is needed)",
        )
    train = tuple(_cifar10_file(f, "no such file") for f in present)
    return train, test


def _cifar10_read(key: _FileKey) -> NDArray[np.uint8]:
    """The records of a checked file as ``(n, 3073)`` uint8, their labels checked."""
    name, size, _, _ = key
    try:
        raw = np.fromfile(name, dtype=np.uint8, count=size + 1)
    except (OSError, ValueError) as exc:
        raise _fail(name, f"cannot be read ({one_line(str(exc), 160)})") from None
    if raw.size != size:
        raise _fail(name, f"changed while it was read ({size} bytes before, {raw.size} now)")
    records = raw.reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0]
    bad = labels >= len(CIFAR10_CLASS_NAMES)
    if bad.any():
        i = int(np.argmax(bad))
        raise _fail(name, f"record {i} has label {int(labels[i])}; labels must be 0..9 ({_CIFAR10_LAYOUT})")
    return records


def _cifar10_images(records: NDArray[np.uint8]) -> NDArray[np.float32]:
    images = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)
    images /= np.float32(255.0)
    return images


def _cifar10(
    seed: int, n_train: int | None, n_test: int | None, files: tuple[tuple[_FileKey, ...], _FileKey]
) -> ImageDataset:
    train_keys, test_key = files
    test = _cifar10_read(test_key)[:n_test]
    train = np.concatenate([_cifar10_read(key) for key in train_keys])
    order = make_rng(seed, _CIFAR10_SALT).permutation(train.shape[0])[:n_train]
    train = train[order]
    return _finish(
        "cifar10",
        _cifar10_images(train),
        train[:, 0],
        _cifar10_images(test),
        test[:, 0],
        CIFAR10_CLASS_NAMES,
    )
