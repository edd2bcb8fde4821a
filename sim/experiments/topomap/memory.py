"""Memory a network needs, and whether this machine has it.

:func:`estimate_bytes` adds up the host memory a run of a configuration
holds at its peak: the synapse tables and neuron arrays of the network state
(three copies: the build's, the backend's and the scratch copy of its
warm-up; snapshots and checkpoints pull one more while running), the
snapshots' synapse lists, the receptive-field analysis and the kernels'
buffers. It is arithmetic on the configuration and allocates nothing, so
:func:`check_fits` can refuse an impossible size in microseconds, before
anything is built, with one line naming the key to lower::

    network.scale: a network of 1024 x 1024 neurons per layer needs about 8.0 GiB, 4.0 GiB available

Synapse counts are taken at the most the storage (and, in the slot scheme,
``s_max``) allows, since rewiring can fill it during a run. The estimate
leaves out the interpreter and its libraries (a few hundred MiB, already
in use when the available memory is read) and device memory (the CUDA
backend checks that itself).
"""

from __future__ import annotations

import math

from sim.errors import ConfigError
from sim.experiments.topomap.config import ConnectivityConfig, ModelConfig
from sim.experiments.topomap.params import attempts_per_call
from sim.experiments.topomap.state import N_ISTATE, empty_neurons
from sim.memory import available_bytes, format_bytes
from sim.synapses import N_STATS

__all__ = [
    "HEADROOM",
    "STATE_COPIES",
    "available_bytes",
    "check_fits",
    "estimate_bytes",
    "format_bytes",
]

#: A configuration is refused when its estimate exceeds this share of the available memory.
HEADROOM = 0.8
#: Copies of the network state alive at the peak: while an engine starts, the built state,
#: the backend's own copy and the scratch copy its warm-up replays rewiring on (measured:
#: knight2025 at scale 64 reaches three copies there); later the backend's and one that a
#: snapshot, a checkpoint or a rewiring replay pulls.
STATE_COPIES = 3
#: Snapshots alive at once: a recorder keeps the previous one to take differences.
SNAPSHOTS = 2
#: Bytes per stored synapse slot of a table: ``post`` (int32), ``weight`` (float32), ``col_pos`` (int32).
SLOT_BYTES = 12
#: Bytes per column slot: ``col_syn`` (int32).
COLUMN_SLOT_BYTES = 4
#: Bytes per synapse of a snapshot's lists: ``pre``, ``post`` (int32), ``weight`` (float32).
SNAPSHOT_SYNAPSE_BYTES = 12
#: Bytes per feed-forward synapse of one receptive-field analysis: ids and weights in 64 bits,
#: and the order of the synapses grouped by target.
ANALYSIS_SYNAPSE_BYTES = 32
#: Bytes per neuron of one receptive-field result and its working arrays.
ANALYSIS_NEURON_BYTES = 128
#: Receptive-field results alive at once (counts and weights).
ANALYSES = 2
#: Bytes per row of the CPU backend's event buffer (five int64), and its smallest size in rows.
EVENT_ROW_BYTES = 40
EVENT_BUFFER_MIN_ROWS = 1 << 16


def _neuron_bytes() -> int:
    """Bytes per neuron of the neuron arrays (both layers' variables)."""
    return sum(a.itemsize for a in empty_neurons(1))


def _synapse_bounds(cfg: ModelConfig) -> tuple[int, int]:
    """The most FF synapses, and the most FF and LAT synapses together, that the storage allows.

    Rows and columns bound each projection; in the slot scheme the ``s_max``
    slots of a target also bound FF and LAT together (the configuration keeps
    the initial fan-in within them).
    """
    n, con, rw = cfg.n_neurons, cfg.connectivity, cfg.rewiring
    ff = n * min(con.row_capacity, con.col_capacity)
    both = 2 * ff
    if rw.scheme == "slot":
        ff = min(ff, n * rw.s_max)
        both = min(both, n * rw.s_max)
    return ff, both


