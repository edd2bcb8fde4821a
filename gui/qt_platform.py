"""Whether Qt can open a window here, decided before a ``QApplication`` exists.

Qt ends the process with ``abort()`` when its platform plugin cannot start:
on Linux the ``xcb`` plugin (``libqxcb.so``) fails to load when a system
library it links against is missing (``libxcb-icccm.so.4``,
``libxcb-keysyms.so.1``, ...), and it fails to start without a reachable X
server. :func:`qt_window_problem` predicts both without loading the plugin,
so that the app and the test suite can say what is wrong and carry on
instead of dying with "Fatal Python error: Aborted".

The libraries the plugin needs are found with ``ldd`` (the dynamic linker's
own resolution, including ``LD_LIBRARY_PATH`` and the plugin's run path);
where ``ldd`` is unavailable, the plugin's ELF dynamic section is read and
each system library it names is loaded on its own with ``ctypes`` (a plain
library load reports a missing dependency as an error, it does not abort).

This module imports no Qt module: it finds the plugin files of the PyQt6
wheel with :func:`importlib.util.find_spec`.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

#: Debian/Ubuntu package of each shared library Qt's xcb platform plugin loads (directly or through
#: Qt's own libraries), by soname.
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "libpng16.so.16": "libpng16-16",
    "libexpat.so.1": "libexpat1",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}

#: The xcb platform plugin and Qt's xcb support library, relative to the ``Qt6`` folder of the wheel.
XCB_PLUGIN = Path("plugins", "platforms", "libqxcb.so")
XCB_QPA_LIBRARY = Path("lib", "libQt6XcbQpa.so.6")

#: Longest wait for ``ldd`` and for the X server to answer (seconds).
PROBE_TIMEOUT = 10.0

_LDD_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)
_MUSL_NOT_FOUND = re.compile(r"Error loading shared library (\S+?):")
_DLOPEN_NOT_FOUND = re.compile(r"^(\S+?): cannot open shared object file")

_DT_NEEDED, _DT_RPATH, _DT_RUNPATH = 1, 15, 29
_SHT_DYNAMIC = 6


def parse_ldd_missing(output: str) -> list[str]:
    """The sonames ``ldd`` reports as not found, in order, each once.

    Understands glibc's ``libfoo.so.1 => not found`` and musl's
    ``Error loading shared library libfoo.so.1: ...`` lines.
    """
    names = [*_LDD_NOT_FOUND.findall(output), *_MUSL_NOT_FOUND.findall(output)]
    return list(dict.fromkeys(names))


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that provides ``soname``; an unknown soname is returned as itself."""
    return DEBIAN_PACKAGES.get(soname, soname)


def debian_packages(sonames: Iterable[str]) -> list[str]:
    """:func:`debian_package` of each soname, in order, each package once."""
    return list(dict.fromkeys(debian_package(name) for name in sonames))


def missing_libraries_message(sonames: Sequence[str], *, apt: bool = True) -> str:
    """One line naming the missing libraries and how to install them.

    ``apt``: whether ``apt-get`` is the package manager here (the command is
    then given as such); otherwise the Debian/Ubuntu names are given as a hint.
    """
    plural = len(sonames) != 1
    head = f"Qt cannot open a window: missing system librar{'ies' if plural else 'y'} {', '.join(sonames)}"
    known = debian_packages(name for name in sonames if name in DEBIAN_PACKAGES)
    unknown = [name for name in sonames if name not in DEBIAN_PACKAGES]
    them = "them" if plural else "it"
    if not known:
        provide = "the packages that provide" if plural else "the package that provides"
        return f"{head}; install {provide} {them}"
    if not apt:
        provide = "the packages that provide" if plural else "the package that provides"
        return f"{head}; install {provide} {them} (on Debian/Ubuntu: {' '.join(known)})"
    provide = "the packages that provide" if len(unknown) > 1 else "the package that provides"
    rest = f", plus {provide} {', '.join(unknown)}" if unknown else ""
    return f"{head}; install {them} with: sudo apt-get install {' '.join(known)}{rest}"


