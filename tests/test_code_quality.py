"""ruff, mypy and the import-linter contracts run as part of the test suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_clean() -> None:
    """No lint findings anywhere in the project."""
    result = _run([sys.executable, "-m", "ruff", "check", "."])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    """The type hints of sim/, app/ and main.py check."""
    result = _run([sys.executable, "-m", "mypy"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_kept() -> None:
    """gui -> app -> sim; sim and app never import Qt; only the CUDA backend imports cupy."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = _run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _contract(name: str) -> dict[str, object]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def test_the_core_contract_covers_every_core_module() -> None:
    """Every module of sim/ outside sim/experiments/ is under the contract that it imports no experiment."""
    listed = set(_contract("The shared simulator core knows no experiment")["source_modules"])  # type: ignore[arg-type]
    sim = ROOT / "sim"
    modules = {p.stem for p in sim.glob("*.py") if p.name != "__init__.py"}
    packages = {p.name for p in sim.iterdir() if (p / "__init__.py").is_file() and p.name != "experiments"}
    core = modules | packages
    missing = sorted(f"sim.{name}" for name in core if f"sim.{name}" not in listed)
    assert not missing, f"add to the contract in pyproject.toml: {missing}"


def test_the_app_core_contract_covers_every_core_module() -> None:
    """Every module of app/ outside app/experiments/ is under the contract that it imports no experiment."""
    listed = set(_contract("The shared application core knows no experiment")["source_modules"])  # type: ignore[arg-type]
    core = {p.stem for p in (ROOT / "app").glob("*.py") if p.name != "__init__.py"}
    missing = sorted(f"app.{name}" for name in core if f"app.{name}" not in listed)
    assert not missing, f"add to the contract in pyproject.toml: {missing}"


def test_the_window_contract_covers_every_shell_module() -> None:
    """Every module and package of gui/ outside gui/experiments/ is under the window-shell contract."""
    listed = set(_contract("The window shell knows no experiment")["source_modules"])  # type: ignore[arg-type]
    gui = ROOT / "gui"
    modules = {p.stem for p in gui.glob("*.py") if p.name != "__init__.py"}
    packages = {p.name for p in gui.iterdir() if (p / "__init__.py").is_file() and p.name != "experiments"}
    missing = sorted(f"gui.{name}" for name in modules | packages if f"gui.{name}" not in listed)
    assert not missing, f"add to the contract in pyproject.toml: {missing}"


def test_the_independence_contract_catches_an_experiment_importing_another(tmp_path: Path) -> None:
    """The contract is live: a copy of the project where one experiment imports another breaks it."""
    import shutil

    copy = tmp_path / "project"
    for part in ("sim", "app", "gui"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    other = copy / "sim" / "experiments" / "other"
    other.mkdir()
    (other / "__init__.py").write_text('"""A second experiment that wrongly reuses the first."""\n')
    (other / "model.py").write_text("from sim.experiments.topomap import config\n")
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=copy, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode != 0, result.stdout
    assert "Experiments never import each other: simulator packages BROKEN" in result.stdout


def test_no_experiment_imports_another_across_layers() -> None:
    """An experiment's package on one layer imports only its own packages on the others.

    The independence contracts hold within a layer; this checks every import
    between ``<layer>.experiments.<a>`` and ``<layer>.experiments.<b>`` across layers.
    """
    import grimp

    graph = grimp.build_graph("sim", "app", "gui")
    crossing = []
    for importer in graph.modules:
        a = _experiment_of(importer)
        if a is None:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            b = _experiment_of(imported)
            if b is not None and b != a:
                crossing.append(f"{importer} -> {imported}")
    assert not crossing, crossing


def _experiment_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "experiments" else None