def estimate_bytes(cfg: ModelConfig) -> dict[str, int]:
    """Estimate the host memory a run of ``cfg`` needs at its peak, with a breakdown.

    Parameters
    ----------
    cfg : ModelConfig
        A validated configuration.

    Returns
    -------
    dict of str to int
        Bytes per part, and their sum under ``"total"``:

        ``tables``
            The tables' index arrays (row and column lengths, ``col_syn``),
            both projections, :data:`STATE_COPIES` copies.
        ``synapses``
            The per-synapse arrays (``post``, ``weight``, ``col_pos`` for
            every row slot), both projections, :data:`STATE_COPIES` copies.
        ``neurons``
            The neuron arrays, :data:`STATE_COPIES` copies.
        ``snapshots``
            The synapse lists and neuron copies of :data:`SNAPSHOTS`
            snapshots at the most synapses the storage allows, and the row
            mask a snapshot takes.
        ``analysis``
            Two receptive-field analyses (counts and weights) of all
            feed-forward synapses.
        ``buffers``
            The event buffer, the rewiring scratch and the formation table.
    """
    side, n = cfg.side, cfg.n_neurons
    con = cfg.connectivity
    stats = 2 * 4 * 8 + 2 * N_STATS * 8  # dims and stats of both tables
    index = 2 * (2 * n * 4 + n * con.col_capacity * COLUMN_SLOT_BYTES) + stats
    slots = 2 * n * con.row_capacity * SLOT_BYTES
    neurons = n * _neuron_bytes() + N_ISTATE * 8
    ff_max, all_max = _synapse_bounds(cfg)
    snapshots = (
        SNAPSHOTS * (all_max * SNAPSHOT_SYNAPSE_BYTES + n * 32)
        # table_to_coo: a bool per row slot, and one projection's lists before the snapshot copies them
        + n * con.row_capacity
        + ff_max * SNAPSHOT_SYNAPSE_BYTES
    )
    analysis = ANALYSES * n * ANALYSIS_NEURON_BYTES + ff_max * ANALYSIS_SYNAPSE_BYTES
    max_attempts = math.floor(attempts_per_call(cfg)) + 1
    event_rows = max(EVENT_BUFFER_MIN_ROWS, 4 * (2 * max_attempts + 2))
    half = side // 2
    buffers = (
        event_rows * EVENT_ROW_BYTES * 2  # the buffer, and a scratch one for timing rewiring alone
        + max_attempts * 12  # pair scheme: keys and acceptance draws of one call
        + 2 * (2 * half * half + 1) * 8  # formation table
    )
    parts = {
        "tables": STATE_COPIES * index,
        "synapses": STATE_COPIES * slots,
        "neurons": STATE_COPIES * neurons,
        "snapshots": snapshots,
        "analysis": analysis,
        "buffers": buffers,
    }
    parts["total"] = sum(parts.values())
    return parts


def _blamed_key(cfg: ModelConfig, parts: dict[str, int]) -> str:
    """The parameter to lower: a capacity raised above its default that takes most of the memory.

    Otherwise the scale.
    """
    con, defaults = cfg.connectivity, ConnectivityConfig()
    n, total = cfg.n_neurons, parts["total"]
    row_share = STATE_COPIES * 2 * n * con.row_capacity * SLOT_BYTES + n * con.row_capacity
    col_share = STATE_COPIES * 2 * n * con.col_capacity * COLUMN_SLOT_BYTES
    if con.row_capacity > defaults.row_capacity and 2 * row_share > total:
        return "connectivity.row_capacity"
    if con.col_capacity > defaults.col_capacity and 2 * col_share > total:
        return "connectivity.col_capacity"
    return "network.scale"


def check_fits(cfg: ModelConfig, available: int | None = None) -> None:
    """Refuse ``cfg`` when a run of it would not fit in memory.

    Parameters
    ----------
    cfg : ModelConfig
        A validated configuration.
    available : int, optional
        Bytes available; by default :func:`available_bytes` (when that is
        unknown nothing is refused).

    Raises
    ------
    ConfigError
        One line naming the key to lower (``network.scale``,
        ``connectivity.row_capacity`` or ``connectivity.col_capacity``), the
        estimate and the memory available, when the estimate exceeds
        :data:`HEADROOM` of the available memory.
    """
    parts = estimate_bytes(cfg)
    if available is None:
        available = available_bytes()
        if available is None:
            return
    total = parts["total"]
    if total <= HEADROOM * available:
        return
    key = _blamed_key(cfg, parts)
    side, con = cfg.side, cfg.connectivity
    if key == "connectivity.row_capacity":
        what = f"rows of {con.row_capacity} synapses for {side} x {side} neurons per layer need"
    elif key == "connectivity.col_capacity":
        what = f"columns of {con.col_capacity} synapses for {side} x {side} neurons per layer need"
    else:
        what = f"a network of {side} x {side} neurons per layer needs"
    room = (
        f"{format_bytes(available)} available"
        if total > available
        else f"more than {HEADROOM:.0%} of the {format_bytes(available)} available"
    )
    raise ConfigError(f"{what} about {format_bytes(total)}, {room}", path=key)
