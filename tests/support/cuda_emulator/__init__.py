"""A CUDA emulator for the tests: the CUDA backend's kernels compiled as host C++ and run on the CPU.

:class:`EmulatedDevice` implements :class:`sim.backends.cuda.device.Device` with NumPy arrays as
device arrays, so the CUDA backend's kernels and its Python launcher code can be tested on a
machine without a GPU (it needs g++).

``compile`` turns the CUDA source into a shared library: quoted ``#include``\\ s are inlined (with
``#line`` markers, so errors name the original file and line), ``extern __shared__`` arrays become
pointers to the launch's dynamic shared memory, and every ``__global__`` function gets a
trampoline that unpacks an argument vector. ``emu_cuda.h`` (pre-included) maps CUDA's qualifiers,
intrinsics, atomics and warp collectives to host code; ``runtime.cpp`` runs a launch: blocks one
after another, the threads of a block as fibers that switch at barriers and warp collectives.
Libraries are cached in ``<tempdir>/rewire_lab_cuda_emulator/`` by a hash of everything that goes
into them.

What the emulator checks that a GPU does not: kernel arguments must be device arrays of this
device with the declared element type and NumPy scalars of exactly the declared C type (CuPy
would pass a Python ``float`` as a double); allocations, uploads and host copies during a graph
capture raise; ``memory_limit`` bounds the device memory; ``schedule`` ("forward", "reverse",
"shuffle") changes the order in which blocks and threads run, so tests can catch kernels whose
results depend on it; a deadlock at a barrier or a failed device-side ``assert`` raises
:class:`EmulatedKernelError`.

Not emulated: asynchrony (work runs when it is queued, so a missing wait goes unnoticed), data
races and out-of-bounds accesses (an access outside an array reads or corrupts host memory, and
may crash the process), progress of threads that spin waiting for other blocks (blocks run one
after another, so such a kernel never ends), CUDA's own headers (cooperative groups, CUB,
``cuda_fp16.h``, ``math_constants.h``), inline PTX, ``__constant__`` symbols set from the host,
dynamic parallelism, directed-rounding intrinsics (``_rz``/``_ru``/``_rd`` float arithmetic) and
the last-bit behaviour of CUDA's transcendental functions (``expf``, ``logf``, ``__expf``, ... use
the host's libm).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from sim.backends.cuda.device import DeviceMemoryError, Event, Graph, Kernel, KernelCompileError

__all__ = [
    "CACHE_DIR",
    "MAX_DYNAMIC_SHARED_BYTES",
    "MAX_THREADS_PER_BLOCK",
    "SCHEDULES",
    "EmulatedDevice",
    "EmulatedKernel",
    "EmulatedKernelError",
    "Param",
    "emulator_unavailable_reason",
    "fiber_switches",
]

HERE = Path(__file__).resolve().parent
HEADER = HERE / "emu_cuda.h"
RUNTIME_SOURCE = HERE / "runtime.cpp"
#: Where compiled libraries are cached (shared by all processes of the user).
CACHE_DIR = Path(tempfile.gettempdir()) / "rewire_lab_cuda_emulator"
#: The orders in which the emulator can run the blocks of a grid and the threads of a block.
SCHEDULES = ("forward", "reverse", "shuffle")
MAX_THREADS_PER_BLOCK = 1024
#: Dynamic shared memory a launch may ask for without opting in (CUDA's default limit).
MAX_DYNAMIC_SHARED_BYTES = 48 * 1024
_MAX_GRID = (2**31 - 1, 65535, 65535)
_MAX_BLOCK = (1024, 1024, 64)
_UNLIMITED_FREE = 2**40
_SOURCE_NAME = "kern.cu"  # what CuPy calls a source string, so error locations read the same

_CXX_FLAGS = (
    "-std=c++17",
    "-O1",
    "-fPIC",
    "-shared",
    "-ffp-contract=off",
    "-fvisibility=hidden",
    "-DRL_EMULATION",
)
# Without _FORTIFY_SOURCE: its checked longjmp refuses to jump between fiber stacks.
_RUNTIME_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-U_FORTIFY_SOURCE")


class EmulatedKernelError(RuntimeError):
    """A launch failed on the emulator: a deadlock at a barrier, a trap or a device-side assert."""


def _gxx() -> str | None:
    return shutil.which("g++")


def emulator_unavailable_reason() -> str | None:
    """Why the emulator cannot run here (no g++), or None when it can."""
    if _gxx() is None:
        return "g++ is not installed (the CUDA emulator compiles kernels with it)"
    return None


# ----------------------------------------------------------------------------------------------
# Kernel parameters


@dataclass(frozen=True)
class _CType:
    dtype: np.dtype[Any]
    pointer_dtypes: tuple[np.dtype[Any], ...]


def _ctype(dtype: DTypeLike, *also: DTypeLike) -> _CType:
    main = np.dtype(dtype)
    return _CType(main, (main, *(np.dtype(d) for d in also)))


_CTYPES: dict[str, _CType] = {
    "bool": _ctype(np.bool_, np.uint8),
    "char": _ctype(np.int8, np.uint8),
    "signed char": _ctype(np.int8),
    "unsigned char": _ctype(np.uint8, np.bool_),
    "short": _ctype(np.int16),
    "unsigned short": _ctype(np.uint16),
    "int": _ctype(np.int32),
    "unsigned int": _ctype(np.uint32),
    "long": _ctype(np.int64),
    "unsigned long": _ctype(np.uint64),
    "long long": _ctype(np.int64),
    "unsigned long long": _ctype(np.uint64),
    "float": _ctype(np.float32),
    "double": _ctype(np.float64),
}
_TYPEDEFS = {
    "int8_t": "signed char",
    "uint8_t": "unsigned char",
    "int16_t": "short",
    "uint16_t": "unsigned short",
    "int32_t": "int",
    "uint32_t": "unsigned int",
    "int64_t": "long",
    "uint64_t": "unsigned long",
    "size_t": "unsigned long",
    "ptrdiff_t": "long",
}
_QUALIFIERS = {"const", "volatile", "__restrict__", "__restrict", "restrict"}
_TYPE_WORDS = {"signed", "unsigned", "char", "short", "int", "long", "float", "double", "bool", "void"}


def _canonical(words: list[str]) -> str | None:
    """The canonical spelling of a builtin type (``["unsigned"]`` -> ``"unsigned int"``), or None."""
    if len(words) == 1 and words[0] in _TYPEDEFS:
        return _TYPEDEFS[words[0]]
    if not words or any(w not in _TYPE_WORDS for w in words):
        return None
    for single in ("float", "double", "bool", "void"):
        if single in words:
            return single if words == [single] else None
    unsigned = "unsigned" in words
    if unsigned and "signed" in words:
        return None
    prefix = "unsigned " if unsigned else ""
    if "char" in words:
        return prefix + "char" if unsigned else ("signed char" if "signed" in words else "char")
    if "short" in words:
        return prefix + "short"
    longs = words.count("long")
    if longs == 2:
        return prefix + "long long"
    if longs == 1:
        return prefix + "long"
    return prefix + "int"


@dataclass(frozen=True)
class Param:
    """One kernel parameter as the emulator passes it."""

    name: str
    #: The C type of the thunk's cast, e.g. ``"float*"`` or ``"unsigned int"``.
    c_type: str
    pointer: bool
    #: Accepted element dtypes (pointers; empty: any) or the one scalar dtype.
    dtypes: tuple[np.dtype[Any], ...]

    @property
    def expected(self) -> str:
        """What an argument for this parameter must be, in words."""
        if self.pointer:
            kinds = " or ".join(d.name for d in self.dtypes) if self.dtypes else "any dtype"
            return f"a C-contiguous device array of {kinds}"
        return f"np.{self.dtypes[0].type.__name__}"


class _UnsupportedTypeError(ValueError):
    """A kernel parameter type the emulator cannot pass."""


_TOKEN = re.compile(r"[A-Za-z_]\w*|\*|&|\[|\]|\S")


def _parse_param(text: str, index: int) -> Param:
    tokens = [t for t in _TOKEN.findall(text) if t not in _QUALIFIERS]
    if any(t in ("&", "[", "]") for t in tokens):
        raise _UnsupportedTypeError(f"parameter {text.strip()!r}: references and arrays are not supported")
    stars = tokens.count("*")
    words = [t for t in tokens if t != "*"]
    name = f"arg{index}"
    if len(words) >= 2 and tokens[-1] == words[-1] and _canonical(words) is None:
        name = words.pop()
    canonical = _canonical(words)
    if canonical is None or stars > 1 or (canonical == "void" and stars == 0):
        raise _UnsupportedTypeError(f"parameter {text.strip()!r}: type not supported by the emulator")
    spelled = " ".join(words)
    if stars == 1:
        dtypes = () if canonical == "void" else _CTYPES[canonical].pointer_dtypes
        return Param(name, spelled + "*", True, dtypes)
    return Param(name, spelled, False, (_CTYPES[canonical].dtype,))


@dataclass(frozen=True)
class _Signature:
    name: str
    params: tuple[Param, ...] | None  # None: a parameter type the emulator cannot pass
    problem: str
    c_linkage: bool
    defined: bool


# ----------------------------------------------------------------------------------------------
# Source processing

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"')
_PRAGMA_ONCE = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+once\b.*$", re.MULTILINE)
_EXTERN_SHARED = re.compile(
    r"\bextern[ \t]+__shared__[ \t]+([^;\[\n]*?)[ \t]*\b([A-Za-z_]\w*)[ \t]*\[[ \t]*\][ \t]*;"
)
_ALIGN = re.compile(r"__align__[ \t]*\([ \t]*\d+[ \t]*\)")
_STATIC_SHARED = re.compile(r"\bstatic([ \t]+)__shared__\b")
_NOINLINE = re.compile(r"\b__noinline__\b")
_COMMENT_OR_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*', re.DOTALL)
_BOUNDS = r"(?:__launch_bounds__\s*\((?:[^()]|\([^()]*\))*\)\s*)?"
_GLOBAL = re.compile(rf"\b__global__\s+{_BOUNDS}void\s+{_BOUNDS}([A-Za-z_]\w*)\s*\(")
_EXTERN_C = re.compile(r'\bextern\s*"C"')
_EXTERN_C_BLOCK = re.compile(r'\bextern\s*"C"\s*\{')
_TEMPLATE = re.compile(r"\btemplate\b")
_GXX_LOCATION = re.compile(
    r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?:\d+:)?\s+(?P<what>fatal error|error|required)"
)


def _quoted(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rewrite_line(line: str) -> str:
    """CUDA-only constructs that a macro in emu_cuda.h cannot express."""
    if "__shared__" in line:

        def dynamic(m: re.Match[str]) -> str:
            ctype = " ".join(_ALIGN.sub(" ", m.group(1)).split())
            return f"{ctype}* {m.group(2)} = ({ctype}*)emu_dynamic_shared();"

        line = _EXTERN_SHARED.sub(dynamic, line)
        line = _STATIC_SHARED.sub(r"\1__shared__", line)
    if "__noinline__" in line:
        line = _NOINLINE.sub("__attribute__((noinline))", line)
    return line


def _find_header(name: str, dirs: Sequence[Path]) -> Path | None:
    if Path(name).is_absolute():
        return Path(name).resolve() if Path(name).is_file() else None
    for d in dirs:
        candidate = d / name
        if candidate.is_file():
            return candidate.resolve()
    return None


def _flatten(
    text: str, display: str, here: Path | None, dirs: Sequence[Path], stack: tuple[Path, ...]
) -> list[str]:
    """``text`` with its quoted includes inlined, ``#line`` markers keeping the original locations."""
    out = [f"#line 1 {_quoted(display)}"]
    for number, line in enumerate(text.split("\n"), 1):
        m = _INCLUDE.match(line)
        if m is None:
            out.append(_rewrite_line(line))
            continue
        found = _find_header(m.group(1), ([here] if here is not None else []) + list(dirs))
        if found is None:  # left to g++, which reports it at this line
            out.append(line)
            continue
        if found in stack:  # an include cycle: the header is being read already
            out.append("")
            continue
        body = found.read_text(encoding="utf-8", errors="replace")
        once = _PRAGMA_ONCE.search(body) is not None
        if once:
            body = _PRAGMA_ONCE.sub("", body)
            guard = "EMU_ONCE_" + hashlib.sha1(str(found).encode()).hexdigest()[:16]
            out += [f"#ifndef {guard}", f"#define {guard}"]
        out += _flatten(body, str(found), found.parent, dirs, (*stack, found))
        if once:
            out.append("#endif")
        out.append(f"#line {number + 1} {_quoted(display)}")
    return out


