"""GeNN-style ragged synapse tables with declared per-synapse variables.

A table stores one projection. Each presynaptic row ``i`` has a length
``row_len[i]`` and a fixed capacity ``row_cap``; synapse ``k`` of row ``i``
lives in *slot* ``s = i * row_cap + k`` of the per-synapse arrays: ``post``
(its target) and every variable the table declares. Adding appends to the
row and writes the new synapse's initial values; removing moves the row's
last synapse into the hole, every per-synapse array together, and clears the
vacated slot, so the storage past a row's or column's length is always zero
and two tables with the same history are equal as arrays.

Declaring a table
-----------------
A table type is a ``NamedTuple`` class decorated with :func:`synapse_table`,
which names its variables (:class:`SynapseVariable`: float32 or int32, one
value per synapse or one per batch lane) and says whether the table keeps a
column index. The class's fields are, in this order (:attr:`TableSpec.fields`)::

    row_len, post, <variables...>, [col_pos], col_len, [col_syn], dims, stats

A variable of one value per synapse is an array of ``n_pre * row_cap``; a
per-lane variable an array of ``(lanes, n_pre * row_cap)``, lane by lane.
:class:`TableArrays` is the plain weighted table: one float32 ``weight`` per
synapse, with a column index.

The column index
----------------
A table with a column index lists, per postsynaptic neuron ``j``, the slots of
its afferent synapses: ``col_syn[j * col_cap + c]`` for ``c < col_len[j]``,
and ``col_pos[s]`` is the position of synapse ``s`` in its column. Both are
kept current in O(1) per change, so a postsynaptic spike reaches its
afferents without scanning rows, and a full column refuses a new synapse. A
table without one has neither array and no column capacity
(``dims[D_COL_CAP]`` is 0); it still keeps ``col_len``, the in-degree, at one
increment or decrement per change.

A full row (or column) refuses a new synapse and counts the refusal in
``stats``; nothing is ever written out of bounds.

Kernels
-------
:func:`add_synapse`, :func:`remove_synapse`, :func:`find_synapse` and
:func:`check_table` are Numba-compiled for any declared table type and are
meant to be called from other ``njit`` kernels. What depends on the
declaration (which variables to move, clear and initialise; whether a
column index is kept) is generated per table type when a kernel is compiled,
as straight-line code, so a table costs what a hand-written one would.
:class:`SynapseTable` wraps them for host code and tests. The CUDA twin is
``sim/backends/cuda/tables.cuh``.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload
from numpy.typing import DTypeLike, NDArray

from sim.errors import ConfigError

# Indices into a table's dims
D_N_PRE, D_N_POST, D_ROW_CAP, D_COL_CAP = 0, 1, 2, 3
# Indices into a table's stats (cumulative counters)
S_FORMED, S_REMOVED, S_REFUSED_ROW, S_REFUSED_COL = 0, 1, 2, 3
N_STATS = 4

#: Flat synapse indices are int32: a table holds fewer than this many slots.
MAX_TABLE_SLOTS = 2**31
#: Element types a declared variable may have: 32-bit words, which the CUDA twin moves as such.
VARIABLE_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.int32))
#: Fields every table has; a table with a column index also has :data:`COLUMN_FIELDS`.
CORE_FIELDS = ("row_len", "post", "col_len", "dims", "stats")
COLUMN_FIELDS = ("col_pos", "col_syn")
#: The class attribute that holds a table class's :class:`TableSpec`.
SPEC_ATTRIBUTE = "__synapse_table__"


@dataclass(frozen=True)
class SynapseVariable:
    """One declared per-synapse variable of a table.

    Parameters
    ----------
    name
        The variable's field name (a Python identifier, not a core field name).
    dtype
        ``np.float32`` or ``np.int32`` (:data:`VARIABLE_DTYPES`).
    per_lane
        One value per batch lane: the array is ``(lanes, n_pre * row_cap)``
        instead of ``(n_pre * row_cap,)``.
    """

    name: str
    dtype: DTypeLike = np.float32
    per_lane: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or keyword.iskeyword(self.name) or self.name.startswith("_"):
            raise ValueError(f"a synapse variable needs a plain identifier as its name, got {self.name!r}")
        if self.name in CORE_FIELDS + COLUMN_FIELDS:
            raise ValueError(f"{self.name!r} is a field every table has; a variable needs another name")
        dtype = np.dtype(self.dtype)
        if dtype not in VARIABLE_DTYPES:
            raise TypeError(f"synapse variable {self.name!r}: dtype must be float32 or int32, got {dtype}")
        object.__setattr__(self, "dtype", dtype)


@dataclass(frozen=True)
class TableSpec:
    """What a table type declares: its variables, in order, and whether it keeps a column index."""

    variables: tuple[SynapseVariable, ...]
    column_index: bool = True

    def __post_init__(self) -> None:
        names = [v.name for v in self.variables]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"synapse variables declared twice: {', '.join(repeated)}")

    @property
    def names(self) -> tuple[str, ...]:
        """The variables' names, in declaration order."""
        return tuple(v.name for v in self.variables)

    @property
    def fields(self) -> tuple[str, ...]:
        """The table class's fields, in order."""
        column = self.column_index
        return (
            "row_len",
            "post",
            *self.names,
            *(("col_pos",) if column else ()),
            "col_len",
            *(("col_syn",) if column else ()),
            "dims",
            "stats",
        )

    @property
    def per_lane_mask(self) -> int:
        """Bit ``v`` set when variable ``v`` has one value per batch lane."""
        return sum(1 << v for v, var in enumerate(self.variables) if var.per_lane)

    def variable(self, name: str) -> SynapseVariable:
        """The variable called ``name``; ``KeyError`` naming the declared ones if there is none."""
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"the table declares no variable {name!r} (it has: {', '.join(self.names) or 'none'})")


