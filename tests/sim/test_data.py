"""The spike-train data sets of sim.data: invariants, seeds, encoders, the SHD reader and its refusals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.data import DATASETS, SpikeData, SpikeDataset, digits_images, digits_split, load_spike_dataset, shd
from sim.data.spikes import from_events, latency_spikes
from sim.data.yin_yang import yin_yang_class, yin_yang_points
from sim.errors import ConfigError

# --------------------------------------------------------------------------- helpers


def write_shd(
    file: Path,
    times: Sequence[Sequence[float]],
    units: Sequence[Sequence[int]],
    labels: Sequence[int],
    *,
    times_dtype: Any = np.float32,
    units_dtype: Any = np.uint16,
    labels_dtype: Any = np.uint8,
    **layout: Any,
) -> Path:
    """A file of the SHD's layout (``layout``: h5py options of the spike datasets, e.g. chunks)."""
    with h5py.File(file, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(times_dtype), **layout)
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(units_dtype), **layout)
        for i, values in enumerate(times):
            t[i] = np.asarray(values, dtype=times_dtype)
        for i, values in enumerate(units):
            u[i] = np.asarray(values, dtype=units_dtype)
        f.create_dataset("labels", data=np.asarray(labels, dtype=labels_dtype))
    return file


def marked_examples(n: int, n_labels: int = 20) -> tuple[list[list[float]], list[list[int]], list[int]]:
    """``n`` examples, example ``i`` with a spike of unit ``i % 700`` at 0 s and of unit 699 at ``i`` ms."""
    times = [[0.0, (i % 50) * 1e-3 + 2e-4] for i in range(n)]
    units = [[i % 700, 699] for i in range(n)]
    return times, units, [i % n_labels for i in range(n)]


def shd_folder(root: Path, n_train: int = 30, n_test: int = 12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_shd(root / "shd_train.h5", *marked_examples(n_train))
    write_shd(root / "shd_test.h5", *marked_examples(n_test))
    return root


def assert_invariants(data: SpikeData) -> None:
    """Every invariant of SpikeData, checked by brute force (and by check())."""
    data.check("test")
    n = len(data)
    assert data.offsets.dtype == np.int64 and data.offsets.shape == (n + 1,)
    assert data.steps.dtype == np.int32 and data.units.dtype == np.int32 and data.labels.dtype == np.int32
    assert data.offsets[0] == 0 and data.offsets[-1] == data.steps.size == data.units.size
    assert np.all(np.diff(data.offsets) >= 0)
    assert data.labels.shape == (n,)
    if data.steps.size:
        assert data.steps.min() >= 0 and data.steps.max() < data.n_steps
        assert data.units.min() >= 0 and data.units.max() < data.n_units
    assert data.labels.min() >= 0 and data.labels.max() < data.n_classes
    for i in np.linspace(0, n - 1, min(n, 25)).astype(int):
        steps, units = data.example(int(i))
        pairs = list(zip(steps.tolist(), units.tolist(), strict=True))
        assert pairs == sorted(set(pairs))  # sorted by step then unit, no pair twice


def same(a: SpikeData, b: SpikeData) -> bool:
    return all(
        np.array_equal(getattr(a, k), getattr(b, k)) for k in ("offsets", "steps", "units", "labels")
    ) and (a.n_units, a.n_steps, a.n_classes) == (b.n_units, b.n_steps, b.n_classes)


def raises_config(path: str, call: Callable[[], object], *words: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.path == path, str(info.value)
    text = str(info.value)
    assert "\n" not in text
    for word in words:
        assert word in text, text
    return info.value


SMALL = {
    "yin_yang": {"n_steps": 30, "n_train": 300, "n_test": 90},
    "digits": {"n_steps": 30},
    "synthetic": {"n_steps": 100, "n_train": 60, "n_test": 20},
}


def load_small(name: str, seed: int, tmp_path: Path) -> SpikeDataset:
    if name == "shd":
        return load_spike_dataset("shd", seed=seed, n_steps=60, path=str(shd_folder(tmp_path / "shd")))
    return load_spike_dataset(name, seed=seed, **SMALL[name])


# --------------------------------------------------------------------------- every data set


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_keeps_the_invariants(name: str, tmp_path: Path) -> None:
    data = load_small(name, 3, tmp_path)
    assert data.name == name
    assert len(data.class_names) == data.n_classes
    for part in (data.train, data.test):
        assert_invariants(part)
        assert (part.n_units, part.n_steps, part.n_classes) == (data.n_units, data.n_steps, data.n_classes)
    expected = {"yin_yang": (5, 3), "digits": (64, 10), "shd": (700, 20), "synthetic": (700, 20)}[name]
    assert (data.n_units, data.n_classes) == expected


@pytest.mark.parametrize("name", DATASETS)
def test_the_same_seed_gives_the_same_arrays_and_another_seed_others(name: str, tmp_path: Path) -> None:
    a = load_small(name, 5, tmp_path)
    b = load_small(name, 5, tmp_path)
    c = load_small(name, 6, tmp_path)
    assert same(a.train, b.train) and same(a.test, b.test)
    assert not same(a.train, c.train)


def test_default_sizes() -> None:
    yy = load_spike_dataset("yin_yang", seed=0, n_steps=30)
    assert (len(yy.train), len(yy.test)) == (5000, 1000)
    digits = load_spike_dataset("digits", seed=0, n_steps=30)
    assert (len(digits.train), len(digits.test)) == (1347, 450)


# --------------------------------------------------------------------------- the caller's values


def test_an_unknown_name_lists_the_known_ones() -> None:
    raises_config("data.name", lambda: load_spike_dataset("mnist", seed=0, n_steps=10), "mnist", *DATASETS)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"n_steps": 0}, "data.n_steps"),
        ({"n_steps": 1}, "data.n_steps"),  # yin_yang needs two
        ({"n_steps": 2.5}, "data.n_steps"),
        ({"n_steps": 2**31}, "data.n_steps"),
        ({"n_train": 0}, "data.n_train"),
        ({"n_test": -1}, "data.n_test"),
        ({"n_train": True}, "data.n_train"),
        ({"n_test": 10**12}, "data.n_test"),
        ({"dt": 0.0}, "data.dt"),
        ({"dt": float("nan")}, "data.dt"),
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"t_latency": 30}, "data.t_latency"),  # must stay below n_steps
        ({"t_latency": 0}, "data.t_latency"),
        ({"colour": 1}, "data.colour"),
    ],
)
def test_bad_values_name_their_key(kwargs: dict[str, Any], path: str) -> None:
    args: dict[str, Any] = {"seed": 0, "n_steps": 30, "n_train": 10, "n_test": 10, **kwargs}
    raises_config(path, lambda: load_spike_dataset("yin_yang", **args))


