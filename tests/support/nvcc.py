"""Compile a CUDA module source with nvcc and read what ptxas says each kernel uses."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


def resource_usage(
    source_text: str, arch: str, tmp_path: Path, options: Sequence[str] = ()
) -> dict[str, tuple[int, int]]:
    """``kernel -> (registers per thread, static shared bytes)`` of ``source_text`` compiled to a
    cubin for ``arch`` with ``options``; skips the test when nvcc is not installed."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    source = tmp_path / "module.cu"  # the generated interface, then the kernels, as NVRTC gets them
    source.write_text(source_text)
    out = tmp_path / "kernels.cubin"
    result = subprocess.run(
        [nvcc, "-cubin", f"-arch={arch}", "--resource-usage", *options, str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{arch}:\n{result.stderr}"
    usage: dict[str, tuple[int, int]] = {}
    kernel = None
    for line in (result.stdout + result.stderr).splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            kernel = m.group(1)
        m = re.search(r"Used (\d+) registers", line)
        if m and kernel is not None:
            smem = re.search(r"(\d+) bytes smem", line)
            usage[kernel] = (int(m.group(1)), int(smem.group(1)) if smem else 0)
            kernel = None
    return usage