def _error_location(log: str) -> str:
    """``"file, line N"`` of g++'s first error; inside emu_cuda.h, of the user code that led there."""
    user: str | None = None
    for line in log.splitlines():
        m = _GXX_LOCATION.match(line)
        if m is None:
            continue
        where = f"{Path(m.group('file')).name}, line {m.group('line')}"
        in_shim = Path(m.group("file")).name == HEADER.name
        if m.group("what") == "required":
            if not in_shim:
                user = where
        elif in_shim and user is not None:
            return user
        else:
            return where
    return _SOURCE_NAME


def _strip_comments(text: str) -> str:
    def blank(m: re.Match[str]) -> str:
        s = m.group(0)
        if s.startswith(("/*", "//")):
            return re.sub(r"[^\n]", " ", s)
        return s

    return _COMMENT_OR_STRING.sub(blank, text)


def _matching(text: str, start: int, open_: str, close: str) -> int:
    """Index of the bracket closing the one at ``start`` (or len(text))."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _find_kernels(text: str) -> dict[str, _Signature]:
    """Every ``__global__`` function of the (flattened) source; definitions win over declarations."""
    code = _strip_comments(text)
    code = re.sub(r"^[ \t]*#[^\n]*", "", code, flags=re.MULTILINE)
    c_blocks = []
    for m in _EXTERN_C_BLOCK.finditer(code):
        brace = m.end() - 1
        c_blocks.append((brace, _matching(code, brace, "{", "}")))
    kernels: dict[str, _Signature] = {}
    for m in _GLOBAL.finditer(code):
        name = m.group(1)
        open_paren = m.end() - 1
        close_paren = _matching(code, open_paren, "(", ")")
        params_text = code[open_paren + 1 : close_paren].strip()
        tail = code[close_paren + 1 : close_paren + 200].lstrip()
        defined = tail.startswith("{")
        head_start = max(
            code.rfind(";", 0, m.start()), code.rfind("}", 0, m.start()), code.rfind("{", 0, m.start())
        )
        prefix = code[head_start + 1 : m.start()]
        c_linkage = _TEMPLATE.search(prefix) is None and (
            _EXTERN_C.search(prefix) is not None or any(a < m.start() < b for a, b in c_blocks)
        )
        params: tuple[Param, ...] | None
        problem = ""
        try:
            pieces = [] if params_text in ("", "void") else params_text.split(",")
            params = tuple(_parse_param(p, i) for i, p in enumerate(pieces))
        except _UnsupportedTypeError as exc:
            params, problem = None, str(exc)
        sig = _Signature(name, params, problem, c_linkage, defined)
        if name not in kernels or defined:
            kernels[name] = sig
    return kernels


def _thunks(kernels: dict[str, _Signature]) -> list[str]:
    lines = [f"#line 1 {_quoted('emu_thunks.cpp')}"]
    for sig in kernels.values():
        if sig.params is None or not (sig.c_linkage and sig.defined):
            continue
        call = ", ".join(f"*({p.c_type}*)a[{i}]" for i, p in enumerate(sig.params))
        lines.append(
            f'extern "C" __attribute__((visibility("default"))) void emu_thunk_{sig.name}(void** a) '
            f"{{ (void)a; {sig.name}({call}); }}"
        )
    # assert() from a header included after emu_cuda.h calls __assert_fail: fail the launch instead.
    lines.append(
        'extern "C" void __assert_fail(const char* e, const char* f, unsigned int l, const char* fn) '
        "noexcept { emu_assert_fail(e, f, l, fn); }"
    )
    return lines


def _parse_options(options: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Include directories and -D/-U options; NVRTC-only options are dropped."""
    dirs: list[Path] = []
    macros: list[str] = []
    opts = [str(o) for o in options]
    with_value = {"-arch", "--gpu-architecture", "-std", "--std", "-maxrregcount", "--maxrregcount"}
    i = 0
    while i < len(opts):
        o = opts[i]
        nxt = opts[i + 1] if i + 1 < len(opts) else ""
        if o in ("-I", "--include-path"):
            dirs.append(Path(nxt))
            i += 2
            continue
        if o in ("-D", "--define-macro", "-U", "--undefine-macro"):
            macros.append(("-U" if o in ("-U", "--undefine-macro") else "-D") + nxt)
            i += 2
            continue
        if o in with_value:
            i += 2
            continue
        if o.startswith("--include-path="):
            dirs.append(Path(o.split("=", 1)[1]))
        elif o.startswith("-I"):
            dirs.append(Path(o[2:]))
        elif o.startswith("--define-macro="):
            macros.append("-D" + o.split("=", 1)[1])
        elif o.startswith("--undefine-macro="):
            macros.append("-U" + o.split("=", 1)[1])
        elif o.startswith(("-D", "-U")):
            macros.append(o)
        i += 1
    return [d.resolve() for d in dirs], macros


