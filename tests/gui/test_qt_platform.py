"""Predicting whether Qt can open a window, so that a missing library is reported instead of an abort.

The end-to-end tests put a stand-in ``ldd`` first on ``PATH`` that reports
``libxcb-icccm.so.4`` and ``libxcb-keysyms.so.1`` as not found, then run
``main.py`` (window and scripted mode) and a pytest session of a widget test
in subprocesses: each must end normally with the one-line message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gui import qt_platform
from gui.qt_platform import (
    debian_package,
    debian_packages,
    elf_dynamic,
    ldd_missing,
    missing_by_loading,
    missing_libraries_message,
    parse_ldd_missing,
    qt_window_problem,
    x_server_answers,
    xcb_plugin_files,
)

REPO = Path(__file__).resolve().parents[2]
TWO_MISSING = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
TWO_MISSING_MESSAGE = (
    "Qt cannot open a window: missing system libraries libxcb-icccm.so.4, libxcb-keysyms.so.1; "
    "install them with: sudo apt-get install libxcb-icccm4 libxcb-keysyms1"
)
GLIBC_LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd6a1f2000)
\tlibQt6XcbQpa.so.6 => /site-packages/PyQt6/Qt6/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f0b)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f0b5c1e0000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0b5b800000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0b5c2a0000)
"""
LINUX_XCB = {"DISPLAY": ":0"}
needs_wheel = pytest.mark.skipif(
    not sys.platform.startswith("linux") or xcb_plugin_files({}) is None,
    reason="needs Linux and the PyQt6-Qt6 wheel's plugin files",
)


def _fake_ldd(folder: Path, output: str, status: int = 0) -> Path:
    """A stand-in ``ldd`` in ``folder``: prints ``output``, exits with ``status`` (shell builtins only)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ldd.out").write_text(output)
    script = folder / "ldd"
    script.write_text(
        f"#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\"; done < '{folder / 'ldd.out'}'\n"
        f"exit {status}\n"
    )
    script.chmod(0o755)
    return folder


def _env_with_fake_ldd(folder: Path) -> dict[str, str]:
    """This process's environment with the stand-in ``ldd`` first on ``PATH``, on Qt's xcb platform."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "WAYLAND_"))}
    env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DISPLAY", ":99")  # the libraries are checked before the X server is asked
    return env


# ---- ldd output, package names, the message ---------------------------------------------------


def test_ldd_parser_lists_the_libraries_not_found_once_each_in_order() -> None:
    assert parse_ldd_missing(GLIBC_LDD_OUTPUT) == TWO_MISSING


def test_ldd_parser_reads_musl_errors_and_finds_nothing_in_a_complete_listing() -> None:
    musl = (
        "Error loading shared library libxcb-icccm.so.4: No such file or directory "
        "(needed by /x/libqxcb.so)\n\tlibc.musl-x86_64.so.1 => /lib/ld-musl-x86_64.so.1 (0x7f)\n"
    )
    assert parse_ldd_missing(musl) == ["libxcb-icccm.so.4"]
    complete = "\n".join(line for line in GLIBC_LDD_OUTPUT.splitlines() if "not found" not in line)
    assert parse_ldd_missing(complete) == []
    assert parse_ldd_missing("") == []


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libEGL.so.1", "libegl1"),
        ("libGL.so.1", "libgl1"),
        ("libfontconfig.so.1", "libfontconfig1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
        ("libfoo-unknown.so.7", "libfoo-unknown.so.7"),
    ],
)
def test_soname_to_debian_package(soname: str, package: str) -> None:
    assert debian_package(soname) == package


def test_packages_are_listed_once_in_order() -> None:
    names = ["libgthread-2.0.so.0", "libxcb-icccm.so.4", "libglib-2.0.so.0", "libbar.so.1"]
    assert debian_packages(names) == ["libglib2.0-0", "libxcb-icccm4", "libbar.so.1"]


def test_message_for_two_missing_libraries() -> None:
    assert missing_libraries_message(TWO_MISSING) == TWO_MISSING_MESSAGE