_C = TypeVar("_C", bound=type)


def synapse_table(*variables: SynapseVariable, column_index: bool = True) -> Callable[[_C], _C]:
    """Class decorator: declare a ``NamedTuple`` class as a synapse table type.

    The class's fields must be :attr:`TableSpec.fields` of the declaration, in
    that order (a ``TypeError`` says which are expected otherwise). The
    declaration is kept on the class (:func:`table_spec`); the compiled table
    operations read it when they are compiled for the class.
    """
    spec = TableSpec(tuple(variables), column_index)

    def declare(cls: _C) -> _C:
        fields = tuple(getattr(cls, "_fields", ()))
        if fields != spec.fields:
            raise TypeError(
                f"synapse table {cls.__name__} must have the fields {', '.join(spec.fields)} "
                f"(in this order); it has {', '.join(fields) or 'none'}"
            )
        setattr(cls, SPEC_ATTRIBUTE, spec)
        return cls

    return declare


def table_spec(table: object) -> TableSpec:
    """The declaration of a table (an instance or its class); ``TypeError`` for anything else."""
    cls = table if isinstance(table, type) else type(table)
    spec = getattr(cls, SPEC_ATTRIBUTE, None)
    if not isinstance(spec, TableSpec):
        raise TypeError(f"{cls.__name__} is not a synapse table type (see sim.synapses.synapse_table)")
    return spec


class Table(Protocol):
    """What every declared table has (``NamedTuple`` fields read as attributes)."""

    @property
    def row_len(self) -> NDArray[np.int32]: ...  # (n_pre,)
    @property
    def post(self) -> NDArray[np.int32]: ...  # (n_pre * row_cap,)
    @property
    def col_len(self) -> NDArray[np.int32]: ...  # (n_post,) the in-degree
    @property
    def dims(self) -> NDArray[np.int64]: ...  # (4,) n_pre, n_post, row_cap, col_cap (0: no column index)
    @property
    def stats(
        self,
    ) -> NDArray[np.int64]: ...  # (4,) formed, removed, refused (row full), refused (column full)


TableT = TypeVar("TableT", bound=Table)