# ----------------------------------------------------------------------------------------------
# Compilation and loading

_COMPILE_LOCK = threading.RLock()
_LAUNCH_LOCK = threading.Lock()  # the runtime's scheduler state is process-wide
_MODULES: dict[str, _Module] = {}
_runtime: _Runtime | None = None


def _toolchain_id(gxx: str) -> str:
    result = subprocess.run([gxx, "--version"], capture_output=True, text=True, timeout=60, check=False)
    return gxx + "\n" + result.stdout.split("\n", 1)[0]


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:32]


def _run_gxx(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(
        args, capture_output=True, text=True, errors="replace", timeout=600, check=False, env=env
    )


def _build(target: Path, command: Callable[[Path], list[str]]) -> subprocess.CompletedProcess[str] | None:
    """Build ``target`` unless it exists: compile to a temporary name, then rename (atomic)."""
    if target.exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.stem + ".", suffix=".tmp.so", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        result = _run_gxx(command(tmp))
        if result.returncode == 0:
            os.replace(tmp, target)
        return result
    finally:
        tmp.unlink(missing_ok=True)


class _Runtime:
    """The fiber scheduler library (runtime.cpp), built once per toolchain and emulator version."""

    def __init__(self) -> None:
        gxx = _gxx()
        if gxx is None:
            raise RuntimeError(emulator_unavailable_reason())
        self.gxx = gxx
        self.toolchain = _toolchain_id(gxx)
        self.files_digest = _digest(
            HEADER.read_bytes(), RUNTIME_SOURCE.read_bytes(), Path(__file__).read_bytes()
        )
        key = _digest(self.toolchain, self.files_digest, *_RUNTIME_FLAGS)
        self.soname = f"libemu_runtime_{key}.so"
        self.path = CACHE_DIR / self.soname
        result = _build(
            self.path,
            lambda out: [
                gxx,
                *_RUNTIME_FLAGS,
                f"-Wl,-soname,{self.soname}",
                str(RUNTIME_SOURCE),
                "-o",
                str(out),
            ],
        )
        if result is not None and result.returncode != 0:
            raise RuntimeError(f"the CUDA emulator's runtime failed to compile:\n{result.stderr}")
        lib = ctypes.CDLL(str(self.path))
        lib.emu_launch.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            *([ctypes.c_uint] * 6),
            ctypes.c_ulonglong,
            ctypes.c_int,
            ctypes.c_ulonglong,
        ]
        lib.emu_launch.restype = ctypes.c_int
        lib.emu_last_error.argtypes = []
        lib.emu_last_error.restype = ctypes.c_char_p
        lib.emu_switch_count.argtypes = []
        lib.emu_switch_count.restype = ctypes.c_ulonglong
        self.lib = lib