def test_message_for_one_library_unknown_libraries_and_systems_without_apt() -> None:
    assert missing_libraries_message(["libxcb-cursor.so.0"]) == (
        "Qt cannot open a window: missing system library libxcb-cursor.so.0; "
        "install it with: sudo apt-get install libxcb-cursor0"
    )
    assert missing_libraries_message(["libxcb-icccm.so.4", "libodd.so.3"]) == (
        "Qt cannot open a window: missing system libraries libxcb-icccm.so.4, libodd.so.3; "
        "install them with: sudo apt-get install libxcb-icccm4, plus the package that provides libodd.so.3"
    )
    assert missing_libraries_message(["libodd.so.3"]) == (
        "Qt cannot open a window: missing system library libodd.so.3; install the package that provides it"
    )
    assert missing_libraries_message(TWO_MISSING, apt=False) == (
        "Qt cannot open a window: missing system libraries libxcb-icccm.so.4, libxcb-keysyms.so.1; "
        "install the packages that provide them (on Debian/Ubuntu: libxcb-icccm4 libxcb-keysyms1)"
    )
    for message in (missing_libraries_message(TWO_MISSING), missing_libraries_message(["libodd.so.3"])):
        assert "\n" not in message


# ---- which platform is checked ------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"QT_QPA_PLATFORM": "offscreen"},
        {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
        {"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"},
        {"QT_QPA_PLATFORM": "minimal"},
        {"WAYLAND_DISPLAY": "wayland-0"},  # Qt tries Wayland first
    ],
)
def test_platforms_other_than_xcb_are_not_checked(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qt_platform, "missing_libraries", lambda files: pytest.fail("checked"))
    assert qt_window_problem(env, platform="linux") is None


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_other_systems_are_not_checked(platform: str) -> None:
    assert qt_window_problem({}, platform=platform) is None