@synapse_table(SynapseVariable("weight", np.float32))
class TableArrays(NamedTuple):
    """The plain weighted table: one float32 ``weight`` per synapse, and a column index."""

    row_len: NDArray[np.int32]  # (n_pre,)
    post: NDArray[np.int32]  # (n_pre * row_cap,)
    weight: NDArray[np.float32]  # (n_pre * row_cap,)
    col_pos: NDArray[np.int32]  # (n_pre * row_cap,)
    col_len: NDArray[np.int32]  # (n_post,) the in-degree
    col_syn: NDArray[np.int32]  # (n_post * col_cap,)
    dims: NDArray[np.int64]  # (4,) n_pre, n_post, row_cap, col_cap
    stats: NDArray[np.int64]  # (4,) formed, removed, refused (row full), refused (column full)


def empty_table(
    n_pre: int,
    n_post: int,
    row_cap: int,
    col_cap: int,
    *,
    table: type[Any] = TableArrays,
    lanes: int = 1,
) -> Any:
    """Allocate an empty table of type ``table`` (:class:`TableArrays` by default).

    ``col_cap`` is the column capacity of a table with a column index and must
    be 0 for one without. ``lanes`` is the number of batch lanes of the
    per-lane variables.

    Raises
    ------
    ConfigError
        If a size or capacity is not positive, or the rows would hold
        ``n_pre * row_cap >= 2**31`` slots (flat synapse indices are int32).
        The error names ``connectivity.row_capacity`` or
        ``connectivity.col_capacity`` when a capacity is at fault; it is a
        ``ValueError`` as well.
    ValueError
        If ``lanes`` is not positive, or a table without a column index is
        given a column capacity.
    TypeError
        If ``table`` is not a declared table type.
    """
    spec = table_spec(table)
    if min(n_pre, n_post) < 1:
        raise ConfigError(f"table sizes must be positive, got {n_pre} x {n_post} neurons")
    caps = (
        (("row_capacity", row_cap), ("col_capacity", col_cap))
        if spec.column_index
        else (("row_capacity", row_cap),)
    )
    for key, cap in caps:
        if cap < 1:
            raise ConfigError(f"must be positive, got {cap}", path=f"connectivity.{key}")
    if not spec.column_index and col_cap != 0:
        raise ValueError(
            f"{table.__name__} keeps no column index: its column capacity must be 0, got {col_cap}"
        )
    if lanes < 1:
        raise ValueError(f"a table needs at least one batch lane, got {lanes}")
    slots = n_pre * row_cap
    if slots >= MAX_TABLE_SLOTS:
        raise ConfigError(
            f"{n_pre} rows x {row_cap} synapses is {slots} slots, more than a table "
            f"can index (2**31); lower it or network.scale",
            path="connectivity.row_capacity",
        )
    arrays: dict[str, NDArray[Any]] = {
        "row_len": np.zeros(n_pre, np.int32),
        "post": np.zeros(slots, np.int32),
        "col_len": np.zeros(n_post, np.int32),
        "dims": np.array([n_pre, n_post, row_cap, col_cap], np.int64),
        "stats": np.zeros(N_STATS, np.int64),
    }
    for v in spec.variables:
        arrays[v.name] = np.zeros((lanes, slots) if v.per_lane else slots, v.dtype)
    if spec.column_index:
        arrays["col_pos"] = np.zeros(slots, np.int32)
        arrays["col_syn"] = np.zeros(n_post * col_cap, np.int32)
    return table(**{name: arrays[name] for name in spec.fields})


# --------------------------------------------------------------------------- code per table type
#
# Each function below is a stub that compiled code calls; its overload generates, for the table
# type it is compiled for, straight-line code over that type's declared variables and column index.


def _spec_of(t: Any) -> TableSpec | None:
    """The declaration of the Numba type ``t``, when it is a declared table type."""
    if isinstance(t, types.BaseNamedTuple):
        spec = getattr(getattr(t, "instance_class", None), SPEC_ATTRIBUTE, None)
        if isinstance(spec, TableSpec):
            return spec
    return None


