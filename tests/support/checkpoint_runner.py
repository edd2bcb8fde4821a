"""Load and run many checkpoint files in one process, reporting how each ends (for the fuzz test).

Usage: ``python -m tests.support.checkpoint_runner MANIFEST.json`` from the repository root.

The manifest is ``{"out": FOLDER, "cases": [{"name": ..., "path": ..., "base": ...}, ...]}``:
each case is a checkpoint file, ``base`` a valid checkpoint of the same configuration. For
every case the runner prints ``START <name>`` (flushed, so that the parent knows which case
was running if the process dies by a signal), then tries the two ways a checkpoint enters a
run:

* the command line, in-process: ``main(["run", "--resume", path, "--duration", "0.05",
  "--out", ..., "--quiet", "--no-figures", "--backend", "cpu"])``, with its stdout and
  stderr captured: exit status, stderr lines, whether a traceback escaped;
* when the command line ran it, the window's way: :meth:`Engine.load_checkpoint` on an
  engine already running the base checkpoint, then 200 steps, a snapshot and a rewiring
  timing (which replays the rewiring from the loaded spike lists). A file the command line
  refused is not tried again: the refusal comes from ``load_checkpoint``, which this way
  calls on the same file.

and prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from main import main
from sim.engine import Engine
from sim.errors import CheckpointError

#: Model seconds of each command-line run, and steps of each engine run.
CLI_SECONDS = "0.05"
ENGINE_STEPS = 200
CLI_FLAGS = ("--quiet", "--no-figures", "--backend", "cpu")


def _cli(path: str, out: Path) -> dict[str, Any]:
    stdout, stderr = io.StringIO(), io.StringIO()
    escaped = None
    rc: int | None = None
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = main(["run", "--resume", path, "--duration", CLI_SECONDS, "--out", str(out), *CLI_FLAGS])
    except BaseException as exc:  # a traceback would have escaped the command
        escaped = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    text = stderr.getvalue()
    return {
        "rc": rc,
        "stderr": text.splitlines()[:5],
        "stderr_lines": len(text.splitlines()),
        "traceback": "Traceback" in text or "Traceback" in stdout.getvalue(),
        "escaped": escaped,
    }


def _engine(eng: Engine, path: str) -> dict[str, Any]:
    try:
        eng.load_checkpoint(path)
    except CheckpointError as exc:
        return {"end": "refused", "message": str(exc)}
    except BaseException as exc:
        return {"end": "error", "message": "".join(traceback.format_exception(exc))[-2000:]}
    try:
        eng.step(ENGINE_STEPS)
        eng.snapshot()
        eng.time_rewiring(0.005)
    except BaseException as exc:
        return {"end": "error", "message": "".join(traceback.format_exception(exc))[-2000:]}
    return {"end": "ran"}


def run(manifest: dict[str, Any]) -> None:
    """Run every case of ``manifest``, printing START and RESULT lines."""
    out = Path(manifest["out"])
    engines: dict[str, Engine] = {}
    for case in manifest["cases"]:
        name, path, base = case["name"], case["path"], case["base"]
        print(f"START {name}", flush=True)
        t0 = time.perf_counter()
        if base not in engines:
            engines[base] = Engine.from_checkpoint(base, backend="cpu")
        cli = _cli(path, out / "run")
        # A refusal comes from load_checkpoint, which the engine's way calls on the same file.
        engine = _engine(engines[base], path) if cli["rc"] == 0 else {"end": "not tried"}
        result = {"name": name, "cli": cli, "engine": engine, "seconds": time.perf_counter() - t0}
        print("RESULT " + json.dumps(result), flush=True)
    for eng in engines.values():
        eng.close()


if __name__ == "__main__":
    faulthandler.enable()  # a native crash names the Python call on the real stderr
    with open(sys.argv[1], encoding="utf-8") as fh:
        run(json.load(fh))
