"""The image data sets of sim.data.images: shapes, dtypes, seeds, the shapes generator, the CIFAR-10 files."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim.data
from sim.data import images as image_data
from sim.data.digits import digits_images, digits_split
from sim.data.images import (
    CIFAR10_CLASS_NAMES,
    IMAGE_DATASETS,
    SHAPE_NAMES,
    ImageDataset,
    image_dataset_shape,
    load_image_dataset,
)
from sim.errors import ConfigError

# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    image_data._load_cached.cache_clear()


def fresh(name: str, **kwargs: Any) -> ImageDataset:
    """Load bypassing the cache, so that reproducibility is really tested."""
    image_data._load_cached.cache_clear()
    return load_image_dataset(name, **kwargs)


def assert_valid(data: ImageDataset, shape: tuple[int, int, int], n_classes: int) -> None:
    assert data.shape == shape
    assert data.n_classes == n_classes == len(data.class_names)
    for images, labels in ((data.train_images, data.train_labels), (data.test_images, data.test_labels)):
        assert images.dtype == np.float32
        assert labels.dtype == np.int64
        assert images.ndim == 4 and images.shape[1:] == shape
        assert labels.shape == (images.shape[0],)
        for array in (images, labels):
            assert array.flags.c_contiguous
            assert not array.flags.writeable
            with pytest.raises(ValueError):
                array.flat[0] = 0
        assert np.isfinite(images).all()
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert labels.min() >= 0 and labels.max() < n_classes


@contextmanager
def raises_at(key: str, *words: str) -> Iterator[None]:
    """Expect a one-line ConfigError whose message starts with ``key`` and holds ``words``."""
    with pytest.raises(ConfigError) as info:
        yield
    message = str(info.value)
    assert message.startswith(f"{key}: "), message
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


# --------------------------------------------------------------------------- digits


def test_digits_images_split_and_order() -> None:
    data = load_image_dataset("digits", seed=3)
    assert data.name == "digits"
    assert_valid(data, (1, 8, 8), 10)
    assert data.class_names == tuple("0123456789")
    images, labels = digits_images()
    train, test = digits_split()
    assert data.train_images.shape[0] == train.size and data.test_images.shape[0] == test.size
    # the test part is the fixed split, in its order; the training part a permutation of the split's
    np.testing.assert_array_equal(data.test_images, images[test])
    np.testing.assert_array_equal(data.test_labels, labels[test])
    np.testing.assert_array_equal(np.sort(data.train_labels), np.sort(labels[train]))
    assert not np.array_equal(data.train_labels, labels[train])
    assert set(np.unique(data.train_labels)) == set(range(10)) == set(np.unique(data.test_labels))
    other = fresh("digits", seed=4)
    np.testing.assert_array_equal(other.test_images, data.test_images)
    assert not np.array_equal(other.train_labels, data.train_labels)
    np.testing.assert_array_equal(fresh("digits", seed=3).train_images, data.train_images)


def test_digits_caps() -> None:
    full = load_image_dataset("digits", seed=1)
    data = load_image_dataset("digits", seed=1, n_train=100, n_test=20)
    assert data.train_images.shape == (100, 1, 8, 8) and data.test_images.shape == (20, 1, 8, 8)
    np.testing.assert_array_equal(data.train_images, full.train_images[:100])
    np.testing.assert_array_equal(data.test_labels, full.test_labels[:20])
    big = load_image_dataset("digits", seed=1, n_train=10**6, n_test=10**6)
    assert big.train_images.shape[0] == full.train_images.shape[0]


# --------------------------------------------------------------------------- shapes


def test_shapes_defaults() -> None:
    data = load_image_dataset("shapes", seed=0)
    assert data.name == "shapes"
    assert_valid(data, (1, 16, 16), 4)
    assert data.class_names == SHAPE_NAMES[:4]
    assert data.train_images.shape[0] == 2000 and data.test_images.shape[0] == 500
    for labels in (data.train_labels, data.test_labels):
        counts = np.bincount(labels, minlength=4)
        assert counts.max() - counts.min() <= 1  # balanced
    assert image_dataset_shape("shapes") == (1, 16, 16, 4)


@pytest.mark.parametrize("size", [8, 23, 64])
def test_shapes_options(size: int) -> None:
    data = load_image_dataset("shapes", seed=5, n_train=60, n_test=30, size=size, noise=0, n_classes=6)
    assert_valid(data, (1, size, size), 6)
    assert data.class_names == SHAPE_NAMES
    assert image_dataset_shape("shapes", size=size, noise=0, n_classes=6) == (1, size, size, 6)
    assert set(np.unique(data.train_labels)) == set(range(6))
    for images in (data.train_images, data.test_images):
        # without noise: a shape of one intensity in [0.6, 1] on black, never empty, off the border rows
        flat = images.reshape(images.shape[0], -1)
        lit = flat > 0
        assert lit.any(axis=1).all()
        peak = flat.max(axis=1)
        assert (peak >= 0.6 - 1e-6).all() and (peak <= 1.0).all()
        assert np.all((flat == 0) | np.isclose(flat, peak[:, None]))
        # the bounding square is at most 70 % of the side, so no shape touches two opposite edges
        img = images[:, 0] > 0
        assert not (img[:, 0, :].any(axis=1) & img[:, -1, :].any(axis=1)).any()
        assert not (img[:, :, 0].any(axis=1) & img[:, :, -1].any(axis=1)).any()


def test_shapes_noise() -> None:
    clean = load_image_dataset("shapes", seed=2, n_train=200, n_test=50, noise=0.0)
    noisy = load_image_dataset("shapes", seed=2, n_train=200, n_test=50, noise=0.3)
    assert_valid(noisy, (1, 16, 16), 4)
    np.testing.assert_array_equal(clean.train_labels, noisy.train_labels)  # same shapes, added noise
    diff = noisy.train_images - clean.train_images
    assert 0.1 < float(np.std(diff)) < 0.3
    assert (noisy.train_images == 0).any() and (noisy.train_images == 1).any()  # clipped


def test_shapes_seeds_and_streams() -> None:
    a = fresh("shapes", seed=11, n_train=300, n_test=100)
    b = fresh("shapes", seed=11, n_train=300, n_test=100)
    assert a is not b
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    c = fresh("shapes", seed=12, n_train=300, n_test=100)
    assert not np.array_equal(a.train_images, c.train_images)
    assert not np.array_equal(a.test_images, c.test_images)
    # the test set does not depend on n_train, nor the training set on n_test
    d = fresh("shapes", seed=11, n_train=77, n_test=100)
    np.testing.assert_array_equal(d.test_images, a.test_images)
    np.testing.assert_array_equal(d.test_labels, a.test_labels)
    e = fresh("shapes", seed=11, n_train=300, n_test=9)
    np.testing.assert_array_equal(e.train_images, a.train_images)


def test_shapes_classes_are_learnable() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from threadpoolctl import threadpool_limits

    data = load_image_dataset("shapes", seed=0, n_train=1000, n_test=400)
    x_train = data.train_images.reshape(data.train_images.shape[0], -1)
    x_test = data.test_images.reshape(data.test_images.shape[0], -1)
    # pixels as they are (positions vary, so a linear model on raw pixels is weak; neighbours are not)
    knn = KNeighborsClassifier(n_neighbors=5).fit(x_train, data.train_labels)
    assert knn.score(x_test, data.test_labels) > 0.6  # chance: 0.25

    # shift-invariant: the magnitudes of the 2-D Fourier transform, linearly separable
    def spectrum(images: np.ndarray) -> np.ndarray:
        return np.abs(np.fft.rfft2(images[:, 0].astype(np.float64))).reshape(images.shape[0], -1)

    with threadpool_limits(1):  # (small problem: threads only cost time on a loaded machine)
        linear = LogisticRegression(max_iter=300).fit(spectrum(data.train_images), data.train_labels)
    assert linear.score(spectrum(data.test_images), data.test_labels) > 0.85


def test_shapes_generation_is_fast() -> None:
    load_image_dataset("shapes", seed=99, n_train=10, n_test=10)  # warm up
    start = time.perf_counter()
    load_image_dataset("shapes", seed=98)  # 2,000 + 500 images
    assert time.perf_counter() - start < 1.0


def test_cache_shares_read_only_results() -> None:
    a = load_image_dataset("shapes", seed=1, n_train=50, n_test=10)
    assert load_image_dataset("shapes", seed=1, n_train=50, n_test=10) is a
    assert load_image_dataset("shapes", seed=1, n_train=50, n_test=10, noise=0.1, size=16) is a
    assert load_image_dataset("shapes", seed=2, n_train=50, n_test=10) is not a
    info = image_data._load_cached.cache_info()
    assert info.maxsize == 2


# --------------------------------------------------------------------------- cifar10

RECORD = 3073


def cifar_record(ident: int, label: int) -> bytes:
    """One record: R(1, 2) = 255, G(5, 7) = 128, B(31, 31) = ``ident`` (bytes placed by hand)."""
    record = bytearray(RECORD)
    record[0] = label
    record[1 + 0 * 1024 + 1 * 32 + 2] = 255
    record[1 + 1 * 1024 + 5 * 32 + 7] = 128
    record[1 + 2 * 1024 + 31 * 32 + 31] = ident
    return bytes(record)


def expected_image(ident: int) -> np.ndarray:
    image = np.zeros((3, 32, 32), dtype=np.float32)
    image[0, 1, 2] = 1.0
    image[1, 5, 7] = np.float32(128) / np.float32(255)
    image[2, 31, 31] = np.float32(ident) / np.float32(255)
    return image


def write_batch(file: Path, idents: list[int]) -> Path:
    file.write_bytes(b"".join(cifar_record(i, (i * 3) % 10) for i in idents))
    return file


def cifar_folder(root: Path, batches: dict[int, list[int]] | None = None) -> Path:
    """Data batches (number -> record idents; label of ident i: 3i mod 10) and a test batch of 3."""
    root.mkdir(parents=True, exist_ok=True)
    batches = {1: [0, 1, 2, 3, 4], 2: [5, 6, 7, 8, 9]} if batches is None else batches
    for number, idents in batches.items():
        write_batch(root / f"data_batch_{number}.bin", idents)
    write_batch(root / "test_batch.bin", [100, 101, 102])
    return root


def idents_of(images: np.ndarray) -> list[int]:
    return [int(v) for v in np.rint(images[:, 2, 31, 31] * 255)]


def test_cifar10_layout_and_labels(tmp_path: Path) -> None:
    root = cifar_folder(tmp_path / "cifar")
    data = load_image_dataset("cifar10", seed=0, path=root)
    assert data.name == "cifar10"
    assert_valid(data, (3, 32, 32), 10)
    assert data.class_names == CIFAR10_CLASS_NAMES and data.class_names[0] == "airplane"
    assert image_dataset_shape("cifar10") == (3, 32, 32, 10)
    train_ids = idents_of(data.train_images)
    assert sorted(train_ids) == list(range(10))
    assert idents_of(data.test_images) == [100, 101, 102]  # file order
    for images, labels, ids in (
        (data.train_images, data.train_labels, train_ids),
        (data.test_images, data.test_labels, [100, 101, 102]),
    ):
        for image, label, ident in zip(images, labels, ids, strict=True):
            np.testing.assert_array_equal(image, expected_image(ident))
            assert label == (ident * 3) % 10
    # str paths work as well as Path objects
    assert idents_of(fresh("cifar10", seed=0, path=str(root)).train_images) == train_ids


def test_cifar10_seeds_and_caps(tmp_path: Path) -> None:
    root = cifar_folder(tmp_path / "cifar")
    orders = {tuple(idents_of(fresh("cifar10", seed=s, path=root).train_images)) for s in range(6)}
    assert len(orders) > 1  # the training order follows the seed
    first = idents_of(fresh("cifar10", seed=4, path=root).train_images)
    assert idents_of(fresh("cifar10", seed=4, path=root).train_images) == first
    part = fresh("cifar10", seed=4, path=root, n_train=4, n_test=2)
    assert idents_of(part.train_images) == first[:4]
    assert idents_of(part.test_images) == [100, 101]
    assert part.test_labels.tolist() == [0, 3]
    big = fresh("cifar10", seed=4, path=root, n_train=1000, n_test=1000)
    assert big.train_images.shape[0] == 10 and big.test_images.shape[0] == 3


def test_cifar10_any_subset_of_training_batches(tmp_path: Path) -> None:
    root = cifar_folder(tmp_path / "cifar", {2: [20, 21], 5: [50, 51, 52]})
    data = load_image_dataset("cifar10", seed=1, path=root)
    assert sorted(idents_of(data.train_images)) == [20, 21, 50, 51, 52]


def test_cifar10_cache_sees_changed_files(tmp_path: Path) -> None:
    root = cifar_folder(tmp_path / "cifar")
    data = load_image_dataset("cifar10", seed=0, path=root)
    assert load_image_dataset("cifar10", seed=0, path=root) is data
    write_batch(root / "test_batch.bin", [7, 8, 9, 10])
    again = load_image_dataset("cifar10", seed=0, path=root)
    assert again is not data
    assert idents_of(again.test_images) == [7, 8, 9, 10]


def test_cifar10_refusals(tmp_path: Path) -> None:
    with raises_at("data.path", "needs a folder", "test_batch.bin"):
        load_image_dataset("cifar10", seed=0)
    with raises_at("data.path", "folder name"):
        load_image_dataset("cifar10", seed=0, path=12)
    missing = tmp_path / "nowhere"
    with raises_at("data.path", str(missing), "no such folder", "data_batch_1.bin"):
        load_image_dataset("cifar10", seed=0, path=missing)
    a_file = write_batch(tmp_path / "single.bin", [1])
    with raises_at("data.path", str(a_file), "not a folder"):
        load_image_dataset("cifar10", seed=0, path=a_file)

    root = cifar_folder(tmp_path / "no_test")
    (root / "test_batch.bin").unlink()
    with raises_at("data.path", str(root / "test_batch.bin"), "no such file"):
        load_image_dataset("cifar10", seed=0, path=root)

    root = cifar_folder(tmp_path / "no_train", {})
    with raises_at("data.path", str(root / "data_batch_1.bin"), "data_batch_5.bin", "no such file"):
        load_image_dataset("cifar10", seed=0, path=root)

    root = cifar_folder(tmp_path / "ragged")
    with open(root / "data_batch_2.bin", "ab") as f:
        f.write(b"\x00" * 10)
    size = 5 * RECORD + 10
    with raises_at("data.path", str(root / "data_batch_2.bin"), f"size {size} bytes", "multiple of 3073"):
        load_image_dataset("cifar10", seed=0, path=root)

    root = cifar_folder(tmp_path / "label")
    data = bytearray((root / "test_batch.bin").read_bytes())
    data[2 * RECORD] = 10
    (root / "test_batch.bin").write_bytes(bytes(data))
    with raises_at("data.path", str(root / "test_batch.bin"), "record 2 has label 10", "0..9"):
        load_image_dataset("cifar10", seed=0, path=root)

    root = cifar_folder(tmp_path / "empty")
    (root / "data_batch_1.bin").write_bytes(b"")
    with raises_at("data.path", str(root / "data_batch_1.bin"), "empty"):
        load_image_dataset("cifar10", seed=0, path=root)

    root = cifar_folder(tmp_path / "huge")
    with open(root / "data_batch_1.bin", "r+b") as f:
        f.truncate(10_001 * RECORD)  # sparse: refused from its size, never read
    with raises_at("data.path", str(root / "data_batch_1.bin"), "10001 records", "at most 10000"):
        load_image_dataset("cifar10", seed=0, path=root)

    root = cifar_folder(tmp_path / "dir")
    (root / "test_batch.bin").unlink()
    (root / "test_batch.bin").mkdir()
    with raises_at("data.path", str(root / "test_batch.bin"), "not a file"):
        load_image_dataset("cifar10", seed=0, path=root)


# --------------------------------------------------------------------------- the caller's values


def test_unknown_name() -> None:
    for name in ("mnist", 3, None):
        with raises_at("data.name", "digits", "shapes", "cifar10"):
            load_image_dataset(name, seed=0)  # type: ignore[arg-type]
        with raises_at("data.name", "digits, shapes, cifar10"):
            image_dataset_shape(name)  # type: ignore[arg-type]
    assert IMAGE_DATASETS == ("digits", "shapes", "cifar10")


def test_unknown_options() -> None:
    with raises_at("data.colour", "not an option of the shapes data set", "size", "noise", "n_classes"):
        load_image_dataset("shapes", seed=0, colour=1)
    with raises_at("data.size", "not an option of the digits data set", "none"):
        load_image_dataset("digits", seed=0, size=16)
    with raises_at("data.noise", "cifar10"):
        image_dataset_shape("cifar10", noise=0.1)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"size": 7}, "data.size"),
        ({"size": 65}, "data.size"),
        ({"size": 16.0}, "data.size"),
        ({"size": True}, "data.size"),
        ({"noise": -0.1}, "data.noise"),
        ({"noise": 1.5}, "data.noise"),
        ({"noise": float("nan")}, "data.noise"),
        ({"noise": "0.1"}, "data.noise"),
        ({"n_classes": 1}, "data.n_classes"),
        ({"n_classes": 7}, "data.n_classes"),
        ({"n_train": 0}, "data.n_train"),
        ({"n_train": 2.5}, "data.n_train"),
        ({"n_test": -3}, "data.n_test"),
        ({"n_test": [1]}, "data.n_test"),
        ({"n_train": 10**9}, "data.n_train"),
        ({"seed": -1}, "seed"),
        ({"seed": "1"}, "seed"),
    ],
)
def test_bad_values(options: dict[str, Any], key: str) -> None:
    kwargs: dict[str, Any] = {"seed": 0, **options}
    with raises_at(key):
        load_image_dataset("shapes", **kwargs)
    if key not in ("seed", "data.n_train", "data.n_test"):
        with raises_at(key):
            image_dataset_shape("shapes", **options)


def test_bad_sizes_of_read_data_sets(tmp_path: Path) -> None:
    with raises_at("data.n_train"):
        load_image_dataset("digits", seed=0, n_train=0)
    with raises_at("data.n_test"):
        load_image_dataset("cifar10", seed=0, path=cifar_folder(tmp_path / "c"), n_test=0)


def test_package_exports_and_no_torch() -> None:
    assert sim.data.load_image_dataset is load_image_dataset
    assert sim.data.image_dataset_shape is image_dataset_shape
    assert sim.data.ImageDataset is ImageDataset
    assert sim.data.IMAGE_DATASETS == IMAGE_DATASETS
    code = (
        "import sys, sim.data.images as m; m.load_image_dataset('shapes', seed=0, n_train=8, n_test=4); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