def test_bad_options_of_the_other_data_sets(tmp_path: Path) -> None:
    raises_config("data.rate_hz", lambda: load_spike_dataset("synthetic", seed=0, n_steps=10, rate_hz=2000))
    raises_config("data.rate_hz", lambda: load_spike_dataset("synthetic", seed=0, n_steps=10, rate_hz=-1))
    raises_config(
        "data.n_train",
        lambda: load_spike_dataset("synthetic", seed=0, n_steps=100_000, n_train=1_000_000),
        "spikes",
    )
    raises_config("data.t_latency", lambda: load_spike_dataset("synthetic", seed=0, n_steps=10, t_latency=3))
    raises_config("data.n_steps", lambda: load_spike_dataset("digits", seed=0, n_steps=1))
    raises_config("data.path", lambda: load_spike_dataset("shd", seed=0, n_steps=10), "shd_train.h5")
    raises_config(
        "data.rate_hz", lambda: load_spike_dataset("shd", seed=0, n_steps=10, path=str(tmp_path), rate_hz=1)
    )


# --------------------------------------------------------------------------- yin_yang


@pytest.mark.parametrize(
    ("x", "y", "label"),
    [
        (0.75, 0.5, 2),  # centre of the right dot
        (0.25, 0.5, 2),  # centre of the left dot
        (0.75, 0.45, 2),  # inside the right dot (d_right 0.05)
        (0.5, 0.9, 1),  # upper half, far from the right dot: class 1
        (0.5, 0.1, 0),  # lower half, far from the left dot: class 0
        (0.25, 0.65, 1),  # ring around the left dot (d_left 0.15), upper half
        (0.25, 0.35, 1),  # ring around the left dot, lower half
        (0.75, 0.65, 0),  # ring around the right dot (d_right 0.15), upper half
        (0.75, 0.35, 0),  # ring around the right dot, lower half
        (0.9, 0.55, 0),  # upper half but within 0.25 of the right dot (d_right 0.158)
        (0.1, 0.45, 1),  # lower half but within 0.25 of the left dot (d_left 0.158)
        (0.75, 0.8, 1),  # upper half, d_right 0.3 > 0.25
        (0.25, 0.2, 0),  # lower half, d_left 0.3 > 0.25
    ],
)
def test_the_yin_yang_rule_on_hand_computed_points(x: float, y: float, label: int) -> None:
    assert int(yin_yang_class(x, y)) == label


