"""The device layer of the CUDA backend: memory, kernels, streams and graphs.

:class:`Device` is everything the backend asks of a GPU. :class:`CupyDevice`
implements it with CuPy; it is the one module of the project that imports
cupy. Errors come out as the project's own exceptions: a kernel that fails to
compile raises :class:`KernelCompileError` naming the file and quoting the
compiler, an allocation that does not fit raises :class:`DeviceMemoryError`.

Kernel calls follow CuPy's ``kernel(grid, block, args)``: array arguments are
device arrays, scalar arguments NumPy scalars of the exact C type (CuPy does
not check them: a Python int passed for a ``float`` arrives as garbage).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import DTypeLike, NDArray

from sim.errors import BackendUnavailableError, RewireLabError


class KernelCompileError(RewireLabError, RuntimeError):
    """A CUDA source failed to compile; the message names the file and quotes the compiler."""

    def __init__(self, where: str, log: str) -> None:
        self.where = where
        self.log = log
        super().__init__(f"CUDA kernel source {where} failed to compile:\n{log.strip()}")


class DeviceMemoryError(RewireLabError, MemoryError):
    """The GPU has too little free memory for the network."""


class Kernel(Protocol):
    """A compiled kernel: ``kernel(grid, block, args)`` launches it on the current stream."""

    #: The most threads a block of this kernel can have on the device (registers permitting).
    max_threads_per_block: int

    def __call__(
        self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...], shared_mem: int = 0
    ) -> None:
        """Launch with ``shared_mem`` bytes of dynamic shared memory per block."""


class Event(Protocol):
    """Completion marker of asynchronous work."""

    def done(self) -> bool:
        """True once all work before the event has finished."""

    def synchronize(self) -> None:
        """Wait for the work before the event."""


class Graph(Protocol):
    """A captured sequence of launches, replayed with the arguments it was captured with."""

    def launch(self) -> None:
        """Replay the captured launches on the device's stream."""


class Device(Protocol):
    """What the CUDA backend needs from a GPU (or from a stand-in that behaves like one)."""

    #: One line describing the device, e.g. ``"NVIDIA H200 (sm_90, 139.8 GiB)"``.
    description: str

    def compile(self, source: str, options: Sequence[str], names: Sequence[str]) -> dict[str, Kernel]:
        """Compile ``source`` once and return its kernels ``names`` (``extern "C"`` functions)."""

    def zeros(self, n: int, dtype: DTypeLike) -> Any:
        """A zeroed device array of ``n`` elements."""

    def to_device(self, host: NDArray[Any]) -> Any:
        """A device copy of a host array."""

    def upload(self, dst: Any, host: NDArray[Any]) -> None:
        """Overwrite device array ``dst`` with ``host`` (same size and dtype)."""

    def address(self, arr: Any) -> int:
        """The device address of array ``arr`` (for the kernels' pointer table)."""

    def to_host(self, src: Any) -> NDArray[Any]:
        """A host copy of a device array (waits for the work that writes it)."""

    def pinned(self, n: int, dtype: DTypeLike) -> NDArray[Any]:
        """A page-locked host array, the target of asynchronous copies."""

    def copy_async(self, src: Any, dst: NDArray[Any]) -> None:
        """Queue a copy of device array ``src`` into the pinned host array ``dst``."""

    def record(self) -> Event:
        """An event marking the work queued so far."""

    def synchronize(self) -> None:
        """Wait for all queued work."""

    def capture(self, body: Callable[[], None]) -> Graph:
        """Capture the launches ``body`` makes into a graph (nothing runs during capture)."""

    def free_memory(self) -> int:
        """Free device memory in bytes."""

    def close(self) -> None:
        """Release the memory this device object holds."""


def compile_error_location(log: str, default: str) -> str:
    """The ``file(line)`` a compiler log blames first, else ``default``."""
    m = re.search(r"([\w./-]+\.cuh?)\((\d+)\)", log)
    if m:
        return f"{m.group(1).rsplit('/', 1)[-1]}, line {m.group(2)}"
    return default


def cuda_unavailable_reason() -> str | None:
    """Why CuPy cannot run kernels here, or None when it can."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'rewire-lab[cuda]', see the README)"
    except Exception as exc:  # a broken CUDA installation raises many kinds of errors on import
        return f"CuPy failed to import ({type(exc).__name__}: {exc})"
    try:
        if not cupy.is_available():
            return "CuPy sees no usable CUDA device (no GPU, or no driver)"
        props = cupy.cuda.runtime.getDeviceProperties(0)
        major, minor = int(props["major"]), int(props["minor"])
    except Exception as exc:  # driver missing or too old: CuPy raises CUDARuntimeError and others
        return f"CuPy cannot reach a CUDA device ({type(exc).__name__}: {exc})"
    if (major, minor) < (7, 0):
        return f"the GPU is compute capability {major}.{minor}; the CUDA backend needs 7.0 or newer"
    return None


class _CupyEvent:
    def __init__(self, event: Any) -> None:
        self._event = event

    def done(self) -> bool:
        return bool(self._event.done)

    def synchronize(self) -> None:
        self._event.synchronize()


class _StreamKernel:
    """A CuPy kernel that always launches on the backend's stream (CuPy uses the current one)."""

    def __init__(self, function: Any, stream: Any) -> None:
        self._function = function
        self._stream = stream
        # RawModule.get_function gives a RawKernel, which reads the attribute from the driver.
        self.max_threads_per_block = int(getattr(function, "max_threads_per_block", 1024))

    def __call__(
        self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...], shared_mem: int = 0
    ) -> None:
        with self._stream:
            self._function(grid, block, args, shared_mem=shared_mem)