def _compiled(name: str, params: str, lines: Sequence[str], namespace: dict[str, Any]) -> Callable[..., Any]:
    """A Python function ``name(params)`` with body ``lines`` and globals ``namespace``."""
    body = [f"    {line}" for line in lines] or ["    return None"]
    exec(
        compile("\n".join([f"def {name}({params}):", *body]), f"<synapse table code: {name}>", "exec"),
        namespace,
    )
    function: Callable[..., Any] = namespace[name]
    return function


_Lines = Callable[..., list[str]]


def _table_code(stub: Callable[..., Any]) -> Callable[[_Lines], _Lines]:
    """Decorator: ``lines(spec, *argument types)`` gives the body of ``stub`` for one table type.

    Registers the Numba overload of ``stub`` (whose first parameter is the
    table) that compiles those lines, with the stub's parameter names, for
    each declared table type it meets.
    """
    params = ", ".join(inspect.signature(stub).parameters)

    def register(lines: _Lines) -> _Lines:
        def generate(t: Any, *args: Any) -> Callable[..., Any] | None:
            spec = _spec_of(t)
            if spec is None:
                return None
            return _compiled(stub.__name__.lstrip("_"), params, lines(spec, *args), {"D_COL_CAP": D_COL_CAP})

        # The typing function must carry the stub's parameter names and nothing else.
        typer = _compiled("typer", params, [f"return generate({params})"], {"generate": generate})
        overload(stub)(typer)
        return lines

    return register


def _each_variable(spec: TableSpec, statement: str) -> list[str]:
    """``statement`` for every variable: ``{x}`` names its array, ``{at}`` indexes one slot in a lane."""
    lines: list[str] = []
    for v in spec.variables:
        x = f"t.{v.name}"
        if v.per_lane:
            lines += [f"for lane in range({x}.shape[0]):", "    " + statement.format(x=x, at="lane, ")]
        else:
            lines.append(statement.format(x=x, at=""))
    return lines


def _column_full(t: Any, c: Any) -> bool:
    """Whether a column already holding ``c`` synapses refuses another (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_column_full)
def _column_full_lines(spec: TableSpec, c: Any) -> list[str]:
    return ["return c >= t.dims[D_COL_CAP]" if spec.column_index else "return False"]


def _column_insert(t: Any, post: Any, c: Any, s: Any) -> None:
    """Enter synapse ``s`` at position ``c`` of column ``post`` (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_column_insert)
def _column_insert_lines(spec: TableSpec, post: Any, c: Any, s: Any) -> list[str]:
    if not spec.column_index:
        return []
    return ["t.col_pos[s] = c", "t.col_syn[post * t.dims[D_COL_CAP] + c] = s"]


def _column_delete(t: Any, j: Any, s: Any) -> None:
    """Take synapse ``s`` out of column ``j``: the column's last entry fills its place (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_column_delete)
def _column_delete_lines(spec: TableSpec, j: Any, s: Any) -> list[str]:
    if not spec.column_index:
        return []
    return [
        "col_cap = t.dims[D_COL_CAP]",
        "c = t.col_pos[s]",
        "cl = t.col_len[j] - 1",
        "moved = t.col_syn[j * col_cap + cl]",
        "t.col_syn[j * col_cap + c] = moved",
        "t.col_pos[moved] = c",
        "t.col_syn[j * col_cap + cl] = 0",
    ]


def _move_slot(t: Any, s: Any, sl: Any) -> None:
    """Copy slot ``sl`` into ``s`` (``post`` already copied): variables and column entry (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_move_slot)
def _move_slot_lines(spec: TableSpec, s: Any, sl: Any) -> list[str]:
    lines = _each_variable(spec, "{x}[{at}s] = {x}[{at}sl]")
    if spec.column_index:
        lines += [
            "t.col_pos[s] = t.col_pos[sl]",
            "t.col_syn[t.post[s] * t.dims[D_COL_CAP] + t.col_pos[s]] = s",
        ]
    return lines


