"""A run's metrics table, whatever the experiment: rows by column, recorded from snapshots, as CSV.

The experiment names the columns (``t`` first) and makes each row
(:meth:`app.experiment.AppExperiment.metrics_row`); these classes store the
rows, write ``metrics.csv`` row by row or whole, and continue a table saved
with a checkpoint.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.files import GrowingFile, write_atomic


class MetricsTable:
    """The rows of a metrics table, stored by column (8 bytes a value).

    Rows are appended in amortised constant time; :meth:`columns` returns
    read-only views without copying, so plotting a long history costs no more
    than plotting a short one.
    """

    def __init__(self, names: Sequence[str], capacity: int = 256) -> None:
        if not names or names[0] != "t":
            raise ValueError(f"a metrics table has the column 't' first, got {list(names)}")
        #: Column names, in order (``t`` first).
        self.names: tuple[str, ...] = tuple(names)
        self._data = np.zeros((len(self.names), max(1, capacity)), np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, row: dict[str, float]) -> None:
        """Add one row (a value for every column)."""
        if self._n == self._data.shape[1]:
            grown = np.zeros((self._data.shape[0], 2 * self._n), np.float64)
            grown[:, : self._n] = self._data
            self._data = grown
        self._data[:, self._n] = [row[c] for c in self.names]
        self._n += 1

    def extend(self, columns: Mapping[str, NDArray[np.float64]]) -> None:
        """Append the rows of a table given by column (a checkpoint's time series).

        Columns this table does not have are ignored; columns it has and
        ``columns`` lacks are NaN.
        """
        n = len(np.asarray(columns["t"]))
        for i in range(n):
            self.append({c: float(columns[c][i]) if c in columns else math.nan for c in self.names})

    def row(self, i: int) -> dict[str, float]:
        """Row ``i`` (negative counts from the end) as a dict."""
        values = self._data[:, range(self._n)[i]]
        return {c: float(v) for c, v in zip(self.names, values, strict=True)}

    def columns(self) -> dict[str, NDArray[np.float64]]:
        """Read-only column views of every row so far (they do not see later rows)."""
        out = {}
        for c, values in zip(self.names, self._data[:, : self._n], strict=True):
            view = values.view()
            view.flags.writeable = False
            out[c] = view
        return out


class MetricsRecorder:
    """Turns successive snapshots into rows of the metrics table, as the experiment says.

    ``rows(snapshot, previous)`` makes the rows of a snapshot (usually one);
    interval quantities are over the time since the previous recorded snapshot.
    """

    def __init__(
        self, names: Sequence[str], rows: Callable[[Any, Any | None], list[dict[str, float]]]
    ) -> None:
        self.rows = MetricsTable(names)
        self._rows = rows
        self._prev: Any | None = None

    def record(self, snap: Any) -> list[dict[str, float]]:
        """Append the rows for ``snap`` (rates and counts are over the interval since the previous one)."""
        rows = self._rows(snap, self._prev)
        for row in rows:
            self.rows.append(row)
        self._prev = snap
        return rows

    def continue_from(self, history: Mapping[str, NDArray[np.float64]], snap: Any) -> list[dict[str, float]]:
        """Begin with the rows of the run before ``snap`` (a checkpoint's time series); returns them.

        A row at ``snap``'s own time is kept as it was recorded and ``snap`` is
        not recorded again.
        """
        keep = np.asarray(history["t"]) <= snap.t + 1e-9
        before = len(self.rows)
        self.rows.extend({name: np.asarray(values)[keep] for name, values in history.items()})
        restored = [self.rows.row(i) for i in range(before, len(self.rows))]
        if restored and abs(restored[-1]["t"] - snap.t) < 1e-9:
            self._prev = snap
        return restored

    def table(self) -> dict[str, NDArray[np.float64]]:
        """Column arrays of every row so far."""
        return self.rows.columns()


def _csv_line(values: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue().encode()


def write_metrics_csv(path: Path, rows: MetricsTable) -> None:
    """Write a whole metrics table as CSV, atomically."""
    columns = rows.columns()

    def write(fh: Any) -> None:
        fh.write(_csv_line(list(rows.names)))
        for i in range(len(rows)):
            fh.write(_csv_line([_fmt(columns[c][i]) for c in rows.names]))

    write_atomic(path, write)


class MetricsCsvWriter(GrowingFile):
    """Appends rows to ``metrics.csv`` as they are recorded.

    Each row goes to the file in one ``write`` call, so a run killed at any
    moment (even by SIGKILL) leaves a file whose every row is complete; the
    cost of a row does not grow with the rows before it.
    """

    def __init__(self, path: Path, names: Sequence[str]) -> None:
        super().__init__(path, "metrics")
        self.names = tuple(names)
        self.append_line(list(self.names))

    def append_line(self, values: list[str]) -> None:
        """Write one line of values."""
        self.append(_csv_line(values))

    def append_row(self, row: dict[str, float]) -> None:
        """Write one metrics row."""
        self.append_line([_fmt(row[c]) for c in self.names])


def _fmt(x: float) -> str:
    """A value as CSV text: integers without a point, NaN (no value) empty."""
    if math.isnan(x):
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"
