"""Rewire Lab: structural plasticity in spiking neural networks.

Composition root: parses the command line, then opens the window or runs a headless command.

    python main.py                                    # the window, on the demo preset
    python main.py --preset bamford2010 --backend cpu
    python main.py --preset demo --run-for 20 --screenshot shot.png   # scripted
    python main.py --preset demo --run-for 20 --export-views views --export-size 1920x1080
    python main.py run --preset bamford2010 --out runs/case1
    python main.py bench --scales 1 2 4
    python main.py sweep --preset bamford2010 --seeds 1 2 3 --out runs/sweep
    python main.py presets
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Exit status for a user error (bad input of any kind).
EXIT_USER_ERROR = 2
#: Exit status after SIGINT (Ctrl-C) and SIGTERM: 128 + the signal number, as shells report.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM

_SCALE_HELP = "topographic map presets: grid side 16 x SCALE (default: the preset's)"


def _parser() -> argparse.ArgumentParser:
    from app.presets import DEFAULT_PRESET
    from sim.backends import BACKEND_CHOICES

    p = argparse.ArgumentParser(
        prog="rewire-lab",
        description="Rewire Lab: structural plasticity in spiking networks, live: topographic maps that "
        "form by rewiring and STDP, sparse classifiers trained with DEEP R, convolutional networks whose "
        "channels are pruned and regrown by spiking activity.",
    )
    win = p.add_argument_group("window (when no command is given)")
    win.add_argument(
        "--preset", default=DEFAULT_PRESET, help="preset name or YAML file (default: %(default)s)"
    )
    win.add_argument("--scale", type=int, help=_SCALE_HELP)
    win.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    win.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="default: %(default)s")
    win.add_argument(
        "--run-for",
        type=float,
        metavar="SECONDS",
        help="scripted: run at maximum speed for SECONDS of wall time, save --screenshot and/or "
        "--export-views, print speed, exit",
    )
    win.add_argument(
        "--screenshot",
        type=Path,
        metavar="FILE",
        help="scripted: save the whole window to FILE (.png, .jpg or .jpeg: the suffix sets the format)",
    )
    win.add_argument(
        "--export-views",
        type=Path,
        metavar="DIR",
        help="scripted: save every view without its options row as DIR/KEY.png (map.png, ...) "
        "at --export-size",
    )
    win.add_argument(
        "--export-size",
        metavar="WxH",
        help="size of the --export-views images in pixels, each side 16 to 8192 (default: 1920x1080)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a preset headless and write metrics, summary and figures")
    run.add_argument("--preset", help=f"preset name or YAML file (default: {DEFAULT_PRESET})")
    run.add_argument(
        "--duration",
        type=float,
        help="how long to run, in the preset's unit: model seconds, or epochs (default: the preset's)",
    )
    run.add_argument("--scale", type=int, help=_SCALE_HELP)
    run.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one parameter of the preset (repeatable), e.g. --set data.path=/data/shd",
    )
    run.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="default: %(default)s")
    run.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    run.add_argument(
        "--checkpoint",
        type=Path,
        help="save the final state to this checkpoint file (also on Ctrl-C or SIGTERM)",
    )
    run.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="S",
        help="also save the checkpoint every S (in the preset's unit: model seconds, or epochs), "
        "so a killed run can resume from it",
    )
    run.add_argument(
        "--resume", type=Path, help="continue the run saved in this checkpoint (its preset applies)"
    )
    run.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    bench = sub.add_parser("bench", help="measure the speed of a preset per backend and swept parameter")
    bench.add_argument(
        "--preset", default="bamford2010", help="preset name or YAML file (default: %(default)s)"
    )
    bench.add_argument(
        "--backend", nargs="+", default=["auto"], choices=BACKEND_CHOICES, help="default: auto"
    )
    bench.add_argument(
        "--duration",
        type=float,
        default=2.0,
        help="length of each measurement: model seconds, or training batches for a classifier or a "
        "channel network (default: 2)",
    )
    bench.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    for key, knob in _bench_knobs():
        dest = _knob_dest(knob.flag)
        what = f"{knob.help} [{key} presets]"
        if knob.switch is not None:
            bench.add_argument(knob.flag, dest=dest, action="store_true", help=what)
        else:
            bench.add_argument(
                knob.flag, dest=dest, nargs="+", type=knob.kind, metavar=knob.metavar, help=what
            )
    bench.add_argument("--json", type=Path, help="also write the records to this JSON file")

    compact = sub.add_parser(
        "compact",
        help="remove a channel network's masked channels physically and measure it before and after",
    )
    compact.add_argument("checkpoint", type=Path, help="checkpoint of a channel network (run --checkpoint)")
    compact.add_argument(
        "--out", required=True, type=Path, help="folder for mask.npz, compact_model.npz, compaction.json"
    )
    compact.add_argument(
        "--backend", default="auto", choices=BACKEND_CHOICES, help="where to measure (default: %(default)s)"
    )

    sweep = sub.add_parser(
        "sweep",
        help="run the cross product of presets, parameter values and seeds on Dask (a local cluster "
        "by default)",
        description="Run every combination of the presets, the --set values and the seeds as an "
        "independent headless run, on a Dask cluster: a local one of worker processes (one per core, "
        "one thread each) by default, or the scheduler at --scheduler. Runs already complete in "
        "--out are skipped, failed ones are run again.",
    )
    sweep.add_argument(
        "--preset",
        nargs="+",
        required=True,
        metavar="PRESET",
        help="preset names or YAML files (several: one more swept dimension)",
    )
    sweep.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="values of one parameter, separated by commas (repeatable: the runs are the cross product); "
        "one value sets it in every run",
    )
    sweep.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="SEED",
        help="seeds of every combination (default: each preset's)",
    )
    sweep.add_argument(
        "--duration",
        type=float,
        help="length of every run, in the preset's unit: model seconds, or epochs (default: the preset's)",
    )
    sweep.add_argument(
        "--scheduler",
        default="local",
        metavar="local|ADDRESS",
        help="'local' (default) starts a Dask cluster of worker processes on this machine; an address "
        "(tcp://host:8786) uses that scheduler's workers",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster (default: one per core)",
    )
    sweep.add_argument(
        "--backend",
        default="auto",
        choices=BACKEND_CHOICES,
        help="backend of every run (default: %(default)s)",
    )
    sweep.add_argument(
        "--out", required=True, type=Path, help="output folder: runs/<id>/, sweep.csv, figures"
    )
    sweep.add_argument("--no-figures", action="store_true", help="skip the runs' and the sweep's figures")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("presets", help="list the presets")
    return p


def _cmd_sweep(args: argparse.Namespace) -> int:
    from app.sweep.plan import parse_sweep_settings, plan_sweep
    from app.sweep.runner import COMPLETE, FAILED, LOCAL, check_workers, run_sweep
    from sim.backends import resolve_backend_name
    from sim.files import check_folder_target

    check_folder_target(args.out, "--out")
    check_workers(args.workers, args.scheduler)  # before the presets load: the cheap checks first
    plan = plan_sweep(args.preset, parse_sweep_settings(args.sets), args.seeds, args.duration)
    if args.scheduler == LOCAL:  # the workers are this machine: an unavailable backend is refused now
        for experiment in plan.experiments:
            resolve_backend_name(args.backend, experiment)
    if not args.quiet:
        axes = "; ".join(f"{a.key}: {len(a.values)} values" for a in plan.axes) or "no swept parameter"
        seeds = f"{len(plan.seeds)} seeds" if plan.seeds else "the presets' seeds"
        print(f"sweep: {len(plan.runs)} runs ({axes}; {seeds}) into {args.out}", file=sys.stderr)
    result = run_sweep(
        plan,
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        backend=args.backend,
        figures=not args.no_figures,
        progress=not args.quiet,
    )
    complete, failed = result.count(COMPLETE), result.count(FAILED)
    skipped = sum(1 for s in result.states if s.skipped)
    print(
        f"sweep: {complete} of {len(result.states)} runs complete ({skipped} before this command), "
        f"{failed} failed, in {result.wall_seconds:.1f} s; wrote {args.out / 'sweep.csv'}"
    )
    for state in result.states:
        if state.status == FAILED:
            print(f"  failed: {state.run.run_id}: {state.error}", file=sys.stderr)
    return 0 if failed == 0 else 1


def _cmd_compact(args: argparse.Namespace) -> int:
    from sim.checkpoint import load_checkpoint
    from sim.engine import Engine
    from sim.files import check_folder_target

    check_folder_target(args.out, "--out")
    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.config.experiment != "channels":
        raise _UserError(
            f"{args.checkpoint}: a checkpoint of experiment '{ckpt.config.experiment}'; compact takes one "
            "of a channel network ('channels')"
        )
    from app.experiments.channels.compaction import compact_engine, compaction_line, write_compaction

    with Engine.from_checkpoint(args.checkpoint, backend=args.backend) as eng:
        result = compact_engine(eng)
    args.out.mkdir(parents=True, exist_ok=True)
    write_compaction(args.out, result, ckpt.config)
    print(f"{ckpt.config.name}: {compaction_line(result)}; wrote {args.out}")
    return 0


def _cmd_presets() -> int:
    from app.presets import list_presets
    from sim.experiment import experiment_title

    infos = list_presets()
    width = max(len(i.name) for i in infos)
    experiment = None
    for info in infos:
        if info.experiment != experiment:
            experiment = info.experiment
            title = experiment_title(experiment)
            print(f"{experiment}" + (f" ({title})" if title != experiment else "") + ":")
        print(f"  {info.name:<{width}}  {info.description}")
    return 0


def _with_overrides(  # type: ignore[no-untyped-def]
    preset: str, scale: int | None, seed: int | None, sets: list[str] | None = None
):
    from app.presets import load_preset, parse_settings

    cfg = load_preset(preset)
    changes = parse_settings(sets or ())
    if changes:
        cfg = cfg.replace_all(changes, source="--set")
    if scale is not None:
        from sim.parameters import iter_params

        if "network.scale" not in {path for path, _, _ in iter_params(cfg)}:
            raise _UserError(
                f"--scale: applies to topographic map presets; {cfg.name} is a {cfg.experiment} preset"
            )
        cfg = cfg.replace("network.scale", scale, source="--scale")
    if seed is not None:
        cfg = cfg.replace("run.seed", seed, source="--seed")
    return cfg


class _StopRequests:
    """SIGINT and SIGTERM during a run: the first asks the run to stop after its current chunk
    (it then writes what it has and its checkpoint), a second one interrupts at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def __call__(self) -> bool:
        return self.signum is not None

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise _Interrupted(signum)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping after the current step chunk", file=sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    from app.headless import check_duration, run_headless
    from app.presets import DEFAULT_PRESET
    from sim.files import check_file_target, check_folder_target

    if args.resume is not None:
        if args.duration is not None:
            check_duration(args.duration, None, "--duration")
        given = [
            name
            for name, value in (
                ("--preset", args.preset),
                ("--scale", args.scale),
                ("--seed", args.seed),
                ("--set", args.sets or None),
            )
            if value is not None
        ]
        if given:
            raise _UserError(
                f"--resume: the checkpoint fixes the preset, scale and seed; drop {', '.join(given)}"
            )
    if args.checkpoint_every is not None:
        if args.checkpoint is None:
            raise _UserError("--checkpoint-every: give the file with --checkpoint")
        check_duration(args.checkpoint_every, None, "--checkpoint-every")
    check_folder_target(args.out, "--out")
    if args.checkpoint is not None:
        check_file_target(args.checkpoint, "--checkpoint")
    cfg = None
    if args.resume is None:
        cfg = _with_overrides(args.preset or DEFAULT_PRESET, args.scale, args.seed, args.sets)
        if args.duration is not None:
            from sim.experiment import experiment_of

            step_ms = experiment_of(cfg).model_seconds(cfg, 1) * 1e3
            check_duration(args.duration, step_ms, "--duration", type(cfg))
        if args.checkpoint_every is not None:
            check_duration(args.checkpoint_every, None, "--checkpoint-every", type(cfg))
    from sim.backends import resolve_backend_name

    if cfg is not None:  # an unavailable backend is refused before anything is written
        resolve_backend_name(args.backend, cfg.experiment)
    with _StopRequests() as stop:
        result = run_headless(
            cfg,  # type: ignore[arg-type]  # None only with resume, where the checkpoint's applies
            args.out,
            backend=args.backend,
            duration=args.duration,
            progress=not args.quiet,
            figures=not args.no_figures,
            resume=args.resume,
            checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            stop=stop,
        )
    s = result.summary
    final = s["final"]
    if result.interrupted:
        from sim.experiment import get_experiment

        name = signal.Signals(stop.signum or signal.SIGINT).name
        how = (
            f"; checkpoint {result.checkpoint}: continue with "
            f"'python main.py run --resume {result.checkpoint} --out NEW_FOLDER'"
            if result.checkpoint is not None
            else ""
        )
        unit = get_experiment(s["experiment"]).time_unit or "s"
        print(
            f"{name}: stopped at t = {s['t_end_s']:g} {unit} of {s['t_start_s'] + s['duration_s']:g} {unit}; "
            f"results so far in {result.out_dir} (no figures){how}",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if stop.signum == signal.SIGTERM else EXIT_INTERRUPTED
    from app.experiment import get_app_experiment

    outcome = get_app_experiment(s["experiment"])
    print(f"{s['preset']}: {outcome.run_line(s)}; {outcome.result_line(final)}; wrote {result.out_dir}")
    return 0


def _knob_dest(flag: str) -> str:
    return "knob_" + flag.lstrip("-").replace("-", "_")


def _bench_knobs() -> list[tuple[str, Any]]:
    """``(experiment, knob)`` for every bench option any experiment declares (each flag once)."""
    from app.experiment import get_app_experiment
    from sim.experiment import experiment_keys

    seen: set[str] = set()
    out = []
    for key in experiment_keys():
        for knob in get_app_experiment(key).bench_knobs:
            if knob.flag not in seen:
                seen.add(knob.flag)
                out.append((key, knob))
    return out


def _cmd_bench(args: argparse.Namespace) -> int:
    from app.bench import run_bench, write_json_records
    from app.experiment import app_experiment_of

    if not args.duration > 0:
        raise _UserError(f"--duration: must be a positive number, got {args.duration}")
    cfg = _with_overrides(args.preset, None, None)
    exp = app_experiment_of(cfg)
    own = {knob.flag for knob in exp.bench_knobs}
    for key, knob in _bench_knobs():
        if knob.flag not in own and getattr(args, _knob_dest(knob.flag)) not in (None, False):
            raise _UserError(
                f"{knob.flag}: applies to {key} presets; {cfg.name} is a {cfg.experiment} preset"
            )
    sweeps: dict[str | tuple[str, ...], list[Any]] = {}
    for knob in exp.bench_knobs:
        given = getattr(args, _knob_dest(knob.flag))
        if knob.switch is not None:
            if given:
                cfg = cfg.replace_all(dict.fromkeys(knob.paths, knob.switch), source=knob.flag)
            continue
        values = list(knob.default) if given is None else list(given)
        for value in values:  # validate every value before running any
            cfg.replace_all(dict.fromkeys(knob.paths, value), source=knob.flag)
        sweeps[knob.paths if knob.also else knob.path] = values
    if args.json is not None:
        from sim.files import check_file_target

        check_file_target(args.json, "--json")
    print(exp.bench_header, flush=True)
    records = run_bench(
        cfg,
        args.backend,
        sweeps,
        args.duration,
        seed=args.seed,
        report=lambda r: print(exp.format_bench(r), flush=True),
    )
    if args.json is not None:
        write_json_records(args.json, records)
    return 0


def _cmd_window(args: argparse.Namespace) -> int:
    export_size = _check_scripted(args)
    scripted = args.run_for is not None
    from sim.backends import resolve_backend_name

    cfg = _with_overrides(args.preset, args.scale, args.seed)
    resolve_backend_name(args.backend, cfg.experiment)  # an unavailable backend: refused before the window
    env = os.environ
    if sys.platform.startswith("linux") and not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM")
    ):
        raise _UserError(
            "no display for the window: run it on a desktop, under xvfb-run, or with "
            "QT_QPA_PLATFORM=offscreen (OpenGL views then show a message); "
            "headless commands: see 'python main.py --help'"
        )
    try:
        from gui.app import run_gui, run_scripted
    except ImportError as exc:
        raise _UserError(f"the window needs PyQt6, pyqtgraph and VisPy ({exc})") from None
    from gui.qt_platform import qt_window_problem

    problem = qt_window_problem()  # Qt aborts the process when its platform plugin cannot start
    if problem is not None:
        raise _UserError(problem)
    if not scripted:
        return run_gui(cfg, backend=args.backend, seed=args.seed)
    try:
        result = run_scripted(
            cfg,
            run_for=args.run_for,
            screenshot=args.screenshot,
            export_views=args.export_views,
            export_size=export_size,
            backend=args.backend,
        )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    views = " ".join(f"{k}={v:.1f}" for k, v in result.view_fps.items())
    shot = f"screenshot={result.screenshot} " if result.screenshot is not None else ""
    print(f"{shot}model_seconds={result.model_seconds:.2f} wall_seconds={result.wall_seconds:.2f}")
    for path in result.view_images.values():
        print(f"view_image={path}")
    print(f"view_fps {views}")
    if result.map_quality:
        print(
            "map " + " -> ".join(f"t={t:.1f} sigma_aff={s:.3f} ad={a:.3f}" for t, s, a in result.map_quality)
        )
    print(f"realtime_factor={result.realtime_factor:.2f} fps={result.fps:.1f}")
    return 0