def _clear_slot(t: Any, s: Any) -> None:
    """Zero every variable (and the column position) of slot ``s`` (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_clear_slot)
def _clear_slot_lines(spec: TableSpec, s: Any) -> list[str]:
    lines = _each_variable(spec, "{x}[{at}s] = 0")
    if spec.column_index:
        lines.append("t.col_pos[s] = 0")
    return lines


def _init_slot(t: Any, s: Any, init: Any) -> None:
    """Write the initial values of a new synapse in slot ``s`` (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_init_slot)
def _init_slot_lines(spec: TableSpec, s: Any, init: Any) -> list[str]:
    n = len(spec.variables)
    if isinstance(init, types.BaseTuple) and len(init) == 0:
        values = ["0"] * n
    elif isinstance(init, types.BaseTuple) and len(init) == n:
        values = [f"init[{v}]" for v in range(n)]
    elif isinstance(init, (types.Number, types.Boolean)) and n == 1:
        values = ["init"]
    else:
        raise TypingError(
            f"initial values of a new synapse: none (all zero) or one per declared variable "
            f"({', '.join(spec.names) or 'none'}), got {init}"
        )
    lines: list[str] = []
    for var, value in zip(spec.variables, values, strict=True):
        lines += _each_variable(TableSpec((var,)), "{x}[{at}s] = " + value)
    return lines


def _sizes_ok(t: Any) -> bool:
    """Whether the variables' and the column index's sizes match the dims (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_sizes_ok)
def _sizes_ok_lines(spec: TableSpec) -> list[str]:
    lines = ["slots = t.dims[0] * t.dims[2]", "lanes = -1"]
    for v in spec.variables:
        x = f"t.{v.name}"
        if v.per_lane:
            lines += [
                f"if {x}.shape[1] != slots or {x}.shape[0] < 1 or (lanes >= 0 and {x}.shape[0] != lanes):",
                "    return False",
                f"lanes = {x}.shape[0]",
            ]
        else:
            lines += [f"if {x}.shape[0] != slots:", "    return False"]
    if spec.column_index:
        lines += [
            "if t.col_pos.shape[0] != slots or t.col_syn.shape[0] != t.dims[1] * t.dims[D_COL_CAP]:",
            "    return False",
        ]
    else:
        lines += ["if t.dims[D_COL_CAP] != 0:", "    return False"]
    return [*lines, "return True"]


def _column_length_ok(t: Any, length: Any) -> bool:
    """Whether ``length`` is a possible column length (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_column_length_ok)
def _column_length_ok_lines(spec: TableSpec, length: Any) -> list[str]:
    bound = " and length <= t.dims[D_COL_CAP]" if spec.column_index else ""
    return [f"return length >= 0{bound}"]


def _column_problem(t: Any, s: Any, j: Any) -> int:
    """0, or the check code of a broken column entry of synapse ``s`` onto ``j`` (compiled only)."""
    raise NotImplementedError("compiled code only")


@_table_code(_column_problem)
def _column_problem_lines(spec: TableSpec, s: Any, j: Any) -> list[str]:
    if not spec.column_index:
        return ["return 0"]
    return [
        "c = t.col_pos[s]",
        "if c < 0 or c >= t.col_len[j]:",
        "    return 3",
        "if t.col_syn[j * t.dims[D_COL_CAP] + c] != s:",
        "    return 4",
        "return 0",
    ]


# --------------------------------------------------------------------------- table operations


@njit(cache=True, nogil=True)
def add_synapse(t: Table, pre: np.int64, post: np.int64, init: Any = ()) -> bool:
    """Append synapse ``pre -> post``; refuse (and count) if its row, or its column, is full.

    ``init`` holds the new synapse's initial values: one per declared
    variable, as a tuple in declaration order (a per-lane variable takes its
    value in every lane), a single number when the table declares one
    variable, or nothing for zeros.
    """
    row_cap = t.dims[D_ROW_CAP]
    k = t.row_len[pre]
    if k >= row_cap:
        t.stats[S_REFUSED_ROW] += 1
        return False
    c = t.col_len[post]
    if _column_full(t, c):
        t.stats[S_REFUSED_COL] += 1
        return False
    s = pre * row_cap + k
    t.post[s] = post
    _init_slot(t, s, init)
    _column_insert(t, post, c, s)
    t.row_len[pre] = k + 1
    t.col_len[post] = c + 1
    t.stats[S_FORMED] += 1
    return True


