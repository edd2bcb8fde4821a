"""The channel network's benchmark: training samples per second, and compact vs masked inference.

For every configuration the network is built, one training batch runs as a
warm-up (allocations, thread pools), then ``batches`` training batches are
timed (within the first epoch: no test scoring in the timed part). Then the
mask is brought to its sparsity from the scores gathered (the first update)
and the masked and the compact networks time their inference on the same
test batch.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from app.experiments.channels.compaction import compact_engine
from sim.engine import Engine
from sim.experiments.channels.config import ChannelsConfig
from sim.experiments.channels.data import batches_per_epoch


@dataclass(frozen=True)
class BenchRecord:
    """One measurement."""

    preset: str
    backend: str
    mode: str
    sparsity: float
    batch_size: int
    batches: int
    wall_seconds: float
    samples_per_second: float
    params_dense: int
    params_compact: int
    inference_batch: int
    inference_ms_masked: float
    inference_ms_compact: float

    @property
    def speedup(self) -> float:
        """Masked over compact inference time."""
        return self.inference_ms_masked / self.inference_ms_compact if self.inference_ms_compact > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (for JSON)."""
        return {**asdict(self), "inference_speedup": self.speedup}


def bench_one(config: ChannelsConfig, backend: str, batches: float, seed: int = 1) -> BenchRecord:
    """Time ``batches`` training batches (at least one, within the first epoch), then inference."""
    per_epoch = batches_per_epoch(config, seed)
    count = max(1, min(round(batches), per_epoch - 2))
    b = config.data.batch_size
    with Engine.build(config, backend=backend, seed=seed) as eng:
        eng.step(1)
        t0 = time.perf_counter()
        eng.step(count)
        wall = time.perf_counter() - t0
        result = compact_engine(eng, update_first=True)
        return BenchRecord(
            preset=config.name,
            backend=eng.backend_name,
            mode=config.pruning.mode,
            sparsity=config.pruning.sparsity if config.pruning.mode != "none" else 0.0,
            batch_size=b,
            batches=count,
            wall_seconds=wall,
            samples_per_second=count * b / wall,
            params_dense=result.params_dense,
            params_compact=result.params_compact,
            inference_batch=result.inference_batch,
            inference_ms_masked=result.inference_ms_dense,
            inference_ms_compact=result.inference_ms_compact,
        )


HEADER = (
    f"{'preset':<24} {'backend':<7} {'mode':<10} {'s':>4} {'batch':>5} {'samples/s':>10} "
    f"{'params':>16} {'masked ms':>10} {'compact ms':>10} {'speedup':>7}"
)


def format_record(r: BenchRecord) -> str:
    """One line of the benchmark table."""
    params = f"{r.params_compact:,}/{r.params_dense:,}"
    return (
        f"{r.preset:<24} {r.backend:<7} {r.mode:<10} {r.sparsity:>4g} {r.batch_size:>5} "
        f"{r.samples_per_second:>10,.1f} {params:>16} {r.inference_ms_masked:>10.2f} "
        f"{r.inference_ms_compact:>10.2f} {r.speedup:>6.2f}x"
    )