def _check_scripted(args: argparse.Namespace) -> tuple[int, int]:
    """Check the scripted-mode options before anything runs; returns the ``--export-size``.

    Scripted mode is ``--run-for`` with ``--screenshot``, ``--export-views`` or both.
    """
    wanted = [
        flag
        for flag, value in (("--screenshot", args.screenshot), ("--export-views", args.export_views))
        if value is not None
    ]
    if args.run_for is not None and not wanted:
        raise _UserError("--run-for needs --screenshot FILE, --export-views DIR or both (scripted mode)")
    if args.run_for is None and wanted:
        raise _UserError(f"{wanted[0]} needs --run-for SECONDS (scripted mode)")
    if args.export_size is not None and args.export_views is None:
        raise _UserError("--export-size: sets the size of the --export-views images; give --export-views DIR")
    if args.run_for is not None and not args.run_for > 0:
        raise _UserError(f"--run-for: must be a positive number of wall seconds, got {args.run_for}")
    try:
        from gui.export import DEFAULT_EXPORT_SIZE, image_format, parse_size
    except ImportError as exc:
        raise _UserError(f"the window needs PyQt6, pyqtgraph and VisPy ({exc})") from None
    from sim.errors import OutputError
    from sim.files import check_file_target, check_folder_target

    size = DEFAULT_EXPORT_SIZE
    if args.export_size is not None:
        try:
            size = parse_size(args.export_size)
        except ValueError as exc:
            raise _UserError(f"--export-size: {exc}") from None
    if args.screenshot is not None:
        try:
            image_format(args.screenshot)
        except OutputError as exc:
            raise _UserError(f"--screenshot: {exc}") from None
        check_file_target(args.screenshot, "--screenshot")
    if args.export_views is not None:
        check_folder_target(args.export_views, "--export-views")
    return size


class _UserError(Exception):
    """A command-line value is wrong."""


class _Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: stop now (temporary files are removed as the stack unwinds)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise _Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from sim.errors import RewireLabError

    if not faulthandler.is_enabled():
        faulthandler.enable()  # a crash in native code (Qt, OpenGL, a kernel) still names the Python call
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupted)  # headless commands end as on Ctrl-C
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "bench":
            return _cmd_bench(args)
        if args.command == "presets":
            return _cmd_presets()
        if args.command == "compact":
            return _cmd_compact(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        return _cmd_window(args)
    except (RewireLabError, _UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, _Interrupted) else signal.SIGINT
        print(
            f"{signal.Signals(signum).name}: interrupted; files written so far are complete", file=sys.stderr
        )
        return EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