@njit(cache=True, nogil=True)
def remove_synapse(t: Table, pre: np.int64, k: np.int64) -> None:
    """Remove synapse ``k`` of row ``pre``: the row's last synapse, every variable of it, fills the hole."""
    row_cap = t.dims[D_ROW_CAP]
    s = pre * row_cap + k
    j = t.post[s]
    _column_delete(t, j, s)
    t.col_len[j] -= 1
    last = t.row_len[pre] - 1
    sl = pre * row_cap + last
    if k != last:
        t.post[s] = t.post[sl]
        _move_slot(t, s, sl)
    t.post[sl] = 0
    _clear_slot(t, sl)
    t.row_len[pre] = last
    t.stats[S_REMOVED] += 1


@njit(cache=True, nogil=True)
def find_synapse(t: Table, pre: np.int64, post: np.int64) -> np.int64:
    """Position ``k`` in row ``pre`` of the first synapse onto ``post``, or -1."""
    row_cap = t.dims[D_ROW_CAP]
    base = pre * row_cap
    for k in range(t.row_len[pre]):
        if t.post[base + k] == post:
            return k
    return -1


@njit(cache=True, nogil=True)
def check_table(t: Table) -> int:
    """0 when every invariant holds, else the code of the first broken one (:data:`CHECK_MESSAGES`)."""
    n_pre, n_post, row_cap = t.dims[D_N_PRE], t.dims[D_N_POST], t.dims[D_ROW_CAP]
    if (
        t.row_len.shape[0] != n_pre
        or t.post.shape[0] != n_pre * row_cap
        or t.col_len.shape[0] != n_post
        or not _sizes_ok(t)
    ):
        return 6
    for j in range(n_post):
        if not _column_length_ok(t, t.col_len[j]):
            return 5
    seen = np.zeros(n_post, np.int64)
    for i in range(n_pre):
        if t.row_len[i] < 0 or t.row_len[i] > row_cap:
            return 1
        for k in range(t.row_len[i]):
            s = i * row_cap + k
            j = t.post[s]
            if j < 0 or j >= n_post:
                return 2
            problem = _column_problem(t, s, j)
            if problem != 0:
                return problem
            seen[j] += 1
    for j in range(n_post):
        if t.col_len[j] != seen[j]:
            return 5
    return 0


#: What each nonzero code of :func:`check_table` means.
CHECK_MESSAGES = {
    1: "row length out of range",
    2: "postsynaptic index out of range",
    3: "column position out of range",
    4: "column index does not point back to its synapse",
    5: "in-degree does not match the rows",
    6: "array sizes do not match the table dimensions",
}


