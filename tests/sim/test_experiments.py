"""One conformance suite for every (experiment, backend) pair: what the shared core promises.

Each experiment declares its small configuration, run lengths, a live and a
structural parameter, its table and its snapshot type in :data:`EXPERIMENTS`;
:data:`PAIRS` says which backends run each experiment here, why a pair is
skipped, and how closely its states must match the CPU's. Every test uses
only the experiment-neutral API (``Engine``, checkpoints, snapshots, the
configuration loader), so a new experiment or backend joins by adding a row.
The toy experiment (``tests/support/toy``) is registered for this module and
forgotten afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.backends import register_backend, unregister_backend
from sim.config import load_config
from sim.engine import Engine
from sim.errors import CheckpointError, ConfigError
from sim.events import EVENT_DTYPE, FF, FORMED, LAT, REMOVED
from sim.experiment import experiment_keys, get_experiment, unregister_experiment
from sim.experiments.channels.snapshot import ChannelsSnapshot
from sim.experiments.classifier.snapshot import ClassifierSnapshot
from sim.experiments.topomap.snapshot import Snapshot as TopomapSnapshot
from sim.parameters import ConfigRoot
from sim.snapshot import SnapshotBase, merge_snapshots
from tests.conftest import AVAILABLE_BACKENDS, REPO_ROOT, small_config
from tests.support import toy
from tests.support.cuda_emulator import emulator_unavailable_reason

Arrays = dict[str, np.ndarray]

# --------------------------------------------------------------------------- what is run, as data

#: The backend every other one is compared with.
REFERENCE_BACKEND = "cpu"
#: Why the CUDA emulator cannot run here (no g++), or None.
EMULATOR_REASON = emulator_unavailable_reason()
#: The topographic map with room to rewire: fan-ins below s_max, fast attempts, potentiated
#: synapses that disappear, so a few hundred steps form and remove synapses on both projections.
TOPOMAP_BUSY: dict[str, Any] = {
    "connectivity.ff_fan_in": 12,
    "connectivity.lat_fan_in": 12,
    "rewiring.rate": 4e4,
    "rewiring.ff.p_elim_pot": 0.05,
    "rewiring.lat.p_elim_pot": 0.05,
}
TOY_PRESET = toy.PRESETS_DIR / "toy" / "toy_small.yaml"
CLASSIFIER_PRESET = REPO_ROOT / "presets" / "classifier" / "classifier_digits.yaml"
CHANNELS_PRESET = REPO_ROOT / "presets" / "channels" / "channels_shapes.yaml"
#: A channel-pruning network small enough for the suite, updating its mask every 4 batches.
CHANNELS_SMALL: dict[str, Any] = {
    "network.layers": "4C3-AP2-8C3-AP2-4FC",
    "data.name": "shapes",
    "data.classes": 4,
    "data.size": 8,
    "data.n_train": 64,
    "data.n_test": 16,
    "data.batch_size": 8,
    "pruning.mode": "sca",
    "pruning.sparsity": 0.5,
    "pruning.fraction": 0.2,
    "pruning.interval": 4,
    "pruning.first": 0,
}


def _channels_wiring(arrays: Arrays) -> Arrays:
    return {k: v for k, v in arrays.items() if k.endswith("/mask")}


def _channels_corrupt(entries: Arrays) -> tuple[str, ...]:
    """A batch beyond the epoch's last (8 batches of 8 images)."""
    entries["state.position"][1] = 8 + 7
    return ("state.position[1]", "15")


def _channels_units(eng: Engine) -> int:
    arrays = eng.experiment.state_to_arrays(eng.state())
    return max(int(v.size) for k, v in arrays.items() if k.endswith("/mask"))


#: A classifier small enough for the suite that prunes and regrows within a few batches.
CLASSIFIER_SMALL: dict[str, Any] = {
    "network.n_hidden": 16,
    "connectivity.p_in": 0.2,
    "connectivity.p_rec": 0.2,
    "learning.lr": 0.01,
    "rewiring.l1": 0.003,
    "data.n_steps": 10,
    "data.batch_size": 4,
    "data.n_train": 32,
    "data.n_test": 8,
}


