"""The topographic map's benchmark: real-time factor per backend and scale.

For every backend and scale the network is built (not timed), warmed up (so
compilation is not timed either), then run for ``duration`` seconds of model
time. The share of time spent rewiring is the wall time of the same rewiring
calls replayed alone on a copy of the state, over the wall time of the run;
the same replay gives the wall time per rewiring call, reported beside the
attempts per call so that its cost can be read against the attempts (vary
``--rewiring-rates``) and against N (vary ``--scales``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from sim.engine import Engine
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.params import attempts_per_call, steps_of

#: Model seconds of warm-up before timing.
WARMUP_SECONDS = 0.02


@dataclass(frozen=True)
class BenchRecord:
    """One measurement."""

    preset: str
    backend: str
    scale: int
    neurons_per_layer: int
    synapses: int
    rewiring: bool
    duration: float
    wall_seconds: float
    steps_per_second: float
    realtime_factor: float
    rewiring_share: float
    rewiring_rate: float
    attempts_per_call: float
    rewiring_call_us: float

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (for JSON)."""
        return asdict(self)


def bench_one(config: ModelConfig, backend: str, duration: float, seed: int = 1) -> BenchRecord:
    """Measure one configuration on one backend."""
    with Engine.build(config, backend=backend, seed=seed) as eng:
        eng.run(WARMUP_SECONDS)
        if config.rewiring.enabled:
            eng.time_rewiring(WARMUP_SECONDS)  # compile the replay kernel outside the timing
        snap = eng.snapshot()
        synapses = snap.ff.count + snap.lat.count
        steps = eng.steps_for(duration)
        rewire_s = eng.time_rewiring(duration) if config.rewiring.enabled else 0.0
        t0 = time.perf_counter()
        eng.step(steps)
        wall = time.perf_counter() - t0
        rw = config.rewiring
        calls = steps // steps_of(rw.interval, config.network.dt) if rw.enabled else 0
        per_call = attempts_per_call(config) * (2 if rw.scheme == "pair" else 1)
        return BenchRecord(
            preset=config.name,
            backend=eng.backend_name,
            scale=config.network.scale,
            neurons_per_layer=config.n_neurons,
            synapses=synapses,
            rewiring=config.rewiring.enabled,
            duration=duration,
            wall_seconds=wall,
            steps_per_second=steps / wall,
            realtime_factor=duration / wall,
            rewiring_share=min(1.0, rewire_s / wall) if wall > 0 else 0.0,
            rewiring_rate=rw.rate,
            attempts_per_call=per_call if rw.enabled else 0.0,
            rewiring_call_us=1e6 * rewire_s / calls if calls else 0.0,
        )


HEADER = (
    f"{'preset':<14} {'backend':<7} {'scale':>5} {'neurons/layer':>13} {'synapses':>9} "
    f"{'steps/s':>10} {'realtime':>9} {'rewiring':>8} {'attempts/call':>13} {'us/call':>9}"
)


def format_record(r: BenchRecord) -> str:
    """One line of the benchmark table."""
    share = f"{100 * r.rewiring_share:7.1f}%" if r.rewiring else "     off"
    calls = (
        f"{r.attempts_per_call:>13,.1f} {r.rewiring_call_us:>9,.1f}" if r.rewiring else f"{'':>13} {'':>9}"
    )
    return (
        f"{r.preset:<14} {r.backend:<7} {r.scale:>5} {r.neurons_per_layer:>13,} {r.synapses:>9,} "
        f"{r.steps_per_second:>10,.0f} {r.realtime_factor:>8.2f}x {share} {calls}"
    )