class _CupyGraph:
    def __init__(self, graph: Any, stream: Any) -> None:
        self._graph = graph
        self._stream = stream

    def launch(self) -> None:
        self._graph.launch(stream=self._stream)


class CupyDevice:
    """:class:`Device` on CuPy: one non-blocking stream that all work of the backend goes to.

    Create it on the thread that will run the simulation: CuPy's current
    device and stream are per thread.
    """

    def __init__(self) -> None:
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(f"backend 'cuda' is unavailable: {reason}")
        import cupy

        self._cp = cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        total = cupy.cuda.Device(0).mem_info[1]
        self.description = f"{name} (sm_{props['major']}{props['minor']}, {total / 2**30:.1f} GiB)"
        self.arch = f"sm_{props['major']}{props['minor']}"
        self._stream = cupy.cuda.Stream(non_blocking=True)
        self._modules: list[Any] = []

    def compile(self, source: str, options: Sequence[str], names: Sequence[str]) -> dict[str, Kernel]:
        """One NVRTC compile of ``source``; the kernels load now, so the first step does not stall."""
        cp = self._cp
        try:
            module = cp.RawModule(code=source, options=tuple(options))
            functions = {name: module.get_function(name) for name in names}
        except cp.cuda.compiler.CompileException as exc:
            log = str(exc)
            raise KernelCompileError(compile_error_location(log, "of the CUDA backend"), log) from exc
        self._modules.append(module)
        return {name: _StreamKernel(fn, self._stream) for name, fn in functions.items()}

    def _oom(self, exc: Exception, what: str) -> DeviceMemoryError:
        free, total = self._cp.cuda.Device(0).mem_info
        return DeviceMemoryError(
            f"the GPU ran out of memory allocating {what} "
            f"({free / 2**20:,.0f} MiB free of {total / 2**20:,.0f} MiB): {exc}"
        )

    def zeros(self, n: int, dtype: DTypeLike) -> Any:
        """A zeroed device array (allocated and cleared on the backend's stream)."""
        cp = self._cp
        try:
            with self._stream:
                return cp.zeros(int(n), dtype)
        except cp.cuda.memory.OutOfMemoryError as exc:
            raise self._oom(exc, f"{int(n):,} x {np.dtype(dtype).name}") from exc

    def to_device(self, host: NDArray[Any]) -> Any:
        """A device copy of ``host``."""
        arr = self.zeros(host.size, host.dtype)
        self.upload(arr, host)
        return arr

    def upload(self, dst: Any, host: NDArray[Any]) -> None:
        """Copy ``host`` into ``dst`` on the stream (waits until the host memory is read)."""
        src = np.ascontiguousarray(host, dtype=dst.dtype).ravel()
        if src.size != dst.size:
            raise ValueError(f"upload of {src.size} elements into a device array of {dst.size}")
        dst.set(src, stream=self._stream)
        self._stream.synchronize()

    def address(self, arr: Any) -> int:
        """Device address of ``arr``."""
        return int(arr.data.ptr)

    def to_host(self, src: Any) -> NDArray[Any]:
        """A host copy of ``src`` after the queued work."""
        out: NDArray[Any] = src.get(stream=self._stream)
        self._stream.synchronize()
        return out

    def pinned(self, n: int, dtype: DTypeLike) -> NDArray[Any]:
        """Page-locked host memory."""
        import cupyx

        return cupyx.zeros_pinned(int(n), dtype)

    def copy_async(self, src: Any, dst: NDArray[Any]) -> None:
        """Queue a device-to-host copy into pinned ``dst``; returns at once."""
        src.get(stream=self._stream, out=dst, blocking=False)

    def record(self) -> Event:
        """An event after the queued work."""
        return _CupyEvent(self._stream.record())

    def synchronize(self) -> None:
        """Wait for the stream."""
        self._stream.synchronize()

    def capture(self, body: Callable[[], None]) -> Graph:
        """Capture ``body``'s launches on the stream into a CUDA graph."""
        with self._stream:
            self._stream.begin_capture()
            try:
                body()
            finally:
                graph = self._stream.end_capture()
        return _CupyGraph(graph, self._stream)

    def free_memory(self) -> int:
        """Free device memory in bytes."""
        return int(self._cp.cuda.Device(0).mem_info[0])

    def close(self) -> None:
        """Wait for the stream and return cached memory to the driver."""
        self._stream.synchronize()
        self._modules.clear()
        self._cp.get_default_memory_pool().free_all_blocks()