@dataclass(frozen=True)
class Case:
    """What the suite needs to know of one experiment."""

    #: A small configuration (a fresh one per call).
    config: Callable[[], ConfigRoot]
    #: A preset file of the experiment, read by :func:`sim.config.load_config`.
    preset: Path
    #: Steps of the run every test starts with (structural events happen within them).
    steps: int
    #: Steps run after a checkpoint, a snapshot or a parameter change.
    more: int
    #: Its snapshot type.
    snapshot_type: type[SnapshotBase]
    #: Projection codes its events may carry.
    projections: frozenset[int]
    #: A live parameter, and the value that stops structural change (no events afterwards).
    stop_rewiring: tuple[str, Any]
    #: A structural parameter and another value of it (another layout of the state).
    structural: tuple[str, Any]
    #: Prefix of a synapse table's checkpoint entries (``state.<table>.post``); None: no table.
    table: str | None
    #: Another experiment, whose checkpoints this one must refuse.
    other: str
    #: The arrays of a state that hold its structure (default: the synapse tables' rows).
    wiring: Callable[[Arrays], Arrays] | None = None
    #: Puts an index out of range into a checkpoint's entries; returns what the refusal must name
    #: (default: a target beyond the table's ``n_post``).
    corrupt: Callable[[Arrays], tuple[str, ...]] | None = None
    #: Largest id an event's ``pre`` or ``post`` may reach, plus one (default: the table's largest
    #: population).
    units: Callable[[Engine], int] | None = None


EXPERIMENTS: dict[str, Case] = {
    "topomap": Case(
        config=lambda: small_config(TOPOMAP_BUSY),
        preset=REPO_ROOT / "presets" / "topomap" / "demo.yaml",
        steps=300,
        more=100,
        snapshot_type=TopomapSnapshot,
        projections=frozenset({FF, LAT}),
        stop_rewiring=("rewiring.enabled", False),
        structural=("network.scale", 2),
        table="ff",
        other="toy",
    ),
    "toy": Case(
        config=lambda: load_config(TOY_PRESET),
        preset=TOY_PRESET,
        steps=300,
        more=100,
        snapshot_type=toy.ToySnapshot,
        projections=frozenset({FF}),
        stop_rewiring=("rewiring.enabled", False),
        structural=("network.n", 30),
        table="table",
        other="topomap",
    ),
    "classifier": Case(
        config=lambda: load_config(CLASSIFIER_PRESET).replace_all(CLASSIFIER_SMALL),
        preset=CLASSIFIER_PRESET,
        steps=305,  # 30 batches and a half: several epochs of pruning and regrowth, then mid trial
        more=95,
        snapshot_type=ClassifierSnapshot,
        projections=frozenset({0, 1}),
        stop_rewiring=("rewiring.enabled", False),
        structural=("network.n_hidden", 20),
        table="in",
        other="topomap",
    ),
    "channels": Case(
        config=lambda: load_config(CHANNELS_PRESET).replace_all(CHANNELS_SMALL),
        preset=CHANNELS_PRESET,
        steps=30,  # 7 mask updates (the first prunes, the others swap), then mid epoch
        more=10,
        snapshot_type=ChannelsSnapshot,
        projections=frozenset({0, 1}),
        stop_rewiring=("pruning.fraction", 0.0),
        structural=("network.layers", "4C3-AP2-6C3-AP2-4FC"),
        table=None,
        other="classifier",
        wiring=_channels_wiring,
        corrupt=_channels_corrupt,
        units=_channels_units,
    ),
}


@dataclass(frozen=True)
class Support:
    """How one pair runs: skipped (with the reason) or compared with the reference backend.

    Integer and boolean arrays, and the events, always match exactly; float arrays within
    ``rtol``/``atol`` (both zero: bit for bit). A pair with a tolerance compares only the number
    of events.
    """

    skip: str | None = None
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def exact(self) -> bool:
        """Whether states must match bit for bit."""
        return self.rtol == 0.0 and self.atol == 0.0


