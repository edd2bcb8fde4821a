"""The channel network's own command: compact the running network and report what it became."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.commands import EngineCommand
from app.experiments.channels.compaction import compact_engine, compaction_line, write_compaction
from sim.experiments.channels.nn.compaction import CompactionResult


class CompactionSlot:
    """Where the simulation thread leaves a compaction's result for the window (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._result: CompactionResult | None = None
        self._error: str | None = None
        self._serial = 0

    def put(self, result: CompactionResult | None, error: str | None = None) -> None:
        """Leave a result (or the error that stopped it)."""
        with self._lock:
            self._result, self._error = result, error
            self._serial += 1

    def get(self) -> tuple[int, CompactionResult | None, str | None]:
        """``(serial, result, error)``: the serial grows with every :meth:`put`."""
        with self._lock:
            return self._serial, self._result, self._error


@dataclass(frozen=True)
class Compact(EngineCommand):
    """Compact the current network: remove the masked channels physically, check the logits, score
    and time both networks; with ``out_dir`` also write ``mask.npz``, ``compact_model.npz`` and
    ``compaction.json`` there. Training is not changed."""

    out_dir: str | None = None
    slot: CompactionSlot = field(default_factory=CompactionSlot, compare=False)

    def apply(self, engine: Any) -> str:
        """Compact ``engine``'s network; the result in one line (and in :attr:`slot`)."""
        try:
            result = compact_engine(engine)
            if self.out_dir is not None:
                out = Path(self.out_dir)
                out.mkdir(parents=True, exist_ok=True)
                write_compaction(out, result, engine.config)
        except Exception as exc:
            self.slot.put(None, f"{type(exc).__name__}: {exc}")
            raise
        self.slot.put(result)
        line = compaction_line(result)
        return line if self.out_dir is None else f"{line}; wrote {self.out_dir}"