class SynapseTable(Generic[TableT]):
    """Host-side handle of one ragged synapse table of any declared type."""

    def __init__(self, arrays: TableT) -> None:
        self.arrays = arrays
        self.spec = table_spec(arrays)

    @classmethod
    def empty(
        cls,
        n_pre: int,
        n_post: int,
        row_cap: int,
        col_cap: int,
        *,
        table: type[Any] = TableArrays,
        lanes: int = 1,
    ) -> SynapseTable[Any]:
        """A table with no synapses (see :func:`empty_table`)."""
        return cls(empty_table(n_pre, n_post, row_cap, col_cap, table=table, lanes=lanes))

    @property
    def n_pre(self) -> int:
        """Number of presynaptic rows."""
        return int(self.arrays.dims[D_N_PRE])

    @property
    def n_post(self) -> int:
        """Number of postsynaptic neurons."""
        return int(self.arrays.dims[D_N_POST])

    @property
    def row_cap(self) -> int:
        """Capacity of every row."""
        return int(self.arrays.dims[D_ROW_CAP])

    @property
    def col_cap(self) -> int:
        """Capacity of every column (0 for a table without a column index)."""
        return int(self.arrays.dims[D_COL_CAP])

    @property
    def n_synapses(self) -> int:
        """Number of synapses stored."""
        return int(self.arrays.row_len.sum())

    @property
    def in_degree(self) -> NDArray[np.int32]:
        """In-degree of every postsynaptic neuron (a copy)."""
        return self.arrays.col_len.copy()

    @property
    def refused(self) -> int:
        """Formations refused because a row or column was full."""
        return int(self.arrays.stats[S_REFUSED_ROW] + self.arrays.stats[S_REFUSED_COL])

    def add(self, pre: int, post: int, *init: float) -> bool:
        """Add ``pre -> post`` with initial values ``init`` (one per variable, or none for zeros).

        False if refused because storage is full.
        """
        self._check_pre(pre)
        if not 0 <= post < self.n_post:
            raise IndexError(f"postsynaptic index {post} out of range [0, {self.n_post})")
        variables = self.spec.variables
        if init and len(init) != len(variables):
            raise TypeError(
                f"{len(init)} initial values for the {len(variables)} variables "
                f"({', '.join(self.spec.names)})"
            )
        values = tuple(np.array(x, dtype=v.dtype)[()] for v, x in zip(variables, init, strict=False))
        return bool(add_synapse(self.arrays, np.int64(pre), np.int64(post), values))

    def remove(self, pre: int, k: int) -> None:
        """Remove synapse ``k`` of row ``pre``."""
        self._check_pre(pre)
        if not 0 <= k < self.arrays.row_len[pre]:
            raise IndexError(f"row {pre} has no synapse {k} (length {self.arrays.row_len[pre]})")
        remove_synapse(self.arrays, np.int64(pre), np.int64(k))

    def find(self, pre: int, post: int) -> int:
        """Position in row ``pre`` of the first synapse onto ``post``, or -1."""
        self._check_pre(pre)
        return int(find_synapse(self.arrays, np.int64(pre), np.int64(post)))

    def row(self, pre: int, variable: str = "weight") -> tuple[NDArray[np.int32], NDArray[Any]]:
        """Postsynaptic indices and values of ``variable`` of row ``pre`` (copies; per-lane: by lane)."""
        self._check_pre(pre)
        self.spec.variable(variable)
        a, cap = self.arrays, self.row_cap
        n = int(a.row_len[pre])
        values = getattr(a, variable)[..., pre * cap : pre * cap + n]
        return a.post[pre * cap : pre * cap + n].copy(), values.copy()

    def to_coo(self, variable: str = "weight") -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[Any]]:
        """``(pre, post, values of variable)`` of every synapse, row by row (copies)."""
        return table_to_coo(self.arrays, variable)

    def check(self) -> None:
        """Raise ``AssertionError`` naming the first broken invariant, if any."""
        code = int(check_table(self.arrays))
        if code:
            raise AssertionError(f"synapse table invariant broken: {CHECK_MESSAGES[code]}")

    def copy(self) -> SynapseTable[TableT]:
        """A deep copy."""
        arrays: Any = self.arrays
        return SynapseTable(type(arrays)._make(a.copy() for a in arrays))

    def _check_pre(self, pre: int) -> None:
        if not 0 <= pre < self.n_pre:
            raise IndexError(f"presynaptic index {pre} out of range [0, {self.n_pre})")


def table_to_coo(
    t: Table, variable: str = "weight"
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[Any]]:
    """``(pre, post, values of variable)`` of every synapse of a table, row by row.

    The values of a per-lane variable come as ``(lanes, synapses)``.
    """
    table_spec(t).variable(variable)
    n_pre, row_cap = int(t.dims[D_N_PRE]), int(t.dims[D_ROW_CAP])
    mask = np.arange(row_cap)[None, :] < t.row_len[:, None]
    flat = mask.ravel()
    pre = np.repeat(np.arange(n_pre, dtype=np.int32), t.row_len)
    return pre, t.post[flat].copy(), getattr(t, variable)[..., flat].copy()