EXACT = Support()
PAIRS: dict[tuple[str, str], Support] = {
    ("topomap", "cpu"): EXACT,
    ("topomap", "cuda-emulator"): (
        EXACT if "cuda-emulator" in AVAILABLE_BACKENDS else Support(skip=EMULATOR_REASON or "not registered")
    ),
    ("toy", "cpu"): EXACT,
    ("toy", "cuda-emulator"): Support(skip=EMULATOR_REASON),
    ("classifier", "cpu"): EXACT,
    ("classifier", "cuda-emulator"): Support(skip=EMULATOR_REASON),
    ("channels", "cpu"): EXACT,
}


def _params(pairs: list[tuple[str, str]]) -> list[Any]:
    """``pytest.param`` of every pair, marked as skipped with its declared reason."""

    def marks(pair: tuple[str, str]) -> list[pytest.MarkDecorator]:
        reason = PAIRS[pair].skip
        return [] if reason is None else [pytest.mark.skip(reason=reason)]

    return [pytest.param(pair, id="-".join(pair), marks=marks(pair)) for pair in pairs]


ALL_PAIRS = _params(list(PAIRS))
#: Pairs compared with the reference backend.
OTHER_PAIRS = _params([p for p in PAIRS if p[1] != REFERENCE_BACKEND])


# --------------------------------------------------------------------------- fixtures and helpers


def _classifier_on_emulator() -> Any:
    from sim.experiments.classifier.cuda.backend import ClassifierCudaBackend
    from tests.support.cuda_emulator import EmulatedDevice

    return ClassifierCudaBackend(EmulatedDevice(schedule="shuffle"))


@pytest.fixture(scope="module", autouse=True)
def toy_registered() -> Iterator[None]:
    """The toy experiment and its CUDA backend on the emulator, known for this module only."""
    known = toy.KEY in experiment_keys()
    toy.register()
    toy.register()  # idempotent
    if EMULATOR_REASON is None:
        register_backend("cuda-emulator", toy.cuda_backend, emulator_unavailable_reason, experiment=toy.KEY)
        register_backend(
            "cuda-emulator", _classifier_on_emulator, emulator_unavailable_reason, experiment="classifier"
        )
    yield
    unregister_backend("cuda-emulator", experiment=toy.KEY)
    unregister_backend("cuda-emulator", experiment="classifier")
    if not known:
        unregister_experiment(toy.KEY)


@dataclass(frozen=True)
class Result:
    """A run's state arrays and events after some steps."""

    arrays: Arrays
    events: np.ndarray


class Runs:
    """Builds engines for the suite, closes them, and remembers finished runs for reuse."""

    def __init__(self) -> None:
        self.engines: list[Engine] = []
        self.results: dict[tuple[str, str, int], Result] = {}

    def build(self, experiment: str, backend: str, seed: int = 1, config: ConfigRoot | None = None) -> Engine:
        """A new engine of ``experiment``'s small configuration (or ``config``) on ``backend``."""
        cfg = EXPERIMENTS[experiment].config() if config is None else config
        eng = Engine.build(cfg, backend=backend, seed=seed)
        self.engines.append(eng)
        return eng

    def after_steps(self, experiment: str, backend: str, seed: int = 1) -> Result:
        """State and events after the case's ``steps`` steps from a fresh build (run once)."""
        key = (experiment, backend, seed)
        if key not in self.results:
            eng = self.build(experiment, backend, seed)
            eng.step(EXPERIMENTS[experiment].steps)
            self.results[key] = Result(arrays_of(eng), eng.take_events())
            eng.close()
        return self.results[key]

    def close(self) -> None:
        """Close every engine built."""
        for eng in self.engines:
            eng.close()


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    """The module's :class:`Runs`."""
    r = Runs()
    yield r
    r.close()


@pytest.fixture(scope="module")
def cpu_checkpoint(tmp_path_factory: pytest.TempPathFactory, runs: Runs) -> Callable[[str], Path]:
    """``cpu_checkpoint(experiment)``: a checkpoint of its small configuration after a few steps."""
    folder = tmp_path_factory.mktemp("checkpoints")
    paths: dict[str, Path] = {}

    def make(experiment: str) -> Path:
        if experiment not in paths:
            eng = runs.build(experiment, REFERENCE_BACKEND)
            eng.step(10)
            paths[experiment] = folder / f"{experiment}.npz"
            eng.save_checkpoint(paths[experiment])
            eng.close()
        return paths[experiment]

    return make


