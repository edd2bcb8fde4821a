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
