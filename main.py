"""Rewire Lab: structural plasticity in spiking neural networks.

Composition root: parses the command line, then runs a headless command.

    python main.py run --preset bamford2010 --out runs/case1
    python main.py bench --scales 1 2 4
    python main.py presets
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

#: Exit status for a user error (bad input of any kind).
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    from app.presets import DEFAULT_PRESET
    from sim.backends import BACKEND_CHOICES

    p = argparse.ArgumentParser(
        prog="rewire-lab",
        description="Rewire Lab: topographic maps that form by synaptic rewiring and STDP.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a preset headless and write metrics, summary and figures")
    run.add_argument(
        "--preset", default=DEFAULT_PRESET, help="preset name or YAML file (default: %(default)s)"
    )
    run.add_argument("--duration", type=float, help="model seconds to run (default: the preset's)")
    run.add_argument("--scale", type=int, help="grid side 16 x SCALE (default: the preset's)")
    run.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    run.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="default: %(default)s")
    run.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    run.add_argument("--checkpoint", type=Path, help="save the final state to this checkpoint file")
    run.add_argument(
        "--resume", type=Path, help="continue the run saved in this checkpoint (its preset applies)"
    )
    run.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    bench = sub.add_parser("bench", help="measure the real-time factor per backend and scale")
    bench.add_argument(
        "--preset", default="bamford2010", help="preset name or YAML file (default: %(default)s)"
    )
    bench.add_argument(
        "--backend", nargs="+", default=["auto"], choices=BACKEND_CHOICES, help="default: auto"
    )
    bench.add_argument("--scales", nargs="+", type=int, default=[1], help="scales to measure (default: 1)")
    bench.add_argument(
        "--duration", type=float, default=2.0, help="model seconds per measurement (default: 2)"
    )
    bench.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    bench.add_argument("--no-rewiring", action="store_true", help="measure with rewiring switched off")
    bench.add_argument("--json", type=Path, help="also write the records to this JSON file")

    sub.add_parser("presets", help="list the presets")
    return p


def _cmd_presets() -> int:
    from app.presets import list_presets

    infos = list_presets()
    width = max(len(i.name) for i in infos)
    for info in infos:
        print(f"{info.name:<{width}}  {info.description}")
    return 0


def _with_overrides(preset: str, scale: int | None, seed: int | None):  # type: ignore[no-untyped-def]
    from app.presets import load_preset

    cfg = load_preset(preset)
    if scale is not None:
        cfg = cfg.replace("network.scale", scale, source="--scale")
    if seed is not None:
        cfg = cfg.replace("run.seed", seed, source="--seed")
    return cfg


def _cmd_run(args: argparse.Namespace) -> int:
    from app.headless import run_headless

    if args.duration is not None and not args.duration > 0:
        raise _UserError(f"--duration: must be a positive number of model seconds, got {args.duration}")
    if args.resume is not None and (args.scale is not None or args.seed is not None):
        raise _UserError("--resume: the checkpoint fixes scale and seed; drop --scale and --seed")
    if args.checkpoint is not None and not args.checkpoint.parent.is_dir():
        raise _UserError(f"--checkpoint: folder {args.checkpoint.parent} does not exist")
    cfg = _with_overrides(args.preset, args.scale, args.seed)
    result = run_headless(
        cfg,
        args.out,
        backend=args.backend,
        duration=args.duration,
        progress=not args.quiet,
        figures=not args.no_figures,
        resume=args.resume,
        checkpoint=args.checkpoint,
    )
    s = result.summary
    final = s["final"]
    print(
        f"{s['preset']}: {s['duration_s']:g} s on {s['backend']} at {s['realtime_factor']:.1f}x real time; "
        f"sigma_aff {final['sigma_aff_conn']:.3f} (counts) {final['sigma_aff_weight']:.3f} (weights), "
        f"AD {final['ad_conn']:.3f} / {final['ad_weight']:.3f}; wrote {result.out_dir}"
    )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from app.bench import HEADER, format_record, run_bench, write_json_records

    if not args.duration > 0:
        raise _UserError(f"--duration: must be a positive number of model seconds, got {args.duration}")
    cfg = _with_overrides(args.preset, None, None)
    for k in args.scales:
        cfg.replace("network.scale", k, source="--scales")  # validate every scale before running any
    if args.json is not None and not args.json.parent.exists():
        raise _UserError(f"--json: folder {args.json.parent} does not exist")
    print(HEADER, flush=True)
    records = run_bench(
        cfg,
        args.backend,
        args.scales,
        args.duration,
        rewiring=not args.no_rewiring,
        seed=args.seed,
        report=lambda r: print(format_record(r), flush=True),
    )
    if args.json is not None:
        write_json_records(args.json, cfg.name, records)
    return 0


class _UserError(Exception):
    """A command-line value is wrong."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from sim.errors import RewireLabError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "bench":
            return _cmd_bench(args)
        if args.command == "presets":
            return _cmd_presets()
        parser.print_help()
        return 0
    except (RewireLabError, _UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; files written so far are complete", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