def arrays_of(eng: Engine) -> Arrays:
    """Copies of every state array of ``eng``, by checkpoint name, as a checkpoint restores them.

    The state goes through the experiment's own ``state_to_arrays`` -> ``state_from_arrays``, which
    clears what holds no result (the topographic map's LIF scratch, which only the CPU writes).
    """
    exp = eng.experiment
    restored = exp.state_from_arrays(exp.state_to_arrays(eng.state()), eng.config)
    return {k: np.array(a, copy=True) for k, a in exp.state_to_arrays(restored).items()}


def assert_same_arrays(a: Arrays, b: Arrays, support: Support = EXACT) -> None:
    """``a`` and ``b`` hold the same arrays: integers exactly, floats within ``support``'s tolerance."""
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        assert x.shape == y.shape and x.dtype == y.dtype, key
        if x.dtype.kind == "f" and not support.exact:
            np.testing.assert_allclose(x, y, rtol=support.rtol, atol=support.atol, err_msg=key)
        else:
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{key} differs"


def assert_one_line(exc: BaseException, *fragments: str) -> str:
    """The message of ``exc``: one line, holding every fragment."""
    msg = str(exc)
    assert msg and "\n" not in msg and "\r" not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def check_events(events: np.ndarray, first_step: int, last_step: int, case: Case, n_neurons: int) -> None:
    """``events`` are well formed and happened in steps ``[first_step, last_step)``, in order."""
    assert events.dtype == EVENT_DTYPE
    if not len(events):
        return
    steps = events["step"]
    assert steps.min() >= first_step and steps.max() < last_step
    assert np.all(np.diff(steps) >= 0)
    assert set(np.unique(events["kind"]).tolist()) <= {FORMED, REMOVED}
    assert set(np.unique(events["projection"]).tolist()) <= case.projections
    for end in ("pre", "post"):
        assert events[end].min() >= 0 and events[end].max() < n_neurons


def neurons_of(eng: Engine) -> int:
    """Neurons the largest population of ``eng``'s network has (bounds the ids of events)."""
    case = case_of(eng)
    if case.units is not None:
        return case.units(eng)
    return max(int(d) for d in eng.experiment.state_to_arrays(eng.state())[f"{case_of(eng).table}.dims"][:2])


def case_of(eng: Engine) -> Case:
    """The :class:`Case` of ``eng``'s experiment."""
    return EXPERIMENTS[eng.config.experiment]


# --------------------------------------------------------------------------- build, step, snapshot


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_build_step_snapshot(pair: tuple[str, str], runs: Runs) -> None:
    experiment, backend = pair
    case = EXPERIMENTS[experiment]
    eng = runs.build(experiment, backend)
    assert eng.step_count == 0 and eng.t == 0.0
    first = eng.snapshot()
    assert type(first) is case.snapshot_type
    assert (first.seq, first.step, first.backend) == (1, 0, eng.backend_name)
    assert first.RECORDS[0] == "events" and all(len(getattr(first, name)) == 0 for name in first.RECORDS)

    eng.step(case.steps)
    model_t = eng.experiment.model_seconds(eng.config, case.steps)
    assert eng.step_count == case.steps
    assert eng.t == pytest.approx(model_t) and model_t > 0.0
    assert eng.steps_for(model_t) == case.steps
    snap = eng.snapshot()
    assert type(snap) is case.snapshot_type
    assert (snap.seq, snap.step, snap.backend) == (2, case.steps, eng.backend_name)
    assert snap.t == pytest.approx(model_t)
    events = eng.take_events()
    assert np.array_equal(snap.events, events)
    assert len(events) > 0, "the small configuration must rewire within its steps"
    assert {FORMED, REMOVED} <= set(events["kind"].tolist())
    check_events(events, 0, case.steps, case, neurons_of(eng))
    with pytest.raises(ValueError):
        snap.events[0] = events[0]  # read-only


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_same_seed_same_state_other_seed_another(pair: tuple[str, str], runs: Runs) -> None:
    experiment, backend = pair
    steps = EXPERIMENTS[experiment].steps
    first = runs.after_steps(experiment, backend, seed=1)
    eng = runs.build(experiment, backend, seed=1)
    eng.step(steps)
    assert_same_arrays(arrays_of(eng), first.arrays)
    assert np.array_equal(eng.take_events(), first.events)

    other = runs.after_steps(experiment, backend, seed=2)
    differ = [k for k in first.arrays if not np.array_equal(first.arrays[k], other.arrays[k])]
    assert differ, "another seed gave the same state"
    assert not np.array_equal(first.events, other.events)