def test_yin_yang_points_lie_in_the_circle_with_their_class_and_balanced() -> None:
    points, labels = yin_yang_points(6000, np.random.default_rng(1))
    assert np.all(np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5) <= 0.5)
    assert np.array_equal(yin_yang_class(points[:, 0], points[:, 1]), labels)
    share = np.bincount(labels, minlength=3) / labels.size
    assert np.all(np.abs(share - 1 / 3) < 0.03), share  # 5 s.d. of a uniform class draw
    # within a class the points cover its region: the dots hold points near both centres
    dots = points[labels == 2]
    assert (dots[:, 0] < 0.5).any() and (dots[:, 0] > 0.5).any()


def test_yin_yang_train_and_test_differ_and_are_balanced() -> None:
    data = load_spike_dataset("yin_yang", seed=2, n_steps=30)
    assert not np.array_equal(data.train.steps[:100], data.test.steps[:100])
    for part in (data.train, data.test):
        share = np.bincount(part.labels, minlength=3) / len(part)
        assert np.all(np.abs(share - 1 / 3) < 0.06), share


def test_yin_yang_latency_code() -> None:
    rng = np.random.default_rng(0)
    points, labels = yin_yang_points(50, rng)
    from sim.data.yin_yang import encode

    data = encode(points, labels, t_latency=18, n_steps=30)
    assert_invariants(data)
    assert np.all(np.diff(data.offsets) == 5)  # one spike per feature and the bias, never merged
    for i in range(50):
        x, y = points[i]
        expected = sorted(
            [
                (round(x * 18), 0),
                (round(y * 18), 1),
                (round((1 - x) * 18), 2),
                (round((1 - y) * 18), 3),
                (0, 4),
            ]
        )
        steps, units = data.example(i)
        assert list(zip(steps.tolist(), units.tolist(), strict=True)) == expected
    assert np.array_equal(data.labels, labels)


def test_the_default_latency_window_is_sixty_percent() -> None:
    data = load_spike_dataset("yin_yang", seed=0, n_steps=100, n_train=2000, n_test=1)
    assert data.train.steps.max() == 60
    tiny = load_spike_dataset("yin_yang", seed=0, n_steps=2, n_train=200, n_test=1)
    assert set(tiny.train.steps.tolist()) == {0, 1}


# --------------------------------------------------------------------------- digits


def test_digits_split_is_fixed_stratified_and_covers_everything() -> None:
    train, test = digits_split()
    train2, test2 = digits_split()
    assert np.array_equal(train, train2) and np.array_equal(test, test2)
    assert (train.size, test.size) == (1347, 450)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    _, labels = digits_images()
    per_class = np.bincount(labels[test], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(per_class - 0.25) < 0.02)


def test_digits_test_set_is_the_same_for_every_seed_and_train_order_is_not() -> None:
    a = load_spike_dataset("digits", seed=0, n_steps=30)
    b = load_spike_dataset("digits", seed=1, n_steps=30)
    assert same(a.test, b.test)
    assert not np.array_equal(a.train.labels, b.train.labels)
    assert np.array_equal(np.sort(a.train.labels), np.sort(b.train.labels))
    capped = load_spike_dataset("digits", seed=1, n_steps=30, n_train=100, n_test=40)
    assert same(capped.test, a.test.subset(np.arange(40)))
    assert same(capped.train, b.train.subset(np.arange(100)))
    assert len(load_spike_dataset("digits", seed=1, n_steps=30, n_train=10**6).train) == 1347