def qt_window_problem(environ: Mapping[str, str] | None = None, *, platform: str | None = None) -> str | None:
    """Why Qt cannot open a window in this process, or None when it can (as far as can be told).

    Checked only where Qt would use its ``xcb`` platform on Linux: ``QT_QPA_PLATFORM`` unset (and no
    ``WAYLAND_DISPLAY``, with which Qt tries Wayland first) or naming ``xcb`` alone. Then, in order:
    a display is named (``DISPLAY``), the plugin's shared libraries are all present, and the X
    server answers. Other platforms (``offscreen``, ``wayland``, ...) and other systems give None.
    ``environ`` and ``platform`` default to :data:`os.environ` and :data:`sys.platform`.
    """
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    requested = [p.split(":", 1)[0].strip().lower() for p in env.get("QT_QPA_PLATFORM", "").split(";")]
    requested = [p for p in requested if p]
    if requested and any(p != "xcb" for p in requested):
        return None
    if not requested and env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display and env.get("WAYLAND_DISPLAY"):
        return (
            "Qt cannot open a window: no display for xcb (DISPLAY is not set); unset QT_QPA_PLATFORM "
            "to use Wayland, or run under xvfb-run (xvfb-run -a ...)"
        )
    if not display:
        return (
            "Qt cannot open a window: no display (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "run it in a desktop session or under xvfb-run (xvfb-run -a ...)"
        )
    files = xcb_plugin_files(env)
    if files is None:
        return None
    if not files[0].is_file():
        return (
            f"Qt cannot open a window: its xcb platform plugin {files[0]} is missing; "
            "reinstall PyQt6-Qt6 (python -m pip install --force-reinstall PyQt6-Qt6)"
        )
    missing = missing_libraries([f for f in files if f.is_file()])
    if missing:
        return missing_libraries_message(missing, apt=shutil.which("apt-get") is not None)
    if x_server_answers(display) is False:
        return (
            f"Qt cannot open a window: no X server answers at DISPLAY={display}; "
            "start one, correct DISPLAY, or run under xvfb-run (xvfb-run -a ...)"
        )
    return None