@pytest.mark.parametrize("pair", OTHER_PAIRS)
def test_backend_agrees_with_the_reference(pair: tuple[str, str], runs: Runs) -> None:
    experiment, backend = pair
    support = PAIRS[pair]
    for seed in (1, 2):
        got = runs.after_steps(experiment, backend, seed)
        want = runs.after_steps(experiment, REFERENCE_BACKEND, seed)
        assert_same_arrays(got.arrays, want.arrays, support)
        if support.exact:
            assert np.array_equal(got.events, want.events)
        else:
            assert len(got.events) == len(want.events)


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_checkpoint_continues_bit_for_bit(pair: tuple[str, str], runs: Runs, tmp_path: Path) -> None:
    experiment, backend = pair
    case = EXPERIMENTS[experiment]
    path = tmp_path / "run.npz"
    original = runs.build(experiment, backend, seed=3)
    original.step(case.steps)
    original.save_checkpoint(path)
    original.step(case.more)

    loaded = Engine.from_checkpoint(path, backend=backend)
    runs.engines.append(loaded)
    assert (loaded.step_count, loaded.seed) == (case.steps, 3)
    assert loaded.config == original.config
    loaded.step(case.more)
    assert loaded.step_count == original.step_count
    assert_same_arrays(arrays_of(loaded), arrays_of(original))
    later = original.take_events()
    later = later[later["step"] >= case.steps]
    assert np.array_equal(loaded.take_events(), later)


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_checkpoint_of_another_experiment_is_refused(
    pair: tuple[str, str], runs: Runs, cpu_checkpoint: Callable[[str], Path]
) -> None:
    experiment, backend = pair
    other = EXPERIMENTS[experiment].other
    eng = runs.build(experiment, backend)
    eng.step(5)
    before = arrays_of(eng)
    with pytest.raises(CheckpointError) as info:
        eng.load_checkpoint(cpu_checkpoint(other))
    assert_one_line(info.value, f"'{other}'", f"'{experiment}'")
    assert eng.step_count == 5
    assert_same_arrays(arrays_of(eng), before)


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_checkpoint_with_an_index_out_of_range_is_refused(
    pair: tuple[str, str], runs: Runs, tmp_path: Path
) -> None:
    experiment, backend = pair
    case = EXPERIMENTS[experiment]
    eng = runs.build(experiment, backend)
    eng.step(20)
    good = tmp_path / "good.npz"
    eng.save_checkpoint(good)
    with np.load(good, allow_pickle=False) as data:
        entries = {k: data[k] for k in data.files}
    fragments = (case.corrupt or _corrupt_table(case))(entries)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **entries)

    eng.step(3)
    before = arrays_of(eng)
    with pytest.raises(CheckpointError) as info:
        eng.load_checkpoint(bad)
    assert_one_line(info.value, str(bad), *fragments)
    assert eng.step_count == 23
    assert_same_arrays(arrays_of(eng), before)
    eng.load_checkpoint(good)  # the file it was made from loads
    assert eng.step_count == 20