def _get_runtime() -> _Runtime:
    global _runtime
    with _COMPILE_LOCK:
        if _runtime is None:
            _runtime = _Runtime()
        return _runtime


def fiber_switches() -> int:
    """How many times the runtime has resumed a fiber in this process (for measurements)."""
    return int(_get_runtime().lib.emu_switch_count())


@dataclass(frozen=True)
class _Module:
    path: Path
    lib: ctypes.CDLL
    kernels: dict[str, _Signature]


def _compile_module(source: str, options: Sequence[str]) -> _Module:
    runtime = _get_runtime()
    dirs, macros = _parse_options(options)
    lines = _flatten(source, _SOURCE_NAME, None, dirs, ())
    text = "\n".join(lines)
    kernels = _find_kernels(text)
    full = "\n".join([text, *_thunks(kernels), ""])
    key = _digest(runtime.toolchain, runtime.files_digest, *_CXX_FLAGS, *macros, full)
    with _COMPILE_LOCK:
        module = _MODULES.get(key)
        if module is not None:
            return module
        target = CACHE_DIR / f"kern_{key}.so"
        source_file = CACHE_DIR / f"kern_{key}.cpp"
        if not target.exists():
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            fd, tmp_src = tempfile.mkstemp(prefix=f"kern_{key}.", suffix=".cpp", dir=CACHE_DIR)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(full)
            os.replace(tmp_src, source_file)
            result = _build(
                target,
                lambda out: [
                    runtime.gxx,
                    *_CXX_FLAGS,
                    "-include",
                    str(HEADER),
                    *macros,
                    "-x",
                    "c++",
                    str(source_file),
                    "-x",
                    "none",
                    str(runtime.path),
                    f"-Wl,-rpath,{CACHE_DIR}",
                    "-Wl,--no-undefined",
                    "-o",
                    str(out),
                ],
            )
            if result is not None and result.returncode != 0:
                source_file.unlink(missing_ok=True)
                raise KernelCompileError(_error_location(result.stderr), result.stderr)
        module = _Module(target, ctypes.CDLL(str(target)), kernels)
        _MODULES[key] = module
        return module


