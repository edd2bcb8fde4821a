"""Hostile YAML and configuration input is refused quickly, in bounded memory, with one short line.

Alias bombs, deep nesting, huge files and long lists, duplicate keys, text
that is not UTF-8 and enormous values each give a :class:`ConfigError` of one
short line naming the file, in well under a second and a few megabytes.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim.yaml_io
from app.presets import list_presets, preset_path
from sim.errors import ConfigError, short_repr
from sim.experiments.topomap.config import (
    ModelConfig,
    check_param,
    config_from_dict,
    load_config,
    parse_yaml_text,
    read_yaml,
)
from sim.yaml_io import MAX_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_NODES

#: Upper bounds every refusal must meet (the measured values are milliseconds and about 1 MB).
MAX_SECONDS = 2.0
MAX_MEMORY_BYTES = 50 * 2**20
#: Longest message accepted: the file name plus one short sentence.
MAX_MESSAGE = 400


def alias_bomb(levels: int, value_key: str = "neuron:\n  tau_m") -> str:
    """A "billion laughs" document: ``levels`` anchors of nine aliases each, 9**levels leaves."""
    names = "abcdefghijklmnop"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * 9) + "]")
    lines.append(f"{value_key}: *{names[levels - 1]}")
    return "\n".join(lines) + "\n"


@contextmanager
def bounded(label: str, *, trace: bool = True) -> Iterator[None]:
    """Assert that the block runs in under MAX_SECONDS and grows memory by under MAX_MEMORY_BYTES.

    Python allocations are traced (peak) unless ``trace`` is false (tracing
    slows pure-Python code several times); the process's peak RSS (which also
    sees libyaml's C allocations) may grow by no more than the same bound.
    """
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
        mib = 2**20
        print(
            f"{label}: {seconds * 1000:.1f} ms, "
            f"traced peak {peak / mib:.2f} MiB, RSS +{rss_growth / mib:.1f} MiB"
        )
    assert seconds < MAX_SECONDS, f"{label} took {seconds:.2f} s"
    assert peak < MAX_MEMORY_BYTES, f"{label} allocated {peak / 2**20:.0f} MiB"
    assert rss_growth < MAX_MEMORY_BYTES, f"{label} grew RSS by {rss_growth / 2**20:.0f} MiB"


def assert_one_short_line(err: ConfigError, *fragments: str) -> str:
    message = str(err)
    assert "\n" not in message and "\r" not in message, message
    assert len(message) < MAX_MESSAGE, f"{len(message)} characters: {message[:200]}..."
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- short_repr


def _shared_nested(levels: int) -> list[Any]:
    """The Python image of an alias bomb: 9**levels leaves, built from shared lists."""
    node: list[Any] = ["x"] * 9
    for _ in range(levels - 1):
        node = [node] * 9
    return node


class _ListSubclass(list):
    pass


@pytest.mark.parametrize(
    "value",
    [
        _shared_nested(9),
        "x" * 10_000_000,
        b"y" * 1_000_000,
        10**100_000,
        {f"k{i}": list(range(1000)) for i in range(1000)},
        _ListSubclass(range(1_000_000)),
        "line one\nline two\r\n" * 1000,
        {("a\nb", 1): {"c": [1.5, None, True]}},
    ],
    ids=[
        "alias-bomb",
        "long-str",
        "long-bytes",
        "huge-int",
        "big-dict",
        "list-subclass",
        "newlines",
        "nested",
    ],
)
def test_short_repr_is_short_one_line_and_fast(value: Any) -> None:
    """short_repr stays within its limit, on one line, in little time and memory, for any value."""
    with bounded("short_repr"):
        text = short_repr(value)
    assert len(text) <= 60
    assert text.splitlines() == [text]


def test_short_repr_of_small_values_is_the_plain_repr() -> None:
    """Short values print as ``repr`` does; long ones are cut at ``limit`` with an ellipsis."""
    for value in (1.6, 3, "slot", None, True, [1, 2], {"a": 1}):
        assert short_repr(value) == repr(value)
    assert short_repr("a" * 100, limit=10) == "'aaaaaa..."
    recursive: list[Any] = []
    recursive.append(recursive)
    assert short_repr(recursive).startswith("[[")


def test_config_error_message_is_one_line() -> None:
    """Line breaks in a message, key path or source become spaces."""
    err = ConfigError("bad\nvalue", source="a\nb.yaml", path="x\r\ny")
    assert str(err) == "a b.yaml: x y: bad value"


# --------------------------------------------------------------------------- values in messages


def test_alias_bomb_value_in_a_dict_gives_a_short_message() -> None:
    """A 9**7-leaf shared structure as a parameter value is quoted by a short prefix, not in full."""
    with bounded("bomb value"), pytest.raises(ConfigError) as info:
        config_from_dict({"neuron": {"tau_m": _shared_nested(7)}}, source="bomb.yaml")
    message = assert_one_short_line(info.value, "bomb.yaml: neuron.tau_m: must be a number, got [[[")
    assert message.endswith("...")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"stimulus": {"input": "c" * 1_000_000}}, "stimulus.input: must be one of"),
        ({"stdp": {"enabled": "y" * 1_000_000}}, "stdp.enabled: must be true or false"),
        ({"name": list(range(100_000))}, "name: must be a string, got [0, 1, 2, 3, ...]"),
        ({"neuron": list(range(100_000))}, "neuron: must be a mapping"),
        ({"run": {"seed": 10**4000}}, "run.seed: must be in [0, 18446744073709551615], got <integer"),
        ({"network": {"scale": 10**400}}, "network.scale: must be in [1, 64], got 1000"),
        ({"neuron": {"k" * 100_000: 1}}, "neuron.'kkk"),
        ({"neuron": {"a\nb": 1}}, "neuron.'a\\nb': unknown key"),
    ],
)
def test_long_values_and_keys_are_quoted_short(data: dict[str, Any], fragment: str) -> None:
    """Long strings, lists, huge integers and odd keys appear as short one-line prefixes."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, source="x.yaml")
    assert_one_short_line(info.value, "x.yaml: ", fragment)