def _corrupt_table(case: Case) -> Callable[[Arrays], tuple[str, ...]]:
    """A synapse whose target is beyond the table's ``n_post``."""

    def corrupt(entries: Arrays) -> tuple[str, ...]:
        prefix = f"state.{case.table}"
        _n_pre, n_post, row_cap, _col_cap = (int(d) for d in entries[f"{prefix}.dims"])
        row = int(np.argmax(entries[f"{prefix}.row_len"] > 0))
        assert entries[f"{prefix}.row_len"][row] > 0
        entries[f"{prefix}.post"][row * row_cap] = n_post + 7
        return (f"{prefix}.post[{row * row_cap}]", str(n_post + 7))

    return corrupt


def _table_wiring(arrays: Arrays) -> Arrays:
    return {k: v for k, v in arrays.items() if k.endswith((".row_len", ".col_len", ".post"))}


# --------------------------------------------------------------------------- changing a running network


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_live_parameter_applies_structural_is_refused(pair: tuple[str, str], runs: Runs) -> None:
    experiment, backend = pair
    case = EXPERIMENTS[experiment]
    eng = runs.build(experiment, backend)
    eng.step(case.more)
    assert len(eng.take_events()) > 0

    path, value = case.stop_rewiring
    assert eng.config.param_spec(path).live
    eng.set_parameter(path, value)
    assert eng.config.get(path) == value
    wiring = case.wiring or _table_wiring
    before = wiring(arrays_of(eng))
    assert before and (case.table is None or f"{case.table}.post" in before)
    eng.step(case.more)
    assert len(eng.take_events()) == 0
    assert_same_arrays(wiring(arrays_of(eng)), before)

    path, value = case.structural
    assert not eng.config.param_spec(path).live
    config = eng.config
    with pytest.raises(ConfigError) as info:
        eng.set_parameter(path, value)
    assert_one_line(info.value, path, "structural")
    assert eng.config == config


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_replace_state_checks_the_layout(pair: tuple[str, str], runs: Runs) -> None:
    experiment, backend = pair
    case = EXPERIMENTS[experiment]
    eng = runs.build(experiment, backend)
    eng.step(10)
    state = eng.state()
    eng.step(10)
    eng.replace_state(state)  # its own layout: accepted, and the step count follows the state
    assert eng.step_count == 10

    path, value = case.structural
    exp = get_experiment(experiment)
    wrong = exp.build_state(eng.config.replace(path, value), 1)
    with pytest.raises(ValueError):
        eng.replace_state(wrong)
    assert eng.step_count == 10


@pytest.mark.parametrize("pair", ALL_PAIRS)
def test_merged_snapshots_keep_every_event(pair: tuple[str, str], runs: Runs) -> None:
    experiment, backend = pair
    case = EXPERIMENTS[experiment]
    eng = runs.build(experiment, backend)
    eng.step(case.steps // 2)
    older = eng.snapshot()
    eng.step(case.steps - case.steps // 2)
    newer = eng.snapshot()
    assert len(older.events) and len(newer.events)

    merged = merge_snapshots(older, newer)
    assert type(merged) is case.snapshot_type
    assert (merged.seq, merged.step) == (newer.seq, newer.step)
    assert len(merged.events) == len(older.events) + len(newer.events)
    assert np.array_equal(merged.events, np.concatenate([older.events, newer.events]))
    assert np.array_equal(merged.events, eng.take_events())
    check_events(merged.events, 0, case.steps, case, neurons_of(eng))


# --------------------------------------------------------------------------- configuration files


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_load_config_gives_the_experiments_root(experiment: str) -> None:
    case = EXPERIMENTS[experiment]
    cfg = load_config(case.preset)
    assert type(cfg) is get_experiment(experiment).config_type
    assert cfg.experiment == experiment
    assert cfg.name == case.preset.stem
    assert type(case.config()) is type(cfg)


def test_the_toy_preset_is_a_toy_config() -> None:
    cfg = load_config(TOY_PRESET)
    assert isinstance(cfg, toy.ToyConfig)
    assert cfg.network.n == 24 and cfg.rewiring.swaps == 2


def test_an_unknown_experiment_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "alien.yaml"
    path.write_text("experiment: alien\nnetwork:\n  n: 4\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line(info.value, str(path), "experiment", "'alien'", "topomap", "toy")
