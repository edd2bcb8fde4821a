"""The simulator: model, state, backends and analysis (no Qt, no GUI).

Numba checks a cached kernel against the file the kernel is written in, not
against the files of the functions it calls and inlines (the synapse-table
operations, the random-number generator). The cache therefore lives in a
directory named by a digest of every source file of this package, so a kernel
compiled from older sources is never loaded. ``NUMBA_CACHE_DIR``, when set,
takes precedence.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def numba_cache_dir(root: Path = PACKAGE_DIR) -> Path:
    """``<user cache>/rewire-lab/numba/<digest of root/**/*.py>`` (root: this package)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rewire-lab" / "numba" / digest.hexdigest()[:16]


if not os.environ.get("NUMBA_CACHE_DIR"):
    import numba

    numba.config.CACHE_DIR = str(numba_cache_dir())  # type: ignore[attr-defined]