def test_check_param_and_replace_quote_values_short() -> None:
    """The GUI's and CLI's entry points quote values and paths short too."""
    with pytest.raises(ConfigError) as info:
        check_param("stimulus.input", "z" * 1_000_000)
    assert_one_short_line(info.value, "stimulus.input: must be one of")
    with pytest.raises(ConfigError) as info:
        ModelConfig().replace("p" * 1_000_000, 1)
    assert_one_short_line(info.value, "unknown parameter 'ppp")


# --------------------------------------------------------------------------- hostile files


def _flat_list(n: int) -> str:
    return "description: [" + ", ".join(["1"] * n) + "]\n"


def _block_list(n: int) -> str:
    return "description:\n" + "".join("- 1\n" for _ in range(n))


def _many_keys(n: int) -> str:
    return "description:\n" + "".join(f"  k{i}: 1\n" for i in range(n))


def _wide_tree(n: int) -> str:
    """Many small lists: no collection is long, but the document has too many values."""
    return "description:\n" + "".join(f"  - [1, 2, 3, 4, 5, 6, 7, 8, {i}]\n" for i in range(n))


HOSTILE: dict[str, tuple[Callable[[], str], str]] = {
    "alias-bomb-8": (lambda: alias_bomb(8), f"expands to more than {MAX_NODES} values"),
    "alias-bomb-9": (lambda: alias_bomb(9), f"expands to more than {MAX_NODES} values"),
    "alias-bomb-description": (
        lambda: alias_bomb(9, "description"),
        f"expands to more than {MAX_NODES} values",
    ),
    "deep-brackets": (lambda: "neuron: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested more than 64"),
    "deep-mappings": (lambda: "neuron: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", "nested more than"),
    "deep-block": (
        lambda: "".join(" " * i + f"k{i}:\n" for i in range(500)) + " " * 500 + "x: 1\n",
        "nested more than",
    ),
    "4-MB-file": (lambda: "description: '" + "x" * 4_000_000 + "'\n", "file too large (more than 1 MiB"),
    "flat-list-200k": (lambda: _flat_list(200_000), f"a list of more than {MAX_ITEMS} items"),
    "block-list-200k": (lambda: _block_list(200_000), f"a list of more than {MAX_ITEMS} items"),
    "mapping-20k": (lambda: _many_keys(20_000), f"a mapping of more than {MAX_ITEMS} items"),
    "wide-tree": (lambda: _wide_tree(5_000), f"expands to more than {MAX_NODES} values"),
    "recursive-alias": (lambda: "neuron: &a {tau_m: *a}\n", "alias *a is inside the node it names"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_refused_quickly_in_bounded_memory(tmp_path: Path, case: str) -> None:
    """Each hostile file gives one short ConfigError line naming the file, in < 2 s and < 50 MB."""
    make, fragment = HOSTILE[case]
    f = write(tmp_path / "hostile.yaml", make())
    with bounded(f"{case} ({f.stat().st_size} bytes)"), pytest.raises(ConfigError) as info:
        load_config(f)
    message = assert_one_short_line(info.value, f"{f}: ", fragment)
    assert "line" in message or "file too large" in message


def test_limits_leave_room_for_real_configurations(presets_dir: Path) -> None:
    """The shipped presets and a configuration near the limits load; the limits are far above them."""
    assert MAX_DEPTH >= 16 and MAX_NODES >= 10_000 and MAX_ITEMS >= 1_000 and MAX_BYTES >= 2**20
    for path in presets_dir.glob("*.yaml"):
        read_yaml(path)
    text = "description: ok\nneuron: &n {tau_m: 10.0}\n" + "".join(
        f"x{i}: {{a: [1, 2, 3], b: *n}}\n" for i in range(1_000)
    )
    data = parse_yaml_text(text, "near-limits.yaml")
    assert len(data) == 1_002 and data["x999"]["b"] == {"tau_m": 10.0}
    nested = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n"
    assert parse_yaml_text(nested, "deep.yaml")["a"]


def test_pure_python_parser_refuses_bombs_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml the shape walk (pure-Python parser) refuses the same files within the bounds."""
    monkeypatch.setattr(sim.yaml_io, "_SafeLoaderBase", yaml.SafeLoader)
    for case in ("alias-bomb-9", "deep-brackets", "flat-list-200k", "wide-tree"):
        make, fragment = HOSTILE[case]
        with bounded(f"pure Python {case}", trace=False), pytest.raises(ConfigError) as info:
            parse_yaml_text(make(), "py.yaml")
        assert_one_short_line(info.value, "py.yaml: line", fragment)


# --------------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("neuron:\n  tau_m: 1\n  tau_syn: 3\n  tau_m: 2\n", 4, "'tau_m'"),
        ("description: a\nneuron: {}\ndescription: b\n", 3, "'description'"),
        ("rewiring:\n  ff: {p_form: 0.1, p_form: 0.2}\n", 2, "'p_form'"),
        ("a: {1: x, 0x1: y}\n", 1, "1"),
        ("a: {'q': 1, q: 2}\n", 1, "'q'"),
    ],
)
def test_duplicate_keys_are_refused(tmp_path: Path, text: str, line: int, key: str) -> None:
    """A key given twice in one mapping names the file, the line of the second and the key."""
    f = write(tmp_path / "dup.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert str(info.value) == f"{f}: line {line}: duplicate key {key}"


def test_merge_keys_may_still_be_overridden() -> None:
    """``<<: *base`` followed by one of base's keys is an override, not a duplicate."""
    text = "base: &b {tau_m: 10.0, tau_syn: 3.0}\nneuron:\n  <<: *b\n  tau_m: 12.0\n"
    data = parse_yaml_text(text, "merge.yaml")
    assert data["neuron"] == {"tau_m": 12.0, "tau_syn": 3.0}
    assert data["base"] == {"tau_m": 10.0, "tau_syn": 3.0}
    assert parse_yaml_text("a: {=: 1, b: 2}\n") == {"a": {"=": 1, "b": 2}}  # YAML's value key "="


# --------------------------------------------------------------------------- encodings and odd values


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    """A Latin-1 file is refused naming the file and the first bad byte."""
    f = tmp_path / "latin1.yaml"
    f.write_bytes("description: ok\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert str(info.value) == f"{f}: not UTF-8 text (byte 25, line 2)"


def test_list_presets_shows_bad_files_as_unreadable(tmp_path: Path) -> None:
    """A non-UTF-8 or hostile file among the presets is listed as unreadable; the others still list."""
    folder = tmp_path / "topomap"
    folder.mkdir()
    write(folder / "good.yaml", "description: a good preset\n")
    (folder / "latin1.yaml").write_bytes(b"description: caf\xe9\n")
    write(folder / "bomb.yaml", alias_bomb(9, "description"))
    write(folder / "odd.yaml", "description: [1, 2]\n")
    with bounded("list_presets"):
        infos = {p.name: p.description for p in list_presets(tmp_path)}
    assert infos["good"] == "a good preset"
    assert infos["latin1"] == "(unreadable: not UTF-8 text (byte 16, line 1))"
    assert infos["bomb"].startswith("(unreadable: line ") and "expands to more than" in infos["bomb"]
    assert infos["odd"] == "[1, 2]"


def test_preset_path_with_a_huge_name(tmp_path: Path) -> None:
    """A name too long for the file system is an unknown preset, quoted short."""
    (tmp_path / "topomap").mkdir()
    write(tmp_path / "topomap" / "good.yaml", "description: x\n")
    with pytest.raises(ConfigError) as info:
        preset_path("n" * 100_000, tmp_path)
    assert_one_short_line(info.value, "unknown preset 'nnn", "(available: good)")
    with pytest.raises(ConfigError) as info:
        preset_path("n" * 100_000 + ".yaml", tmp_path)
    assert_one_short_line(info.value, "file not found")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("description: 2020-13-45\n", "malformed YAML: a value cannot be read (month must be in 1..12)"),
        ("run:\n  seed: " + "9" * 5_000 + "\n", "malformed YAML: a value cannot be read"),
        ("description: !!python/object:" + "o" * 100_000 + " 1\n", "malformed YAML: line 1, column 14"),
        ("description: !!binary 'x'\n", "malformed YAML: line 1"),
        ("extends: " + "e" * 100_000 + "\n", "extends: extends 'eee"),
        ("neuron:\n  " + "k" * 1_000 + ": 1\n", "neuron.'kkk"),
        ("a: *nowhere\n", "malformed YAML: line 1"),
        ("a: 1\n---\nb: 2\n", "malformed YAML"),
        ("a: \x00\n", "malformed YAML"),
    ],
)
def test_odd_values_give_one_short_line(tmp_path: Path, text: str, fragment: str) -> None:
    """Invalid dates, 5,000-digit integers, long tags and names give a short ConfigError, not a traceback."""
    f = write(tmp_path / "odd.yaml", text)
    with bounded("odd value"), pytest.raises(ConfigError) as info:
        load_config(f)
    assert_one_short_line(info.value, f"{f}: ", fragment)


# --------------------------------------------------------------------------- parse_yaml_text


def test_parse_yaml_text_reads_a_saved_configuration() -> None:
    """The text a checkpoint embeds (``ModelConfig.to_yaml``) parses back to the same configuration."""
    cfg = ModelConfig().replace("rewiring.lat.p_elim_pot", 0.25)
    data = parse_yaml_text(cfg.to_yaml(), "run.npz (embedded configuration)")
    assert config_from_dict(data) == cfg
    assert parse_yaml_text("", "empty") == {}
    assert parse_yaml_text("# only a comment\n") == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (alias_bomb(9), "expands to more than"),
        ("a: " + "[" * 10_000 + "]" * 10_000, "nested more than"),
        ("a: 1\na: 2\n", "line 2: duplicate key 'a'"),
        ("- 1\n", "must contain a mapping of keys to values, got list"),
        ("a: \ud800\n", "not UTF-8 text (a lone surrogate at character 3)"),
        ("description: '" + "x" * (MAX_BYTES + 1) + "'", "text too large (more than 1 MiB"),
    ],
)
def test_parse_yaml_text_refuses_like_files(text: str, fragment: str) -> None:
    """Text from a checkpoint is refused like a file, naming the given source."""
    with bounded("parse_yaml_text"), pytest.raises(ConfigError) as info:
        parse_yaml_text(text, "run.npz (embedded configuration)")
    assert_one_short_line(info.value, "run.npz (embedded configuration): ", fragment)
