"""What memory this machine (or this process's cgroup) has left, for every experiment's size check."""

from __future__ import annotations

import os
from pathlib import Path

_GIB = float(1 << 30)


def format_bytes(count: float) -> str:
    """``count`` bytes in GiB with one decimal (``41.2 GiB``), or in MiB below 1 GiB."""
    if count >= _GIB:
        return f"{count / _GIB:.1f} GiB"
    return f"{count / float(1 << 20):.1f} MiB"


def _read_int(path: Path) -> int | None:
    """The integer in a one-line file, or None (missing, unreadable, or ``max``)."""
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _meminfo_available(meminfo: Path) -> int | None:
    """``MemAvailable`` of a ``/proc/meminfo``-style file, in bytes."""
    try:
        lines = meminfo.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            fields = line.split()
            try:
                value = int(fields[1])
            except (IndexError, ValueError):
                return None
            unit = fields[2].lower() if len(fields) > 2 else "kb"
            return value * 1024 if unit == "kb" else value
    return None


def _cgroup_dirs(root: Path, proc_cgroup: Path) -> list[Path]:
    """The cgroup (v2) folders of this process and its ancestors, innermost first."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    rel = ""
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            rel = path.strip().strip("/")
            break
    parts = [p for p in rel.split("/") if p and p != ".."]
    dirs = [root.joinpath(*parts[:k]) for k in range(len(parts), 0, -1)]
    return [*dirs, root]


def _cgroup_available(root: Path, proc_cgroup: Path) -> int | None:
    """Memory left under this process's cgroup limits (v2, or v1's memory controller), if any."""
    left: int | None = None
    for folder in _cgroup_dirs(root, proc_cgroup):
        limit = _read_int(folder / "memory.max")
        if limit is None:
            continue
        used = _read_int(folder / "memory.current") or 0
        room = max(limit - used, 0)
        left = room if left is None else min(left, room)
    v1 = root / "memory"
    limit = _read_int(v1 / "memory.limit_in_bytes")
    # cgroup v1 reports "no limit" as a huge number (about 2**63).
    if limit is not None and limit < 1 << 60:
        room = max(limit - (_read_int(v1 / "memory.usage_in_bytes") or 0), 0)
        left = room if left is None else min(left, room)
    return left


def available_bytes(
    *,
    meminfo: Path = Path("/proc/meminfo"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
) -> int | None:
    """Memory this process can still take, in bytes, or None when it cannot be told.

    On Linux the kernel's ``MemAvailable`` (free memory plus what it can
    reclaim), lowered to the room left under a cgroup memory limit
    (``memory.max``, ``memory.current``) when one applies. Elsewhere
    ``os.sysconf``'s available physical pages, or all physical pages where
    only that is known. The keyword arguments point at other files (for
    tests).
    """
    found = _meminfo_available(meminfo)
    if found is None:
        found = _sysconf_available()
    cgroup = _cgroup_available(cgroup_root, proc_cgroup)
    if cgroup is not None:
        found = cgroup if found is None else min(found, cgroup)
    return found


def _sysconf_available() -> int | None:
    """Available (or else total) physical memory from ``os.sysconf``, if the platform has it."""
    sysconf = getattr(os, "sysconf", None)
    if sysconf is None:
        return None
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            count, size = sysconf(pages), sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            continue
        if count > 0 and size > 0:
            return int(count) * int(size)
    return None