def test_digits_images_and_their_latency_code() -> None:
    images, labels = digits_images()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int32
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.all(np.isin(np.rint(images * 16), np.arange(17)))
    images[0] = 5  # a copy: the cache stays intact
    assert digits_images()[0].max() == 1.0

    data = load_spike_dataset("digits", seed=0, n_steps=20, t_latency=16)
    images, labels = digits_images()
    test = digits_split()[1]
    for k in (0, 1, 7, 449):
        pixels = np.rint(images[test[k]].ravel() * 16).astype(int)
        expected = sorted((round((1 - v / 16) * 16), u) for u, v in enumerate(pixels) if v > 0)
        steps, units = data.test.example(k)
        assert list(zip(steps.tolist(), units.tolist(), strict=True)) == expected
        assert data.test.labels[k] == labels[test[k]]
        dense = data.test.dense(k)
        assert dense.sum() == np.count_nonzero(pixels)
        assert np.all((dense.sum(axis=0) > 0) == (pixels > 0))


def test_latency_spikes_rounds_half_to_even_and_skips_nan() -> None:
    values = np.array([[0.0, 0.25, np.nan, 1.0], [0.125, np.nan, np.nan, 0.375]])
    data = latency_spikes(values, np.array([1, 0]), t_latency=4, n_steps=5, n_classes=2)
    assert list(zip(*map(np.ndarray.tolist, data.example(0)), strict=True)) == [(0, 0), (1, 1), (4, 3)]
    # 0.125 * 4 = 0.5 -> 0, 0.375 * 4 = 1.5 -> 2 (half to even)
    assert list(zip(*map(np.ndarray.tolist, data.example(1)), strict=True)) == [(0, 0), (2, 3)]
    assert data.labels.tolist() == [1, 0]


# --------------------------------------------------------------------------- synthetic