def xcb_plugin_files(environ: Mapping[str, str] | None = None) -> list[Path] | None:
    """The xcb platform plugin Qt would load and PyQt6's ``libQt6XcbQpa.so.6``, plugin first.

    The plugin is searched where Qt searches: ``QT_QPA_PLATFORM_PLUGIN_PATH``,
    ``QT_PLUGIN_PATH`` (its ``platforms`` folders), then the PyQt6 wheel's own
    plugins. None when PyQt6 is not installed as a wheel (then nothing is predicted).
    """
    env = os.environ if environ is None else environ
    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt6"
    if not qt.is_dir():
        return None
    folders = [Path(p) for p in env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    folders += [Path(p) / "platforms" for p in env.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    plugin = next((f / XCB_PLUGIN.name for f in folders if (f / XCB_PLUGIN.name).is_file()), qt / XCB_PLUGIN)
    return [plugin, qt / XCB_QPA_LIBRARY]


def missing_libraries(files: Sequence[Path]) -> list[str]:
    """Sonames that ``files`` (shared libraries) need, directly or indirectly, and that cannot be found.

    Uses ``ldd``; where it is unavailable or fails, :func:`missing_by_loading`.
    """
    found: list[str] = []
    for path in files:
        missing = ldd_missing(path)
        if missing is None:
            missing = missing_by_loading(path)
        found += missing
    return list(dict.fromkeys(found))


def ldd_missing(path: Path) -> list[str] | None:
    """The sonames ``ldd`` reports as not found for ``path``; None when ``ldd`` cannot tell."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        done = subprocess.run(
            [ldd, str(path)], capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    output = done.stdout + done.stderr
    missing = parse_ldd_missing(output)
    if missing or (done.returncode == 0 and "=>" in output):
        return missing
    return None


def elf_dynamic(path: Path) -> tuple[list[str], list[str]]:
    """The ``DT_NEEDED`` sonames and the run path folders (``DT_RUNPATH``, else ``DT_RPATH``) of an ELF file.

    ``$ORIGIN`` in the run path is replaced by the file's folder. Raises
    ValueError when ``path`` is not an ELF file with a dynamic section.
    """
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise ValueError(f"{path} is not an ELF file")
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    # the section header table: its offset, entry size and entry count; a section header; a dynamic entry
    if wide:
        (shoff,) = struct.unpack_from(f"{end}Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(f"{end}HH", data, 0x3A)
        section, entry = f"{end}IIQQQQIIQQ", f"{end}qQ"
    else:
        (shoff,) = struct.unpack_from(f"{end}I", data, 0x20)
        shentsize, shnum = struct.unpack_from(f"{end}HH", data, 0x2E)
        section, entry = f"{end}IIIIIIIIII", f"{end}iI"
    sections = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    dynamic = next((s for s in sections if s[1] == _SHT_DYNAMIC), None)
    if dynamic is None:
        raise ValueError(f"{path} has no dynamic section")
    offset, size, link = dynamic[4], dynamic[5], dynamic[6]
    strtab = sections[link][4]

    def string(at: int) -> str:
        return data[strtab + at : data.index(b"\0", strtab + at)].decode("utf-8", "replace")

    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    step = struct.calcsize(entry)
    for at in range(offset, offset + size, step):
        tag, value = struct.unpack_from(entry, data, at)
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            needed.append(string(value))
        elif tag == _DT_RUNPATH:
            runpath += string(value).split(":")
        elif tag == _DT_RPATH:
            rpath += string(value).split(":")
    origin = str(path.parent)
    folders = [p.replace("${ORIGIN}", origin).replace("$ORIGIN", origin) for p in runpath or rpath if p]
    return needed, folders


def missing_by_loading(path: Path, _seen: set[Path] | None = None) -> list[str]:
    """Sonames ``path`` needs that cannot be loaded, found without ``ldd``.

    Libraries found in the file's run path (Qt's own) are followed through
    their ELF dynamic sections; every other needed library is loaded with
    ``ctypes``, whose error names the first library missing beneath it.
    """
    seen = set() if _seen is None else _seen
    seen.add(path.resolve())
    try:
        needed, folders = elf_dynamic(path)
    except (OSError, ValueError, struct.error, IndexError):
        return []
    missing: list[str] = []
    for name in needed:
        local = next((Path(f) / name for f in folders if (Path(f) / name).is_file()), None)
        if local is not None:
            if local.resolve() not in seen:
                missing += missing_by_loading(local, seen)
            continue
        absent = _load_error(name)
        if absent is not None:
            missing.append(absent)
    return list(dict.fromkeys(missing))


def _load_error(soname: str) -> str | None:
    """None when ``soname`` loads; else the soname of the library that could not be found."""
    try:
        ctypes.CDLL(soname)
    except OSError as exc:
        match = _DLOPEN_NOT_FOUND.match(str(exc))
        return Path(match.group(1)).name if match else soname
    return None


def x_server_answers(display: str) -> bool | None:
    """Whether an X server accepts a connection at ``display`` (libxcb, as Qt connects).

    None when this cannot be told: libxcb does not load, or the server does
    not answer within :data:`PROBE_TIMEOUT`.
    """
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.restype = None
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    answer: list[bool] = []

    def connect() -> None:
        connection = xcb.xcb_connect(display.encode(), None)
        answer.append(xcb.xcb_connection_has_error(connection) == 0)
        xcb.xcb_disconnect(connection)

    # a daemon thread: a connection that hangs (an unreachable TCP display) does not hold up the exit
    probe = threading.Thread(target=connect, name="x-server-probe", daemon=True)
    probe.start()
    probe.join(PROBE_TIMEOUT)
    return answer[0] if answer else None