# ----------------------------------------------------------------------------------------------
# Kernels, graphs, events


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        layout = "" if value.flags.c_contiguous else "non-contiguous "
        return f"a {layout}array of {value.dtype.name}"
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}"
    return f"a Python {type(value).__name__}"


def _dims(value: Any, what: str, limits: tuple[int, int, int]) -> tuple[int, int, int]:
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        raise TypeError(f"{what} must be a tuple of 1 to 3 ints, got {value!r}")
    dims = [1, 1, 1]
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{what} must be a tuple of 1 to 3 ints, got {value!r}")
        dims[i] = int(v)
        if not 1 <= dims[i] <= limits[i]:
            raise ValueError(f"{what} dimension {'xyz'[i]} = {dims[i]} is outside 1..{limits[i]}")
    return dims[0], dims[1], dims[2]


@dataclass
class _LaunchOp:
    kernel: EmulatedKernel
    dims: tuple[int, int, int, int, int, int]
    shared_mem: int
    argv: Any  # ctypes array of pointers into `keep[0]`
    keep: tuple[Any, ...]  # the packed argument bytes and the arrays they point to

    def run(self, device: EmulatedDevice) -> None:
        device._execute_launch(self)


@dataclass
class _CopyOp:
    src: NDArray[Any]
    dst: NDArray[Any]

    def run(self, device: EmulatedDevice) -> None:
        np.copyto(self.dst, self.src)
        device.copies += 1


