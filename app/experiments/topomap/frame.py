"""What the topographic map's views draw: a snapshot with its analyses, and the history of a run.

The GUI's frame clock turns every snapshot it takes from the controller into a
:class:`Frame`. Analyses (receptive fields, rates) are computed on first use
and cached on the frame, so several views that need the receptive fields pay
for them once, and views that are hidden pay nothing.

:class:`History` keeps the time series of a run (the rows of the headless
``metrics.csv``) and the rewiring events by distance. It is fed every frame
the GUI sees; counts, rates and events are exact whatever frames are dropped,
because snapshots carry cumulative counters and the controller merges the
events of snapshots nobody took. The map metrics (sigma_aff, AD) need the
receptive fields of every neuron, which at large scales take longer than a
frame; they are recorded at most as often as an analysis budget allows and
are NaN in the other rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from app import frame
from app.experiments.topomap.events import EventCounts
from app.experiments.topomap.metrics import METRIC_COLUMNS, counts_row
from sim.experiments.topomap.analysis import receptive_fields
from sim.experiments.topomap.analysis.receptive_fields import ReceptiveFields
from sim.experiments.topomap.config import ModelConfig
from sim.experiments.topomap.snapshot import Snapshot

__all__ = ["Frame", "History"]

_MAP_COLUMNS = ("sigma_aff_conn", "sigma_aff_weight", "ad_conn", "ad_weight")


class Frame(frame.Frame):
    """A topographic-map snapshot as the views see it, with analyses computed once on demand.

    Parameters as :class:`app.frame.Frame`; ``snapshot`` is a
    :class:`~sim.experiments.topomap.snapshot.Snapshot` and ``config`` a
    :class:`~sim.experiments.topomap.config.ModelConfig`.
    """

    snapshot: Snapshot
    config: ModelConfig
    history: History
    previous: Snapshot | None

    @property
    def side(self) -> int:
        """Grid side n of both layers."""
        return self.snapshot.side

    @cached_property
    def rf_counts(self) -> ReceptiveFields:
        """Receptive fields of the FF synapse counts."""
        s = self.snapshot
        return receptive_fields(s.ff.pre, s.ff.post, s.side)

    @cached_property
    def rf_weights(self) -> ReceptiveFields:
        """Receptive fields of the FF weights."""
        s = self.snapshot
        return receptive_fields(s.ff.pre, s.ff.post, s.side, weights=s.ff.weight)

    @cached_property
    def source_rates(self) -> NDArray[np.float64]:
        """Firing rate (Hz) of every source neuron since the previous frame (zeros for the first)."""
        return self._rates(
            self.snapshot.spikes_src, None if self.previous is None else self.previous.spikes_src
        )

    @cached_property
    def target_rates(self) -> NDArray[np.float64]:
        """Firing rate (Hz) of every target neuron since the previous frame (zeros for the first)."""
        return self._rates(
            self.snapshot.spikes_tgt, None if self.previous is None else self.previous.spikes_tgt
        )

    def _rates(self, now: NDArray[np.int64], before: NDArray[np.int64] | None) -> NDArray[np.float64]:
        if before is None or self.interval <= 0.0:
            return np.zeros(now.shape, np.float64)
        return (now - before).astype(np.float64) / self.interval


class History(frame.History):
    """Time series and event statistics of one network since it was built.

    Parameters
    ----------
    side : int
        Grid side of the network.
    record_interval : float
        Model seconds between rows (``run.record_interval`` of the configuration).
    analysis_budget : float
        Largest fraction of wall time spent on the map metrics; rows that
        would exceed it get NaN map metrics.
    clock : callable
        Wall clock (seconds); replaceable in tests.
    """

    def __init__(
        self,
        side: int,
        record_interval: float = 1.0,
        analysis_budget: float = 0.25,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        if not 0 < analysis_budget <= 1:
            raise ValueError(f"analysis_budget must be in (0, 1], got {analysis_budget}")
        super().__init__(METRIC_COLUMNS, self._row, record_interval)
        self.side = side
        self.analysis_budget = float(analysis_budget)
        self._clock = clock
        self._next_analysis = -math.inf
        self._events = EventCounts(side)

    @property
    def distance_edges(self) -> NDArray[np.float64]:
        """Edges of the unit-width distance bins of :attr:`events_by_distance`."""
        return self._events.edges

    @property
    def events_by_distance(self) -> NDArray[np.int64]:
        """Events by (projection FF/LAT, kind FORMED/REMOVED, distance bin) since the build."""
        return self._events.counts

    @property
    def total_events(self) -> int:
        """Events accounted for since the build."""
        return self._events.total

    def account(self, frame: frame.Frame) -> None:
        """Count the frame's rewiring events by distance."""
        snap = frame.snapshot
        if snap.side != self.side:
            raise ValueError(
                f"frame of a {snap.side}x{snap.side} network in a {self.side}x{self.side} history"
            )
        self._events.add(snap.events)

    def table(self) -> dict[str, NDArray[np.float64]]:
        """Column arrays of every row (the columns of the headless ``metrics.csv``).

        ``formations`` and ``eliminations`` count the synapses formed and
        removed (both projections) since the previous row, as in the headless
        table; divide by the difference of ``t`` for rates.
        """
        return self.rows.columns()

    def _row(self, frame: Frame, previous: Snapshot | None) -> dict[str, float]:
        return {**counts_row(frame.snapshot, previous), **self._map_metrics(frame)}

    def _map_metrics(self, frame: Frame) -> dict[str, float]:
        now = self._clock()
        if now < self._next_analysis and "rf_counts" not in frame.__dict__:
            return dict.fromkeys(_MAP_COLUMNS, math.nan)
        counts, weights = frame.rf_counts, frame.rf_weights
        cost = self._clock() - now
        self._next_analysis = now + cost / self.analysis_budget
        return {
            "sigma_aff_conn": counts.mean_sigma_aff,
            "sigma_aff_weight": weights.mean_sigma_aff,
            "ad_conn": counts.mean_ad,
            "ad_weight": weights.mean_ad,
        }
