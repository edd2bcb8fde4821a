"""The classifier's benchmark: training samples per second per backend, connectivity and batch size.

For every configuration the network is built and its kernels compiled (not
timed), one training batch runs as a warm-up, then ``batches`` training
batches are timed. A connectivity of 1 runs the dense kernel: the same
training with every connection present and no row indirection, for the
sparse-versus-dense comparison.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from sim.engine import Engine
from sim.experiments.classifier.config import ClassifierConfig
from sim.experiments.classifier.data import data_sizes


@dataclass(frozen=True)
class BenchRecord:
    """One measurement."""

    preset: str
    backend: str
    connectivity: float
    batch_size: int
    dense: bool
    synapses: int
    batches: int
    wall_seconds: float
    samples_per_second: float
    epoch_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (for JSON)."""
        return asdict(self)


def bench_one(config: ClassifierConfig, backend: str, batches: float, seed: int = 1) -> BenchRecord:
    """Time ``batches`` training batches (at least one; at most what one epoch holds after the warm-up)."""
    sizes = data_sizes(config)
    b = config.data.batch_size
    count = max(1, min(round(batches), sizes.train_batches(b) - 1))
    trial = config.data.n_steps
    with Engine.build(config, backend=backend, seed=seed) as eng:
        eng.step(trial)  # the first batch: caches warm, threads started
        snap = eng.snapshot()
        synapses = snap.tin.n_synapses + snap.trec.n_synapses
        t0 = time.perf_counter()
        eng.step(count * trial)
        wall = time.perf_counter() - t0
        rate = count * b / wall
        return BenchRecord(
            preset=config.name,
            backend=eng.backend_name,
            connectivity=config.connectivity.p_rec,
            batch_size=b,
            dense=config.dense,
            synapses=synapses,
            batches=count,
            wall_seconds=wall,
            samples_per_second=rate,
            epoch_seconds=sizes.train_batches(b) * b / rate,
        )


HEADER = (
    f"{'preset':<22} {'backend':<7} {'connectivity':>12} {'batch':>5} {'kernel':>6} {'synapses':>9} "
    f"{'samples/s':>10} {'epoch s':>8}"
)


def format_record(r: BenchRecord) -> str:
    """One line of the benchmark table."""
    return (
        f"{r.preset:<22} {r.backend:<7} {r.connectivity:>12g} {r.batch_size:>5} "
        f"{'dense' if r.dense else 'sparse':>6} {r.synapses:>9,} {r.samples_per_second:>10,.1f} "
        f"{r.epoch_seconds:>8,.1f}"
    )