class EmulatedKernel:
    """A compiled kernel: ``kernel(grid, block, args, shared_mem=0)`` like CuPy's RawKernel.

    Arguments are checked against the kernel's signature: a pointer needs a C-contiguous device
    array (of the device that compiled the kernel) of the declared element type, a scalar a NumPy
    scalar of exactly the declared C type.
    """

    def __init__(self, device: EmulatedDevice, module: _Module, sig: _Signature) -> None:
        assert sig.params is not None
        self.name = sig.name
        self.params: tuple[Param, ...] = sig.params
        self._device = device
        self._module = module
        self._thunk = ctypes.cast(getattr(module.lib, f"emu_thunk_{sig.name}"), ctypes.c_void_p).value
        #: A GPU may allow fewer threads for a kernel that needs many registers; tests lower this.
        self.max_threads_per_block = MAX_THREADS_PER_BLOCK

    def __repr__(self) -> str:
        params = ", ".join(f"{p.c_type} {p.name}" for p in self.params)
        return f"<EmulatedKernel {self.name}({params})>"

    def _pack(self, args: Any) -> tuple[Any, tuple[Any, ...]]:
        if not isinstance(args, tuple | list):
            raise TypeError(f"kernel '{self.name}': args must be a tuple, got {type(args).__name__}")
        n = len(self.params)
        if len(args) != n:
            names = ", ".join(p.name for p in self.params)
            raise TypeError(f"kernel '{self.name}' takes {n} arguments ({names}), got {len(args)}")
        raw = bytearray(8 * max(n, 1))
        arrays = []
        for i, (p, value) in enumerate(zip(self.params, args, strict=True)):
            if p.pointer:
                ok = (
                    isinstance(value, np.ndarray)
                    and value.flags.c_contiguous
                    and (not p.dtypes or value.dtype in p.dtypes)
                )
                if not ok:
                    raise TypeError(
                        f"kernel '{self.name}' argument {i} '{p.name}' ({p.c_type}): "
                        f"expected {p.expected}, got {_describe(value)}"
                    )
                if not self._device.owns(value):
                    raise TypeError(
                        f"kernel '{self.name}' argument {i} '{p.name}' ({p.c_type}): expected a device array "
                        "of this device (from zeros or to_device), got an array it did not allocate"
                    )
                struct.pack_into("=Q", raw, 8 * i, value.__array_interface__["data"][0])
                arrays.append(value)
            else:
                if not (isinstance(value, np.generic) and value.dtype == p.dtypes[0]):
                    raise TypeError(
                        f"kernel '{self.name}' argument {i} '{p.name}' ({p.c_type}): "
                        f"expected {p.expected}, got {_describe(value)}"
                    )
                data = value.tobytes()
                raw[8 * i : 8 * i + len(data)] = data
        buf = (ctypes.c_char * len(raw)).from_buffer(raw)
        base = ctypes.addressof(buf)
        argv = (ctypes.c_void_p * max(n, 1))(*(base + 8 * i for i in range(n)))
        return argv, (raw, buf, tuple(arrays))

    def __call__(
        self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...], shared_mem: int = 0
    ) -> None:
        """Launch (during a capture: record) with ``shared_mem`` bytes of dynamic shared memory."""
        g = _dims(grid, "grid", _MAX_GRID)
        b = _dims(block, "block", _MAX_BLOCK)
        threads = b[0] * b[1] * b[2]
        if threads > self.max_threads_per_block:
            most = self.max_threads_per_block
            raise ValueError(f"kernel '{self.name}': block {b} has {threads} threads, more than {most}")
        if isinstance(shared_mem, bool) or not isinstance(shared_mem, int | np.integer):
            raise TypeError(f"kernel '{self.name}': shared_mem must be an int, got {shared_mem!r}")
        if not 0 <= int(shared_mem) <= MAX_DYNAMIC_SHARED_BYTES:
            raise ValueError(
                f"kernel '{self.name}': {int(shared_mem)} bytes of dynamic shared memory "
                f"(at most {MAX_DYNAMIC_SHARED_BYTES} without opting in)"
            )
        argv, keep = self._pack(args)
        self._device._submit(_LaunchOp(self, (*g, *b), int(shared_mem), argv, keep))


class _EmulatedEvent:
    def __init__(self, device: EmulatedDevice) -> None:
        self._device = device

    def done(self) -> bool:
        return True

    def synchronize(self) -> None:
        self._device._sync_point("event.synchronize()")