@pytest.mark.parametrize(
    "env", [{}, {"QT_QPA_PLATFORM": "xcb"}, {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"}]
)
def test_no_display_is_reported(env: dict[str, str]) -> None:
    problem = qt_window_problem(env, platform="linux")
    assert problem is not None
    assert problem.startswith("Qt cannot open a window: no display")
    assert "xvfb-run" in problem


def test_missing_libraries_are_reported_with_the_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(qt_platform, "xcb_plugin_files", lambda env: [plugin, tmp_path / "absent.so.6"])
    monkeypatch.setattr(qt_platform, "missing_libraries", lambda files: list(TWO_MISSING))
    monkeypatch.setattr(qt_platform.shutil, "which", lambda name: "/usr/bin/apt-get")
    assert qt_window_problem({"QT_QPA_PLATFORM": "xcb", **LINUX_XCB}, platform="linux") == TWO_MISSING_MESSAGE


def test_a_missing_plugin_and_an_unanswering_x_server_are_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugin = tmp_path / "libqxcb.so"
    monkeypatch.setattr(qt_platform, "xcb_plugin_files", lambda env: [plugin])
    problem = qt_window_problem(LINUX_XCB, platform="linux")
    assert problem is not None and "platform plugin" in problem and str(plugin) in problem
    plugin.write_bytes(b"")
    monkeypatch.setattr(qt_platform, "missing_libraries", lambda files: [])
    monkeypatch.setattr(qt_platform, "x_server_answers", lambda display: False)
    problem = qt_window_problem(LINUX_XCB, platform="linux")
    assert problem is not None and "no X server answers at DISPLAY=:0" in problem
    monkeypatch.setattr(qt_platform, "x_server_answers", lambda display: None)  # cannot tell: let Qt try
    assert qt_window_problem(LINUX_XCB, platform="linux") is None


def test_a_plugin_folder_named_in_the_environment_is_used(tmp_path: Path) -> None:
    if xcb_plugin_files({}) is None:
        pytest.skip("PyQt6 is not installed as a wheel here")
    (tmp_path / "libqxcb.so").write_bytes(b"")
    files = xcb_plugin_files({"QT_QPA_PLATFORM_PLUGIN_PATH": str(tmp_path)})
    assert files is not None and files[0] == tmp_path / "libqxcb.so"


# ---- finding missing libraries on this machine ----------------------------------------------------


@needs_wheel
def test_the_elf_reader_finds_the_plugins_needed_libraries_and_run_path() -> None:
    files = xcb_plugin_files({})
    assert files is not None
    plugin, qpa = files
    needed, folders = elf_dynamic(plugin)
    assert {"libQt6XcbQpa.so.6", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"} <= set(needed)
    assert [Path(f).resolve() for f in folders] == [qpa.parent.resolve()]
    if shutil.which("readelf"):
        listing = subprocess.run(["readelf", "-d", str(qpa)], capture_output=True, text=True, check=True)
        assert elf_dynamic(qpa)[0] == re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", listing.stdout)
    with pytest.raises(ValueError, match="not an ELF file"):
        elf_dynamic(Path(__file__))


@needs_wheel
def test_loading_without_ldd_agrees_with_ldd_and_names_a_missing_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = xcb_plugin_files({})
    assert files is not None
    if shutil.which("ldd"):
        for path in files:
            assert missing_by_loading(path) == ldd_missing(path)
    loaded: list[str] = []

    def load_error(soname: str) -> str | None:
        loaded.append(soname)
        return soname if soname in TWO_MISSING else None

    monkeypatch.setattr(qt_platform, "_load_error", load_error)
    assert missing_by_loading(files[0]) == TWO_MISSING
    assert not any(name.startswith("libQt6") for name in loaded), "Qt's own libraries are read, not loaded"


def test_ldd_is_asked_and_a_failing_ldd_falls_back_to_loading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "libqxcb.so"
    monkeypatch.setenv("PATH", str(_fake_ldd(tmp_path / "bin", GLIBC_LDD_OUTPUT)))
    assert ldd_missing(target) == TWO_MISSING
    monkeypatch.setattr(qt_platform, "missing_by_loading", lambda path: ["libfallback.so.1"])
    assert qt_platform.missing_libraries([target]) == TWO_MISSING
    monkeypatch.setenv("PATH", str(_fake_ldd(tmp_path / "bad", "\tnot a dynamic executable\n", status=1)))
    assert ldd_missing(target) is None
    assert qt_platform.missing_libraries([target]) == ["libfallback.so.1"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ldd_missing(target) is None


def test_x_server_probe() -> None:
    if x_server_answers(":65000") is None:
        pytest.skip("libxcb does not load here")
    assert x_server_answers(":65000") is False
    display = os.environ.get("DISPLAY")
    if display and not os.environ.get("QT_QPA_PLATFORM"):
        assert x_server_answers(display) is True  # pytest-xvfb's server, or the desktop's


# ---- end to end: main.py and the test session with two libraries missing --------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["--backend", "cpu"], ["--backend", "cpu", "--run-for", "1", "--screenshot", "shot.png"]],
    ids=["window", "scripted"],
)
def test_main_reports_missing_libraries_instead_of_aborting(tmp_path: Path, args: list[str]) -> None:
    env = _env_with_fake_ldd(_fake_ldd(tmp_path / "bin", GLIBC_LDD_OUTPUT))
    proc = subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Fatal Python error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    expected = "error: " + TWO_MISSING_MESSAGE
    if shutil.which("apt-get", path=env["PATH"]) is None:
        expected = "error: " + missing_libraries_message(TWO_MISSING, apt=False)
    assert lines[0] == expected
    assert not (tmp_path / "shot.png").exists()


def test_a_widget_test(qtbot: QtBot) -> None:
    """A test that needs a QApplication; also run, with libraries missing, by the next test."""
    from PyQt6.QtWidgets import QLabel

    label = QLabel("Rewire Lab")
    qtbot.addWidget(label)
    label.show()
    assert label.isVisible()


@pytest.mark.slow
def test_widget_tests_are_skipped_with_the_reason_when_libraries_are_missing(tmp_path: Path) -> None:
    env = _env_with_fake_ldd(_fake_ldd(tmp_path / "bin", GLIBC_LDD_OUTPUT))
    node = f"{Path(__file__).relative_to(REPO)}::test_a_widget_test"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", node, "-p", "no:cacheprovider", "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Fatal Python error" not in output
    assert "1 skipped" in output
    assert "missing system libraries libxcb-icccm.so.4, libxcb-keysyms.so.1" in output


# ---- the README names what .ci/run installs --------------------------------------------------------


def test_readme_set_up_names_exactly_the_packages_ci_installs() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    listed = re.search(r"^GUI_PACKAGES=\((.*?)\)", ci, re.MULTILINE | re.DOTALL)
    assert listed is not None, ".ci/run has no GUI_PACKAGES=(...) list"
    ci_packages = listed.group(1).split()
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"`sudo apt-get install ([^`]+)`", section)
    assert len(commands) == 2, "one line for the window's libraries, one for the tests' X server and OpenGL"
    readme_packages = [name for command in commands for name in command.split()]
    assert sorted(readme_packages) == sorted(ci_packages)
    window = set(commands[0].split())
    assert {debian_package(name) for name in TWO_MISSING} <= window