def test_synthetic_rates_balance_and_learnability() -> None:
    n_steps, dt = 200, 1e-3
    data = load_spike_dataset("synthetic", seed=4, n_steps=n_steps, dt=dt, n_train=200, n_test=100)
    rate = data.train.n_spikes / (len(data.train) * 700 * n_steps * dt)
    assert 12.0 < rate < 16.0, rate
    assert np.array_equal(np.bincount(data.train.labels), np.full(20, 10))

    def features(part: SpikeData) -> np.ndarray:
        ex = np.repeat(np.arange(len(part)), np.diff(part.offsets))
        cell = (part.units // 35) * 10 + part.steps * 10 // n_steps
        out = np.zeros((len(part), 200))
        np.add.at(out, (ex, cell), 1.0)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    train, test = features(data.train), features(data.test)
    centroids = np.stack([train[data.train.labels == c].mean(axis=0) for c in range(20)])
    predicted = np.argmax(test @ centroids.T, axis=1)
    assert np.mean(predicted == data.test.labels) > 0.5  # chance: 0.05

    slow = load_spike_dataset("synthetic", seed=4, n_steps=n_steps, dt=dt, n_train=50, n_test=10, rate_hz=30)
    assert slow.train.n_spikes / (50 * 700 * n_steps * dt) > 25


# --------------------------------------------------------------------------- shd


def test_shd_bins_spike_times_as_expected(tmp_path: Path) -> None:
    times = [
        [0.0, 0.0004, 0.0009, 0.001, 0.0025, 0.0999, 0.1, 0.5],
        [0.0305, 0.0105, 0.0205],  # unsorted in the file
        [],
    ]
    units = [[3, 3, 5, 3, 0, 699, 1, 2], [7, 8, 9], []]
    root = tmp_path / "data"
    root.mkdir()
    write_shd(root / "shd_train.h5", times, units, [4, 19, 0])
    write_shd(root / "shd_test.h5", times[:2], units[:2], [1, 2])
    data = load_spike_dataset("shd", seed=0, n_steps=100, dt=1e-3, path=str(root))
    test = data.test
    assert test.labels.tolist() == [1, 2]
    # 0.1 s and 0.5 s are at or after n_steps * dt: dropped; unit 3 twice in step 0 counts once
    assert list(zip(*map(np.ndarray.tolist, test.example(0)), strict=True)) == [
        (0, 3),
        (0, 5),
        (1, 3),
        (2, 0),
        (99, 699),
    ]
    assert list(zip(*map(np.ndarray.tolist, test.example(1)), strict=True)) == [(10, 8), (20, 9), (30, 7)]
    assert sorted(data.train.labels.tolist()) == [0, 4, 19]
    empty = int(np.flatnonzero(data.train.labels == 0)[0])
    assert data.train.example(empty)[0].size == 0
    # float64 times on exact multiples of dt land in their own step
    write_shd(root / "shd_test.h5", [[0.003, 0.007]], [[1, 2]], [0], times_dtype=np.float64)
    data = load_spike_dataset("shd", seed=0, n_steps=10, dt=1e-3, path=str(root))
    assert data.test.steps.tolist() == [3, 7]
    coarse = load_spike_dataset("shd", seed=0, n_steps=10, dt=1e-2, path=str(root))
    assert list(
        zip(
            *map(np.ndarray.tolist, coarse.train.example(int(np.argmax(coarse.train.labels == 4)))),
            strict=True,
        )
    ) == [
        (0, 0),
        (0, 3),
        (0, 5),
        (9, 699),
    ]


def test_shd_folder_caps_and_a_test_subset_fixed_across_seeds(tmp_path: Path) -> None:
    root = shd_folder(tmp_path / "shd", n_train=40, n_test=30)
    full = load_spike_dataset("shd", seed=0, n_steps=60, path=root)
    assert (len(full.train), len(full.test)) == (40, 30)
    assert full.test.labels.tolist() == [i % 20 for i in range(30)]  # file order
    a = load_spike_dataset("shd", seed=0, n_steps=60, path=str(root), n_train=10, n_test=7)
    b = load_spike_dataset("shd", seed=1, n_steps=60, path=str(root), n_train=10, n_test=7)
    assert (len(a.train), len(a.test)) == (10, 7)
    assert same(a.test, b.test)
    assert not same(a.train, b.train)
    # each example is marked by the unit of its spike at step 0
    first = a.test.units[a.test.offsets[:-1]]
    assert np.all(np.diff(first) > 0)  # the subset keeps file order
    train_ids = a.train.units[a.train.offsets[:-1]]
    assert len(set(train_ids.tolist())) == 10


def test_shd_single_file_is_split_80_20_from_the_seed(tmp_path: Path) -> None:
    file = write_shd(tmp_path / "all.h5", *marked_examples(50))
    a = load_spike_dataset("shd", seed=0, n_steps=60, path=str(file))
    b = load_spike_dataset("shd", seed=9, n_steps=60, path=str(file))
    for data in (a, b):
        assert (len(data.train), len(data.test)) == (40, 10)
        ids = [part.units[part.offsets[:-1]].tolist() for part in (data.train, data.test)]
        assert sorted(ids[0] + ids[1]) == list(range(50))
        for part, part_ids in zip((data.train, data.test), ids, strict=True):
            assert part.labels.tolist() == [i % 20 for i in part_ids]
            # unit 699 fires at step (i % 50): the spikes travel with their example
            assert [part.example(k)[0][-1] for k in range(len(part))] == [i % 50 for i in part_ids]
    assert not same(a.test, b.test)
    capped = load_spike_dataset("shd", seed=0, n_steps=60, path=str(file), n_train=5, n_test=3)
    assert same(capped.train, a.train.subset(np.arange(5))) and same(capped.test, a.test.subset(np.arange(3)))
    write_shd(tmp_path / "one.h5", *marked_examples(1))
    raises_config(
        "data.path",
        lambda: load_spike_dataset("shd", seed=0, n_steps=60, path=str(tmp_path / "one.h5")),
        "one.h5",
    )


@pytest.mark.parametrize("layout", [{}, {"chunks": (4,)}, {"chunks": (4,), "compression": "gzip"}])
def test_shd_reads_every_storage_layout_alike(tmp_path: Path, layout: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    n = 23
    lengths = rng.integers(0, 40, n)
    times = [np.sort(rng.random(k)).astype(np.float32) * 0.05 for k in lengths]
    units = [rng.integers(0, 700, k) for k in lengths]
    file = write_shd(tmp_path / "x.h5", times, units, np.arange(n) % 20, **layout)
    with shd._File(file) as opened:
        if layout.get("compression"):
            assert opened.planned is None  # filtered chunks: counted while reading
        else:
            assert opened.planned is not None and opened.planned.tolist() == lengths.tolist()
        data = opened.read(np.arange(n, dtype=np.int64), dt=1e-3, n_steps=50)
    assert_invariants(data)
    for i in range(n):
        expected = sorted(
            {(int(np.floor(t / 1e-3 + 1e-9)), int(u)) for t, u in zip(times[i], units[i], strict=True)}
        )
        assert list(zip(*map(np.ndarray.tolist, data.example(i)), strict=True)) == expected


def _case_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Malformed SHD inputs: name -> (the path to load, a word the message must hold)."""
    good_t, good_u, good_l = marked_examples(4)
    cases: dict[str, tuple[Path, str]] = {}

    def folder(name: str, make_train: Callable[[Path], object], word: str) -> None:
        root = tmp_path / name.replace("/", "_").replace(" ", "_")
        root.mkdir()
        make_train(root / "shd_train.h5")
        write_shd(root / "shd_test.h5", good_t, good_u, good_l)
        cases[name] = (root, word)

    cases["missing folder"] = (tmp_path / "nowhere", "no such file or folder")
    root = tmp_path / "no_test"
    root.mkdir()
    write_shd(root / "shd_train.h5", good_t, good_u, good_l)
    cases["missing test file"] = (root, "shd_test.h5")
    folder("not hdf5", lambda f: f.write_text("times,units,label\n0.1,3,4\n"), "not an HDF5 file")
    folder("empty file", lambda f: f.write_bytes(b""), "not an HDF5 file")

    def without(key: str) -> Callable[[Path], object]:
        def make(f: Path) -> None:
            write_shd(f, good_t, good_u, good_l)
            with h5py.File(f, "a") as h5:
                del h5[key]

        return make

    for key in ("spikes/times", "spikes/units", "labels"):
        folder(f"no {key}", without(key), f"no dataset '{key}'")

    def dense_times(f: Path) -> None:
        with h5py.File(f, "w") as h5:
            h5["spikes/times"] = np.zeros((4, 3), np.float32)
            h5.create_dataset("spikes/units", (4,), dtype=h5py.vlen_dtype(np.uint16))
            h5["labels"] = np.zeros(4, np.uint8)

    folder("times not vlen", dense_times, "spikes/times")

    def flat_times(f: Path) -> None:
        with h5py.File(f, "w") as h5:
            h5["spikes/times"] = np.zeros(4, np.float32)
            h5.create_dataset("spikes/units", (4,), dtype=h5py.vlen_dtype(np.uint16))
            h5["labels"] = np.zeros(4, np.uint8)

    folder("times plain floats", flat_times, "variable-length arrays of numbers, got float32")

    def group_labels(f: Path) -> None:
        write_shd(f, good_t, good_u, good_l)
        with h5py.File(f, "a") as h5:
            del h5["labels"]
            h5.create_group("labels")

    folder("labels a group", group_labels, "not a dataset")
    folder(
        "float units",
        lambda f: write_shd(f, good_t, good_u, good_l, units_dtype=np.float32),
        "'spikes/units' must hold variable-length arrays of integers, got variable-length arrays of float32",
    )
    folder(
        "float labels",
        lambda f: write_shd(f, good_t, good_u, good_l, labels_dtype=np.float32),
        "labels",
    )
    folder("fewer labels", lambda f: write_shd(f, good_t, good_u, good_l[:3]), "mismatched lengths")
    folder("fewer units", lambda f: write_shd(f, good_t, good_u[:3], good_l), "mismatched lengths")
    folder("no examples", lambda f: write_shd(f, [], [], []), "no examples")
    folder(
        "times and units differ",
        lambda f: write_shd(f, [[0.0], [0.1, 0.2], [0.0], [0.0]], [[1], [1], [1], [1]], good_l),
        "example 1: 2 times but 1 units",
    )
    folder(
        "times and units differ (chunked)",
        lambda f: write_shd(
            f,
            [[0.0], [0.1, 0.2], [0.0], [0.0]],
            [[1], [1], [1], [1]],
            good_l,
            chunks=(2,),
            compression="gzip",
        ),
        "example 1: 2 times but 1 units",
    )
    folder("unit 700", lambda f: write_shd(f, good_t, [[1, 2], [3, 700], [1, 1], [0, 0]], good_l), "unit 700")
    folder(
        "negative unit",
        lambda f: write_shd(f, good_t, [[1, 2], [3, -1], [1, 1], [0, 0]], good_l, units_dtype=np.int16),
        "unit -1",
    )
    folder("label 20", lambda f: write_shd(f, good_t, good_u, [0, 1, 20, 3]), "label 20")
    folder(
        "label -1", lambda f: write_shd(f, good_t, good_u, [0, -1, 2, 3], labels_dtype=np.int8), "label -1"
    )
    folder(
        "negative time",
        lambda f: write_shd(f, [[0.0, 0.1], [-0.01, 0.0], [0.0, 0.1], [0.0, 0.1]], good_u, good_l),
        "example 1: spike time -0.01 is negative or not finite",
    )
    folder(
        "nan time",
        lambda f: write_shd(f, [[0.0, 0.1], [0.0, 0.1], [np.nan, 0.0], [0.0, 0.1]], good_u, good_l),
        "example 2",
    )
    folder(
        "infinite time",
        lambda f: write_shd(f, [[0.0, 0.1], [0.0, 0.1], [0.0, 0.1], [0.0, np.inf]], good_u, good_l),
        "not finite",
    )
    cases["single file not hdf5"] = (tmp_path / "single" / "x.h5", "not an HDF5 file")
    (tmp_path / "single").mkdir()
    (tmp_path / "single" / "x.h5").write_bytes(b"\x89HDF\r\n" + bytes(100))
    return cases


CASES = [
    "missing folder",
    "missing test file",
    "not hdf5",
    "empty file",
    "no spikes/times",
    "no spikes/units",
    "no labels",
    "times not vlen",
    "times plain floats",
    "labels a group",
    "float units",
    "float labels",
    "fewer labels",
    "fewer units",
    "no examples",
    "times and units differ",
    "times and units differ (chunked)",
    "unit 700",
    "negative unit",
    "label 20",
    "label -1",
    "negative time",
    "nan time",
    "infinite time",
    "single file not hdf5",
]


@pytest.fixture(scope="module")
def malformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return _case_files(tmp_path_factory.mktemp("malformed"))


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_shd_input_is_one_clear_line(case: str, malformed: dict[str, tuple[Path, str]]) -> None:
    assert set(CASES) == set(malformed)
    where, word = malformed[case]
    error = raises_config(
        "data.path", lambda: load_spike_dataset("shd", seed=0, n_steps=50, path=str(where)), word
    )
    named = where.name if case in ("missing folder", "single file not hdf5") else "shd_"
    assert named in str(error)
    if case not in ("missing folder", "missing test file", "single file not hdf5"):
        assert "shd_train.h5" in str(error)


@pytest.mark.parametrize("layout", [{}, {"chunks": (2,), "compression": "gzip"}])
def test_a_file_with_too_many_spikes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: dict[str, Any]
) -> None:
    times = [[0.001 * k for k in range(10)] for _ in range(6)]
    units = [list(range(10)) for _ in range(6)]
    file = write_shd(tmp_path / "big.h5", times, units, [0] * 6, **layout)
    monkeypatch.setattr(shd, "MAX_FILE_SPIKES", 59)
    raises_config(
        "data.path", lambda: load_spike_dataset("shd", seed=0, n_steps=50, path=str(file)), "big.h5", "59"
    )
    if not layout:  # contiguous storage: refused from the lengths alone, before a spike is read
        with monkeypatch.context() as patch:
            patch.setattr(shd._File, "read", lambda *a, **k: pytest.fail("read spikes"))
            raises_config("data.path", lambda: shd._File(file), "60 spikes")
    monkeypatch.setattr(shd, "MAX_FILE_SPIKES", 60)
    data = load_spike_dataset("shd", seed=0, n_steps=50, path=str(file))
    assert data.train.n_spikes + data.test.n_spikes == 60


# --------------------------------------------------------------------------- SpikeData


def _small() -> SpikeData:
    example = np.array([0, 0, 0, 2, 2, 3])
    steps = np.array([4, 1, 1, 0, 0, 2])
    units = np.array([0, 2, 1, 3, 3, 0])
    return from_events(example, steps, units, np.array([1, 0, 2, 1]), n_units=4, n_steps=5, n_classes=3)


def test_from_events_sorts_and_merges() -> None:
    data = _small()
    assert data.offsets.tolist() == [0, 3, 3, 4, 5]
    assert data.steps.tolist() == [1, 1, 4, 0, 2]
    assert data.units.tolist() == [1, 2, 0, 3, 0]
    assert len(data) == 4 and data.n_spikes == 5
    assert_invariants(data)


def test_subset_and_dense() -> None:
    data = _small()
    sub = data.subset([3, 0, 0, -2])
    assert sub.labels.tolist() == [1, 1, 1, 2]
    assert sub.offsets.tolist() == [0, 1, 4, 7, 8]
    for k, i in enumerate([3, 0, 0, 2]):
        for a, b in zip(sub.example(k), data.example(i), strict=True):
            assert np.array_equal(a, b)
    assert_invariants(sub)
    assert same(data.subset(np.array([True, False, True, False])), data.subset([0, 2]))
    empty = data.subset([])
    assert len(empty) == 0 and empty.offsets.tolist() == [0]
    empty.check("empty")
    raster = data.dense(0)
    assert raster.shape == (5, 4) and raster.dtype == np.uint8
    assert np.argwhere(raster).tolist() == [[1, 1], [1, 2], [4, 0]]
    assert data.dense(1).sum() == 0
    with pytest.raises(IndexError):
        data.example(4)
    with pytest.raises(IndexError):
        data.subset([4])
    assert np.array_equal(data.example(-1)[0], [2])


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"steps": np.array([1, 1, 4, 0, 5], np.int32)}, "steps"),
        ({"units": np.array([1, 2, 0, 3, -1], np.int32)}, "units"),
        ({"labels": np.array([1, 0, 3, 1], np.int32)}, "labels"),
        ({"units": np.array([2, 1, 0, 3, 0], np.int32)}, "example 0"),
        ({"units": np.array([1, 1, 0, 3, 0], np.int32)}, "repeat"),
        ({"offsets": np.array([0, 3, 2, 4, 5], np.int64)}, "decrease"),
        ({"offsets": np.array([1, 3, 3, 4, 5], np.int64)}, "start at 0"),
        ({"offsets": np.array([0, 3, 3, 4], np.int64)}, "offsets"),
        ({"steps": np.array([1, 1, 4, 0, 2], np.int64)}, "int32"),
        ({"n_units": 0}, "n_units"),
    ],
)
def test_check_names_what_is_wrong(change: dict[str, Any], word: str) -> None:
    import dataclasses

    broken = dataclasses.replace(_small(), **change)
    raises_config("data.train", lambda: broken.check("data.train"), word)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6), st.integers(0, 3)), max_size=40),
    st.lists(st.integers(-6, 5), max_size=12),
)
def test_subset_matches_the_examples_one_by_one(events: list[tuple[int, int, int]], index: list[int]) -> None:
    ex, steps, units = (
        (np.array(col, dtype=np.int64) for col in zip(*events, strict=True))
        if events
        else (np.zeros(0, np.int64),) * 3
    )
    data = from_events(ex, steps, units, np.arange(6) % 2, n_units=4, n_steps=7, n_classes=2)
    data.check("hypothesis")
    for i in range(6):
        want = sorted({(s, u) for e, s, u in events if e == i})
        assert list(zip(*map(np.ndarray.tolist, data.example(i)), strict=True)) == want
        assert int(data.dense(i).sum()) == len(want)
    sub = data.subset(index)
    sub.check("hypothesis")
    for k, i in enumerate(index):
        for a, b in zip(sub.example(k), data.example(i), strict=True):
            assert np.array_equal(a, b)


def test_shd_odd_but_valid_values_and_a_distrusted_raw_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write_shd(
        tmp_path / "odd.h5",
        [[0.0, 1e300, 0.002], [0.001]],
        [[1, 2, 3], [4]],
        [0, 19],
        times_dtype=np.float64,
        units_dtype=np.uint64,
        labels_dtype=np.uint64,
    )
    with shd._File(file) as opened:
        assert opened.planned is not None
        data = opened.read(np.arange(2, dtype=np.int64), dt=1e-3, n_steps=10)
    assert data.steps.tolist() == [0, 2, 1] and data.units.tolist() == [1, 3, 4]  # 1e300 s dropped
    bad = write_shd(
        tmp_path / "bad.h5", [[0.0]] * 3, [[1], [2**64 - 1], [3]], [0, 1, 2], units_dtype=np.uint64
    )
    with shd._File(bad) as opened, pytest.raises(ConfigError, match="example 1: unit 18446744073709551615 "):
        opened.read(np.arange(3, dtype=np.int64), dt=1e-3, n_steps=10)
    # lengths parsed from the raw storage that h5py does not confirm are not used
    monkeypatch.setattr(shd, "_raw_lengths", lambda *a: np.array([5, 1], dtype=np.int64))
    with shd._File(file) as opened:
        assert opened.planned is None
        assert same(opened.read(np.arange(2, dtype=np.int64), dt=1e-3, n_steps=10), data)