class _EmulatedGraph:
    def __init__(self, device: EmulatedDevice, ops: tuple[_LaunchOp | _CopyOp, ...]) -> None:
        self._device = device
        self.ops = ops

    def launch(self) -> None:
        """Replay the captured operations in order (recorded again when a capture is running)."""
        self._device.graph_launches += 1
        for op in self.ops:
            self._device._submit(op)


# ----------------------------------------------------------------------------------------------
# The device


class EmulatedDevice:
    """:class:`sim.backends.cuda.device.Device` on the CPU: NumPy arrays, kernels compiled by g++.

    Work runs synchronously when it is queued (the "stream" is always idle), except during
    :meth:`capture`, which records kernel launches and asynchronous copies for the graph.

    Args:
        schedule: order of blocks and of threads between barriers: "forward", "reverse" or "shuffle".
        seed: seed of the "shuffle" schedule (every launch draws a new permutation from it).
        memory_limit: bytes of device arrays allowed at once (None: unlimited).

    Counters for tests: ``launches`` (kernel launches executed), ``syncs`` (calls of ``to_host``,
    ``upload``, ``synchronize`` and ``Event.synchronize``; ``to_device`` uploads, so it counts),
    ``graph_launches`` and ``copies`` (asynchronous copies executed).
    """

    arch = "sm_75"

    def __init__(self, schedule: str = "forward", seed: int = 0, memory_limit: int | None = None) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if memory_limit is not None and memory_limit < 0:
            raise ValueError(f"memory_limit must be >= 0, got {memory_limit}")
        self._runtime = _get_runtime()
        self._schedule = schedule
        self._schedule_code = SCHEDULES.index(schedule)
        self._seed = int(seed) & (2**64 - 1)
        self.memory_limit = memory_limit
        self.description = f"CUDA emulator on the CPU (g++, schedule={schedule})"
        self.launches = 0
        self.syncs = 0
        self.graph_launches = 0
        self.copies = 0
        self.allocated = 0
        self.closed = False
        self._live: dict[int, int] = {}  # id of a device array -> its bytes
        self._capture: list[_LaunchOp | _CopyOp] | None = None

    @property
    def schedule(self) -> str:
        """The execution order of blocks and threads ("forward", "reverse" or "shuffle")."""
        return self._schedule

    @property
    def capturing(self) -> bool:
        """True while :meth:`capture` runs its body."""
        return self._capture is not None

    # -- internals

    def owns(self, array: Any) -> bool:
        """True if ``array`` is (a view of) a device array allocated by this device."""
        root = array
        while isinstance(getattr(root, "base", None), np.ndarray):
            root = root.base
        return isinstance(root, np.ndarray) and id(root) in self._live

    def _not_capturing(self, what: str) -> None:
        if self._capture is not None:
            raise RuntimeError(f"{what} during a graph capture (it would invalidate a real stream capture)")

    def _sync_point(self, what: str) -> None:
        self._not_capturing(what)
        self.syncs += 1

    def _submit(self, op: _LaunchOp | _CopyOp) -> None:
        if self._capture is not None:
            self._capture.append(op)
        else:
            op.run(self)

    def _execute_launch(self, op: _LaunchOp) -> None:
        lib = self._runtime.lib
        seed = (self._seed * 0x9E3779B97F4A7C15 + self.launches) & (2**64 - 1)
        with _LAUNCH_LOCK:
            self.launches += 1
            rc = lib.emu_launch(op.kernel._thunk, op.argv, *op.dims, op.shared_mem, self._schedule_code, seed)
            message = lib.emu_last_error().decode(errors="replace") if rc else ""
        if rc:
            raise EmulatedKernelError(f"kernel '{op.kernel.name}' failed on the CUDA emulator: {message}")

    def _release(self, key: int, nbytes: int) -> None:
        self._live.pop(key, None)
        self.allocated -= nbytes

    def _check_device_array(self, array: Any, what: str) -> None:
        if not (isinstance(array, np.ndarray) and self.owns(array)):
            raise TypeError(f"{what} expects a device array of this device, got {_describe(array)}")

    # -- Device protocol

    def compile(self, source: str, options: Sequence[str], names: Sequence[str]) -> dict[str, Kernel]:
        """Compile ``source`` with g++ (cached) and return its kernels ``names``."""
        module = _compile_module(source, options)
        kernels: dict[str, Kernel] = {}
        for name in names:
            sig = module.kernels.get(name)
            if sig is None:
                found = ", ".join(sorted(module.kernels)) or "none"
                raise KernelCompileError(
                    _SOURCE_NAME, f'no __global__ function named "{name}" in the source (found: {found})'
                )
            if not sig.c_linkage:
                raise KernelCompileError(
                    _SOURCE_NAME, f'kernel "{name}" is not extern "C" (CuPy looks kernels up by plain name)'
                )
            if sig.params is None:
                raise KernelCompileError(_SOURCE_NAME, f'kernel "{name}": {sig.problem}')
            if not sig.defined:
                raise KernelCompileError(_SOURCE_NAME, f'kernel "{name}" is declared but not defined')
            kernels[name] = EmulatedKernel(self, module, sig)
        return kernels

    def zeros(self, n: int, dtype: DTypeLike) -> NDArray[Any]:
        """A zeroed device array of ``n`` elements (counted against ``memory_limit``)."""
        self._not_capturing("allocating device memory")
        n = int(n)
        dt = np.dtype(dtype)
        if n < 0:
            raise ValueError(f"negative array size {n}")
        nbytes = n * dt.itemsize
        if self.memory_limit is not None and self.allocated + nbytes > self.memory_limit:
            free = self.memory_limit - self.allocated
            raise DeviceMemoryError(
                f"the GPU ran out of memory allocating {n:,} x {dt.name} ({nbytes:,} bytes; "
                f"{free:,} of {self.memory_limit:,} bytes free under the emulator's memory_limit)"
            )
        arr = np.zeros(n, dt)
        self.allocated += nbytes
        self._live[id(arr)] = nbytes
        weakref.finalize(arr, self._release, id(arr), nbytes)
        return arr

    def to_device(self, host: NDArray[Any]) -> NDArray[Any]:
        """A device copy of ``host`` (one-dimensional, like the CuPy device's)."""
        arr = self.zeros(host.size, host.dtype)
        self.upload(arr, host)
        return arr

    def upload(self, dst: NDArray[Any], host: NDArray[Any]) -> None:
        """Overwrite device array ``dst`` with ``host`` (same size; converted to ``dst``'s dtype)."""
        self._sync_point("upload()")
        self._check_device_array(dst, "upload()")
        src = np.ascontiguousarray(host, dtype=dst.dtype).ravel()
        if src.size != dst.size:
            raise ValueError(f"upload of {src.size} elements into a device array of {dst.size}")
        np.copyto(dst, src.reshape(dst.shape))

    def address(self, arr: NDArray[Any]) -> int:
        """The address of device array ``arr`` (kernels dereference it like a device pointer)."""
        self._check_device_array(arr, "address()")
        return int(arr.__array_interface__["data"][0])

    def to_host(self, src: NDArray[Any]) -> NDArray[Any]:
        """A host copy of device array ``src``."""
        self._sync_point("to_host()")
        self._check_device_array(src, "to_host()")
        return np.array(src, copy=True)

    def pinned(self, n: int, dtype: DTypeLike) -> NDArray[Any]:
        """A host array standing in for page-locked memory."""
        return np.zeros(int(n), np.dtype(dtype))

    def copy_async(self, src: NDArray[Any], dst: NDArray[Any]) -> None:
        """Copy device array ``src`` into host array ``dst`` (recorded during a capture)."""
        self._check_device_array(src, "copy_async()")
        if not isinstance(dst, np.ndarray) or self.owns(dst):
            raise TypeError(f"copy_async() expects a host array as dst, got {_describe(dst)}")
        if dst.dtype != src.dtype:
            raise TypeError(f"copy_async(): dtype mismatch ({src.dtype.name} into {dst.dtype.name})")
        if dst.shape != src.shape:
            raise ValueError(f"copy_async(): shape mismatch ({src.shape} into {dst.shape})")
        if not (dst.flags.c_contiguous and src.flags.c_contiguous):
            raise ValueError("copy_async(): non-contiguous arrays are not supported")
        self._submit(_CopyOp(src, dst))

    def record(self) -> Event:
        """An event after the queued work (always done: the work has run)."""
        self._not_capturing("record()")
        return _EmulatedEvent(self)

    def synchronize(self) -> None:
        """Wait for the queued work (nothing to wait for; counted)."""
        self._sync_point("synchronize()")

    def capture(self, body: Callable[[], None]) -> Graph:
        """Record the kernel launches and asynchronous copies ``body`` makes; nothing runs until replay.

        Scalar arguments are frozen at their captured values, arrays are captured by reference.
        """
        if self._capture is not None:
            raise RuntimeError("capture() while a capture is running")
        ops: list[_LaunchOp | _CopyOp] = []
        self._capture = ops
        try:
            body()
        finally:
            self._capture = None
        return _EmulatedGraph(self, tuple(ops))

    def free_memory(self) -> int:
        """Bytes left under ``memory_limit`` (a large number when unlimited)."""
        if self.memory_limit is None:
            return _UNLIMITED_FREE - self.allocated
        return max(0, self.memory_limit - self.allocated)

    def close(self) -> None:
        """Mark the device closed (its arrays stay readable, as NumPy arrays)."""
        self.closed = True
